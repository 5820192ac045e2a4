//! The MLflow backend: the tracking server's REST API under `/api/2.0/mlflow/`.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use reqwest::blocking::Response;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::{ModelVersion, RegisteredModel, Registry, RegistryError, Result, Stage, VersionQuery};
use crate::http::{Http, HttpOptions, describe_body, error_detail, one_line};

/// Credentials as the official client reads them; the secret never reaches Debug or Display.
#[derive(Clone)]
pub enum Auth {
    None,
    Basic { user: String, password: String },
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::None => "Auth::None",
            Auth::Basic { .. } => "Auth::Basic(<redacted>)",
            Auth::Bearer(_) => "Auth::Bearer(<redacted>)",
        })
    }
}

impl Auth {
    /// MLFLOW_TRACKING_USERNAME + _PASSWORD → Basic, else MLFLOW_TRACKING_TOKEN → Bearer.
    pub fn from_env() -> Auth {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        match (
            var("MLFLOW_TRACKING_USERNAME"),
            var("MLFLOW_TRACKING_PASSWORD"),
        ) {
            (Some(user), Some(password)) => Auth::Basic { user, password },
            _ => match var("MLFLOW_TRACKING_TOKEN") {
                Some(t) => Auth::Bearer(t),
                None => Auth::None,
            },
        }
    }

    /// The variables mlrb sent credentials from, if it sent any.
    pub fn sent(&self) -> Option<String> {
        match self {
            Auth::None => None,
            _ => Some(self.source().to_string()),
        }
    }

    /// The variables a user should check when the server refuses them.
    pub fn source(&self) -> &'static str {
        match self {
            Auth::None => {
                "no credential variable (set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN)"
            }
            Auth::Basic { .. } => "MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD",
            Auth::Bearer(_) => "MLFLOW_TRACKING_TOKEN",
        }
    }
}

pub struct MlflowRegistry {
    base: String,
    api: String,
    auth: Auth,
    http: Http,
}

