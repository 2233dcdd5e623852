//! The queues between the workers (contract, "Events and delivery"; DESIGN "The engine on AWS"):
//! one serde-tagged `Task` for producer and consumer alike, a sender (`Queue`, batches of 10 and
//! `DelaySeconds`), the consumers' batch rules (`consumer`: SQS events with partial batch
//! failures, DynamoDB stream events with the failed record's sequence number) and the context a
//! worker is built with once per container (`worker::Worker`). Never uses `http`.

pub mod consumer;
pub mod worker;

use std::fmt;

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::Trigger;

/// SQS's longest `DelaySeconds` (15 minutes): a longer wait hops in steps of this, carrying its due
/// time (`DeliveryTask::due_at_ms`).
pub const MAX_DELAY_SECONDS: u64 = 900;
/// SQS's most entries per `SendMessageBatch`.
pub const MAX_BATCH: usize = 10;
/// `SendMessageBatch` calls in flight at once: a stream batch of 100 events to apps with 100
/// endpoints each is 1000 calls, which one after another would outlast the fan-out's timeout.
pub const SEND_CONCURRENCY: usize = 8;

/// One message on a queue. The body is this as JSON, e.g.
/// `{"kind":"deliver","appId":"acme","eventId":"…","webhookId":"…","attempt":1,"trigger":"scheduled"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Task {
    /// Make attempt `attempt` of event `event_id` to endpoint `webhook_id`.
    Deliver(DeliveryTask),
    /// Re-send an endpoint's failed events of a window (`POST …/recover`), page by page.
    Recover(RecoveryTask),
}

/// A recover in progress (contract, "Recover"): the endpoint, the window of the events' `createdAt`
/// (Unix ms, both ends included), where to go on from (the last event id looked at, when a
/// worker handed on before its deadline) and how many events were re-sent so far (its progress).
/// Example body: `{"kind":"recover","appId":"acme","webhookId":"…","sinceMs":…,"untilMs":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryTask {
    pub app_id: String,
    pub webhook_id: Uuid,
    pub since_ms: u64,
    pub until_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Uuid>,
    #[serde(default)]
    pub resent: u64,
}

/// An attempt to make: which event, to which endpoint, which try (1 = the first), what started it,
/// and when it is due (Unix ms). `due_at_ms` is set on every task the deliver worker itself queues
/// (a retry, a hop of a long wait, a wait for the endpoint's `rateLimit`, a first attempt moved off
/// the fresh lane): a first attempt without it came straight from the fan-out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryTask {
    pub app_id: String,
    pub event_id: Uuid,
    pub webhook_id: Uuid,
    pub attempt: u32,
    pub trigger: Trigger,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at_ms: Option<u64>,
}

impl DeliveryTask {
    /// The first attempt of an event to an endpoint, as the fan-out sends it.
    pub fn first(app_id: &str, event_id: Uuid, webhook_id: Uuid) -> DeliveryTask {
        DeliveryTask {
            app_id: app_id.to_owned(),
            event_id,
            webhook_id,
            attempt: 1,
            trigger: Trigger::Scheduled,
            due_at_ms: None,
        }
    }

    /// The attempt after this one, due at `due_at_ms`.
    pub fn next(&self, due_at_ms: u64) -> DeliveryTask {
        DeliveryTask { attempt: self.attempt + 1, due_at_ms: Some(due_at_ms), ..self.clone() }
    }
}

impl Task {
    pub fn to_body(&self) -> String {
        // A Task is plain strings and numbers: serialising it cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A message body as a task; the error says why not (a foreign or corrupt message).
    pub fn from_body(body: &str) -> Result<Task, String> {
        serde_json::from_str(body).map_err(|e| format!("not a task: {e}"))
    }
}

/// The wait before a task due at `due_at_ms` may run, as SQS `DelaySeconds` at `now_ms`: whole
/// seconds rounded up, at most `MAX_DELAY_SECONDS` (a longer wait hops).
pub fn delay_seconds(due_at_ms: u64, now_ms: u64) -> u64 {
    due_at_ms.saturating_sub(now_ms).div_ceil(1000).min(MAX_DELAY_SECONDS)
}

/// A queue could not take a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueError(pub String);

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A queue to send to, by URL. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Queue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl Queue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Queue {
        Queue { client, url: url.into() }
    }

