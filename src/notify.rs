//! Notifications: a Slack incoming webhook and a generic JSON webhook, URLs from environment
//! variables named in `[notify]`, with the reference controller's messages. A notification that
//! fails is reported to the caller and never blocks or fails a rollback.

use serde_json::json;

use crate::config::NotifyConfig;
use crate::error::CliError;
use crate::http::{Http, HttpOptions, error_detail, one_line};

pub struct Notifier {
    slack: Option<String>,
    webhook: Option<String>,
    http: Option<Http>,
    /// The drill the messages belong to: they are marked so nobody mistakes one for an incident.
    drill: Option<String>,
}

fn url_from(var: &Option<String>, key: &str) -> Result<Option<String>, CliError> {
    let Some(var) = var else { return Ok(None) };
    match std::env::var(var).ok().filter(|v| !v.trim().is_empty()) {
        Some(u) => {
            reqwest::Url::parse(&u).map_err(|e| {
                // The URL is a secret (Slack's carries the token): name the variable, not the value.
                CliError::usage(format!("${var} (from [notify] {key}) is not a URL ({e})"))
            })?;
            Ok(Some(u))
        }
        None => Err(
            CliError::usage(format!("[notify] {key} = \"{var}\" but ${var} is not set")).with_hint(
                format!("export {var}=https://… or remove {key} from [notify]"),
            ),
        ),
    }
}

impl Notifier {
    pub fn from_config(cfg: &NotifyConfig) -> Result<Notifier, CliError> {
        let slack = url_from(&cfg.slack_webhook_env, "slack_webhook_env")?;
        let webhook = url_from(&cfg.webhook_env, "webhook_env")?;
        let http = if slack.is_some() || webhook.is_some() {
            let opts = HttpOptions {
                timeout: std::time::Duration::from_secs(10),
                attempts: 1,
                ..HttpOptions::default()
            };
            Some(Http::new(&opts).map_err(CliError::usage)?)
        } else {
            None
        };
        Ok(Notifier {
            slack,
            webhook,
            http,
            drill: cfg.drill.clone(),
        })
    }

    pub fn is_configured(&self) -> bool {
        self.http.is_some()
    }

    /// Sends `text` everywhere configured; returns one line per failed destination.
    pub fn send(&self, kind: &str, model: &str, text: &str) -> Vec<String> {
        let Some(http) = &self.http else {
            return Vec::new();
        };
        let mut failed = Vec::new();
        let at = crate::clock::fmt(crate::clock::now());
        let text = crate::secrets::scrub(text);
        let text = match &self.drill {
            Some(id) => format!("[DRILL {id}, not an incident] {text}"),
            None => text.into_owned(),
        };
        let mut hook =
            json!({ "kind": kind, "model": model, "message": text, "at": at, "source": "mlrb" });
        if let Some(id) = &self.drill {
            hook["drill"] = json!(id);
        }
        let targets = [
            ("slack", &self.slack, json!({ "text": slack_escape(&text) })),
            ("webhook", &self.webhook, hook),
        ];
        for (name, url, body) in targets {
            let Some(url) = url else { continue };
            // Not retried: a duplicate page at 2 AM is worse than a logged failure.
            match http.send(|c| c.post(url).json(&body), false) {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => {
                    let status = r.status().as_u16();
                    let body = crate::http::error_text(r);
                    failed.push(format!(
                        "{name} notification failed: {status} {}",
                        one_line(&body, 120)
                    ));
                }
                Err(e) => failed.push(format!("{name} notification failed: {}", error_detail(&e))),
            }
        }
        failed
    }
}

/// Text for Slack's `text` field: `&`, `<` and `>` are Slack's control characters (`<!channel>`
/// pings everyone, `<https://evil|the runbook>` hides a link), and a message quotes registry,
/// server and lease text, so all three are escaped as Slack documents. mlrb's own messages use
/// no Slack markup.
pub fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The reference controller's messages.
pub mod messages {
    pub fn rollback_in_progress(
        model: &str,
        from: &str,
        to: u64,
        trigger: &str,
        metrics: &str,
    ) -> String {
        format!(
            "AUTOMATED ROLLBACK IN PROGRESS\nModel: {model}\nRolling back: {from} -> v{to}\nTrigger: {trigger}\nMetrics at trigger: {metrics}"
        )
    }
    pub fn rollback_complete(model: &str, to: u64, result: &str) -> String {
        format!("ROLLBACK COMPLETE\nModel: {model} now serving v{to}\nResult: {result}")
    }
    pub fn rollback_failed(model: &str, error: &str) -> String {
        format!("ROLLBACK FAILED - MANUAL INTERVENTION REQUIRED\nModel: {model}\nError: {error}")
    }
    pub fn soft_alert(model: &str, reason: &str) -> String {
        format!("SOFT ALERT: {model} - {reason}")
    }
    pub fn soft_cleared(model: &str, was: &str) -> String {
        format!("SOFT ALERT CLEARED: {model} - was: {was}")
    }
    pub fn blind(model: &str, failures: u32, error: &str) -> String {
        format!(
            "CONTROLLER BLIND: {model} - {failures} consecutive metric reads failed; no automated rollback can happen until they succeed. Last error: {error}"
        )
    }
    pub fn sight_restored(model: &str) -> String {
        format!("CONTROLLER SEES AGAIN: {model} - metrics are readable again")
    }
    pub fn not_recovered(model: &str, to: u64, reason: &str) -> String {
        format!(
            "NOT RECOVERED AFTER ROLLBACK: {model} on v{to} - {reason}. MANUAL INVESTIGATION REQUIRED"
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn slack_markup_is_shown_not_obeyed() {
        assert_eq!(
            super::slack_escape("<!channel> see <https://evil|the runbook> & v3 -> v2"),
            "&lt;!channel&gt; see &lt;https://evil|the runbook&gt; &amp; v3 -&gt; v2"
        );
    }
}
