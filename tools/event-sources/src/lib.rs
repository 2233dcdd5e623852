//! Locally, without Docker or AWS, what Lambda's event-source mappings do for the workers
//! (`template.yaml` is the reference): the table's stream (DynamoDB Local) feeds the fan-out worker
//! through the template's filter; the delivery and retry queues (moto's SQS server) feed the
//! deliver worker, and the recover queue the recover worker. Each poller builds the event JSON Lambda would send, invokes the worker's handler
//! on it (decoded from that JSON, as the runtime does), and applies AWS's rules to the answer
//! (`sqs`, `stream`). `scripts/dev` and the tests both run the engine through `Engine::start`.

pub mod filter;
pub mod sqs;
pub mod stream;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;
use shared::aws_lambda_events::event::dynamodb::Event as StreamEvent;
use shared::aws_lambda_events::event::sqs::SqsEvent;
use shared::config::Config;
use shared::queue::consumer::{sqs_batch, stream_batch};
use shared::queue::worker::Worker;
use tokio::task::JoinHandle;

/// A function as an event source invokes it: the event JSON and the deadline (Unix ms) in, the
/// answer JSON out, or an error (the function failed).
pub type Function =
    Arc<dyn Fn(Value, u64) -> Pin<Box<dyn Future<Output = Result<Value, String>> + Send>> + Send + Sync>;

/// The deliver worker as a function of its SQS event.
pub fn deliver_function(worker: &'static Worker) -> Function {
    Arc::new(move |event, deadline| {
        Box::pin(async move {
            let event: SqsEvent = serde_json::from_value(event).map_err(|e| format!("not an SQS event: {e}"))?;
            let answer = sqs_batch(event, |task| deliver::handle(worker, task, deadline)).await;
            serde_json::to_value(answer).map_err(|e| e.to_string())
        })
    })
}

/// The recover worker as a function of its SQS event.
pub fn recover_function(worker: &'static Worker) -> Function {
    Arc::new(move |event, deadline| {
        Box::pin(async move {
            let event: SqsEvent = serde_json::from_value(event).map_err(|e| format!("not an SQS event: {e}"))?;
            let answer = sqs_batch(event, |task| recover::handle(worker, task, deadline)).await;
            serde_json::to_value(answer).map_err(|e| e.to_string())
        })
    })
}

/// The fan-out worker as a function of its DynamoDB stream event.
pub fn fan_out_function(worker: &'static Worker) -> Function {
    Arc::new(move |event, _deadline| {
        Box::pin(async move {
            let event: StreamEvent = serde_json::from_value(event).map_err(|e| format!("not a stream event: {e}"))?;
            let answer = stream_batch(event, |records| fan_out::handle(worker, records)).await;
            serde_json::to_value(answer).map_err(|e| e.to_string())
        })
    })
}

/// The queues of one local deployment, as `template.yaml` declares them.
#[derive(Debug, Clone)]
pub struct LocalQueues {
    pub delivery: String,
    pub retry: String,
    pub recover: String,
    pub delivery_dead_letters: String,
    pub retry_dead_letters: String,
    pub recover_dead_letters: String,
}

/// How the local mappings behave; `Settings::default()` mirrors the template scaled down
/// (a 30 s function timeout, a visibility timeout six times it, 5 receives before the DLQ).
#[derive(Debug, Clone)]
pub struct Settings {
    pub function_timeout: Duration,
    pub visibility_timeout: Duration,
    pub max_receive_count: u32,
    /// Concurrent pollers (and so invocations) per queue: the mapping's `MaximumConcurrency`.
    pub delivery_concurrency: usize,
    pub retry_concurrency: usize,
    pub recover_concurrency: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            function_timeout: Duration::from_secs(30),
            visibility_timeout: Duration::from_secs(180),
            max_receive_count: 5,
            delivery_concurrency: 2,
            retry_concurrency: 2,
            recover_concurrency: 1,
        }
    }
}

async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attributes: HashMap<QueueAttributeName, String>,
) -> Result<String, String> {
    let out = sqs
        .create_queue()
        .queue_name(name)
        .set_attributes(Some(attributes))
        .send()
        .await
        .map_err(|e| format!("CreateQueue {name}: {}", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
    out.queue_url.ok_or_else(|| format!("CreateQueue {name}: no URL"))
}

/// The queue's ARN (`GetQueueAttributes`).
pub(crate) async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<String, String> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| format!("GetQueueAttributes {url}: {}", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
    out.attributes.and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned()).ok_or_else(|| format!("{url}: no ARN"))
}

/// Creates (or finds) the delivery, retry and recover queues named after `prefix`, each with its
/// dead-letter queue and redrive policy.
pub async fn create_queues(
    sqs: &aws_sdk_sqs::Client,
    prefix: &str,
    settings: &Settings,
) -> Result<LocalQueues, String> {
    let mut urls = Vec::new();
    for name in ["delivery", "retry", "recover"] {
        let dead = create_queue(sqs, &format!("{prefix}-{name}-dlq"), HashMap::new()).await?;
        let redrive = serde_json::json!({
            "deadLetterTargetArn": queue_arn(sqs, &dead).await?,
            "maxReceiveCount": settings.max_receive_count,
        });
        let attributes = HashMap::from([
            (QueueAttributeName::VisibilityTimeout, settings.visibility_timeout.as_secs().to_string()),
            (QueueAttributeName::RedrivePolicy, redrive.to_string()),
        ]);
        urls.push((create_queue(sqs, &format!("{prefix}-{name}"), attributes).await?, dead));
    }
    let [(delivery, delivery_dead_letters), (retry, retry_dead_letters), (recover, recover_dead_letters)] =
        <[_; 3]>::try_from(urls).map_err(|_| "queues")?;
    Ok(LocalQueues { delivery, retry, recover, delivery_dead_letters, retry_dead_letters, recover_dead_letters })
}

/// The running engine: its queues and the pollers (stopped on drop).
pub struct Engine {
    pub queues: LocalQueues,
    pollers: Vec<JoinHandle<()>>,
    paused: Arc<AtomicBool>,
}

/// The clients a worker itself uses (a test may log them, or route them through a relay it can
/// cut); the pollers use their own, as Lambda's pollers are not the function.
pub struct WorkerClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
}

