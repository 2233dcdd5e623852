//! Events (contract, "Events and delivery"): `APP#{appId}` / `EVENT#{eventId}` holds the event with
//! its `data` (as JSON text), and `APP#{appId}` / `EVENT_BY_TYPE#{type}#{eventId}` a copy without
//! `data` for `?type=`; both are written in one transaction and expire after 30 days (TTL). Ids are
//! UUIDv7, so a reverse query is newest first. The INSERT of the first item on the table's stream is
//! the outbox the fan-out reads: an accepted event is committed once, whole.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::error::{build_error, sdk_error};
use super::{app_pk, get_s, key_of, n, s, Completion, Conflict, Item, KeyGuard, Page, Store, StoreError};
use crate::cursor::ListId;
use crate::model::Event;
use crate::time::now_millis;

/// How long an event is kept (contract: 30 days, DynamoDB TTL).
pub const EVENT_TTL_SECONDS: u64 = 30 * 24 * 60 * 60;
/// The sort-key prefix of event items (and the stream filter's).
pub const EVENT_PREFIX: &str = "EVENT#";

fn list_prefix(event_type: Option<&str>) -> String {
    match event_type {
        None => EVENT_PREFIX.to_owned(),
        Some(t) => format!("EVENT_BY_TYPE#{t}#"),
    }
}

/// The stored form of `event` under `sk`; `data` only in the primary item.
fn event_item(app_id: &str, sk: String, event: &Event, with_data: bool, expires_at: u64) -> Result<Item, StoreError> {
    let mut item = key_of(app_pk(app_id), sk);
    item.insert("appId".into(), s(app_id));
    item.insert("id".into(), s(&event.id));
    item.insert("type".into(), s(&event.event_type));
    item.insert("createdAt".into(), s(&event.created_at));
    item.insert("expiresAt".into(), n(expires_at));
    if with_data {
        let data = serde_json::to_string(&event.data.clone().unwrap_or_default())
            .map_err(|e| StoreError::Other(format!("event data: {e}")))?;
        item.insert("data".into(), s(data));
    }
    Ok(item)
}

/// The event in `item`; `data` when the item holds it.
pub(crate) fn event_from_item(item: &Item) -> Result<Event, StoreError> {
    let data = match item.get("data") {
        Some(AttributeValue::S(text)) => Some(
            serde_json::from_str::<Map<String, Value>>(text)
                .map_err(|_| StoreError::Other("stored event data is not a JSON object".into()))?,
        ),
        _ => None,
    };
    Ok(Event { id: get_s(item, "id")?, event_type: get_s(item, "type")?, created_at: get_s(item, "createdAt")?, data })
}

/// Whether an item read back has expired (TTL deletes within days, not at once).
pub(super) fn expired(item: &Item, now_secs: u64) -> bool {
    matches!(item.get("expiresAt"), Some(AttributeValue::N(at)) if at.parse::<u64>().is_ok_and(|at| at <= now_secs))
}

/// An event as its stream record shows it: the fan-out's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedEvent {
    pub app_id: String,
    pub event_id: Uuid,
    pub event_type: String,
}

/// The event a stream record inserted, or `None` for any other record (a modify or remove, another
/// item, a corrupt image): the same rule as the template's event-source filter (`INSERT` of an
/// `EVENT#` item), applied again so a record the filter let through by mistake is skipped.
pub fn published_event(record: &aws_lambda_events::event::dynamodb::EventRecord) -> Option<PublishedEvent> {
    use serde_dynamo::AttributeValue as V;
    let text = |item: &serde_dynamo::Item, name: &str| match item.get(name) {
        Some(V::S(value)) => Some(value.clone()),
        _ => None,
    };
    if record.event_name != "INSERT" || !text(&record.change.keys, "sk")?.starts_with(EVENT_PREFIX) {
        return None;
    }
    let image = &record.change.new_image;
    Some(PublishedEvent {
        app_id: text(image, "appId")?,
        event_id: Uuid::parse_str(&text(image, "id")?).ok()?,
        event_type: text(image, "type")?,
    })
}

