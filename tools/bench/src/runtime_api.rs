//! A minimal Lambda Runtime API (the 2018-06-01 interface every Lambda runtime client polls): it
//! hands out one event per `/next` poll and records when each poll and each response arrives.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use local_api::http::read_request;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Mutex};

/// What the function sent back for an invocation.
pub struct Answer {
    pub at: Instant,
    pub body: Vec<u8>,
    pub is_error: bool,
}

pub struct RuntimeApi {
    pub addr: SocketAddr,
    events: mpsc::Sender<(String, Vec<u8>)>,
    pub polls: mpsc::UnboundedReceiver<Instant>,
    pub answers: mpsc::UnboundedReceiver<Answer>,
}

struct Shared {
    events: Mutex<mpsc::Receiver<(String, Vec<u8>)>>,
    polls: mpsc::UnboundedSender<Instant>,
    answers: mpsc::UnboundedSender<Answer>,
}

impl RuntimeApi {
    pub async fn start() -> std::io::Result<RuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (events_tx, events_rx) = mpsc::channel(1);
        let (polls_tx, polls) = mpsc::unbounded_channel();
        let (answers_tx, answers) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared { events: Mutex::new(events_rx), polls: polls_tx, answers: answers_tx });
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, shared.clone()));
            }
        });
        Ok(RuntimeApi { addr, events: events_tx, polls, answers })
    }

    /// Queues the next invocation's event.
    pub async fn invoke(&self, request_id: String, event: Vec<u8>) {
        let _ = self.events.send((request_id, event)).await;
    }
}

/// One keep-alive connection of the runtime client.
async fn serve(mut stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    while let Ok(request) = read_request(&mut stream).await {
        let path = request.target.split('?').next().unwrap_or_default().to_owned();
        let written = if request.method == "GET" && path.ends_with("/runtime/invocation/next") {
            let _ = shared.polls.send(Instant::now());
            let next = shared.events.lock().await.recv().await;
            let Some((id, event)) = next else { return };
            let deadline = shared::time::now_millis() + 30_000;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nlambda-runtime-aws-request-id: {id}\r\n\
                 lambda-runtime-deadline-ms: {deadline}\r\n\
                 lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:000000000000:function:bench\r\n\
                 lambda-runtime-trace-id: Root=1-00000000-000000000000000000000000\r\ncontent-length: {}\r\n\r\n",
                event.len()
            );
            write_all(&mut stream, head.as_bytes(), &event).await
        } else if request.method == "POST" && (path.ends_with("/response") || path.ends_with("/error")) {
            let is_error = path.ends_with("/error");
            let _ = shared.answers.send(Answer { at: Instant::now(), body: request.body, is_error });
            write_all(&mut stream, b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n", b"{}").await
        } else {
            write_all(&mut stream, b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n", b"").await
        };
        if written.is_err() {
            return;
        }
    }
}

async fn write_all(stream: &mut TcpStream, head: &[u8], body: &[u8]) -> std::io::Result<()> {
    stream.write_all(head).await?;
    stream.write_all(body).await?;
    stream.flush().await
}
