//! What every command and the library under it share: the resolved settings, the printer, and
//! the registry they name.

use crate::config::{RegistryTarget, Settings};
use crate::error::CliError;
use crate::printer::Printer;
use crate::registry::{Registry, file::FileRegistry, mlflow::Auth, mlflow::MlflowRegistry};

pub type Result<T> = anyhow::Result<T>;

/// What every command gets: resolved settings and the printer.
pub struct Ctx {
    pub settings: Settings,
    pub printer: Printer,
}

impl Ctx {
    /// The configured registry backend, or a usage error saying how to configure one.
    pub fn registry(&self) -> std::result::Result<Box<dyn Registry>, CliError> {
        match &self.settings.registry {
            Some(RegistryTarget::File { path }) => Ok(Box::new(FileRegistry::new(path.clone()))),
            Some(RegistryTarget::Mlflow { uri }) => {
                if self.settings.http.insecure_tls {
                    self.printer.warn(
                        "MLFLOW_TRACKING_INSECURE_TLS is set: the registry's TLS certificate is NOT verified",
                    );
                }
                let auth = if self.settings.registry_credentials {
                    Auth::from_env()
                } else {
                    let auth = Auth::from_env();
                    if let Some(vars) = auth.sent() {
                        self.printer.warn(&format!(
                            "{vars} are not sent to {}: they belong to the server MLFLOW_TRACKING_URI names, and {} points the registry elsewhere",
                            crate::config::redact_str(uri),
                            self.settings
                                .config_path
                                .as_deref()
                                .map(|p| p.display().to_string())
                                .unwrap_or_else(|| "the config".into())
                        ));
                    }
                    Auth::None
                };
                let reg = MlflowRegistry::new(uri, auth, &self.settings.http)
                    .map_err(CliError::usage)?;
                Ok(Box::new(reg))
            }
            None => Err(CliError::usage("no registry is configured").with_hint(
                "set MLFLOW_TRACKING_URI=http://mlflow:5000, pass --registry URI|PATH, or set [registry] uri in mlrb.toml (`mlrb config` shows which file was read)",
            )),
        }
    }
}