impl Store {
    /// Stores a published event (and its by-type copy) in one transaction, with `completion` (the
    /// idempotent answer) and a check of the caller's key. Errors: `KeyRejected`,
    /// `Conflict(IdempotencyLost)`, `Unavailable`, `TooLarge`, `Other`.
    pub async fn put_event(
        &self,
        app_id: &str,
        event: &Event,
        completion: Option<&Completion>,
        guard: &KeyGuard,
    ) -> Result<(), StoreError> {
        let expires_at = now_millis() / 1000 + EVENT_TTL_SECONDS;
        let primary = event_item(app_id, format!("{EVENT_PREFIX}{}", event.id), event, true, expires_at)?;
        let by_type = event_item(
            app_id,
            format!("{}{}", list_prefix(Some(&event.event_type)), event.id),
            event,
            false,
            expires_at,
        )?;
        let mut items = Vec::with_capacity(4);
        for item in [primary, by_type] {
            let put = Put::builder().table_name(&self.table).set_item(Some(item)).build().map_err(build_error)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        let key_check = self.key_check(guard)?.map(|check| {
            items.push(check);
            items.len() - 1
        });
        let completion_at = completion
            .map(|c| {
                items.push(self.completion_item(c)?);
                Ok::<_, StoreError>(items.len() - 1)
            })
            .transpose()?;
        let outcome = self.transact(items, "put event").await?;
        if let Some(i) = key_check {
            self.key_check_done(guard, outcome.as_ref().err().is_some_and(|rejected| rejected.at(i))).await?;
        }
        match outcome {
            Ok(()) => Ok(()),
            Err(rejected) if completion_at.is_some_and(|i| rejected.at(i)) => {
                Err(StoreError::Conflict(Conflict::IdempotencyLost))
            }
            Err(_) => Err(StoreError::Other("put event: a condition failed".into())),
        }
    }

    /// One event with its data, read with the caller's key in one request. `NotFound` if absent or
    /// expired, `KeyRejected` as every guarded read.
    pub async fn get_event(&self, app_id: &str, id: Uuid, guard: &KeyGuard) -> Result<Event, StoreError> {
        let key = key_of(app_pk(app_id), format!("{EVENT_PREFIX}{id}"));
        let item = self.get_guarded(guard, key, None, "GetItem event").await?;
        if expired(&item, now_millis() / 1000) {
            return Err(StoreError::NotFound);
        }
        event_from_item(&item)
    }

    /// One page of the app's events, newest first, without data; only `event_type` when given.
    /// `InvalidCursor` for a cursor of another list (another app or filter).
    pub async fn list_events(
        &self,
        app_id: &str,
        event_type: Option<&str>,
        limit: u32,
        cursor: Option<&str>,
        guard: &KeyGuard,
    ) -> Result<Page<Event>, StoreError> {
        let pager = self.pager(ListId::Events { app_id, event_type }, cursor, guard).await?;
        let prefix = list_prefix(event_type);
        let pk = app_pk(app_id);
        let query = |start: Option<Item>, limit: i32| {
            let request = self
                .unexpired_newest_first(&pk, &prefix, start, limit)
                .projection_expression("id, #type, createdAt")
                .expression_attribute_names("#type", "type")
                .send();
            async { request.await.map_err(|e| sdk_error("Query events", e)) }
        };
        let decode = |item: &Item| {
            let event = event_from_item(item)?;
            let id =
                Uuid::parse_str(&event.id).map_err(|_| StoreError::Other("stored event id is not a UUID".into()))?;
            Ok((id, event))
        };
        let start_key = |id: Uuid| key_of(pk.clone(), format!("{prefix}{id}"));
        Ok(self.collect_page(pager, limit, guard, start_key, query, decode).await?.0)
    }
}
