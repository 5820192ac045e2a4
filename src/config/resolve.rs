//! Resolution: the config file found and trusted, then defaults < file < MLRB_* env < flags →
//! `Settings`, each value with where it came from (`mlrb config`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::CliError;
use crate::http::HttpOptions;
use crate::registry::LiveMode;

use super::schema::*;
use super::validate::{ConfiguredFallback, no_userinfo, validate};

/// Where the registry lives, after every source was consulted.
#[derive(Debug, Clone)]
pub enum RegistryTarget {
    Mlflow { uri: String },
    File { path: PathBuf },
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub config_path: Option<PathBuf>,
    pub registry: Option<RegistryTarget>,
    /// Whether the MLflow credential variables may go to `registry`: not when a config file
    /// points the registry away from the server MLFLOW_TRACKING_URI names.
    pub registry_credentials: bool,
    /// Each resolved value and where it came from, for `mlrb config`.
    pub sources: Vec<Setting>,
    pub http: HttpOptions,
    pub models: BTreeMap<String, ModelConfig>,
    pub state_dir: PathBuf,
    pub notify: NotifyConfig,
}

/// `[http]` → the limits and CA every client shares, set before any client is built.
fn http_transport(
    cfg: &HttpConfig,
    base: Option<&Path>,
    in_file: &dyn Fn(&str) -> String,
    sources: &mut Vec<Setting>,
) -> Result<(), CliError> {
    use crate::http::{DEFAULT_MAX_BODY, DEFAULT_MAX_PAGES, format_size};
    let from = |key: &str, set: bool| if set { in_file(key) } else { "default".into() };
    if cfg.max_pages == Some(0) {
        return Err(CliError::usage(format!(
            "{}: [http] max_pages must be at least 1",
            in_file("http.max_pages")
        )));
    }
    let ca_file = cfg.ca_file.as_ref().map(|p| match base {
        Some(b) if p.is_relative() => b.join(p),
        _ => p.clone(),
    });
    if let Some(p) = &ca_file
        && let Err(e) = std::fs::metadata(p)
    {
        return Err(CliError::usage(format!(
            "{}: [http] ca_file {}: {e}",
            in_file("http.ca_file"),
            p.display()
        ))
        .with_hint("name a PEM file of CA certificates, or remove ca_file"));
    }
    let t = crate::http::Transport {
        max_body: cfg.max_body.unwrap_or(DEFAULT_MAX_BODY),
        max_pages: cfg.max_pages.unwrap_or(DEFAULT_MAX_PAGES),
        ca_file,
    };
    sources.push(Setting {
        key: "http.max_body".into(),
        value: format_size(t.max_body),
        source: from("http.max_body", cfg.max_body.is_some()),
    });
    sources.push(Setting {
        key: "http.max_pages".into(),
        value: t.max_pages.to_string(),
        source: from("http.max_pages", cfg.max_pages.is_some()),
    });
    sources.push(Setting {
        key: "http.ca_file".into(),
        value: t.ca_file.as_ref().map_or_else(
            || "(none; the platform's roots, SSL_CERT_FILE / SSL_CERT_DIR, and webpki's)".into(),
            |p| p.display().to_string(),
        ),
        source: from("http.ca_file", t.ca_file.is_some()),
    });
    crate::http::set_transport(t);
    Ok(())
}

/// One resolved value and its source: default, file:line, environment, flag.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Setting {
    pub key: String,
    pub value: String,
    pub source: String,
}

/// Where the registry location came from, named in registry error hints.
static REGISTRY_SOURCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// "the registry URI came from …", for hints on registry errors.
pub fn registry_source() -> Option<&'static str> {
    REGISTRY_SOURCE.get().map(String::as_str)
}

/// A URL or URI-like text fit to print: parsed URLs lose userinfo and secret query values;
/// text that does not parse keeps only what precedes an `@` or `?`.
pub fn redact_str(s: &str) -> String {
    match reqwest::Url::parse(s) {
        Ok(u) => crate::http::redact_url(&u),
        Err(_) => {
            let cut = s.find(['@', '?']).map(|i| &s[..i]).unwrap_or(s);
            if cut.len() < s.len() {
                format!("{cut}…")
            } else {
                s.to_string()
            }
        }
    }
}

/// Whether two URLs share scheme, host and port.
fn same_origin(a: &str, b: &str) -> bool {
    match (reqwest::Url::parse(a), reqwest::Url::parse(b)) {
        (Ok(a), Ok(b)) => {
            a.scheme() == b.scheme()
                && a.host_str() == b.host_str()
                && a.port_or_known_default() == b.port_or_known_default()
        }
        _ => false,
    }
}

