//! What a worker builds once per container (contract, "Configuration"): the configuration, the
//! store, the queues it sends to, the retry schedule and the delivery client; and `run_sqs` /
//! `run_stream`, which start the Lambda runtime with the consumer rules of `consumer`.

use std::future::Future;

use aws_lambda_events::event::dynamodb::{Event as StreamEvent, EventRecord};
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};

use super::consumer::{sqs_batch, stream_batch, StreamFailure, WorkError};
use super::{Queue, Task};
use crate::config::Config;
use crate::delivery::schedule::RetrySchedule;
use crate::delivery::{Deliverer, LazyDeliverer, Timeouts};
use crate::store::Store;

pub struct Worker {
    pub config: Config,
    pub store: Store,
    /// `DELIVERY_QUEUE_URL`: where fresh attempts go (the fan-out sends there).
    delivery_queue: Option<Queue>,
    /// `RETRY_QUEUE_URL`: where retries go, so a backlog never delays fresh events.
    retry_queue: Option<Queue>,
    /// `RECOVER_QUEUE_URL`: where a recover goes on from when its invocation nears its deadline.
    recover_queue: Option<Queue>,
    /// `RETRY_SCHEDULE`, or the contract's default.
    pub schedule: RetrySchedule,
    deliverer: LazyDeliverer,
}

impl Worker {
    /// A worker over these clients; the queue URLs and schedule come from `vars` (the process
    /// environment in `from_env`). An unusable value is an error naming its variable.
    pub fn new(
        config: Config,
        dynamodb: aws_sdk_dynamodb::Client,
        sqs: aws_sdk_sqs::Client,
        vars: impl Fn(&str) -> Option<String>,
    ) -> Result<Worker, String> {
        let queue = |name: &str| vars(name).filter(|u| !u.trim().is_empty()).map(|url| Queue::new(sqs.clone(), url));
        Ok(Worker {
            store: Store::new(dynamodb, config.table_name.clone()),
            delivery_queue: queue("DELIVERY_QUEUE_URL"),
            retry_queue: queue("RETRY_QUEUE_URL"),
            recover_queue: queue("RECOVER_QUEUE_URL"),
            schedule: RetrySchedule::parse(&vars("RETRY_SCHEDULE").unwrap_or_default())?,
            config,
            deliverer: LazyDeliverer::new(Timeouts::CONTRACT),
        })
    }

    pub async fn from_env() -> Result<Worker, String> {
        let config = Config::from_env()?;
        let shared = crate::aws::sdk_config().await?;
        let vars = |name: &str| std::env::var(name).ok();
        Worker::new(config, aws_sdk_dynamodb::Client::new(&shared), aws_sdk_sqs::Client::new(&shared), vars)
    }

    /// The delivery client, built on first use. An unreadable `WEBHOOK_EXTRA_CA_FILE` is an error.
    pub fn deliverer(&self) -> Result<&Deliverer, WorkError> {
        self.deliverer.get(&self.config).map_err(WorkError)
    }

    /// `DELIVERY_QUEUE_URL`'s queue, which the fan-out must have been given.
    pub fn delivery_queue(&self) -> Result<&Queue, WorkError> {
        self.delivery_queue.as_ref().ok_or_else(|| WorkError("DELIVERY_QUEUE_URL is not set".into()))
    }

    /// `RECOVER_QUEUE_URL`'s queue, which the recover worker must have been given.
    pub fn recover_queue(&self) -> Result<&Queue, WorkError> {
        self.recover_queue.as_ref().ok_or_else(|| WorkError("RECOVER_QUEUE_URL is not set".into()))
    }

    /// `RETRY_QUEUE_URL`'s queue, which the deliver worker must have been given.
    pub fn retry_queue(&self) -> Result<&Queue, WorkError> {
        self.retry_queue.as_ref().ok_or_else(|| WorkError("RETRY_QUEUE_URL is not set".into()))
    }
}

/// Starts an SQS-fed worker: `handler(worker, task, deadline_ms)` per message, where `deadline_ms`
/// is the invocation's deadline (Unix ms), after which Lambda stops the function.
pub async fn run_sqs<F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(&'static Worker, Task, u64) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Result<(), WorkError>> + Send,
{
    let worker: &'static Worker = Box::leak(Box::new(Worker::from_env().await?));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let deadline = event.context.deadline;
        Ok::<_, lambda_runtime::Error>(sqs_batch(event.payload, |task| handler(worker, task, deadline)).await)
    }))
    .await
}

/// Starts a stream-fed worker: `handler(worker, records)` per batch, the records in order.
pub async fn run_stream<F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(&'static Worker, Vec<EventRecord>) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Result<(), StreamFailure>> + Send,
{
    let worker: &'static Worker = Box::leak(Box::new(Worker::from_env().await?));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<StreamEvent>| async move {
        Ok::<_, lambda_runtime::Error>(stream_batch(event.payload, |records| handler(worker, records)).await)
    }))
    .await
}
