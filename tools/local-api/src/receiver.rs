//! The local receiver of `local-api`: HTTPS on 127.0.0.1, answering every request 200 and printing
//! its `webhook-id`, the event type and the body, so that a delivery can be watched arriving.

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::http::read_request;

/// Listens on `127.0.0.1:port` with `ca`'s certificate for 127.0.0.1.
pub async fn start(ca: &loopback_ca::LoopbackCa, port: u16) -> Result<(), String> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| format!("bind receiver on {port}: {e}"))?;
    let acceptor = ca.acceptor();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let Ok(raw) = read_request(&mut tls).await else { return };
                let header = |name: &str| {
                    raw.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap_or("-").to_owned()
                };
                println!(
                    "receiver: {} {} webhook-id={} webhook-timestamp={}\n  {}",
                    raw.method,
                    raw.target,
                    header("webhook-id"),
                    header("webhook-timestamp"),
                    String::from_utf8_lossy(&raw.body)
                );
                let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await;
                let _ = tls.shutdown().await;
            });
        }
    });
    Ok(())
}
