//! A TCP relay in front of DynamoDB Local that can be cut and healed, to show what callers see
//! when DynamoDB is unreachable mid-conversation (pooled connections included).

use std::sync::Arc;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Relay {
    /// `http://127.0.0.1:PORT`, for `endpoint_url`.
    pub endpoint: String,
    down: Arc<watch::Sender<bool>>,
}

impl Relay {
    /// Starts relaying to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> Relay {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let endpoint = format!("http://{}", listener.local_addr().expect("relay address"));
        let (down, _) = watch::channel(false);
        let down = Arc::new(down);
        let state = down.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if *state.borrow() {
                    continue; // dropped: the caller sees the connection closed
                }
                let mut cut = state.subscribe();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.wait_for(|down| *down) => {}
                    }
                });
            }
        });
        Relay { endpoint, down }
    }

    /// Drops every open connection and every new one until `heal`.
    pub fn cut(&self) {
        self.down.send_replace(true);
    }

    pub fn heal(&self) {
        self.down.send_replace(false);
    }

    /// A DynamoDB client (the functions' own settings) that goes through this relay.
    pub fn client(&self, base: &aws_sdk_dynamodb::Client) -> aws_sdk_dynamodb::Client {
        let config = base.config().to_builder().endpoint_url(&self.endpoint).build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }
}
