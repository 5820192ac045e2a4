//! Which environment variables hold credentials: kept out of child processes, and their values
//! scrubbed from text a server or tool sent before mlrb prints, journals or notifies it.

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
}

/// Every variable that holds a credential in this process.
pub fn credential_vars() -> Vec<String> {
    ALWAYS
        .iter()
        .map(|s| s.to_string())
        .chain(CONFIGURED.get().into_iter().flatten().cloned())
        .collect()
}