/// The line of each `table.key` in config text, for "file:line" sources. Best effort:
/// `[a.b]` headers and `key = value` lines; quoted names keep their text without quotes.
fn key_lines(text: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let mut table = String::new();
    for (n, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.starts_with('#') || l.is_empty() {
            continue;
        }
        if let Some(h) = l.strip_prefix('[') {
            let h = h.trim_start_matches('[');
            let h = h.split(']').next().unwrap_or("");
            table = h.replace(['"', '\'', ' '], "");
            out.entry(table.clone()).or_insert(n + 1);
            continue;
        }
        if let Some((k, _)) = l.split_once('=') {
            let k = k.trim().replace(['"', '\''], "");
            let full = if table.is_empty() {
                k
            } else {
                format!("{table}.{k}")
            };
            out.entry(full).or_insert(n + 1);
        }
    }
    out
}

/// What the command line contributes to resolution.
#[derive(Debug, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub registry: Option<String>,
    pub state_dir: Option<PathBuf>,
}

/// A model as a command acts on it: the name typed, the registered name, the live mode.
#[derive(Debug, Clone)]
pub struct ModelTarget {
    pub key: String,
    pub registered_name: String,
    pub mode: LiveMode,
    /// Whether the mode was chosen (`--alias`, or `mode` in the config) rather than assumed:
    /// an assumed stage mode gives way to the model's alias when nothing is in Production.
    pub mode_chosen: bool,
    /// Why the mode is what it is, when mlrb found it in the registry rather than being told.
    pub mode_note: Option<String>,
    /// In alias mode: the version the alias names when the registry no longer holds it.
    pub alias_names_deleted: Option<u64>,
    pub serving: ServingConfig,
    /// `[models.X.fallback]`, checked: what serves when no safe rollback target is left.
    pub fallback: Option<ConfiguredFallback>,
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.trim().is_empty())
}

fn home() -> Option<PathBuf> {
    env("HOME").map(PathBuf::from)
}

/// `$XDG_CONFIG_HOME/mlrb/mlrb.toml` (default `~/.config`).
pub fn xdg_config_file() -> Option<PathBuf> {
    env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".config")))
        .map(|d| d.join("mlrb").join("mlrb.toml"))
}

fn xdg_state_dir() -> PathBuf {
    env("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".local").join("state")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("mlrb")
}

/// The config file to read, and why: `--config`, `MLRB_CONFIG`, `./mlrb.toml`, then the XDG
/// config dir.
fn find_config(explicit: Option<&Path>) -> Result<Option<(PathBuf, &'static str)>, CliError> {
    if let Some(p) = explicit {
        return Ok(Some((p.to_path_buf(), "--config")));
    }
    if let Some(p) = env("MLRB_CONFIG") {
        return Ok(Some((PathBuf::from(p), "environment MLRB_CONFIG")));
    }
    let local = PathBuf::from("mlrb.toml");
    if local.is_file() {
        return Ok(Some((local, "./mlrb.toml in the current directory")));
    }
    Ok(xdg_config_file()
        .filter(|p| p.is_file())
        .map(|p| (p, "the XDG config dir")))
}

/// The text of a config file mlrb may trust. A config decides where credentials go, so, as
/// git's safe.directory reasons, it must belong to this user (or root) and be writable by
/// nobody else; a file planted in a shared directory is refused, not read.
fn read_config(path: &Path) -> Result<String, CliError> {
    trusted(path)?;
    std::fs::read_to_string(path).map_err(|e| {
        CliError::usage(format!("cannot read config file {}: {e}", path.display()))
            .with_hint("pass --config PATH or set MLRB_CONFIG to a readable file; without one, mlrb uses MLFLOW_TRACKING_URI")
    })
}

#[cfg(unix)]
fn trusted(path: &Path) -> Result<(), CliError> {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(path) else {
        // Reading it says what is wrong.
        return Ok(());
    };
    // SAFETY: getuid has no preconditions and cannot fail.
    let me = unsafe { libc::getuid() };
    if meta.uid() != me && meta.uid() != 0 {
        return Err(CliError::usage(format!(
            "config file {} belongs to uid {}, not to you (uid {me}); mlrb reads only configs of yours or root's",
            path.display(),
            meta.uid()
        ))
        .with_hint(
            "if you trust it, take it over (cp it to a file of yours and pass --config), or run from another directory; mlrb did nothing",
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(CliError::usage(format!(
            "config file {} can be changed by other users (mode {:o}); mlrb reads only configs nobody else can write",
            path.display(),
            meta.mode() & 0o777
        ))
        .with_hint(format!("chmod go-w {}", path.display())));
    }
    Ok(())
}

#[cfg(not(unix))]
fn trusted(_: &Path) -> Result<(), CliError> {
    Ok(())
}

/// Reads and checks a config file; errors name the file, line and key.
pub fn load_file(path: &Path) -> Result<FileConfig, CliError> {
    let text = read_config(path)?;
    parse(&text, path)
}

/// Parses and checks config text; `path` only names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<FileConfig, CliError> {
    let mut cfg: FileConfig = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| {
            text.as_bytes()[..s.start.min(text.len())]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1
        });
        let at = line.map(|l| format!(":{l}")).unwrap_or_default();
        let snippet = line
            .and_then(|l| text.lines().nth(l - 1))
            .map(|s| format!(" (at `{}`)", s.trim()))
            .unwrap_or_default();
        CliError::usage(format!(
            "config {}{at}: {}{snippet}",
            path.display(),
            e.message().replace('\n', " ")
        ))
    })?;
    validate(&cfg).map_err(|m| CliError::usage(format!("config {}: {m}", path.display())))?;
    for (key, m) in &mut cfg.models {
        if let Some(mc) = &mut m.metrics {
            mc.expand_placeholder(key);
        }
    }
    Ok(cfg)
}

