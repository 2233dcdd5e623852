//! Delivery records: each is written twice in one transaction, in the endpoint's own partition
//! (`APP#{appId}#WEBHOOK#{webhookId}`, not the app's: one busy app spreads over its endpoints), under
//! `DELIVERY#{deliveryId}` and under its status (`DELIVERY_BY_STATUS#{status}#{deliveryId}`), so that
//! both the whole history and a `?status=` filter are one query, newest first (ids are UUIDv7).
//! Both carry `expiresAt` (30 days); they outlive a deleted endpoint only until then.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use uuid::Uuid;

use super::endpoints::webhook_sk;
use super::error::{build_error, sdk_error};
use super::{
    app_pk, endpoint_pk, get_n, get_s, key_of, n, opt_s, s, Completion, Conflict, Item, KeyGuard, Page, Store,
    StoreError,
};
use crate::cursor::ListId;
use crate::model::{Delivery, DeliveryStatus, Trigger};
use crate::time::now_millis;

pub const DELIVERY_TTL_SECONDS: u64 = 30 * 24 * 60 * 60;

fn list_prefix(status: Option<DeliveryStatus>) -> String {
    match status {
        None => "DELIVERY#".to_owned(),
        Some(status) => format!("DELIVERY_BY_STATUS#{}#", status.as_str()),
    }
}

fn delivery_item(pk: &str, sk: String, d: &Delivery, expires_at: u64) -> Item {
    let mut item = key_of(pk, sk);
    item.insert("id".into(), s(&d.id));
    item.insert("webhookId".into(), s(&d.webhook_id));
    if let Some(event_id) = &d.event_id {
        item.insert("eventId".into(), s(event_id));
    }
    item.insert("eventType".into(), s(&d.event_type));
    item.insert("attempt".into(), n(d.attempt));
    item.insert("trigger".into(), s(d.trigger.as_str()));
    if let Some(next) = &d.next_attempt_at {
        item.insert("nextAttemptAt".into(), s(next));
    }
    item.insert("status".into(), s(d.status.as_str()));
    if let Some(code) = d.response_status {
        item.insert("responseStatus".into(), n(code));
    }
    if let Some(body) = &d.response_body {
        item.insert("responseBody".into(), s(body));
    }
    if let Some(error) = &d.error {
        item.insert("error".into(), s(error));
    }
    item.insert("durationMs".into(), n(d.duration_ms));
    item.insert("attemptedAt".into(), s(&d.attempted_at));
    item.insert("expiresAt".into(), n(expires_at));
    item
}

fn delivery_from_item(item: &Item) -> Result<Delivery, StoreError> {
    let status = match get_s(item, "status")?.as_str() {
        "succeeded" => DeliveryStatus::Succeeded,
        _ => DeliveryStatus::Failed,
    };
    Ok(Delivery {
        id: get_s(item, "id")?,
        webhook_id: get_s(item, "webhookId")?,
        event_id: opt_s(item, "eventId"),
        event_type: get_s(item, "eventType")?,
        // Records written before attempts were numbered were test pings: attempt 1, trigger test.
        attempt: u32::try_from(get_n(item, "attempt").unwrap_or(1)).unwrap_or(1),
        trigger: opt_s(item, "trigger").as_deref().and_then(Trigger::parse).unwrap_or(Trigger::Test),
        status,
        response_status: item.get("responseStatus").and_then(|v| v.as_n().ok()?.parse().ok()),
        response_body: opt_s(item, "responseBody"),
        error: opt_s(item, "error"),
        duration_ms: get_n(item, "durationMs")?,
        attempted_at: get_s(item, "attemptedAt")?,
        next_attempt_at: opt_s(item, "nextAttemptAt"),
    })
}

