//! A real HTTPS receiver on 127.0.0.1 with a certificate from a CA generated per test, trusted by
//! the functions through `WEBHOOK_EXTRA_CA_FILE`. It records what it receives and answers as told.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// A certificate authority and a server certificate for 127.0.0.1, signed by it.
pub struct TestCa {
    /// The CA certificate as PEM, for `WEBHOOK_EXTRA_CA_FILE`.
    pub pem_file: PathBuf,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: Vec<u8>,
}

impl TestCa {
    pub fn new() -> TestCa {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "webhook tests CA");
        let ca_key = KeyPair::generate().expect("CA key");
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);
        let mut server_params = CertificateParams::new(Vec::<String>::new()).expect("server params");
        server_params.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        server_params.distinguished_name.push(DnType::CommonName, "127.0.0.1");
        let server_key = KeyPair::generate().expect("server key");
        let server_cert = server_params.signed_by(&server_key, &issuer).expect("server certificate");

        static NEXT: AtomicU32 = AtomicU32::new(0);
        let pem_file = std::env::temp_dir().join(format!(
            "webhook-test-ca-{}-{}.pem",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&pem_file, ca_cert.pem()).expect("write CA file");
        TestCa { pem_file, server_chain: vec![server_cert.der().clone()], server_key: server_key.serialize_der() }
    }

    fn acceptor(&self) -> TlsAcceptor {
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone()));
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(self.server_chain.clone(), key)
            .expect("server TLS config");
        TlsAcceptor::from(Arc::new(config))
    }

    pub fn pem_path(&self) -> &str {
        self.pem_file.to_str().expect("UTF-8 temp path")
    }
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

/// How the receiver answers.
#[derive(Debug, Clone)]
pub enum Behaviour {
    Status(u16, String),
    Redirect(String),
    /// Waits this long before answering 200.
    Slow(Duration),
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
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
    pub async fn start(ca: &TestCa, behaviour: Behaviour) -> Receiver {
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
                            method: raw.method,
                            target: raw.target,
                            headers: raw.headers,
                            body: raw.body,
                        });
                    }
                    let behaviour = current.lock().map(|b| b.clone()).unwrap_or(Behaviour::Status(500, String::new()));
                    let (status, extra, body) = match behaviour {
                        Behaviour::Status(status, body) => (status, String::new(), body),
                        Behaviour::Redirect(to) => (302, format!("location: {to}\r\n"), String::new()),
                        Behaviour::Slow(delay) => {
                            tokio::time::sleep(delay).await;
                            (200, String::new(), "late".into())
                        }
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