impl MlflowRegistry {
    pub fn new(uri: &str, auth: Auth, opts: &HttpOptions) -> std::result::Result<Self, String> {
        let base = uri.trim().trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&base).map_err(|e| {
            format!(
                "registry URI `{base}` is not a URL ({e}); use http://host:port or https://host"
            )
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "registry URI `{base}` has scheme `{}`; mlrb talks to an MLflow tracking server over http:// or https://",
                parsed.scheme()
            ));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(
                "the registry URI carries credentials; put them in MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD instead"
                    .into(),
            );
        }
        let http = Http::new(opts)?;
        Ok(MlflowRegistry {
            api: format!("{base}/api/2.0/mlflow/"),
            base,
            auth,
            http,
        })
    }

    fn authed(&self, rb: reqwest::blocking::RequestBuilder) -> reqwest::blocking::RequestBuilder {
        match &self.auth {
            Auth::None => rb,
            Auth::Basic { user, password } => rb.basic_auth(user, Some(password)),
            Auth::Bearer(t) => rb.bearer_auth(t),
        }
    }

    fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        what: &str,
    ) -> Result<T> {
        let url = format!("{}{path}", self.api);
        let started = std::time::Instant::now();
        let resp = self
            .http
            .send(|c| self.authed(c.get(&url).query(query)), true)
            .map_err(|e| self.transport_since(e, Some(started)))?;
        self.decode(resp, what)
            .map_err(|e| self.forbidden(e, "GET", path, what))
    }

    /// Every write mlrb makes sets a field to a value (stage, alias, tag): repeating it is
    /// harmless, so a write lost to a transient failure is retried.
    fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: serde_json::Value,
        what: &str,
    ) -> Result<T> {
        let url = format!("{}{path}", self.api);
        let started = std::time::Instant::now();
        let resp = self
            .http
            .send(|c| self.authed(c.post(&url).json(&body)), true)
            .map_err(|e| self.transport_since(e, Some(started)))?;
        self.decode(resp, what)
            .map_err(|e| self.forbidden(e, "POST", path, what))
    }

    /// A removal (only a drill's restore makes one): repeating it is harmless, and what is
    /// already gone counts as removed.
    fn delete(&self, path: &str, body: serde_json::Value, what: &str) -> Result<()> {
        let url = format!("{}{path}", self.api);
        let started = std::time::Instant::now();
        let resp = self
            .http
            .send(|c| self.authed(c.delete(&url).json(&body)), true)
            .map_err(|e| self.transport_since(e, Some(started)))?;
        match self
            .decode::<serde_json::Value>(resp, what)
            .map_err(|e| self.forbidden(e, "DELETE", path, what))
        {
            Ok(_) | Err(RegistryError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `model-versions/search` with `filter`, newest first, page after page (10 000 a page, the
    /// server's default: one request up to 10 000 versions; servers accept up to 200 000, but a
    /// bigger page saves no server time, which goes into building each version's answer).
    fn search_pages(
        &self,
        name: &str,
        filter: &str,
        limit: Option<usize>,
    ) -> Result<Vec<ModelVersion>> {
        #[derive(Deserialize)]
        struct Resp {
            #[serde(default)]
            model_versions: Vec<ApiModelVersion>,
            #[serde(default)]
            next_page_token: Option<String>,
        }
        let page = limit.unwrap_or(10_000).clamp(1, 10_000);
        let max_pages = crate::http::transport().max_pages;
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for pages in 1.. {
            if pages > max_pages {
                return Err(self.too_many_pages(
                    &format!("model `{name}`'s versions"),
                    max_pages,
                    page,
                ));
            }
            let mut q = vec![
                ("filter", filter.to_string()),
                ("max_results", page.to_string()),
                ("order_by", "version_number DESC".to_string()),
            ];
            if let Some(t) = &token {
                q.push(("page_token", t.clone()));
            }
            let r: Resp = self.get("model-versions/search", &q, &format!("model `{name}`"))?;
            // A LIKE filter (see `name_clause`) may also match other models' versions.
            for v in r
                .model_versions
                .into_iter()
                .filter(|v| v.name.is_empty() || v.name == name)
            {
                out.push(v.into_version(&self.base)?);
            }
            if limit.is_some_and(|l| out.len() >= l) {
                out.truncate(limit.unwrap_or(usize::MAX));
                break;
            }
            match r.next_page_token.filter(|t| !t.is_empty()) {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        out.sort_by_key(|v| std::cmp::Reverse(v.version));
        Ok(out)
    }

    fn too_many_pages(&self, what: &str, pages: u32, per_page: usize) -> RegistryError {
        RegistryError::Limit {
            url: self.base.clone(),
            detail: crate::http::too_many_pages(what, pages, per_page),
        }
    }

    /// A transport failure; `started` (the first attempt's start) lets a timeout say the whole
    /// time and the attempts, not one attempt's limit.
    fn transport_since(
        &self,
        e: reqwest::Error,
        started: Option<std::time::Instant>,
    ) -> RegistryError {
        if e.is_timeout() {
            let secs = self.http.timeout.as_secs();
            return RegistryError::Timeout {
                url: self.base.clone(),
                secs,
                attempts: crate::http::last_attempts().max(1),
                total_secs: started.map_or(secs, |t| t.elapsed().as_secs_f64().round() as u64),
            };
        }
        RegistryError::Unreachable {
            url: self.base.clone(),
            detail: error_detail(&e),
        }
    }

    /// A 403 to credentials the server accepted is a missing permission, not a wrong password:
    /// it names the user and what was asked.
    fn forbidden(&self, e: RegistryError, method: &str, path: &str, what: &str) -> RegistryError {
        let RegistryError::Auth {
            url,
            status: 403,
            detail,
            ..
        } = e
        else {
            return e;
        };
        let who = match &self.auth {
            Auth::Basic { user, .. } => format!("user `{user}`"),
            Auth::Bearer(_) => "the token's user (MLFLOW_TRACKING_TOKEN)".into(),
            Auth::None => "an anonymous caller (no MLFLOW_TRACKING_USERNAME or token)".into(),
        };
        let verb = match path {
            "model-versions/transition-stage" => "change the stage of",
            "registered-models/alias" => "move an alias of",
            "model-versions/set-tag" | "registered-models/set-tag" => "set a tag on",
            p if p.ends_with("delete-tag") => "remove a tag from",
            p if p.ends_with("delete-alias") || p.ends_with("alias/delete") => "remove an alias of",
            _ if method == "GET" => "read",
            _ => "change",
        };
        RegistryError::Forbidden {
            url,
            status: 403,
            who,
            action: format!("{verb} {what} ({method} {path})"),
            detail,
        }
    }

    /// The answer's text, within `[http] max_body`.
    fn body(&self, resp: Response) -> Result<String> {
        self.http.read_text(resp).map_err(|e| match e {
            crate::http::BodyError::TooLarge(t) => RegistryError::Limit {
                url: self.base.clone(),
                detail: t.to_string(),
            },
            e => RegistryError::Unreachable {
                url: self.base.clone(),
                detail: e.to_string(),
            },
        })
    }

    fn decode<T: DeserializeOwned>(&self, resp: Response, what: &str) -> Result<T> {
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = self.body(resp)?;
        interpret(&self.base, &self.auth, status, &ct, &body, what)?;
        serde_json::from_str(&body).map_err(|e| RegistryError::Server {
            url: self.base.clone(),
            status,
            message: format!("unexpected JSON ({e})"),
            credential: None,
        })
    }
}

/// What an MLflow answer means: `Ok` for a JSON success, else the error a user can act on.
/// JSON errors carry `error_code`; auth failures are text/plain or HTML; unknown routes are HTML.
pub fn interpret(
    base: &str,
    auth: &Auth,
    status: u16,
    ct: &str,
    body: &str,
    what: &str,
) -> Result<()> {
    let is_json = ct.contains("json");
    if (200..300).contains(&status) && is_json {
        return Ok(());
    }
    if status == 403 && body.contains("Invalid Host header") {
        return Err(RegistryError::InvalidHost {
            url: base.to_string(),
        });
    }
    // MLflow's JSON error is an object with `error_code` and `message`; anything else (an array,
    // a bare string) is described like any other unexpected body. Both fields are server text,
    // so both are cut to one line.
    let api_error = is_json
        .then(|| serde_json::from_str::<serde_json::Value>(body).ok())
        .flatten()
        .and_then(|v| match v {
            serde_json::Value::Object(o) => Some(o),
            _ => None,
        })
        .map(|o| {
            let field = |k: &str, max: usize| {
                o.get(k)
                    .and_then(|v| v.as_str())
                    .map(|s| one_line(s, max))
                    .unwrap_or_default()
            };
            (field("error_code", 80), field("message", 300))
        });
    if let Some((error_code, message)) = api_error {
        return Err(match error_code.as_str() {
            "RESOURCE_DOES_NOT_EXIST" => RegistryError::NotFound {
                what: if message.starts_with("Registered Model") {
                    what.split(" of ").last().unwrap_or(what).to_string()
                } else {
                    what.to_string()
                },
            },
            "INVALID_PARAMETER_VALUE" if status == 400 => RegistryError::Invalid { message },
            "UNAUTHENTICATED" | "PERMISSION_DENIED" => RegistryError::Auth {
                url: base.to_string(),
                status,
                detail: message,
                credential: auth.source().into(),
            },
            _ => RegistryError::Server {
                url: base.to_string(),
                status,
                message: format!("{error_code} {message}").trim().to_string(),
                credential: auth.sent(),
            },
        });
    }
    let (kind, snippet) = describe_body(ct, body);
    if status == 401 || status == 403 {
        return Err(RegistryError::Auth {
            url: base.to_string(),
            status,
            detail: snippet,
            credential: auth.source().into(),
        });
    }
    Err(RegistryError::NotJson {
        url: base.to_string(),
        status,
        kind,
        snippet,
        credential: auth.sent(),
    })
}

#[derive(Deserialize)]
struct KeyValue {
    key: String,
    #[serde(default)]
    value: String,
}

#[derive(Deserialize)]
struct AliasEntry {
    alias: String,
    version: String,
}

#[derive(Deserialize)]
struct ApiModelVersion {
    #[serde(default)]
    name: String,
    version: String,
    #[serde(default)]
    current_stage: String,
    #[serde(default)]
    creation_timestamp: Option<i64>,
    #[serde(default)]
    last_updated_timestamp: Option<i64>,
    #[serde(default)]
    source: String,
    #[serde(default)]
    run_id: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    tags: Vec<KeyValue>,
    #[serde(default)]
    aliases: Vec<String>,
}

fn ms(t: Option<i64>) -> Option<DateTime<Utc>> {
    t.and_then(|ms| Utc.timestamp_millis_opt(ms).single())
}

impl ApiModelVersion {
    fn into_version(self, base: &str) -> Result<ModelVersion> {
        let version = self.version.parse().map_err(|_| RegistryError::Server {
            url: base.to_string(),
            status: 200,
            message: format!("version `{}` is not a number", self.version),
            credential: None,
        })?;
        Ok(ModelVersion {
            version,
            stage: Stage::parse(&self.current_stage).unwrap_or(Stage::None),
            aliases: self.aliases,
            tags: self.tags.into_iter().map(|t| (t.key, t.value)).collect(),
            source: self.source,
            run_id: Some(self.run_id).filter(|r| !r.is_empty()),
            status: if self.status.is_empty() {
                "READY".into()
            } else {
                self.status
            },
            created_at: ms(self.creation_timestamp),
            updated_at: ms(self.last_updated_timestamp),
        })
    }
}

/// A registered model as `registered-models/get` and `registered-models/search` answer it.
#[derive(Deserialize)]
struct Model {
    name: String,
    #[serde(default)]
    aliases: Vec<AliasEntry>,
    #[serde(default)]
    tags: Vec<KeyValue>,
    #[serde(default)]
    latest_versions: Vec<Latest>,
}

#[derive(Deserialize)]
struct Latest {
    version: String,
    #[serde(default)]
    current_stage: String,
}

impl Model {
    fn into_model(self) -> RegisteredModel {
        RegisteredModel {
            name: self.name,
            aliases: self
                .aliases
                .into_iter()
                .filter_map(|a| a.version.parse().ok().map(|v| (a.alias, v)))
                .collect::<BTreeMap<_, _>>(),
            tags: self.tags.into_iter().map(|t| (t.key, t.value)).collect(),
            latest: self
                .latest_versions
                .into_iter()
                .filter_map(|l| Some((Stage::parse(&l.current_stage)?, l.version.parse().ok()?)))
                .collect(),
        }
    }
}

/// The filter clause selecting model `name`: `name = '…'`, or, for a name holding both quote
/// kinds (which MLflow's filter syntax cannot write, having no escapes), `name LIKE '…'` with
/// each quote and backslash as the one-character wildcard `_`; `search_pages` keeps only the
/// versions of exactly `name`.
fn name_clause(name: &str) -> String {
    match quote(name) {
        Ok(q) => format!("name = {q}"),
        Err(_) => format!("name LIKE '{}'", name.replace(['\'', '\\'], "_")),
    }
}

/// A string literal for MLflow's filter syntax.
fn quote(s: &str) -> Result<String> {
    if !s.contains('\'') {
        Ok(format!("'{s}'"))
    } else if !s.contains('"') {
        Ok(format!("\"{s}\""))
    } else {
        Err(RegistryError::Invalid {
            message: format!(
                "`{s}` has both quote kinds; MLflow's filter syntax cannot express it"
            ),
        })
    }
}

impl Registry for MlflowRegistry {
    fn location(&self) -> String {
        format!("MLflow at {}", self.base)
    }

    /// Read through `registered-models/search` on the exact name: the server answers it with
    /// the same model (tags, aliases, the newest version of each stage) but finds the newest
    /// versions with one SQL query, where `registered-models/get` loads every version of the
    /// model (0.2–0.8 s at 10 000 versions, against 0.1 s; the lease reads the model twice).
    /// A name the search does not find exactly (or cannot express) is read with `get`, which
    /// also gives the unknown model its usual error.
    fn get_model(&self, name: &str) -> Result<RegisteredModel> {
        #[derive(Deserialize)]
        struct Found {
            #[serde(default)]
            registered_models: Vec<Model>,
        }
        if let Ok(filter) = quote(name).map(|q| format!("name = {q}")) {
            let r: Found = self.get(
                "registered-models/search",
                &[("filter", filter), ("max_results", "10".into())],
                &format!("model `{name}`"),
            )?;
            // A case-insensitive collation (MySQL) may also find `NAME` for `name`.
            if let Some(m) = r.registered_models.into_iter().find(|m| m.name == name) {
                return Ok(m.into_model());
            }
        }
        #[derive(Deserialize)]
        struct Resp {
            registered_model: Model,
        }
        let r: Resp = self.get(
            "registered-models/get",
            &[("name", name.to_string())],
            &format!("model `{name}`"),
        )?;
        Ok(r.registered_model.into_model())
    }

    fn list_models(&self) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Resp {
            #[serde(default)]
            registered_models: Vec<Named>,
            #[serde(default)]
            next_page_token: Option<String>,
        }
        #[derive(Deserialize)]
        struct Named {
            name: String,
        }
        let max_pages = crate::http::transport().max_pages;
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        for pages in 1.. {
            if pages > max_pages {
                return Err(self.too_many_pages("registered models", max_pages, 1000));
            }
            let mut q = vec![("max_results", "1000".to_string())];
            if let Some(t) = &token {
                q.push(("page_token", t.clone()));
            }
            let r: Resp = self.get("registered-models/search", &q, "registered models")?;
            names.extend(r.registered_models.into_iter().map(|m| m.name));
            match r.next_page_token.filter(|t| !t.is_empty()) {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        Ok(names)
    }

    fn get_version(&self, name: &str, version: u64) -> Result<ModelVersion> {
        #[derive(Deserialize)]
        struct Resp {
            model_version: ApiModelVersion,
        }
        let r: Resp = self.get(
            "model-versions/get",
            &[("name", name.to_string()), ("version", version.to_string())],
            &format!("version {version} of model `{name}`"),
        )?;
        r.model_version.into_version(&self.base)
    }

    fn run_fields(&self, run_id: &str) -> Result<BTreeMap<String, String>> {
        #[derive(Deserialize)]
        struct Field {
            key: String,
            #[serde(default)]
            value: String,
        }
        #[derive(Deserialize, Default)]
        struct RunData {
            #[serde(default)]
            params: Vec<Field>,
            #[serde(default)]
            tags: Vec<Field>,
        }
        #[derive(Deserialize)]
        struct Run {
            #[serde(default)]
            data: RunData,
        }
        #[derive(Deserialize)]
        struct Resp {
            run: Run,
        }
        let r: Resp = self.get(
            "runs/get",
            &[("run_id", run_id.to_string())],
            &format!("run {run_id}"),
        )?;
        let mut out = BTreeMap::new();
        for f in r.run.data.params.into_iter().chain(r.run.data.tags) {
            out.entry(f.key).or_insert(f.value);
        }
        Ok(out)
    }

    /// The server reads the file wherever the artifact lives (its own artifact store, a
    /// proxied `mlflow-artifacts:` root, object storage it holds credentials for): the route
    /// MLflow's UI reads a version's files through.
    fn model_file(&self, name: &str, version: u64) -> Result<Option<String>> {
        let url = format!("{}/model-versions/get-artifact", self.base);
        let query = [
            ("name", name.to_string()),
            ("version", version.to_string()),
            ("path", "MLmodel".to_string()),
        ];
        // Not retried: an unreadable signature is a warning in the plan, and a server that
        // cannot reach the artifact store (a 500 for every `s3://` source) must not add
        // backoff to every rollback.
        let started = std::time::Instant::now();
        let resp = self
            .http
            .send(
                |c| {
                    let within = self.http.timeout.min(std::time::Duration::from_secs(10));
                    self.authed(c.get(&url).query(&query).timeout(within))
                },
                false,
            )
            .map_err(|e| self.transport_since(e, Some(started)))?;
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = self.body(resp)?;
        if (200..300).contains(&status) {
            return Ok(Some(body));
        }
        if status == 404 {
            return Ok(None);
        }
        let what = format!("the MLmodel file of version {version} of model `{name}`");
        interpret(&self.base, &self.auth, status, &ct, &body, &what)
            .map_err(|e| self.forbidden(e, "GET", "model-versions/get-artifact", &what))?;
        Err(RegistryError::Server {
            url: self.base.clone(),
            status,
            message: one_line(&body, 160),
            credential: None,
        })
    }

    fn download_uri(&self, name: &str, version: u64) -> Result<String> {
        #[derive(Deserialize)]
        struct Resp {
            artifact_uri: String,
        }
        let r: Resp = self.get(
            "model-versions/get-download-uri",
            &[("name", name.to_string()), ("version", version.to_string())],
            &format!("version {version} of model `{name}`"),
        )?;
        Ok(r.artifact_uri)
    }

    fn run_metrics(&self, run_id: &str) -> Result<BTreeMap<String, f64>> {
        #[derive(Deserialize)]
        struct Metric {
            key: String,
            value: f64,
        }
        #[derive(Deserialize, Default)]
        struct RunData {
            #[serde(default)]
            metrics: Vec<Metric>,
        }
        #[derive(Deserialize)]
        struct Run {
            #[serde(default)]
            data: RunData,
        }
        #[derive(Deserialize)]
        struct Resp {
            run: Run,
        }
        let r: Resp = self.get(
            "runs/get",
            &[("run_id", run_id.to_string())],
            &format!("run {run_id}"),
        )?;
        Ok(r.run
            .data
            .metrics
            .into_iter()
            .map(|m| (m.key, m.value))
            .collect())
    }

    fn search_versions(&self, name: &str, query: &VersionQuery) -> Result<Vec<ModelVersion>> {
        let mut filter = name_clause(name);
        for (k, v) in &query.tags {
            // ILIKE ignores case; a value holding its wildcards is matched exactly instead.
            let op = if v.contains(['%', '_']) { "=" } else { "ILIKE" };
            filter.push_str(&format!(" AND tags.`{k}` {op} {}", quote(v)?));
        }
        self.search_pages(name, &filter, query.limit)
    }

    fn versions_from(&self, name: &str, from: u64) -> Result<Vec<ModelVersion>> {
        let filter = format!("{} AND version_number >= {from}", name_clause(name));
        self.search_pages(name, &filter, None)
    }

    fn transition_stage(&self, name: &str, version: u64, stage: Stage) -> Result<()> {
        let _: serde_json::Value = self.post(
            "model-versions/transition-stage",
            json!({"name": name, "version": version.to_string(), "stage": stage.as_str(),
                   "archive_existing_versions": false}),
            &format!("version {version} of model `{name}`"),
        )?;
        Ok(())
    }

    fn set_alias(&self, name: &str, alias: &str, version: u64) -> Result<()> {
        let _: serde_json::Value = self.post(
            "registered-models/alias",
            json!({"name": name, "alias": alias, "version": version.to_string()}),
            &format!("version {version} of model `{name}`"),
        )?;
        Ok(())
    }

    fn set_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()> {
        let _: serde_json::Value = self.post(
            "registered-models/set-tag",
            json!({"name": name, "key": key, "value": value}),
            &format!("model `{name}`"),
        )?;
        Ok(())
    }

    fn remove_drill_marks(
        &self,
        name: &str,
        version: Option<u64>,
        tag_keys: &[String],
        aliases: &[String],
    ) -> Result<()> {
        for key in tag_keys {
            match version {
                Some(v) => self.delete(
                    "model-versions/delete-tag",
                    json!({"name": name, "version": v.to_string(), "key": key}),
                    &format!("tag `{key}` of version {v} of model `{name}`"),
                )?,
                None => self.delete(
                    "registered-models/delete-tag",
                    json!({"name": name, "key": key}),
                    &format!("tag `{key}` of model `{name}`"),
                )?,
            }
        }
        for alias in aliases {
            self.delete(
                "registered-models/alias",
                json!({"name": name, "alias": alias}),
                &format!("alias @{alias} of model `{name}`"),
            )?;
        }
        Ok(())
    }

    fn set_version_tag(&self, name: &str, version: u64, key: &str, value: &str) -> Result<()> {
        let _: serde_json::Value = self.post(
            "model-versions/set-tag",
            json!({"name": name, "version": version.to_string(), "key": key, "value": value}),
            &format!("version {version} of model `{name}`"),
        )?;
        Ok(())
    }

    /// One request per tag (MLflow has no batch write for version tags), sent at once, up to
    /// `TAG_WRITES_AT_ONCE` on their own connections: a rollback's audit tags cost about one
    /// round trip instead of six. Each write is retried on its own like any other; the server's
    /// SQLite or SQL database serializes them. Every write is sent even when one fails, and
    /// the first failure (in the order of `tags`) is the error.
    fn set_version_tags(&self, name: &str, version: u64, tags: &[(String, String)]) -> Result<()> {
        let mut results: Vec<Result<()>> = Vec::with_capacity(tags.len());
        for chunk in tags.chunks(TAG_WRITES_AT_ONCE) {
            let chunk_results: Vec<Result<()>> = std::thread::scope(|s| {
                // The first write goes on this thread, the others on their own.
                let others: Vec<_> = chunk
                    .iter()
                    .skip(1)
                    .map(|(k, v)| s.spawn(move || self.set_version_tag(name, version, k, v)))
                    .collect();
                let first = chunk
                    .first()
                    .map(|(k, v)| self.set_version_tag(name, version, k, v));
                first
                    .into_iter()
                    .chain(others.into_iter().map(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(RegistryError::Unreachable {
                                url: self.base.clone(),
                                detail: "a tag write panicked".into(),
                            })
                        })
                    }))
                    .collect()
            });
            results.extend(chunk_results);
        }
        results.into_iter().find(|r| r.is_err()).unwrap_or(Ok(()))
    }
}

/// The most tag writes `set_version_tags` has in flight at once (a rollback writes six per
/// version).
const TAG_WRITES_AT_ONCE: usize = 6;
