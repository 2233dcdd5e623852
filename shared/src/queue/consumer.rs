//! How a batch is consumed, by AWS's rules for event-source mappings with `ReportBatchItemFailures`:
//!
//! - **SQS**: every message is handled (concurrently, at most `SQS_CONCURRENCY` at a time); the
//!   ids of those that failed are reported, so Lambda deletes the rest and the failed ones come
//!   back after the queue's visibility timeout. A body that is not a task is reported as failed
//!   too: after `maxReceiveCount` receives the queue moves it to its dead-letter queue.
//! - **DynamoDB streams**: the batch's records are handed over in order; the first record not done
//!   is reported by its sequence number, since Lambda retries the batch from that record on.

use std::future::Future;

use aws_lambda_events::event::dynamodb::{Event as StreamEvent, EventRecord};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use futures_util::stream::{self, StreamExt};

use super::Task;
use crate::store::StoreError;

/// The most messages of one batch handled at once (an SQS batch holds at most 10).
pub const SQS_CONCURRENCY: usize = 10;

/// Why a message or record was not done: it is tried again (SQS after the visibility timeout, a
/// stream from this record), so every cause is one that may pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkError(pub String);

impl std::fmt::Display for WorkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<StoreError> for WorkError {
    fn from(e: StoreError) -> Self {
        WorkError(format!("storage: {e:?}"))
    }
}

impl From<super::QueueError> for WorkError {
    fn from(e: super::QueueError) -> Self {
        WorkError(format!("queue: {e}"))
    }
}

/// Handles every message of an SQS event with `handler`, answering the failed ones' ids.
pub async fn sqs_batch<F, Fut>(event: SqsEvent, handler: F) -> SqsBatchResponse
where
    F: Fn(Task) -> Fut,
    Fut: Future<Output = Result<(), WorkError>>,
{
    let handler = &handler;
    let outcomes: Vec<(String, Result<(), WorkError>)> = stream::iter(event.records)
        .map(|message: SqsMessage| async move {
            let id = message.message_id.clone().unwrap_or_default();
            let outcome = match Task::from_body(message.body.as_deref().unwrap_or_default()) {
                Ok(task) => handler(task).await,
                Err(why) => Err(WorkError(why)),
            };
            (id, outcome)
        })
        .buffer_unordered(SQS_CONCURRENCY)
        .collect()
        .await;
    let mut response = SqsBatchResponse::default();
    for (id, outcome) in outcomes {
        if let Err(why) = outcome {
            // The message id and the reason only: a task carries no secret or payload.
            eprintln!("{{\"level\":\"warn\",\"messageId\":{:?},\"retry\":{:?}}}", id, why.0);
            response.add_failure(id);
        }
    }
    response
}

/// Where a stream batch stopped: the first record not done, and why. Lambda retries the batch
/// from that record on; the records before it are done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamFailure {
    pub sequence_number: String,
    pub why: WorkError,
}

impl StreamFailure {
    /// The failure at `record`.
    pub fn at(record: &EventRecord, why: WorkError) -> StreamFailure {
        StreamFailure { sequence_number: record.change.sequence_number.clone().unwrap_or_default(), why }
    }
}

/// Hands the records of a DynamoDB stream event, in order, to `handler` (which may batch work
/// across them), and answers the sequence number it stopped at.
pub async fn stream_batch<F, Fut>(event: StreamEvent, handler: F) -> DynamoDbEventResponse
where
    F: FnOnce(Vec<EventRecord>) -> Fut,
    Fut: Future<Output = Result<(), StreamFailure>>,
{
    let mut response = DynamoDbEventResponse::default();
    if let Err(failure) = handler(event.records).await {
        eprintln!(
            "{{\"level\":\"warn\",\"sequenceNumber\":{:?},\"retry\":{:?}}}",
            failure.sequence_number, failure.why.0
        );
        let mut item = DynamoDbBatchItemFailure::default();
        item.item_identifier = Some(failure.sequence_number);
        response.batch_item_failures.push(item);
    }
    response
}