fn env_bool(k: &str) -> bool {
    env(k).is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

impl Settings {
    pub fn resolve(o: &Overrides) -> Result<Settings, CliError> {
        let found = find_config(o.config.as_deref())?;
        let config_path = found.as_ref().map(|(p, _)| p.clone());
        let text = match &config_path {
            Some(p) => Some(read_config(p)?),
            None => None,
        };
        let mut file = match (&config_path, &text) {
            (Some(p), Some(t)) => parse(t, p)?,
            _ => FileConfig::default(),
        };
        let lines = text.as_deref().map(key_lines).unwrap_or_default();
        // "file:line" for a key of the config file, for `mlrb config` and error hints.
        let in_file = |key: &str| -> String {
            let p = config_path
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            match lines.get(key) {
                Some(l) => format!("{p}:{l}"),
                None => p,
            }
        };
        let mut sources = Vec::new();
        sources.push(Setting {
            key: "config".into(),
            value: config_path
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "(none)".into()),
            source: found
                .as_ref()
                .map(|(_, why)| why.to_string())
                .unwrap_or_else(|| "no --config, MLRB_CONFIG, ./mlrb.toml or XDG file".into()),
        });
        // Relative registry paths in a config file are relative to that file.
        let base = config_path
            .as_deref()
            .and_then(Path::parent)
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf);
        http_transport(&file.http, base.as_deref(), &in_file, &mut sources)?;
        // So are the feature pipeline's and the GitOps repositories, and then made absolute:
        // resolved here, once, so every command and kind opens the same directory, and two
        // engineers running from different directories take the same lock and lease on it.
        for m in file.models.values_mut() {
            let repos = [
                m.features.as_mut().map(|f| &mut f.repo),
                m.gitops.as_mut().map(|g| &mut g.repo),
            ];
            for repo in repos.into_iter().flatten() {
                if let Some(b) = &base
                    && repo.is_relative()
                {
                    *repo = b.join(&*repo);
                }
                if let Ok(abs) = std::path::absolute(&*repo) {
                    *repo = abs;
                }
            }
        }
        let env_uri = env("MLFLOW_TRACKING_URI");
        let (registry, registry_source) = if let Some(r) = o.registry.clone() {
            (Some(parse_registry_arg(&r)), "--registry".to_string())
        } else if let Some(r) = env("MLRB_REGISTRY") {
            (
                Some(parse_registry_arg(&r)),
                "environment MLRB_REGISTRY".into(),
            )
        } else {
            match file.registry.kind {
                Some(RegistryKind::File) => {
                    let p = file.registry.path.clone().unwrap_or_default();
                    (
                        Some(RegistryTarget::File {
                            path: match (&base, p.is_relative()) {
                                (Some(b), true) => b.join(p),
                                _ => p,
                            },
                        }),
                        in_file("registry.path"),
                    )
                }
                _ => match (&file.registry.uri, &env_uri) {
                    (Some(u), _) => {
                        let at = in_file("registry.uri");
                        (
                            Some(parse_tracking_uri(u, &format!("[registry] uri ({at})"))?),
                            at,
                        )
                    }
                    (None, Some(u)) => (
                        Some(parse_tracking_uri(u, "MLFLOW_TRACKING_URI")?),
                        "environment MLFLOW_TRACKING_URI".into(),
                    ),
                    (None, None) => (None, "not set".into()),
                },
            }
        };
        if let Some(RegistryTarget::Mlflow { uri }) = &registry {
            no_userinfo(&format!("the registry URI (from {registry_source})"), uri).map_err(
                |e| {
                    CliError::usage(e).with_hint(
                        "export MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) instead",
                    )
                },
            )?;
        }
        // MLflow credentials in the environment belong to the server MLFLOW_TRACKING_URI names.
        // A config file that points the registry elsewhere does not get them.
        let registry_credentials = match (&registry, &env_uri) {
            (Some(RegistryTarget::Mlflow { uri }), Some(e))
                if registry_source != "environment MLFLOW_TRACKING_URI" =>
            {
                same_origin(uri, e)
            }
            _ => true,
        };
        sources.push(Setting {
            key: "registry".into(),
            value: match &registry {
                Some(RegistryTarget::Mlflow { uri }) => redact_str(uri),
                Some(RegistryTarget::File { path }) => format!("file {}", path.display()),
                None => "(none)".into(),
            },
            source: registry_source.clone(),
        });
        let mut http = HttpOptions::default();
        let timeout_source =
            |key: &str, set: bool| if set { in_file(key) } else { "default".into() };
        if let Some(t) = file.registry.timeout {
            http.timeout = t;
        }
        if let Some(t) = file.registry.connect_timeout {
            http.connect_timeout = t;
        }
        sources.push(Setting {
            key: "registry.timeout".into(),
            value: humantime::format_duration(http.timeout).to_string(),
            source: timeout_source("registry.timeout", file.registry.timeout.is_some()),
        });
        sources.push(Setting {
            key: "registry.connect_timeout".into(),
            value: humantime::format_duration(http.connect_timeout).to_string(),
            source: timeout_source(
                "registry.connect_timeout",
                file.registry.connect_timeout.is_some(),
            ),
        });
        http.insecure_tls = env_bool("MLFLOW_TRACKING_INSECURE_TLS");
        http.ca_cert = env("MLFLOW_TRACKING_SERVER_CERT_PATH").map(PathBuf::from);
        http.client_cert = env("MLFLOW_TRACKING_CLIENT_CERT_PATH").map(PathBuf::from);
        for k in [
            "MLFLOW_TRACKING_INSECURE_TLS",
            "MLFLOW_TRACKING_SERVER_CERT_PATH",
            "MLFLOW_TRACKING_CLIENT_CERT_PATH",
        ] {
            if let Some(v) = env(k) {
                sources.push(Setting {
                    key: k.to_ascii_lowercase(),
                    value: v,
                    source: format!("environment {k}"),
                });
            }
        }
        for k in [
            "MLFLOW_TRACKING_TOKEN",
            "MLFLOW_TRACKING_USERNAME",
            "MLFLOW_TRACKING_PASSWORD",
        ] {
            if env(k).is_some() {
                sources.push(Setting {
                    key: k.to_ascii_lowercase(),
                    value: if registry_credentials {
                        "set (hidden)".into()
                    } else {
                        "set (hidden), NOT sent: the registry is not the MLFLOW_TRACKING_URI server"
                            .into()
                    },
                    source: format!("environment {k}"),
                });
            }
        }
        let (state_dir, state_source) = if let Some(d) = o.state_dir.clone() {
            (d, "--state-dir".to_string())
        } else if let Some(d) = env("MLRB_STATE_DIR") {
            (PathBuf::from(d), "environment MLRB_STATE_DIR".into())
        } else {
            (
                xdg_state_dir(),
                "default (XDG_STATE_HOME or ~/.local/state)".into(),
            )
        };
        sources.push(Setting {
            key: "state_dir".into(),
            value: state_dir.display().to_string(),
            source: state_source,
        });
        for (key, m) in &file.models {
            let at = |k: &str| in_file(&format!("models.{key}.{k}"));
            sources.push(Setting {
                key: format!("models.{key}.registered_name"),
                value: m.registered_name.clone().unwrap_or_else(|| key.clone()),
                source: if m.registered_name.is_some() {
                    at("registered_name")
                } else {
                    "default (the key)".into()
                },
            });
            sources.push(Setting {
                key: format!("models.{key}.mode"),
                value: match (m.mode.unwrap_or_default(), &m.alias) {
                    (Mode::Alias, Some(a)) => format!("alias @{a}"),
                    _ => "stage Production".into(),
                },
                source: if m.mode.is_some() {
                    at("mode")
                } else {
                    "default (stage; an alias when nothing is in Production)".into()
                },
            });
        }
        if let Some(p) = &config_path {
            let _ = REGISTRY_SOURCE.set(format!("{registry_source} (config {})", p.display()));
        } else {
            let _ = REGISTRY_SOURCE.set(registry_source);
        }
        let settings = Settings {
            config_path,
            registry,
            registry_credentials,
            http,
            models: file.models,
            state_dir,
            notify: file.notify,
            sources,
        };
        crate::secrets::register(&settings);
        Ok(settings)
    }

    /// The model named on the command line, with `--alias` applied.
    pub fn model(&self, key: &str, alias: Option<&str>) -> Result<ModelTarget, CliError> {
        check_name(key)?;
        let cfg = self.models.get(key).cloned().unwrap_or_default();
        let mode_chosen = alias.is_some() || cfg.mode.is_some();
        let mode = match (alias, cfg.mode.unwrap_or_default(), &cfg.alias) {
            (Some(a), _, _) => {
                check_alias(a)?;
                LiveMode::Alias(a.to_string())
            }
            (None, Mode::Alias, Some(a)) => LiveMode::Alias(a.clone()),
            _ => LiveMode::Stage,
        };
        // Checked when the config was read; an error here is one the checks missed.
        let fallback = cfg
            .fallback
            .as_ref()
            .map(|f| {
                Ok::<_, CliError>(ConfiguredFallback {
                    fallback: f
                        .resolve()
                        .map_err(|e| CliError::usage(format!("[models.{key}.fallback] {e}")))?,
                    description: f.description.clone(),
                })
            })
            .transpose()?;
        Ok(ModelTarget {
            key: key.to_string(),
            registered_name: cfg
                .registered_name
                .clone()
                .unwrap_or_else(|| key.to_string()),
            mode,
            mode_chosen,
            mode_note: None,
            alias_names_deleted: None,
            serving: cfg.serving,
            fallback,
        })
    }
}

