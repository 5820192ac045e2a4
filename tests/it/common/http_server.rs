//! A small HTTP/1.1 server in the test process, for peers that cannot run here for real
//! (a model server's reload and health endpoints, a proxy answering HTML, a server redirecting).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: String,
    /// Extra response headers (a redirect's Location).
    pub headers: Vec<(String, String)>,
    /// A body of this many bytes streamed after `body`, without holding it in memory; with
    /// `declared` the total goes in Content-Length, else the body ends when the server closes.
    pub stream: Option<Stream>,
}

#[derive(Clone, Copy)]
pub struct Stream {
    pub bytes: u64,
    pub declared: bool,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply {
            status,
            content_type: "application/json".into(),
            body: body.to_string(),
            headers: Vec::new(),
            stream: None,
        }
    }
    pub fn text(status: u16, content_type: &str, body: &str) -> Reply {
        Reply {
            status,
            content_type: content_type.into(),
            body: body.to_string(),
            headers: Vec::new(),
            stream: None,
        }
    }
    /// A JSON answer that starts like `prefix` and goes on with `bytes` of spaces: a huge answer.
    pub fn huge(prefix: &str, bytes: u64, declared: bool) -> Reply {
        Reply {
            stream: Some(Stream { bytes, declared }),
            ..Reply::text(200, "application/json", prefix)
        }
    }
    /// A redirect (301, 302, 303, 307, 308) to `location`, absolute or relative.
    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply::text(status, "text/plain", "moved").header("Location", location)
    }
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
}

pub struct TestServer {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Request>>>,
    /// Body bytes written to clients so far (what a client that stops reading did not take).
    pub sent: Arc<AtomicU64>,
}

impl TestServer {
    /// Serves every connection with `handler` on a thread until the test process ends.
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> TestServer {
        Self::start_raw(move |r| Some(handler(r)))
    }

    /// Like `start`, but a handler answering `None` closes the connection without a reply.
    pub fn start_raw(
        handler: impl Fn(&Request) -> Option<Reply> + Send + Sync + 'static,
    ) -> TestServer {
        Self::start_on("127.0.0.1", handler)
    }

    /// Like `start_raw`, listening on `ip` (a non-loopback address of this machine, say).
    pub fn start_on(
        ip: &str,
        handler: impl Fn(&Request) -> Option<Reply> + Send + Sync + 'static,
    ) -> TestServer {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        let sent = Arc::new(AtomicU64::new(0));
        let counter = sent.clone();
        let handler = Arc::new(handler);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let log = log.clone();
                let handler = handler.clone();
                let counter = counter.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let mut parts = line.split_whitespace();
                        let method = parts.next().unwrap_or("").to_string();
                        let path = parts.next().unwrap_or("").to_string();
                        let mut headers = Vec::new();
                        let mut len = 0usize;
                        loop {
                            let mut h = String::new();
                            reader.read_line(&mut h).unwrap();
                            let h = h.trim_end();
                            if h.is_empty() {
                                break;
                            }
                            if let Some((k, v)) = h.split_once(':') {
                                if k.eq_ignore_ascii_case("content-length") {
                                    len = v.trim().parse().unwrap_or(0);
                                }
                                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                            }
                        }
                        let mut body = vec![0; len];
                        reader.read_exact(&mut body).unwrap();
                        let req = Request {
                            method,
                            path,
                            headers,
                            body: String::from_utf8_lossy(&body).into_owned(),
                        };
                        let reply = handler(&req);
                        log.lock().unwrap().push(req);
                        let Some(reply) = reply else { return };
                        let extra: String = reply
                            .headers
                            .iter()
                            .map(|(k, v)| format!("{k}: {v}\r\n"))
                            .collect();
                        let length = match reply.stream {
                            Some(st) if !st.declared => "Connection: close\r\n".to_string(),
                            Some(st) => format!(
                                "Content-Length: {}\r\n",
                                reply.body.len() as u64 + st.bytes
                            ),
                            None => format!("Content-Length: {}\r\n", reply.body.len()),
                        };
                        let head = format!(
                            "HTTP/1.1 {} X\r\nContent-Type: {}\r\n{length}{extra}\r\n",
                            reply.status, reply.content_type,
                        );
                        if stream
                            .write_all(head.as_bytes())
                            .and_then(|_| stream.write_all(reply.body.as_bytes()))
                            .is_err()
                        {
                            return;
                        }
                        counter.fetch_add(reply.body.len() as u64, Ordering::Relaxed);
                        let Some(st) = reply.stream else { continue };
                        let chunk = vec![b' '; 64 * 1024];
                        let mut left = st.bytes;
                        while left > 0 {
                            let n = left.min(chunk.len() as u64) as usize;
                            if stream.write_all(&chunk[..n]).is_err() {
                                return;
                            }
                            counter.fetch_add(n as u64, Ordering::Relaxed);
                            left -= n as u64;
                        }
                        return;
                    }
                });
            }
        });
        TestServer {
            url,
            requests,
            sent,
        }
    }

    /// Body bytes the server has written so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}
