//! One signed send and the record of it: the client (`client`), Standard Webhooks signing
//! (`signing`), when a failed delivery is tried again (`schedule`), and `deliver`, which test-ping (and every later sender) calls. It knows neither the
//! store nor HTTP: a caller loads the `DeliveryTarget`, calls `deliver`, and records the `Delivery`.

pub mod client;
pub mod schedule;
pub mod signing;

use std::fmt;
use std::time::{Duration, SystemTime};

use uuid::Uuid;

pub use client::{Attempt, Deliverer, LazyDeliverer, Timeouts};

use crate::model::{test_ping_payload, Delivery, DeliveryStatus, DeliveryTarget, Event, Trigger, TEST_EVENT_TYPE};
use crate::time::rfc3339_millis;

/// What is sent: the `webhook-id` header, the event type recorded, and the exact body bytes
/// (signed as they are sent); `event_id` is the published event's id (`None` for a test ping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    pub event_type: String,
    pub payload: Vec<u8>,
    pub event_id: Option<String>,
}

impl Message {
    /// The contract's `webhook.test` ping made at `now_ms`; its `webhook-id` is `id`, which is
    /// also the id of its delivery record (contract, "Secrets and signatures").
    pub fn test_ping(id: Uuid, app_id: &str, webhook_id: Uuid, now_ms: u64) -> Message {
        Message {
            id: id.to_string(),
            event_type: TEST_EVENT_TYPE.to_owned(),
            payload: test_ping_payload(app_id, &webhook_id.to_string(), &rfc3339_millis(now_ms)),
            event_id: None,
        }
    }

    /// A published event: `webhook-id` is the event id, the body `Event::payload` (the same bytes
    /// on every attempt to every endpoint; contract, "What is sent").
    pub fn event(event: &Event) -> Message {
        Message {
            id: event.id.clone(),
            event_type: event.event_type.clone(),
            payload: event.payload(),
            event_id: Some(event.id.clone()),
        }
    }
}

/// Which attempt a send is: the id its record gets, its number (1 = the first try) and trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptOf {
    pub record_id: Uuid,
    pub number: u32,
    pub trigger: Trigger,
}

impl AttemptOf {
    /// The one attempt of a test ping (or a manual send): number 1.
    pub fn single(record_id: Uuid, trigger: Trigger) -> AttemptOf {
        AttemptOf { record_id, number: 1, trigger }
    }
}

/// A send's record (with `nextAttemptAt` still null: the caller decides what comes next) and the
/// receiver's `Retry-After`, when a 429 or 503 gave one that parses.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub record: Delivery,
    pub retry_after: Option<Duration>,
}

/// A send that could not even be attempted (a failed attempt is a `Delivery`, not an error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryError {
    /// A stored signing secret is not `whsec_` + base64: the endpoint item is corrupt.
    InvalidSecret,
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliveryError::InvalidSecret => f.write_str("a stored signing secret is not base64"),
        }
    }
}

/// Signs `message` at `attempted_at_ms` with every secret valid for `target` and posts it once;
/// the answer, whatever it is, becomes the delivery record of `attempt`.
pub async fn deliver(
    client: &Deliverer,
    target: &DeliveryTarget,
    message: &Message,
    attempt: AttemptOf,
    attempted_at_ms: u64,
) -> Result<Outcome, DeliveryError> {
    let signed = signing::signed_headers(&target.secrets, &message.id, attempted_at_ms / 1000, &message.payload)
        .map_err(|_| DeliveryError::InvalidSecret)?;
    let headers = [
        ("webhook-id", signed.webhook_id.as_str()),
        ("webhook-timestamp", signed.webhook_timestamp.as_str()),
        ("webhook-signature", signed.webhook_signature.as_str()),
    ];
    let answer = client.post(&target.url, &headers, &message.payload).await;
    let retry_after =
        answer.retry_after.as_deref().and_then(|value| schedule::parse_retry_after(value, SystemTime::now()));
    Ok(Outcome { record: record(target, message, attempt, attempted_at_ms, answer), retry_after })
}

/// The delivery record of one attempt.
fn record(
    target: &DeliveryTarget,
    message: &Message,
    of: AttemptOf,
    attempted_at_ms: u64,
    answer: Attempt,
) -> Delivery {
    Delivery {
        id: of.record_id.to_string(),
        webhook_id: target.webhook_id.to_string(),
        event_id: message.event_id.clone(),
        event_type: message.event_type.clone(),
        attempt: of.number,
        trigger: of.trigger,
        status: if answer.succeeded() { DeliveryStatus::Succeeded } else { DeliveryStatus::Failed },
        response_status: answer.response_status,
        response_body: answer.response_body,
        error: answer.error,
        duration_ms: answer.duration_ms,
        attempted_at: rfc3339_millis(attempted_at_ms),
        next_attempt_at: None,
    }
}
