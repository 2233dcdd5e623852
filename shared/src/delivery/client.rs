//! The outbound HTTPS client for deliveries, SSRF-safe by construction: it resolves the host
//! itself, connects only to addresses the address rules allow (so a name that re-resolves to a
//! private address between the URL check and the send reaches nothing), speaks HTTP/1.1 on that
//! one connection and never follows a redirect. Every failure becomes an `Attempt` with an error a
//! person can act on, never an `Err`. Everything read from a receiver is bounded: the response
//! head (`MAX_RESPONSE_HEAD_BYTES`), the body kept (`MAX_RESPONSE_BODY_BYTES`), and what of a
//! `Location` reaches the error text (`MAX_LOCATION_CHARS`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::TlsConnector;
use url::{Host, Url};

use crate::config::Config;
use crate::trust::{public_web_roots, ExtraRoots};
use crate::url::{self as url_rule, AddressPolicy};

/// How long a send may take: the contract's bounds (section "Test ping and delivery history":
/// connect 5 s, whole request 10 s) live here and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Resolving and opening the TCP connection, over every candidate address.
    pub connect: Duration,
    /// The whole exchange, from the first lookup to the last byte kept.
    pub total: Duration,
}

impl Timeouts {
    /// The contract's bounds.
    pub const CONTRACT: Timeouts = Timeouts { connect: Duration::from_secs(5), total: Duration::from_secs(10) };
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts::CONTRACT
    }
}

/// How much of the receiver's answer is kept (contract: the first 1024 bytes).
pub const MAX_RESPONSE_BODY_BYTES: usize = 1024;
/// The largest response head (status line and headers) read; a larger one fails the attempt, so
/// no receiver can make a record grow past DynamoDB's item limit.
pub const MAX_RESPONSE_HEAD_BYTES: usize = 16 * 1024;
/// How much of a redirect's `Location` the error text quotes.
pub const MAX_LOCATION_CHARS: usize = 200;
const USER_AGENT: &str = concat!("webhook-endpoints/", env!("CARGO_PKG_VERSION"));

/// The longest `Retry-After` value read: an HTTP date is 29 characters.
const MAX_RETRY_AFTER_CHARS: usize = 64;

/// What one send came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attempt {
    /// Whatever status answered (3xx and 5xx included); `None` when nothing answered.
    pub response_status: Option<u16>,
    /// The first 1024 bytes of the answer, lossy UTF-8.
    pub response_body: Option<String>,
    /// Why the delivery failed; `None` on a 2xx.
    pub error: Option<String>,
    pub duration_ms: u64,
    /// The raw `Retry-After` of a 429 or 503 (at most 64 characters); ignored on other statuses
    /// (contract, "Retries").
    pub retry_after: Option<String>,
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }
}

/// Built once per container.
pub struct Deliverer {
    tls: TlsConnector,
    policy: AddressPolicy,
    timeouts: Timeouts,
}

/// A `Deliverer` built on first use (a container that never sends never reads its CA file), with
/// the bounds it will have. Shared by the route functions' `App` and the workers' `Worker`.
pub struct LazyDeliverer {
    built: std::sync::OnceLock<Deliverer>,
    timeouts: Timeouts,
}

impl LazyDeliverer {
    pub fn new(timeouts: Timeouts) -> LazyDeliverer {
        LazyDeliverer { built: std::sync::OnceLock::new(), timeouts }
    }

    /// The client, built now if it was not yet; the error of `Deliverer::new` otherwise.
    pub fn get(&self, config: &Config) -> Result<&Deliverer, String> {
        if let Some(deliverer) = self.built.get() {
            return Ok(deliverer);
        }
        let built = Deliverer::new(config, self.timeouts)?;
        Ok(self.built.get_or_init(|| built))
    }
}

