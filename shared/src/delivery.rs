//! Sending one signed event to an endpoint and describing what happened as a delivery record.

use uuid::Uuid;

use crate::error::ApiError;
use crate::model::{test_ping_payload, Delivery, DeliveryStatus, TEST_EVENT_TYPE};
use crate::outbound::Deliverer;
use crate::signing::signed_headers;
use crate::store::DeliveryTarget;
use crate::time::{now_millis, rfc3339_millis};

/// Signs `payload` with every valid secret of `target` and posts it; the delivery id is the
/// `webhook-id` header.
pub async fn deliver(
    deliverer: &Deliverer,
    target: &DeliveryTarget,
    webhook_id: Uuid,
    delivery_id: Uuid,
    event_type: &str,
    payload: &[u8],
    attempted_at_ms: u64,
) -> Result<Delivery, ApiError> {
    let id = delivery_id.to_string();
    let signed = signed_headers(&target.secrets, &id, attempted_at_ms / 1000, payload)?;
    let headers = [
        ("webhook-id", signed.webhook_id.as_str()),
        ("webhook-timestamp", signed.webhook_timestamp.as_str()),
        ("webhook-signature", signed.webhook_signature.as_str()),
    ];
    let attempt = deliverer.post(&target.url, &headers, payload).await;
    Ok(Delivery {
        id,
        webhook_id: webhook_id.to_string(),
        event_type: event_type.to_owned(),
        status: if attempt.succeeded() { DeliveryStatus::Succeeded } else { DeliveryStatus::Failed },
        response_status: attempt.response_status,
        response_body: attempt.response_body,
        error: attempt.error,
        duration_ms: attempt.duration_ms,
        attempted_at: rfc3339_millis(attempted_at_ms),
    })
}

/// The contract's `webhook.test` ping, sent now (whether or not the endpoint is active).
pub async fn send_test_ping(
    deliverer: &Deliverer,
    target: &DeliveryTarget,
    app_id: &str,
    webhook_id: Uuid,
) -> Result<Delivery, ApiError> {
    let now = now_millis();
    let payload = test_ping_payload(app_id, &webhook_id.to_string(), &rfc3339_millis(now));
    deliver(deliverer, target, webhook_id, Uuid::now_v7(), TEST_EVENT_TYPE, &payload, now).await
}