impl Drop for Engine {
    fn drop(&mut self) {
        for poller in &self.pollers {
            poller.abort();
        }
    }
}

impl Engine {
    /// Creates the queues for `config`'s table, builds the worker (with `vars` for its other
    /// settings, such as `RETRY_SCHEDULE`) and starts polling the table's stream and both queues.
    /// The table must exist with its stream on.
    pub async fn start(
        config: Config,
        sdk: &aws_config::SdkConfig,
        vars: impl Fn(&str) -> Option<String>,
        settings: Settings,
    ) -> Result<Engine, String> {
        let clients = |_: &str| WorkerClients {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
        };
        Engine::start_with(config, sdk, clients, vars, settings).await
    }

    /// `start`, with each worker (`"fan-out"`, `"deliver"`, `"recover"`) on the clients `clients` gives it. Each
    /// worker is built on its own, as each is its own function on AWS.
    pub async fn start_with(
        config: Config,
        sdk: &aws_config::SdkConfig,
        clients: impl Fn(&str) -> WorkerClients,
        vars: impl Fn(&str) -> Option<String>,
        settings: Settings,
    ) -> Result<Engine, String> {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let queues = create_queues(&sqs, &config.table_name, &settings).await?;
        let table = dynamodb.describe_table().table_name(&config.table_name).send().await.map_err(|e| {
            format!("DescribeTable {}: {}", config.table_name, aws_sdk_dynamodb::error::DisplayErrorContext(e))
        })?;
        let stream_arn = table
            .table
            .and_then(|t| t.latest_stream_arn)
            .ok_or_else(|| format!("table {} has no stream", config.table_name))?;
        let (delivery, retry, recover) = (queues.delivery.clone(), queues.retry.clone(), queues.recover.clone());
        let worker_vars = |name: &str| match name {
            "DELIVERY_QUEUE_URL" => Some(delivery.clone()),
            "RETRY_QUEUE_URL" => Some(retry.clone()),
            "RECOVER_QUEUE_URL" => Some(recover.clone()),
            other => vars(other),
        };
        let build = |name: &str| {
            let clients = clients(name);
            let worker = Worker::new(config.clone(), clients.dynamodb, clients.sqs, worker_vars)?;
            Ok::<&'static Worker, String>(Box::leak(Box::new(worker)))
        };
        let (fan_out_worker, deliver_worker, recover_worker) =
            (build("fan-out")?, build("deliver")?, build("recover")?);
        let paused = Arc::new(AtomicBool::new(false));
        let mut pollers = Vec::new();

        // DynamoDB Local serves its streams on its own endpoint, one database per key and region.
        let region = sdk.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
        let endpoint =
            std::env::var("AWS_ENDPOINT_URL_DYNAMODB").map_err(|_| "AWS_ENDPOINT_URL_DYNAMODB is not set")?;
        let access_key = std::env::var("AWS_ACCESS_KEY_ID").map_err(|_| "AWS_ACCESS_KEY_ID is not set")?;
        let streams = stream::StreamsApi::new(&endpoint, &access_key, &region)?;
        let mut stream = stream::StreamSource::new(
            streams,
            &stream_arn,
            &region,
            filter::FAN_OUT_FILTER,
            settings.function_timeout,
        )?;
        let fan_out = fan_out_function(fan_out_worker);
        pollers.push(tokio::spawn(async move {
            loop {
                match stream.poll_once(&fan_out).await {
                    Ok(0) => tokio::time::sleep(Duration::from_millis(100)).await,
                    Ok(_) => {}
                    Err(e) => {
                        eprintln!("event-sources: stream: {e}");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        }));
        for (url, concurrency, function) in [
            (&queues.delivery, settings.delivery_concurrency, deliver_function(deliver_worker)),
            (&queues.retry, settings.retry_concurrency, deliver_function(deliver_worker)),
            (&queues.recover, settings.recover_concurrency, recover_function(recover_worker)),
        ] {
            let source = sqs::SqsSource::new(sqs.clone(), url, settings.function_timeout).await?;
            for _ in 0..concurrency.max(1) {
                let (source, function, paused) = (source.clone(), function.clone(), paused.clone());
                pollers.push(tokio::spawn(async move {
                    loop {
                        if paused.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                        if let Err(e) = source.poll_once(&function).await {
                            eprintln!("event-sources: {}: {e}", source.queue_url);
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }));
            }
        }
        Ok(Engine { queues, pollers, paused })
    }

    /// Stops taking messages from the queues (as when a mapping is disabled), or starts again.
    pub fn pause_queues(&self, paused: bool) {
        self.paused.store(paused, Ordering::SeqCst);
    }
}