impl Deliverer {
    /// Trusts the public web's roots plus `WEBHOOK_EXTRA_CA_FILE`, if set (see `trust`).
    /// An unreadable or empty extra-roots file is an `Err` naming the variable.
    pub fn new(config: &Config, timeouts: Timeouts) -> Result<Deliverer, String> {
        let mut roots = public_web_roots();
        if let Some(path) = &config.extra_ca_file {
            roots.add_parsable_certificates(ExtraRoots::read("WEBHOOK_EXTRA_CA_FILE", path)?.certs);
        }
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let mut tls = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Deliverer { tls: TlsConnector::from(Arc::new(tls)), policy: config.address_policy.clone(), timeouts })
    }

    /// `POST`s `body` to `url` with `headers` (plus Host, Content-Type, Content-Length, User-Agent).
    pub async fn post(&self, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Attempt {
        let started = Instant::now();
        let mut attempt = Attempt::default();
        let outcome = tokio::time::timeout(self.timeouts.total, self.exchange(url, headers, body, &mut attempt)).await;
        attempt.error = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(reason)) => Some(reason),
            Err(_) => Some(format!(
                "no complete answer within {} s; the request was abandoned",
                self.timeouts.total.as_secs_f32()
            )),
        };
        attempt.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        attempt
    }

    async fn exchange(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        attempt: &mut Attempt,
    ) -> Result<(), String> {
        // The stored URL passed these rules when it was saved; the rules (or the allow list) may
        // have changed since, so they run again.
        url_rule::parse(url, &self.policy).map_err(|reason| format!("blocked: the URL is not allowed: {reason}"))?;
        let parsed = Url::parse(url).map_err(|e| format!("the URL cannot be parsed ({e})"))?;
        let port = parsed.port_or_known_default().unwrap_or(443);
        let (server_name, candidates) = match parsed.host() {
            Some(Host::Domain(name)) => {
                let name = name.strip_suffix('.').unwrap_or(name).to_owned();
                let resolved: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), port))
                    .await
                    .map_err(|_| format!("the host name {name} could not be resolved (DNS lookup failed)"))?
                    .collect();
                let server_name =
                    ServerName::try_from(name.clone()).map_err(|_| format!("{name} is not a valid TLS server name"))?;
                (server_name, self.allowed(&name, resolved)?)
            }
            Some(Host::Ipv4(ip)) => (ServerName::from(IpAddr::V4(ip)), vec![SocketAddr::new(IpAddr::V4(ip), port)]),
            Some(Host::Ipv6(ip)) => (ServerName::from(IpAddr::V6(ip)), vec![SocketAddr::new(IpAddr::V6(ip), port)]),
            None => return Err("the URL has no host".into()),
        };
        let tcp = self.connect(&candidates).await?;
        let tls = self.tls.connect(server_name, tcp).await.map_err(|e| format!("the TLS handshake failed: {e}"))?;
        let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
            .max_buf_size(MAX_RESPONSE_HEAD_BYTES)
            .handshake(TokioIo::new(tls))
            .await
            .map_err(|e| format!("the HTTP exchange failed: {e}"))?;
        let driver = tokio::spawn(connection);
        let result = self.request(&mut sender, &parsed, headers, body, attempt).await;
        driver.abort();
        result
    }

    /// The resolved addresses the rules allow; none is a blocked delivery.
    fn allowed(&self, host: &str, resolved: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, String> {
        if resolved.is_empty() {
            return Err(format!("the host name {host} resolved to no address"));
        }
        let mut refused = None;
        let allowed: Vec<SocketAddr> = resolved
            .into_iter()
            .filter(|a| match self.policy.refuse(a.ip()) {
                Some(reason) => {
                    refused = Some(reason);
                    false
                }
                None => true,
            })
            .collect();
        match (allowed.is_empty(), refused) {
            (true, Some(reason)) => {
                Err(format!("blocked: {host} resolves to {reason}, which deliveries may not reach"))
            }
            _ => Ok(allowed),
        }
    }

    async fn connect(&self, candidates: &[SocketAddr]) -> Result<TcpStream, String> {
        let deadline = tokio::time::Instant::now() + self.timeouts.connect;
        let mut last_error = String::from("no address to connect to");
        for address in candidates {
            match tokio::time::timeout_at(deadline, TcpStream::connect(address)).await {
                Ok(Ok(stream)) => {
                    // One small request: don't let Nagle hold its last segment back for an ACK.
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    last_error = format!("the connection to {address} was refused");
                }
                Ok(Err(e)) => last_error = format!("could not connect to {address}: {e}"),
                Err(_) => {
                    return Err(format!("connecting timed out after {} s", self.timeouts.connect.as_secs_f32()));
                }
            }
        }
        Err(last_error)
    }

    async fn request(
        &self,
        sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
        url: &Url,
        headers: &[(&str, &str)],
        body: &[u8],
        attempt: &mut Attempt,
    ) -> Result<(), String> {
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => String::new(),
        };
        let mut builder = hyper::Request::post(target)
            .header("host", host)
            .header("content-type", "application/json")
            .header("user-agent", USER_AGENT);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(Full::new(Bytes::copy_from_slice(body)))
            .map_err(|e| format!("the request could not be built: {e}"))?;
        let response = sender.send_request(request).await.map_err(|e| {
            if e.is_parse() {
                let limit = MAX_RESPONSE_HEAD_BYTES / 1024;
                format!("the endpoint's answer is not valid HTTP or its headers exceed {limit} KiB ({e})")
            } else {
                format!("the HTTP exchange failed: {e}")
            }
        })?;
        let status = response.status();
        attempt.response_status = Some(status.as_u16());
        if super::schedule::honours_retry_after(status.as_u16()) {
            attempt.retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(MAX_RETRY_AFTER_CHARS).collect());
        }
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(|l| l.chars().take(MAX_LOCATION_CHARS).collect::<String>());
        let mut kept = Vec::new();
        let mut body = response.into_body();
        while kept.len() < MAX_RESPONSE_BODY_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        kept.extend_from_slice(&data[..data.len().min(MAX_RESPONSE_BODY_BYTES - kept.len())]);
                    }
                }
                // A receiver that answers and then hangs up mid-body still answered.
                Some(Err(_)) | None => break,
            }
        }
        attempt.response_body = Some(String::from_utf8_lossy(&kept).into_owned());
        if status.is_success() {
            return Ok(());
        }
        let code = status.as_u16();
        Err(match (status.is_redirection(), location) {
            (true, Some(to)) => {
                format!("the endpoint answered {code} (a redirect to {to}); redirects are not followed")
            }
            (true, None) => format!("the endpoint answered {code} (a redirect); redirects are not followed"),
            _ => format!("the endpoint answered {code}; only 2xx counts as delivered"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deliverer(allow: &str) -> Deliverer {
        let vars = [("TABLE_NAME", "t"), ("WEBHOOK_ALLOW_PRIVATE_CIDRS", allow)];
        let config = Config::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())).unwrap();
        Deliverer::new(&config, Timeouts::CONTRACT).unwrap()
    }

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| SocketAddr::new(a.parse().unwrap(), 443)).collect()
    }

    #[test]
    fn connects_only_to_resolved_addresses_the_rules_allow() {
        let d = deliverer("");
        let mixed = d.allowed("h.example", addrs(&["10.0.0.1", "93.184.215.14", "::ffff:127.0.0.1"])).unwrap();
        assert_eq!(mixed, addrs(&["93.184.215.14"]), "private and embedded-loopback answers dropped");
        for rebound in [&["127.0.0.1"][..], &["169.254.169.254"], &["::ffff:10.1.2.3", "fd00:ec2::254"], &["0.0.0.0"]] {
            let err = d.allowed("h.example", addrs(rebound)).unwrap_err();
            assert!(err.starts_with("blocked: h.example resolves to"), "{err}");
        }
        assert!(d.allowed("h.example", Vec::new()).unwrap_err().contains("no address"));
        let dev = deliverer("127.0.0.0/8");
        assert_eq!(dev.allowed("h.example", addrs(&["127.0.0.1"])).unwrap(), addrs(&["127.0.0.1"]));
        assert!(dev.allowed("h.example", addrs(&["10.0.0.1"])).is_err(), "only the listed range is exempt");
    }

    #[tokio::test]
    async fn blocked_urls_fail_before_any_connection() {
        let d = deliverer("");
        for url in
            ["https://127.0.0.1/", "https://[::ffff:169.254.169.254]/", "https://localhost/", "http://example.com/"]
        {
            let attempt = d.post(url, &[], b"{}").await;
            assert_eq!(attempt.response_status, None, "{url}");
            assert!(attempt.error.as_deref().is_some_and(|e| e.starts_with("blocked:")), "{url}: {attempt:?}");
        }
    }

    #[test]
    fn an_unreadable_extra_ca_file_is_a_configuration_error() {
        let vars = [("TABLE_NAME", "t"), ("WEBHOOK_EXTRA_CA_FILE", "/nonexistent/ca.pem")];
        let config = Config::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())).unwrap();
        assert!(Deliverer::new(&config, Timeouts::CONTRACT).err().unwrap().contains("WEBHOOK_EXTRA_CA_FILE"));
    }
}
