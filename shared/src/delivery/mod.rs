//! One signed send and the record of it: the client (`client`), Standard Webhooks signing
//! (`signing`), when a failed delivery is tried again (`schedule`), and `deliver`, which test-ping (and every later sender) calls. It knows neither the
//! store nor HTTP: a caller loads the `DeliveryTarget`, calls `deliver`, and records the `Delivery`.

pub mod client;
pub mod schedule;
pub mod signing;

use std::fmt;

use uuid::Uuid;

pub use client::{Attempt, Deliverer, Timeouts};

use crate::model::{test_ping_payload, Delivery, DeliveryStatus, DeliveryTarget, TEST_EVENT_TYPE};
use crate::time::rfc3339_millis;

/// What is sent: the `webhook-id` header, the event type recorded, and the exact body bytes
/// (signed as they are sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    pub event_type: String,
    pub payload: Vec<u8>,
}

impl Message {
    /// The contract's `webhook.test` ping made at `now_ms`; its `webhook-id` is `id`, which is
    /// also the id of its delivery record (contract, "Secrets and signatures").
    pub fn test_ping(id: Uuid, app_id: &str, webhook_id: Uuid, now_ms: u64) -> Message {
        Message {
            id: id.to_string(),
            event_type: TEST_EVENT_TYPE.to_owned(),
            payload: test_ping_payload(app_id, &webhook_id.to_string(), &rfc3339_millis(now_ms)),
        }
    }
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
/// the answer, whatever it is, becomes the delivery record `record_id`.
pub async fn deliver(
    client: &Deliverer,
    target: &DeliveryTarget,
    message: &Message,
    record_id: Uuid,
    attempted_at_ms: u64,
) -> Result<Delivery, DeliveryError> {
    let signed = signing::signed_headers(&target.secrets, &message.id, attempted_at_ms / 1000, &message.payload)
        .map_err(|_| DeliveryError::InvalidSecret)?;
    let headers = [
        ("webhook-id", signed.webhook_id.as_str()),
        ("webhook-timestamp", signed.webhook_timestamp.as_str()),
        ("webhook-signature", signed.webhook_signature.as_str()),
    ];
    let attempt = client.post(&target.url, &headers, &message.payload).await;
    Ok(record(target, message, record_id, attempted_at_ms, attempt))
}

/// The delivery record of one attempt.
fn record(target: &DeliveryTarget, message: &Message, id: Uuid, attempted_at_ms: u64, attempt: Attempt) -> Delivery {
    Delivery {
        id: id.to_string(),
        webhook_id: target.webhook_id.to_string(),
        event_type: message.event_type.clone(),
        status: if attempt.succeeded() { DeliveryStatus::Succeeded } else { DeliveryStatus::Failed },
        response_status: attempt.response_status,
        response_body: attempt.response_body,
        error: attempt.error,
        duration_ms: attempt.duration_ms,
        attempted_at: rfc3339_millis(attempted_at_ms),
    }
}