    /// Sends `task`, visible after `delay_seconds` (at most `MAX_DELAY_SECONDS`).
    pub async fn send(&self, task: &Task, delay_seconds: u64) -> Result<(), QueueError> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(task.to_body())
            .delay_seconds(i32::try_from(delay_seconds.min(MAX_DELAY_SECONDS)).unwrap_or(0))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| QueueError(format!("SendMessage: {}", aws_sdk_sqs::error::DisplayErrorContext(e))))
    }

    /// Sends every task, `MAX_BATCH` per `SendMessageBatch`, up to `SEND_CONCURRENCY` batches at
    /// once. On failure, the index of the first task of the first batch not sent (every task
    /// before it was sent) and why; any entry SQS refused fails its batch (the caller retries from
    /// there; duplicates are dropped by the attempt state).
    pub async fn send_all(&self, tasks: &[Task]) -> Result<(), (usize, QueueError)> {
        use futures_util::stream::{self, StreamExt};
        // Owned futures (a clone of the client, the chunk's tasks): no borrow for the runtime's
        // `Send` bound to reason about.
        let sends: Vec<_> =
            tasks.chunks(MAX_BATCH).map(|chunk| Queue::send_batch(self.clone(), chunk.to_vec())).collect();
        let outcomes: Vec<Result<(), QueueError>> = stream::iter(sends).buffered(SEND_CONCURRENCY).collect().await;
        match outcomes.into_iter().enumerate().find_map(|(i, outcome)| outcome.err().map(|e| (i * MAX_BATCH, e))) {
            Some(failed) => Err(failed),
            None => Ok(()),
        }
    }

    /// One `SendMessageBatch` of at most `MAX_BATCH` tasks; an entry SQS refused is an error.
    async fn send_batch(self, chunk: Vec<Task>) -> Result<(), QueueError> {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, task)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(task.to_body())
                    .build()
                    .map_err(|e| QueueError(format!("SendMessageBatch entry: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| QueueError(format!("SendMessageBatch: {}", aws_sdk_sqs::error::DisplayErrorContext(e))))?;
        match out.failed.first() {
            Some(refused) => Err(QueueError(format!(
                "SendMessageBatch refused {} of {} entries ({}: {})",
                out.failed.len(),
                chunk.len(),
                refused.code,
                refused.message.as_deref().unwrap_or("no message")
            ))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_is_a_tagged_json_message_both_ways() {
        let task = Task::Deliver(DeliveryTask::first("acme", Uuid::nil(), Uuid::max()));
        let body = task.to_body();
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["kind"], "deliver");
        assert_eq!(value["appId"], "acme");
        assert_eq!(value["attempt"], 1);
        assert_eq!(value["trigger"], "scheduled");
        assert!(value.get("dueAtMs").is_none());
        assert_eq!(Task::from_body(&body).unwrap(), task);
        let Task::Deliver(first) = &task else { panic!("a delivery task") };
        let next = Task::Deliver(first.next(1234));
        assert_eq!(Task::from_body(&next.to_body()).unwrap(), next);
        let recover = Task::Recover(RecoveryTask {
            app_id: "acme".into(),
            webhook_id: Uuid::nil(),
            since_ms: 1,
            until_ms: 2,
            after: None,
            resent: 0,
        });
        let value: serde_json::Value = serde_json::from_str(&recover.to_body()).unwrap();
        assert_eq!((value["kind"].as_str(), value["sinceMs"].as_u64()), (Some("recover"), Some(1)));
        assert_eq!(Task::from_body(&recover.to_body()).unwrap(), recover);
        assert!(Task::from_body(r#"{"kind":"unknown"}"#).is_err());
        assert!(Task::from_body("not json").is_err());
    }

    #[test]
    fn delays_round_up_and_hop_at_fifteen_minutes() {
        assert_eq!(delay_seconds(10_000, 10_000), 0);
        assert_eq!(delay_seconds(9_000, 10_000), 0);
        assert_eq!(delay_seconds(10_001, 10_000), 1);
        assert_eq!(delay_seconds(15_000, 10_000), 5);
        assert_eq!(delay_seconds(10_000 + 3_600_000, 10_000), MAX_DELAY_SECONDS);
    }
}
