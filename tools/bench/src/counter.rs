//! A TCP relay in front of DynamoDB Local that counts the requests passing through it (each
//! DynamoDB request carries one `x-amz-target` header).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct CountingRelay {
    pub endpoint: String,
    count: Arc<AtomicU64>,
}

impl CountingRelay {
    pub async fn start(upstream: &str) -> std::io::Result<CountingRelay> {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let count = Arc::new(AtomicU64::new(0));
        let counted = count.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let (upstream, counted) = (upstream.clone(), counted.clone());
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(&upstream).await else { return };
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    let (mut in_read, mut in_write) = inbound.into_split();
                    let (mut out_read, mut out_write) = outbound.into_split();
                    let requests = async {
                        let mut buf = vec![0u8; 64 * 1024];
                        while let Ok(n) = in_read.read(&mut buf).await {
                            if n == 0 || out_write.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                            counted.fetch_add(occurrences(&buf[..n], b"x-amz-target:"), Ordering::Relaxed);
                        }
                    };
                    let responses = tokio::io::copy(&mut out_read, &mut in_write);
                    tokio::select! { _ = requests => {}, _ = responses => {} }
                });
            }
        });
        Ok(CountingRelay { endpoint, count })
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

fn occurrences(haystack: &[u8], needle: &[u8]) -> u64 {
    haystack.windows(needle.len()).filter(|w| w.eq_ignore_ascii_case(needle)).count() as u64
}
