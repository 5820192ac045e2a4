//! The one HTTP client builder: timeouts, user agent, TLS settings, retries of idempotent calls,
//! redirects followed only within their origin.

use std::path::PathBuf;
use std::time::Duration;

use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::blocking::{Client, RequestBuilder, Response};

static VERBOSE: AtomicBool = AtomicBool::new(false);

/// `--verbose`: every request and answer is traced on stderr, secrets redacted.
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

/// Path segments after which a URL's path is a secret: Slack's `/services/T…/B…/<secret>` and
/// `/workflows/…`, `/triggers/…`, Discord's and others' `/webhooks/<id>/<token>`, `/hooks/…`.
const SECRET_PATH_PREFIXES: &[&str] = &["services", "workflows", "triggers", "webhooks", "hooks"];

/// Query keys whose values mlrb shows: the ones its own MLflow and Prometheus calls set (model
/// names, versions, PromQL, times). Every other query value may be a token or a signature.
const SHOWN_QUERY_KEYS: &[&str] = &[
    "name",
    "version",
    "filter",
    "max_results",
    "order_by",
    "query",
    "time",
    "start",
    "end",
    "step",
    "run_id",
];

/// A URL fit to print: userinfo, every path segment after a known secret prefix, every query
/// value but those of `SHOWN_QUERY_KEYS`, and any fragment become `[redacted]`.
pub fn redact_url(url: &reqwest::Url) -> String {
    const R: &str = "[redacted]";
    let mut out = format!("{}:", url.scheme());
    if url.has_authority() {
        out.push_str("//");
    }
    if !url.username().is_empty() || url.password().is_some() {
        out.push_str(R);
        out.push('@');
    }
    if let Some(h) = url.host_str() {
        out.push_str(h);
    }
    if let Some(p) = url.port() {
        out.push_str(&format!(":{p}"));
    }
    match url.path_segments() {
        Some(segments) => {
            let mut secret = false;
            for s in segments {
                out.push('/');
                out.push_str(if secret && !s.is_empty() { R } else { s });
                secret |= SECRET_PATH_PREFIXES.contains(&s.to_ascii_lowercase().as_str());
            }
        }
        None => out.push_str(url.path()),
    }
    if let Some(q) = url.query() {
        let parts: Vec<String> = q
            .split('&')
            .map(|part| match part.split_once('=') {
                Some((k, v)) if SHOWN_QUERY_KEYS.contains(&k) => format!("{k}={v}"),
                Some((k, _)) => format!("{k}={R}"),
                None if part.is_empty() => String::new(),
                None => R.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&parts.join("&"));
    }
    if url.fragment().is_some() {
        out.push('#');
        out.push_str(R);
    }
    out
}

/// A URL mlrb refused to send a credential to, for an error line: scheme, host, port and path
/// only; userinfo is dropped and a query shows as `?…`, since the server chose them.
pub fn bare_url(url: &reqwest::Url) -> String {
    let origin = url.origin();
    if !origin.is_tuple() {
        return format!("a {}: URL", url.scheme());
    }
    let query = if url.query().is_some() { "?…" } else { "" };
    format!("{}{}{query}", origin.ascii_serialization(), url.path())
}

/// What every client shares, whatever its peer: from `[http]` in mlrb.toml, set once when the
/// settings resolve (before any client is built).
#[derive(Debug, Clone)]
pub struct Transport {
    /// The most bytes mlrb reads of one answer: a server (or a proxy in front of it) that sends
    /// more is refused before its body fills the memory of a controller pod.
    pub max_body: u64,
    /// The most pages mlrb reads of one listing: a server that pages forever is refused.
    pub max_pages: u32,
    /// A PEM bundle of CAs every client trusts beside the platform's roots and webpki's.
    pub ca_file: Option<PathBuf>,
}

/// 8 MiB: ten thousand MLflow versions in one search page are about 5 MiB.
pub const DEFAULT_MAX_BODY: u64 = 8 * 1024 * 1024;
/// 100 pages: a million versions at MLflow search's 10 000 a page.
pub const DEFAULT_MAX_PAGES: u32 = 100;

static TRANSPORT: std::sync::RwLock<Transport> = std::sync::RwLock::new(Transport {
    max_body: DEFAULT_MAX_BODY,
    max_pages: DEFAULT_MAX_PAGES,
    ca_file: None,
});

/// Sets what every client built from now on shares.
pub fn set_transport(t: Transport) {
    *TRANSPORT.write().unwrap_or_else(|e| e.into_inner()) = t;
}

pub fn transport() -> Transport {
    TRANSPORT.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// `8MiB`, `512KiB`, `16MB`, `1000000` (bytes) → bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => {
            return Err(format!(
                "`{s}` is not a size; write it like \"8MiB\" or \"512KiB\""
            ));
        }
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{s}` is not a size; write it like \"8MiB\" or \"512KiB\""))
}

/// A size as people write it: `8 MiB`, `512 KiB`, `300 bytes`.
pub fn format_size(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// An answer mlrb stopped reading at its limit; its text ends the error line.
#[derive(Debug)]
pub struct TooLarge {
    pub limit: u64,
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the answer is larger than {} (mlrb's limit for one answer; raise [http] max_body in mlrb.toml if the server is right to send more)",
            format_size(self.limit)
        )
    }
}

/// The error line of a listing that did not end within `[http] max_pages`.
pub fn too_many_pages(what: &str, pages: u32, per_page: usize) -> String {
    format!(
        "the listing of {what} did not end after {pages} pages of {per_page} (mlrb's limit; raise [http] max_pages in mlrb.toml if the server really holds that many)"
    )
}

/// Settings shared by every HTTP peer (registry, serving, webhooks).
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub insecure_tls: bool,
    pub ca_cert: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    /// Attempts for idempotent calls on transient failures (1 = no retry).
    pub attempts: u32,
    /// The most bytes read of one answer (`[http] max_body`).
    pub max_body: u64,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            insecure_tls: false,
            ca_cert: None,
            client_cert: None,
            attempts: 3,
            max_body: transport().max_body,
        }
    }
}

pub struct Http {
    /// Sends plain-HTTP requests: built without the system's root certificates, whose loading
    /// (every file of the system's certificate store) costs a command's start more than its
    /// first request does.
    client: Client,
    /// Sends HTTPS requests, with the system's roots: built on the first one.
    tls: std::sync::OnceLock<Client>,
    opts: HttpOptions,
    attempts: u32,
    pub timeout: Duration,
    pub max_body: u64,
}

/// A client with mlrb's settings: its timeouts, the CA file and client certificate given, and
/// the system's root certificates when `system_roots`.
fn build_client(opts: &HttpOptions, system_roots: bool) -> Result<Client, String> {
    let mut b = Client::builder()
        .user_agent(concat!("mlrb/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(opts.connect_timeout)
        .timeout(opts.timeout)
        .tcp_nodelay(true)
        .tls_built_in_root_certs(system_roots);
    let shared_ca = transport().ca_file;
    for ca in opts.ca_cert.iter().chain(shared_ca.iter()) {
        let pem = std::fs::read(ca)
            .map_err(|e| format!("cannot read CA certificate {}: {e}", ca.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("CA certificate {} is not PEM: {e}", ca.display()))?;
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    if let Some(cc) = &opts.client_cert {
        let pem = std::fs::read(cc)
            .map_err(|e| format!("cannot read client certificate {}: {e}", cc.display()))?;
        let id = reqwest::Identity::from_pem(&pem).map_err(|e| {
            format!(
                "client certificate {} must be one PEM file with the certificate and its key: {e}",
                cc.display()
            )
        })?;
        b = b.identity(id);
    }
    if opts.insecure_tls {
        b = b.danger_accept_invalid_certs(true);
    }
    b.redirect(reqwest::redirect::Policy::custom(same_origin_redirects))
        .build()
        .map_err(|e| format!("cannot build HTTP client: {e}"))
}

impl Http {
    pub fn new(opts: &HttpOptions) -> Result<Http, String> {
        Ok(Http {
            client: build_client(opts, false)?,
            tls: std::sync::OnceLock::new(),
            opts: opts.clone(),
            attempts: opts.attempts.max(1),
            timeout: opts.timeout,
            max_body: opts.max_body,
        })
    }

    /// The client for `url`: the one with the system's roots for HTTPS (built now if it is the
    /// first), the plain one otherwise. The certificate files were read once by `new`, so a
    /// failure here is reqwest's own and the plain client (no roots) answers the request with
    /// a certificate error instead.
    fn client_for(&self, url: &reqwest::Url) -> &Client {
        if url.scheme() != "https" {
            return &self.client;
        }
        self.tls
            .get_or_init(|| build_client(&self.opts, true).unwrap_or_else(|_| self.client.clone()))
    }

    /// The answer's body as text, read up to `max_body` bytes and refused past it: a declared
    /// length over the limit is refused before reading, an undeclared one when reading passes it.
    /// Invalid UTF-8 is replaced, as server text is only ever parsed or quoted.
    pub fn read_text(&self, resp: Response) -> Result<String, BodyError> {
        read_body(resp, self.max_body)
    }

    /// Sends a request built by `build`. Idempotent calls are retried on connect errors,
    /// timeouts, 429 and 5xx with capped, jittered backoff that honours Retry-After.
    pub fn send(
        &self,
        build: impl Fn(&Client) -> RequestBuilder,
        idempotent: bool,
    ) -> Result<Response, reqwest::Error> {
        let attempts = if idempotent { self.attempts } else { 1 };
        let mut attempt = 1;
        loop {
            LAST_ATTEMPTS.set(attempt);
            let started = std::time::Instant::now();
            let request = build(&self.client).build()?;
            if attempt == 1 {
                warn_cleartext(&request);
            }
            let verbose = VERBOSE.load(Ordering::Relaxed);
            if verbose {
                let auth = request
                    .headers()
                    .get(reqwest::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| match v.trim().split_once(char::is_whitespace) {
                        // `Bearer …`, `Basic …`: the scheme is no secret. A value without one
                        // (a bare token in auth_header_env) is all secret.
                        Some((scheme, _))
                            if scheme.len() <= 16
                                && scheme.chars().all(|c| c.is_ascii_alphanumeric()) =>
                        {
                            format!(" (authorization: {scheme} [redacted])")
                        }
                        _ => " (authorization: [redacted])".to_string(),
                    })
                    .unwrap_or_default();
                crate::printer::to_stderr(&format!(
                    "http: → {} {}{auth} (attempt {attempt})",
                    request.method(),
                    redact_url(request.url())
                ));
            }
            // A request sent beside others (on a thread of its own) names itself in its
            // answer's line, which may come after other requests' lines.
            let beside = (verbose && std::thread::current().name() != Some("main")).then(|| {
                let url = redact_url(request.url());
                let path = url.split('?').next().unwrap_or_default().to_string();
                format!(" ({} {path})", request.method())
            });
            let result = self.client_for(request.url()).execute(request);
            if verbose {
                let beside = beside.unwrap_or_default();
                match &result {
                    Ok(r) => crate::printer::to_stderr(&format!(
                        "http: ← {} in {} ms{beside}",
                        r.status().as_u16(),
                        started.elapsed().as_millis()
                    )),
                    Err(e) => crate::printer::to_stderr(&format!(
                        "http: ← {} after {} ms{beside}",
                        error_detail(e),
                        started.elapsed().as_millis()
                    )),
                }
            }
            let retry_after = match &result {
                Ok(r) if is_transient_status(r.status().as_u16()) => Some(retry_after(r)),
                // Connection refused, timed out, or closed before the answer.
                Err(e) if e.is_connect() || e.is_timeout() || e.is_request() => Some(None),
                _ => None,
            };
            match retry_after {
                Some(after) if attempt < attempts => {
                    backoff(attempt, after);
                    attempt += 1;
                }
                _ => return result,
            }
        }
    }
}

/// An answer's body as text, read up to `limit` bytes and refused past it: a declared length
/// over the limit is refused before reading, an undeclared one as soon as reading passes it.
/// Invalid UTF-8 is replaced, as server text is only ever parsed or quoted.
pub fn read_body(resp: Response, limit: u64) -> Result<String, BodyError> {
    use std::io::Read;
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge(TooLarge { limit }));
    }
    let mut buf = Vec::new();
    resp.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(BodyError::Read)?;
    if buf.len() as u64 > limit {
        return Err(BodyError::TooLarge(TooLarge { limit }));
    }
    Ok(match String::from_utf8(buf) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// An error answer's text, for its error line: its first bytes only (an error answer is read
/// to quote it, never to act on it), or what stopped the reading.
pub fn error_text(resp: Response) -> String {
    match read_body(resp, 64 * 1024) {
        Ok(s) => s,
        Err(BodyError::TooLarge(_)) => "(an answer over 64 KiB, not read)".into(),
        Err(e) => format!("({e})"),
    }
}

/// Why an answer's body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// The connection failed while reading.
    Read(std::io::Error),
    TooLarge(TooLarge),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::Read(e) => {
                // The innermost cause: an outer reqwest error's text names the URL.
                let mut detail = e.to_string();
                let mut src = std::error::Error::source(e);
                while let Some(s) = src {
                    detail = s.to_string();
                    src = s.source();
                }
                write!(f, "the answer broke off: {}", one_line(&detail, 160))
            }
            BodyError::TooLarge(t) => t.fmt(f),
        }
    }
}

/// What credential a request carries, if any: an auth header, a secret in its URL (userinfo, a
/// webhook's secret path), or a credential variable's value in its body (a trigger token).
fn credential_in(request: &reqwest::blocking::Request) -> Option<&'static str> {
    let h = request.headers();
    if h.contains_key(reqwest::header::AUTHORIZATION)
        || h.contains_key(reqwest::header::PROXY_AUTHORIZATION)
    {
        return Some("an Authorization header");
    }
    if h.contains_key("private-token") {
        return Some("a PRIVATE-TOKEN header");
    }
    let url = request.url();
    if !url.username().is_empty() || url.password().is_some() {
        return Some("credentials in the URL");
    }
    let mut segments = url.path_segments().into_iter().flatten();
    let secret_path = segments
        .any(|s| SECRET_PATH_PREFIXES.contains(&s.to_ascii_lowercase().as_str()))
        && segments.any(|s| !s.is_empty());
    if secret_path {
        return Some("a webhook's secret URL");
    }
    let secret_query = url.query_pairs().any(|(k, _)| {
        let k = k.to_ascii_lowercase();
        // MLflow's page_token is a cursor, not a credential.
        k != "page_token"
            && ["token", "key", "secret", "sig", "password", "auth"]
                .iter()
                .any(|w| k.contains(w))
    });
    if secret_query {
        return Some("a secret in the URL's query");
    }
    let body = request.body().and_then(|b| b.as_bytes())?;
    let text = String::from_utf8_lossy(body);
    match crate::secrets::scrub(&text) {
        std::borrow::Cow::Owned(_) => Some("a token in the request body"),
        std::borrow::Cow::Borrowed(_) => None,
    }
}

/// Loopback (127.0.0.0/8, ::1, localhost): plain http there never leaves the machine.
fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => {
            let d = host.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
    }
}

/// Origins already warned about, so each gets one warning per process.
static WARNED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Warns once per origin when a credential is about to cross the network in clear text.
fn warn_cleartext(request: &reqwest::blocking::Request) {
    let url = request.url();
    if url.scheme() != "http" || is_loopback(url) {
        return;
    }
    let Some(what) = credential_in(request) else {
        return;
    };
    let origin = url.origin().ascii_serialization();
    let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    if warned.contains(&origin) {
        return;
    }
    warned.push(origin.clone());
    crate::printer::to_stderr(&format!(
        "warning: mlrb sends {what} to {origin} over plain http, readable on the network; use https:// (a private CA goes in [http] ca_file or SSL_CERT_FILE)"
    ));
}

thread_local! {
    /// How many attempts the last `send` on this thread made, for an error that must say it.
    static LAST_ATTEMPTS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// The attempts the last `send` on this thread made (retries included).
pub fn last_attempts() -> u32 {
    LAST_ATTEMPTS.get()
}

/// Redirects a client follows before giving up (reqwest's default).
const MAX_REDIRECTS: usize = 10;

/// Every mlrb request may carry a credential (an Authorization or PRIVATE-TOKEN header, Basic
/// auth, a token in the body, a secret webhook path), and reqwest keeps most of them on a
/// redirect: it drops only Authorization-like headers, and only when the host or port changes.
/// So a redirect is followed only within the origin it starts from (same scheme, host and
/// port: never to another server, never from https to http); anything else is an error.
fn same_origin_redirects(attempt: reqwest::redirect::Attempt) -> reqwest::redirect::Action {
    let next = attempt.url();
    let refused = match attempt.previous().first() {
        Some(first) if next.origin() != first.origin() => Some(RedirectRefused {
            to: shown_origin(next),
            why: if first.scheme() == "https" && next.scheme() == "http" {
                Why::Downgrade
            } else {
                Why::OtherOrigin
            },
        }),
        _ if attempt.previous().len() > MAX_REDIRECTS => Some(RedirectRefused {
            to: shown_origin(next),
            why: Why::TooMany,
        }),
        _ => None,
    };
    match refused {
        Some(e) => attempt.error(e),
        None => attempt.follow(),
    }
}

/// Where a redirect pointed, fit for an error line: the origin only. The path is left out
/// because it can be the secret itself (a Slack webhook's), and so are userinfo and query.
fn shown_origin(url: &reqwest::Url) -> String {
    let origin = url.origin();
    if origin.is_tuple() {
        format!("{}/…", origin.ascii_serialization())
    } else {
        format!("a {}: URL", url.scheme())
    }
}

#[derive(Debug)]
enum Why {
    OtherOrigin,
    Downgrade,
    TooMany,
}

/// A redirect mlrb did not follow; its text is the whole error line a user sees.
#[derive(Debug)]
struct RedirectRefused {
    to: String,
    why: Why,
}

impl std::fmt::Display for RedirectRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let to = &self.to;
        match self.why {
            Why::OtherOrigin => write!(
                f,
                "the server redirected to {to} (another origin); mlrb does not follow redirects with credentials — configure the final URL"
            ),
            Why::Downgrade => write!(
                f,
                "the server redirected to {to} (https to http, in clear text); mlrb does not follow redirects with credentials — configure the final https URL"
            ),
            Why::TooMany => write!(
                f,
                "the server redirected more than {MAX_REDIRECTS} times (last to {to}) — configure the final URL"
            ),
        }
    }
}

impl std::error::Error for RedirectRefused {}

fn is_transient_status(s: u16) -> bool {
    s == 429 || (500..600).contains(&s)
}

fn retry_after(r: &Response) -> Option<Duration> {
    r.headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

fn backoff(attempt: u32, after: Option<Duration>) {
    if crate::testhooks::no_sleep() {
        return;
    }
    let base = Duration::from_millis(200 * 2u64.pow(attempt - 1)).min(Duration::from_secs(2));
    // Jitter from the clock's sub-second digits: enough to spread two clients apart.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let jitter = Duration::from_millis(u64::from(nanos % 100));
    let wait = after.unwrap_or(base + jitter).min(Duration::from_secs(10));
    std::thread::sleep(wait);
}

/// What a non-JSON body is, for error messages: "HTML (title)" or the first line of text.
pub fn describe_body(content_type: &str, body: &str) -> (String, String) {
    let ct = content_type.to_ascii_lowercase();
    if ct.contains("html") || body.trim_start().starts_with('<') {
        let title = body
            .find("<title>")
            .and_then(|i| {
                body[i + 7..]
                    .find("</title>")
                    .map(|j| &body[i + 7..i + 7 + j])
            })
            .unwrap_or("");
        return ("HTML".into(), one_line(title, 120));
    }
    let kind = if ct.is_empty() {
        "a body".to_string()
    } else {
        ct.split(';').next().unwrap_or("").to_string()
    };
    (kind, one_line(body, 120))
}

/// First `max` characters of `s` on one line, control characters replaced.
pub fn one_line(s: &str, max: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if flat.chars().count() > max {
        let cut: String = flat.chars().take(max).collect();
        format!("{cut}…")
    } else {
        flat
    }
}

/// The innermost cause of a transport error ("Connection refused"), on one line; a refused
/// redirect's sentence whole. Not the error's own text, which names the URL (for a Slack
/// webhook, the secret itself).
pub fn error_detail(e: &reqwest::Error) -> String {
    let mut detail = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(r) = s.downcast_ref::<RedirectRefused>() {
            // mlrb's own sentence, whole: its end says what to do.
            return r.to_string();
        }
        detail = s.to_string();
        src = s.source();
    }
    one_line(&detail, 160)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials_and_secret_query_values() {
        let u = reqwest::Url::parse(
            "https://bob:hunter2@h/x?name=m&private_token=abc&api_key=k&max_results=5",
        )
        .unwrap();
        let r = redact_url(&u);
        assert_eq!(
            r,
            "https://[redacted]@h/x?name=m&private_token=[redacted]&api_key=[redacted]&max_results=5"
        );
        let u = reqwest::Url::parse("https://h/x?sig=abc&code=xyz&flag#frag").unwrap();
        assert_eq!(
            redact_url(&u),
            "https://h/x?sig=[redacted]&code=[redacted]&[redacted]#[redacted]"
        );
    }

    #[test]
    fn redacts_a_webhooks_secret_path() {
        let u = reqwest::Url::parse("https://hooks.slack.com/services/T0/B0/XyZsecret").unwrap();
        assert_eq!(
            redact_url(&u),
            "https://hooks.slack.com/services/[redacted]/[redacted]/[redacted]"
        );
        let u = reqwest::Url::parse("https://discord.com/api/webhooks/1/tok").unwrap();
        assert_eq!(
            redact_url(&u),
            "https://discord.com/api/webhooks/[redacted]/[redacted]"
        );
        let u = reqwest::Url::parse("http://127.0.0.1:5000/api/2.0/mlflow/x").unwrap();
        assert_eq!(redact_url(&u), "http://127.0.0.1:5000/api/2.0/mlflow/x");
    }

    #[test]
    fn loopback_hosts() {
        for u in [
            "http://127.0.0.1:5000",
            "http://[::1]/",
            "http://localhost/",
            "http://a.localhost",
        ] {
            assert!(is_loopback(&reqwest::Url::parse(u).unwrap()), "{u}");
        }
        for u in [
            "http://192.0.2.2/",
            "http://mlflow:5000",
            "http://localhost.evil.com/",
            "http://[fd00::2]/",
        ] {
            assert!(!is_loopback(&reqwest::Url::parse(u).unwrap()), "{u}");
        }
    }

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_size("8MiB"), Ok(8 << 20));
        assert_eq!(parse_size(" 512 KiB "), Ok(512 << 10));
        assert_eq!(parse_size("16MB"), Ok(16_000_000));
        assert_eq!(parse_size("300"), Ok(300));
        for bad in ["", "0", "lots", "-1MiB", "1.5MiB", "99999999999999GiB"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(format_size(8 << 20), "8 MiB");
        assert_eq!(format_size(1 << 10), "1 KiB");
        assert_eq!(format_size(1500), "1500 bytes");
    }

    #[test]
    fn bare_url_drops_userinfo_and_query() {
        let u = reqwest::Url::parse("http://bob:hunter2@h:8080/status/1?token=abc").unwrap();
        assert_eq!(bare_url(&u), "http://h:8080/status/1?…");
    }
}
