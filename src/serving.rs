//! Serving reloads: tell the model server to load the version the registry now names, and wait
//! until it says it serves it. kubectl and helm reloads plug in beside `http` here.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::http::{Http, HttpOptions, error_detail, one_line};

/// POSTs `{"model", "version"}` to the reload URL; any 2xx is success.
pub fn reload(http: &Http, url: &str, model: &str, version: u64) -> Result<String, String> {
    let shown = crate::config::redact_str(url);
    let body = json!({"model": model, "version": version.to_string()});
    // A reload asks the server to load a version: asking twice is harmless.
    let resp = http
        .send(|c| c.post(url).json(&body), true)
        .map_err(|e| format!("reload request to {shown} failed: {}", error_detail(&e)))?;
    let status = resp.status();
    let text = resp.text().unwrap_or_default();
    if status.is_success() {
        Ok(format!("{shown} answered {}", status.as_u16()))
    } else {
        Err(format!(
            "reload request to {shown} answered {}: {}",
            status.as_u16(),
            one_line(&text, 160)
        ))
    }
}

/// Polls the health URL until the JSON value at `pointer` equals `version`, or the timeout ends.
pub fn await_version(
    http: &Http,
    url: &str,
    pointer: &str,
    version: u64,
    timeout: Duration,
) -> Result<String, String> {
    let shown = crate::config::redact_str(url);
    let start = Instant::now();
    let want = version.to_string();
    let mut last;
    loop {
        match http.send(|c| c.get(url), false) {
            Ok(resp) => {
                let status = resp.status().as_u16();
                match resp.json::<serde_json::Value>() {
                    Ok(v) => match v.pointer(pointer) {
                        Some(found) => {
                            let got = match found {
                                serde_json::Value::String(s) => s.clone(),
                                other => other.to_string(),
                            };
                            if got.trim_start_matches('v') == want && (200..300).contains(&status) {
                                return Ok(format!(
                                    "{shown} reports version {got} after {:.1}s",
                                    start.elapsed().as_secs_f64()
                                ));
                            }
                            last = format!("it reports version {got} (HTTP {status})");
                        }
                        None => last = format!("its answer has no {pointer} (HTTP {status})"),
                    },
                    Err(_) => last = format!("HTTP {status} without a JSON body"),
                }
            }
            Err(e) => last = error_detail(&e),
        }
        if start.elapsed() >= timeout {
            return Err(format!(
                "the model server did not report v{version} at {shown} within {}: {last}",
                humantime::format_duration(Duration::from_secs(timeout.as_secs()))
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Asks the model server to load the rollback target now, before it is needed.
pub fn prewarm(http: &Http, url: &str, model: &str, version: u64) -> Result<String, String> {
    reload(http, url, model, version).map(|r| format!("prewarm: {r}"))
}

/// Whether the model server has `version` loaded: GET the readiness URL (`{version}` filled in),
/// a 2xx answer means warm. `Err` when the server could not be asked.
pub fn readiness(http: &Http, url: &str, version: u64) -> Result<bool, String> {
    let url = url.replace("{version}", &version.to_string());
    // A status read: retried like any idempotent call.
    match http.send(|c| c.get(&url), true) {
        Ok(r) => Ok(r.status().is_success()),
        Err(e) => Err(error_detail(&e)),
    }
}

/// An HTTP client for the model server: short per-request timeouts, the caller's overall one.
pub fn client() -> Result<Http, String> {
    Http::new(&HttpOptions {
        connect_timeout: Duration::from_secs(3),
        timeout: Duration::from_secs(10),
        ..HttpOptions::default()
    })
}