/// The two items that store `delivery` in the endpoint's history (whole and by status).
pub(super) fn record_puts(app_id: &str, webhook_id: Uuid, delivery: &Delivery) -> [Item; 2] {
    let expires_at = now_millis() / 1000 + DELIVERY_TTL_SECONDS;
    let pk = endpoint_pk(app_id, webhook_id);
    let id = &delivery.id;
    [
        delivery_item(&pk, format!("{}{id}", list_prefix(None)), delivery, expires_at),
        delivery_item(&pk, format!("{}{id}", list_prefix(Some(delivery.status))), delivery, expires_at),
    ]
}

/// The key of `delivery_id`'s copy under `status`.
pub(super) fn status_copy_key(app_id: &str, webhook_id: Uuid, status: DeliveryStatus, delivery_id: &str) -> Item {
    key_of(endpoint_pk(app_id, webhook_id), format!("{}{delivery_id}", list_prefix(Some(status))))
}

/// `record_puts` as transaction items.
fn record_items(
    store: &Store,
    app_id: &str,
    webhook_id: Uuid,
    delivery: &Delivery,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    record_puts(app_id, webhook_id, delivery)
        .into_iter()
        .map(|item| {
            let put = Put::builder().table_name(store.table()).set_item(Some(item)).build().map_err(build_error)?;
            Ok(TransactWriteItem::builder().put(put).build())
        })
        .collect()
}

impl Store {
    /// Writes the record under the endpoint's history and under its status, in one transaction
    /// (with `completion`, the idempotent answer, when there is one).
    /// Errors: `Conflict(IdempotencyLost)`, `Unavailable`, `Other`.
    pub async fn record_delivery(
        &self,
        app_id: &str,
        webhook_id: Uuid,
        delivery: &Delivery,
        completion: Option<&Completion>,
    ) -> Result<(), StoreError> {
        let mut items = record_items(self, app_id, webhook_id, delivery)?;
        if let Some(completion) = completion {
            items.push(self.completion_item(completion)?);
        }
        // Throttling or a conflict cancels the transaction: retried, then `Unavailable` (503).
        match self.transact(items, "TransactWriteItems delivery").await? {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::Conflict(Conflict::IdempotencyLost)),
        }
    }

    /// One page of an endpoint's deliveries, newest first; `NotFound` when the endpoint does not
    /// exist, `InvalidCursor` for a cursor of another list, `KeyRejected` if the guarded key is no
    /// longer valid. Both reads are consistent, so a record written a moment ago is listed.
    pub async fn list_deliveries(
        &self,
        app_id: &str,
        webhook_id: Uuid,
        status: Option<DeliveryStatus>,
        limit: u32,
        cursor: Option<&str>,
        guard: &KeyGuard,
    ) -> Result<Page<Delivery>, StoreError> {
        let list = ListId::Deliveries { app_id, webhook_id, status: status.map(DeliveryStatus::as_str) };
        let pager = self.pager(list, cursor, guard).await?;
        let prefix = list_prefix(status);
        let pk = endpoint_pk(app_id, webhook_id);
        let query = |start: Option<Item>, limit: i32| {
            let request = self.unexpired_newest_first(&pk, &prefix, start, limit).send();
            async { request.await.map_err(|e| sdk_error("Query deliveries", e)) }
        };
        let decode = |item: &Item| {
            let delivery = delivery_from_item(item)?;
            let id =
                Uuid::parse_str(&delivery.id).map_err(|_| StoreError::Other("delivery id is not a UUID".into()))?;
            Ok((id, delivery))
        };
        let start_key = |id: Uuid| key_of(pk.clone(), format!("{prefix}{id}"));
        // The endpoint's existence checked in the BatchGetItem that settles the caller's key, beside
        // the first Query: one round trip. The key's verdict first, then the endpoint's existence.
        let parent = key_of(app_pk(app_id), webhook_sk(webhook_id));
        let pager = pager.with_parent(parent);
        let (page, exists) = self.collect_page(pager, limit, guard, start_key, query, decode).await?;
        if !exists {
            return Err(StoreError::NotFound);
        }
        Ok(page)
    }
}
