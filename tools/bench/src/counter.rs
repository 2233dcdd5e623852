//! A relay in front of DynamoDB Local (or moto's SQS server) that counts the requests passing
//! through it, in all and by operation (each request of their JSON protocols carries one
//! `x-amz-target` header naming it). It speaks HTTPS to the functions, as DynamoDB does
//! to a Lambda function, so that a cold connection costs a TLS handshake here too; DynamoDB Local
//! behind it is plain HTTP.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loopback_ca::{LoopbackCa, TlsAcceptor};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct CountingRelay {
    /// What a function's environment needs to reach the relay and trust its certificate.
    pub client_env: Vec<(&'static str, String)>,
    /// `http(s)://127.0.0.1:PORT`: the relay itself.
    pub endpoint: String,
    count: Arc<AtomicU64>,
    connections: Arc<AtomicU64>,
    operations: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl CountingRelay {
    /// `ca`: serve HTTPS with its 127.0.0.1 certificate; `None` relays plain HTTP. `rtt`: added
    /// round-trip time between the function and the relay (half each way), as a network has.
    pub async fn start(upstream: &str, ca: Option<&LoopbackCa>, rtt: Duration) -> Result<CountingRelay, String> {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("relay: {e}"))?;
        let address = listener.local_addr().map_err(|e| format!("relay: {e}"))?;
        let scheme = if ca.is_some() { "https" } else { "http" };
        let endpoint = format!("{scheme}://{address}");
        let mut client_env = vec![("AWS_ENDPOINT_URL_DYNAMODB", endpoint.clone())];
        if let Some(ca) = ca {
            // Trusted beside the compiled-in Amazon roots, as the production client would be.
            client_env.push(("DYNAMODB_EXTRA_CA_FILE", ca.pem_path().to_owned()));
        }
        let tls = ca.map(LoopbackCa::acceptor);
        let count = Arc::new(AtomicU64::new(0));
        let counted = count.clone();
        let connections = Arc::new(AtomicU64::new(0));
        let connected = connections.clone();
        let operations = Arc::new(Mutex::new(BTreeMap::new()));
        let named = operations.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                connected.fetch_add(1, Ordering::Relaxed);
                let (upstream, tls) = (upstream.clone(), tls.clone());
                let counted = Counted { total: counted.clone(), operations: named.clone() };
                tokio::spawn(async move {
                    let _ = inbound.set_nodelay(true);
                    let Ok(outbound) = TcpStream::connect(&upstream).await else { return };
                    let _ = outbound.set_nodelay(true);
                    if rtt.is_zero() {
                        serve(inbound, outbound, tls, &counted).await;
                    } else {
                        let (near, far) = tokio::io::duplex(64 * 1024);
                        tokio::spawn(delayed_pipe(inbound, far, rtt / 2));
                        serve(near, outbound, tls, &counted).await;
                    }
                });
            }
        });
        Ok(CountingRelay { client_env, endpoint, count, connections, operations })
    }

    /// Requests so far by operation (the `x-amz-target` value, e.g. `DynamoDB_20120810.Query`).
    pub fn operations(&self) -> BTreeMap<String, u64> {
        self.operations.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// DynamoDB requests relayed so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }
}

/// Where the relay counts: the total and each operation.
#[derive(Clone)]
struct Counted {
    total: Arc<AtomicU64>,
    operations: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl Counted {
    fn add(&self, chunk: &[u8]) {
        let text = String::from_utf8_lossy(chunk);
        let lower = text.to_ascii_lowercase();
        let mut from = 0;
        while let Some(at) = lower[from..].find("x-amz-target:") {
            let start = from + at + "x-amz-target:".len();
            let end = text[start..].find("\r\n").map_or(text.len(), |e| start + e);
            let operation = text[start..end].trim().to_owned();
            self.total.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut operations) = self.operations.lock() {
                *operations.entry(operation).or_default() += 1;
            }
            from = end;
        }
    }
}

async fn serve<S>(inbound: S, outbound: TcpStream, tls: Option<TlsAcceptor>, counted: &Counted)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match tls {
        Some(tls) => {
            if let Ok(inbound) = tls.accept(inbound).await {
                relay(inbound, outbound, counted).await;
            }
        }
        None => relay(inbound, outbound, counted).await,
    }
}

/// Copies both ways between `a` and `b`, each chunk delivered `delay` after it was read (in order,
/// without holding back the chunks behind it).
async fn delayed_pipe<A, B>(a: A, b: B, delay: Duration)
where
    A: AsyncRead + AsyncWrite + Send + 'static,
    B: AsyncRead + AsyncWrite + Send + 'static,
{
    async fn one_way<R: AsyncRead, W: AsyncWrite>(from: R, to: W, delay: Duration) {
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
        let read = async move {
            tokio::pin!(from);
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = from.read(&mut buf).await {
                if n == 0 || sender.send((Instant::now() + delay, buf[..n].to_vec())).is_err() {
                    break;
                }
            }
        };
        let write = async move {
            tokio::pin!(to);
            while let Some((due, chunk)) = receiver.recv().await {
                tokio::time::sleep_until(due.into()).await;
                if to.write_all(&chunk).await.is_err() || to.flush().await.is_err() {
                    break;
                }
            }
        };
        tokio::join!(read, write);
    }
    let (a_read, a_write) = tokio::io::split(a);
    let (b_read, b_write) = tokio::io::split(b);
    tokio::select! { _ = one_way(a_read, b_write, delay) => {}, _ = one_way(b_read, a_write, delay) => {} }
}

/// Copies both ways until either side closes, counting requests on the way in.
async fn relay<S: AsyncRead + AsyncWrite>(inbound: S, outbound: TcpStream, counted: &Counted) {
    let (mut in_read, mut in_write) = tokio::io::split(inbound);
    let (mut out_read, mut out_write) = outbound.into_split();
    let requests = async {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = in_read.read(&mut buf).await {
            if n == 0 || out_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
            counted.add(&buf[..n]);
        }
    };
    let responses = async {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = out_read.read(&mut buf).await {
            // The TLS side buffers what it writes: each response is flushed whole.
            if n == 0 || in_write.write_all(&buf[..n]).await.is_err() || in_write.flush().await.is_err() {
                break;
            }
        }
    };
    tokio::select! { _ = requests => {}, _ = responses => {} }
}
