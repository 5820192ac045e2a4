//! A fault injector in front of a real server: an HTTP proxy that forwards every request and,
//! at the N-th one, refuses it, delays it past the client's timeout, answers 500, or forwards
//! it and then cuts the connection before the answer (the write happened; the client never hears).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::http_server::{Reply, TestServer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Close the connection without forwarding or answering.
    Refuse,
    /// Hold the request for `delay`, then forward it (the client has given up by then).
    Delay,
    /// Answer 500 with MLflow's JSON error shape, without forwarding.
    Error500,
    /// Forward the request, then close the connection instead of answering.
    Cut,
}

#[derive(Debug, Clone, Copy)]
pub enum When {
    /// Only the N-th request (1-based).
    Once(usize),
    /// The N-th and every later request (the server is gone from then on).
    From(usize),
    /// Every request whose body holds this text (one kind of write keeps failing).
    Body(&'static str),
    Never,
}

pub struct FaultProxy {
    pub url: String,
    pub count: Arc<AtomicUsize>,
    pub when: Arc<Mutex<When>>,
    server: TestServer,
}

impl FaultProxy {
    pub fn start(upstream: &str, fault: Fault, when: When, delay: Duration) -> FaultProxy {
        let count = Arc::new(AtomicUsize::new(0));
        let when = Arc::new(Mutex::new(when));
        let (c, w) = (count.clone(), when.clone());
        let upstream = upstream.to_string();
        let client = reqwest::blocking::Client::new();
        let server = TestServer::start_raw(move |req| {
            let n = c.fetch_add(1, Ordering::SeqCst) + 1;
            let hit = match *w.lock().unwrap() {
                When::Once(k) => n == k,
                When::From(k) => n >= k,
                When::Body(text) => req.body.contains(text),
                When::Never => false,
            };
            let forward = || {
                let mut rb = client.request(
                    req.method.parse().unwrap(),
                    format!("{upstream}{}", req.path),
                );
                for (k, v) in &req.headers {
                    if k != "host" && k != "content-length" {
                        rb = rb.header(k, v);
                    }
                }
                let r = rb.body(req.body.clone()).send().ok()?;
                let status = r.status().as_u16();
                let ct = r
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                Some(Reply::text(status, &ct, &r.text().ok()?))
            };
            match (hit, fault) {
                (false, _) => forward(),
                (true, Fault::Refuse) => None,
                (true, Fault::Delay) => {
                    std::thread::sleep(delay);
                    forward()
                }
                (true, Fault::Error500) => Some(Reply::text(
                    500,
                    "application/json",
                    r#"{"error_code":"INTERNAL_ERROR","message":"injected fault"}"#,
                )),
                (true, Fault::Cut) => {
                    forward();
                    None
                }
            }
        });
        FaultProxy {
            url: server.url.clone(),
            count,
            when,
            server,
        }
    }

    pub fn requests(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    pub fn heal(&self) {
        *self.when.lock().unwrap() = When::Never;
    }

    pub fn server(&self) -> &TestServer {
        &self.server
    }
}