/// A registry URI from MLFLOW_TRACKING_URI or `[registry] uri`: an MLflow tracking server over
/// HTTP(S). MLflow's other URI forms name stores mlrb cannot speak to; each gets its own fix.
fn parse_tracking_uri(u: &str, from: &str) -> Result<RegistryTarget, CliError> {
    let t = u.trim();
    let scheme = t.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("http" | "https") => {
            no_userinfo(from, t).map_err(|e| {
                CliError::usage(e).with_hint(
                    "export MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) instead",
                )
            })?;
            Ok(RegistryTarget::Mlflow { uri: t.to_string() })
        }
        Some("file") | None if !t.starts_with("databricks") => {
            let folder = t.strip_prefix("file://").unwrap_or(t);
            Err(CliError::usage(format!(
                "{from} is `{}`, a local MLflow store; mlrb speaks to an MLflow tracking server over HTTP(S)",
                redact_str(t).escape_debug()
            ))
            .with_hint(format!(
                "start a server on it: mlflow server --backend-store-uri {} --port 5000, then MLFLOW_TRACKING_URI=http://127.0.0.1:5000 (mlrb's own registry file goes in --registry PATH)",
                if folder.is_empty() { "./mlruns" } else { folder }
            )))
        }
        _ => Err(CliError::usage(format!(
            "{from} is `{}`; mlrb speaks to an MLflow tracking server over http:// or https://",
            redact_str(t)
        ))
        .with_hint("for Databricks, use the workspace's https:// URL with MLFLOW_TRACKING_TOKEN")),
    }
}

fn parse_registry_arg(r: &str) -> RegistryTarget {
    let r = r.trim();
    if let Some(p) = r
        .strip_prefix("file://")
        .or_else(|| r.strip_prefix("file:"))
    {
        RegistryTarget::File { path: p.into() }
    } else if r.contains("://") {
        RegistryTarget::Mlflow { uri: r.to_string() }
    } else {
        RegistryTarget::File { path: r.into() }
    }
}

fn check_name(name: &str) -> Result<(), CliError> {
    if name.trim().is_empty() {
        return Err(CliError::usage("the model name is empty"));
    }
    if name.chars().any(char::is_control) {
        return Err(CliError::usage(
            "the model name contains control characters (a newline?); pass the registered name exactly",
        ));
    }
    Ok(())
}

fn check_alias(a: &str) -> Result<(), CliError> {
    let ok = !a.is_empty()
        && a.len() <= 255
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        return Err(CliError::usage(format!(
            "alias `{}` is not valid; aliases are letters, digits, `_` and `-`",
            a.escape_debug()
        )));
    }
    Ok(())
}
