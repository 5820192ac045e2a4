//! Exit statuses and the typed errors that cross module seams; the one mapping to exit codes.

use std::fmt;

/// How a command ended. The numbers are a contract documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Done.
    Success = 0,
    /// Failed (registry, serving or I/O error).
    Failure = 1,
    /// Usage or configuration error.
    Usage = 2,
    /// Refused or declined: no terminal and no `--yes`, or the user said no.
    Refused = 3,
    /// No safe rollback target.
    NoTarget = 4,
    /// Rolled back, but verification did not see recovery.
    NotVerified = 5,
    /// `watch --once`: a soft threshold is breached (INVESTIGATE).
    Investigate = 10,
    /// `watch --once`: a hard threshold is breached (ROLLBACK NOW).
    RollbackNow = 11,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// An error that knows its exit code and may carry a hint for the next step.
#[derive(Debug)]
pub struct CliError {
    pub status: ExitStatus,
    pub message: String,
    pub hint: Option<String>,
}

impl CliError {
    pub fn new(status: ExitStatus, message: impl Into<String>) -> Self {
        CliError {
            status,
            message: message.into(),
            hint: None,
        }
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ExitStatus::Usage, message)
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// Errors from a model registry backend, carrying what the user needs to fix them.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot reach the registry at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("the registry at {url} did not answer{}", waited(*.secs, *.attempts, *.total_secs))]
    Timeout {
        url: String,
        /// Each attempt's limit.
        secs: u64,
        attempts: u32,
        /// From the first attempt to the last one's end, backoff included.
        total_secs: u64,
    },
    #[error("the registry at {url} refused the credentials ({status}): {detail}")]
    Auth {
        url: String,
        status: u16,
        detail: String,
        credential: String,
    },
    /// A 403 to valid credentials: who lacks permission, and for what.
    #[error(
        "the registry at {url} accepted the credentials of {who}, who lacks permission to {action} ({status}: {detail})"
    )]
    Forbidden {
        url: String,
        status: u16,
        who: String,
        action: String,
        detail: String,
    },
    #[error(
        "the registry at {url} refused the Host header (403 Invalid Host header); start `mlflow server` with --allowed-hosts including this host, or use the address it allows"
    )]
    InvalidHost { url: String },
    #[error("{what} not found in the registry")]
    NotFound { what: String },
    #[error("the registry rejected the request: {message}")]
    Invalid { message: String },
    #[error("the registry at {url} answered {status} with {kind} instead of JSON: {snippet}")]
    NotJson {
        url: String,
        status: u16,
        kind: String,
        snippet: String,
        /// The credential variables mlrb sent, if any (a 5xx may be the server failing on them).
        credential: Option<String>,
    },
    #[error("the registry at {url} answered {status}: {message}")]
    Server {
        url: String,
        status: u16,
        message: String,
        credential: Option<String>,
    },
    #[error("the registry file {path}: {detail}")]
    File { path: String, detail: String },
    /// An answer or a listing past `[http]`'s limits.
    #[error("the registry at {url}: {detail}")]
    Limit { url: String, detail: String },
}

/// "within 30 s", or, after retries, every attempt and the whole time.
fn waited(secs: u64, attempts: u32, total_secs: u64) -> String {
    if attempts > 1 {
        format!(" in {total_secs} s: {attempts} attempts, each given {secs} s")
    } else {
        format!(" within {secs} s")
    }
}

impl RegistryError {
    /// The hint, naming where the registry location came from when a config file set it.
    pub fn hint(&self) -> Option<String> {
        let h = self.base_hint();
        match (self, crate::config::registry_source()) {
            (
                RegistryError::Unreachable { .. }
                | RegistryError::Timeout { .. }
                | RegistryError::Auth { .. }
                | RegistryError::InvalidHost { .. }
                | RegistryError::NotJson { .. },
                Some(src),
            ) => Some(format!(
                "{}the registry location came from {src}; `mlrb config` shows every setting",
                h.map(|h| format!("{h}; ")).unwrap_or_default()
            )),
            _ => h,
        }
    }

    fn base_hint(&self) -> Option<String> {
        match self {
            RegistryError::Unreachable { .. } | RegistryError::Timeout { .. } => Some(
                "nothing was changed; check MLFLOW_TRACKING_URI / [registry].uri and that the server is up"
                    .into(),
            ),
            RegistryError::Forbidden { who, .. } => Some(format!(
                "the credentials are right; {who} needs EDIT (or MANAGE) permission on the registered model: an MLflow admin grants it (Permissions in the MLflow UI, or the auth API's registered-models/permissions/create); nothing was changed by this request"
            )),
            RegistryError::Auth { credential, .. } => Some(format!(
                "mlrb read the credentials from {credential}; check them (nothing was changed)"
            )),
            RegistryError::NotJson {
                status, credential, ..
            }
            | RegistryError::Server {
                status, credential, ..
            } if *status >= 500 => Some(match credential {
                Some(c) => format!(
                    "the server failed on the request (its log says why); mlrb sent credentials from {c} — check they suit this server's auth; nothing was changed by this request"
                ),
                None => "the server failed on the request (its log says why); nothing was changed by this request".into(),
            }),
            RegistryError::NotJson { .. } => Some(
                "is the URI the MLflow tracking server itself (not a proxy or login page)?".into(),
            ),
            _ => None,
        }
    }

    pub fn exit_status(&self) -> ExitStatus {
        match self {
            RegistryError::NotFound { .. } | RegistryError::Invalid { .. } => ExitStatus::Usage,
            RegistryError::File { .. } => ExitStatus::Usage,
            _ => ExitStatus::Failure,
        }
    }
}

impl From<RegistryError> for CliError {
    fn from(e: RegistryError) -> Self {
        let status = e.exit_status();
        let hint = e.hint();
        CliError {
            status,
            message: e.to_string(),
            hint,
        }
    }
}

/// Finds the exit status and hint for any error that reached the top.
pub fn classify(err: &anyhow::Error) -> (ExitStatus, Option<String>) {
    for cause in err.chain() {
        if let Some(c) = cause.downcast_ref::<CliError>() {
            return (c.status, c.hint.clone());
        }
        if let Some(r) = cause.downcast_ref::<RegistryError>() {
            return (r.exit_status(), r.hint());
        }
    }
    (ExitStatus::Failure, None)
}
