//! A real HTTPS receiver on 127.0.0.1 with a certificate from a CA generated per test, trusted by
//! the functions through `WEBHOOK_EXTRA_CA_FILE`. It records what it receives and answers as told.

use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use loopback_ca::LoopbackCa;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// How the receiver answers.
#[derive(Debug, Clone)]
pub enum Behaviour {
    Status(u16, String),
    Redirect(String),
    /// Waits this long before answering 200.
    Slow(Duration),
    /// A status with extra headers (`Retry-After`, say).
    WithHeaders(u16, Vec<(String, String)>),
    /// One answer per request in order; the last one repeats.
    Script(Vec<Behaviour>),
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// When the request was read (Unix ms).
    pub at_ms: u64,
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The headers as the official verifier takes them.
    pub fn header_map(&self) -> shared::lambda_http::http::HeaderMap {
        let mut map = shared::lambda_http::http::HeaderMap::new();
        for (name, value) in &self.headers {
            if let (Ok(n), Ok(v)) = (
                shared::lambda_http::http::HeaderName::from_bytes(name.as_bytes()),
                shared::lambda_http::http::HeaderValue::from_str(value),
            ) {
                map.append(n, v);
            }
        }
        map
    }
}

pub struct Receiver {
    /// `https://127.0.0.1:{port}/hook`
    pub url: String,
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    behaviour: Arc<Mutex<Behaviour>>,
}

impl Receiver {
    pub async fn start(ca: &LoopbackCa, behaviour: Behaviour) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind receiver");
        let port = listener.local_addr().expect("receiver address").port();
        let acceptor = ca.acceptor();
        let received = Arc::new(Mutex::new(Vec::new()));
        let behaviour = Arc::new(Mutex::new(behaviour));
        let (log, current) = (received.clone(), behaviour.clone());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, log, current) = (acceptor.clone(), log.clone(), current.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    let Ok(raw) = local_api::http::read_request(&mut tls).await else { return };
                    if let Ok(mut log) = log.lock() {
                        log.push(Received {
                            at_ms: shared::time::now_millis(),
                            method: raw.method,
                            target: raw.target,
                            headers: raw.headers,
                            body: raw.body,
                        });
                    }
                    let behaviour = current
                        .lock()
                        .map(|mut b| match &mut *b {
                            Behaviour::Script(steps) if steps.len() > 1 => steps.remove(0),
                            Behaviour::Script(steps) => {
                                steps.first().cloned().unwrap_or(Behaviour::Status(200, String::new()))
                            }
                            other => other.clone(),
                        })
                        .unwrap_or(Behaviour::Status(500, String::new()));
                    let (status, extra, body) = match behaviour {
                        Behaviour::Status(status, body) => (status, String::new(), body),
                        Behaviour::Redirect(to) => (302, format!("location: {to}\r\n"), String::new()),
                        Behaviour::Slow(delay) => {
                            tokio::time::sleep(delay).await;
                            (200, String::new(), "late".into())
                        }
                        Behaviour::WithHeaders(status, headers) => {
                            (status, headers.iter().map(|(n, v)| format!("{n}: {v}\r\n")).collect(), String::new())
                        }
                        Behaviour::Script(_) => (200, String::new(), String::new()),
                    };
                    let head = format!(
                        "HTTP/1.1 {status} X\r\n{extra}content-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = tls.write_all(head.as_bytes()).await;
                    let _ = tls.write_all(body.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        Receiver { url: format!("https://127.0.0.1:{port}/hook"), port, received, behaviour }
    }

    pub fn set(&self, behaviour: Behaviour) {
        if let Ok(mut b) = self.behaviour.lock() {
            *b = behaviour;
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }
}
