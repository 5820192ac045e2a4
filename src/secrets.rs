//! Which environment variables hold credentials: kept out of child processes, and their values
//! scrubbed (`scrub`) from text a server or tool sent before mlrb prints, journals or notifies it.

use std::sync::OnceLock;

use crate::config::Settings;

/// MLflow's credential variables: always credentials, whatever the config says.
const ALWAYS: &[&str] = &[
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_USERNAME",
];

/// The variables the config names as holding a credential, set once the settings are resolved.
static CONFIGURED: OnceLock<Vec<String>> = OnceLock::new();

/// Records the credential variables `settings` names (`auth_header_env`, `token_env`,
/// `status_token_env`, `slack_webhook_env`, `webhook_env`). Only the first call counts: the
/// settings are resolved once per process.
pub fn register(settings: &Settings) {
    let mut vars: Vec<String> = Vec::new();
    vars.extend(settings.notify.slack_webhook_env.clone());
    vars.extend(settings.notify.webhook_env.clone());
    for m in settings.models.values() {
        if let Some(metrics) = &m.metrics {
            vars.extend(metrics.auth_header_env.clone());
        }
        if let Some(r) = &m.retrain {
            vars.extend(r.token_env.clone());
            vars.extend(r.status_token_env.clone());
        }
    }
    vars.sort();
    vars.dedup();
    let _ = CONFIGURED.set(vars);
    refresh();
}

/// Every variable that holds a credential in this process.
pub fn credential_vars() -> Vec<String> {
    ALWAYS
        .iter()
        .map(|s| s.to_string())
        .chain(CONFIGURED.get().into_iter().flatten().cloned())
        .collect()
}

/// The secret texts `scrub` removes, longest first; computed on first use and again once the
/// settings name their variables.
static VALUES: std::sync::RwLock<Option<Vec<String>>> = std::sync::RwLock::new(None);

/// Shortest value worth scrubbing: shorter ones would blank out ordinary words.
const MIN_SECRET: usize = 6;

/// What of each credential variable's value could come back in a server's text: the whole
/// value, the token of an `Authorization` value (`Bearer <token>`), and a URL's password, secret
/// path segments and query values.
fn secret_values() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for var in credential_vars() {
        if var == "MLFLOW_TRACKING_USERNAME" {
            continue; // a user name, not a secret
        }
        let Some(v) = std::env::var(&var).ok().map(|v| v.trim().to_string()) else {
            continue;
        };
        if let Some((_, token)) = v.split_once(char::is_whitespace) {
            out.push(token.trim().to_string());
        }
        if let Ok(u) = reqwest::Url::parse(&v)
            && u.has_host()
        {
            out.extend(u.password().map(str::to_string));
            let mut secret = false;
            for s in u.path_segments().into_iter().flatten() {
                if secret {
                    out.push(s.to_string());
                }
                secret |= ["services", "workflows", "triggers", "webhooks", "hooks"]
                    .contains(&s.to_ascii_lowercase().as_str());
            }
            out.extend(u.query_pairs().map(|(_, v)| v.into_owned()));
        }
        out.push(v);
    }
    // Basic auth travels as base64("user:password"): an echoed header shows that, not the password.
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    if let (Some(user), Some(password)) = (
        var("MLFLOW_TRACKING_USERNAME"),
        var("MLFLOW_TRACKING_PASSWORD"),
    ) {
        out.push(base64(format!("{user}:{password}").as_bytes()));
    }
    out.retain(|s| s.chars().count() >= MIN_SECRET);
    out.sort();
    out.dedup();
    // Longest first: a token inside a longer secret (a URL) must not break the longer one up.
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

/// Standard base64 with padding, as HTTP Basic auth encodes its credentials.
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(A[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Recomputes the secret values (after `register`).
fn refresh() {
    if let Ok(mut v) = VALUES.write() {
        *v = Some(secret_values());
    }
}

/// `text` with every credential value replaced by `[redacted]`: applied to what a server or a
/// tool said before mlrb prints, journals or notifies it (a server that echoes the token it was
/// sent must not get it onto the screen, the journal or Slack).
pub fn scrub(text: &str) -> std::borrow::Cow<'_, str> {
    let known = VALUES.read().ok().and_then(|v| v.clone());
    let values = match known {
        Some(v) => v,
        None => {
            refresh();
            VALUES
                .read()
                .ok()
                .and_then(|v| v.clone())
                .unwrap_or_default()
        }
    };
    if !values.iter().any(|s| text.contains(s.as_str())) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for s in &values {
        out = out.replace(s.as_str(), "[redacted]");
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_is_basic_auths() {
        assert_eq!(super::base64(b"oncall:pw"), "b25jYWxsOnB3");
        assert_eq!(super::base64(b"a:b1"), "YTpiMQ==");
        assert_eq!(super::base64(b"ab:c1"), "YWI6YzE=");
    }

    #[test]
    fn scrubs_nothing_without_secrets() {
        assert_eq!(super::scrub("plain text"), "plain text");
    }
}
