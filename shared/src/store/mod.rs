//! The one DynamoDB table. Key layout (all under `pk` / `sk`):
//!
//! | item | pk | sk |
//! |---|---|---|
//! | endpoint | `APP#{appId}` | `WEBHOOK#{webhookId}` |
//! | URL uniqueness marker | `APP#{appId}` | `URL#{sha256(normalized url)}` |
//! | endpoint counter (quota) | `APP#{appId}` | `QUOTA` |
//! | idempotency record | `APP#{appId}` | `IDEM#{Idempotency-Key}` |
//! | event (with its data; the stream's outbox) | `APP#{appId}` | `EVENT#{eventId}` |
//! | event, by type (no data) | `APP#{appId}` | `EVENT_BY_TYPE#{type}#{eventId}` |
//! | delivery | `APP#{appId}#WEBHOOK#{webhookId}` | `DELIVERY#{deliveryId}` |
//! | delivery, by status | `APP#{appId}#WEBHOOK#{webhookId}` | `DELIVERY_BY_STATUS#{status}#{deliveryId}` |
//! | an event's attempts to an endpoint (state) | `APP#{appId}#WEBHOOK#{webhookId}` | `ATTEMPTS#{eventId}` |
//! | API key (published layout) | `KEY#{sha256 hex of key}` | `KEY` |
//! | API key index (for listing) | `APP#{appId}` | `APIKEY#{sha256 hex of key}` |
//! | cursor MAC key | `CONFIG` | `CURSOR_KEY` |
//! | manual sends in one minute (limit) | `APP#{appId}` | `MANUAL#{unix minute}` |

//!
//! The store speaks DynamoDB and its own `StoreError`, never HTTP: it neither writes a caller's
//! sentence nor picks a status code.

mod attempts;
mod deliveries;
mod endpoints;
mod error;
mod events;
mod idempotency;
mod keys;
mod limits;
mod page;
mod secrets;
mod write;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use tokio::sync::OnceCell;

use crate::cursor::CursorKey;
use crate::secrets::random_bytes;
use error::{corrupt, sdk_error};

pub use attempts::{
    attempt_window, AttemptClaim, AttemptEndpoint, AttemptInputs, AttemptKey, AttemptState, AttemptStatus,
    RecoveryPage, ATTEMPT_PREFIX,
};
pub use deliveries::DELIVERY_TTL_SECONDS;
pub use error::{Conflict, StoreError};
pub use events::{published_event, PublishedEvent, EVENT_PREFIX, EVENT_TTL_SECONDS};
pub use idempotency::{Claim, Completion, StoredResponse, IDEMPOTENCY_TTL_SECONDS};
pub use keys::{ApiKeyRecord, KeyGuard, KeyRejection, ALL_APPS};
pub use page::Page;

pub type Item = HashMap<String, AttributeValue>;

/// The DynamoDB client over the shared SDK configuration (`aws::sdk_config`).
pub async fn dynamodb_client() -> Result<Client, String> {
    Ok(Client::new(&crate::aws::sdk_config().await?))
}

/// Storage over one table. Cheap to share; build once per container.
pub struct Store {
    client: Client,
    table: String,
    cursor_key: OnceCell<CursorKey>,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Store { client, table: table.into(), cursor_key: OnceCell::new() }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The deployment's cursor MAC key: read once per container, created by whoever needs it first.
    pub async fn cursor_key(&self) -> Result<&CursorKey, StoreError> {
        self.cursor_key.get_or_try_init(|| self.load_or_create_cursor_key()).await
    }

    /// Opens the connection to DynamoDB (TLS, credentials, endpoint resolution) before the first
    /// request needs it, by reading the cursor key: kept if it exists, never created here (most
    /// functions may not write it). Best effort: a failure here is the first request's to report.
    /// Called from init when that helps (`pipeline::warm_up_in_init`).
    pub async fn warm_up(&self) {
        let out = self.client.get_item().table_name(&self.table).set_key(Some(cursor_key_item())).send().await;
        if let Some(item) = out.ok().and_then(|o| o.item) {
            self.keep_cursor_key(&item);
        }
    }

    /// Keeps the cursor MAC key from its stored item, when the item holds one.
    pub(crate) fn keep_cursor_key(&self, item: &Item) {
        if let Some(AttributeValue::B(b)) = item.get("key") {
            if let Ok(bytes) = <[u8; 32]>::try_from(b.as_ref()) {
                let _ = self.cursor_key.set(CursorKey::new(bytes));
            }
        }
    }

    async fn load_or_create_cursor_key(&self) -> Result<CursorKey, StoreError> {
        let key = key_of("CONFIG", "CURSOR_KEY");
        let read = || async {
            let out = self
                .client
                .get_item()
                .table_name(&self.table)
                .set_key(Some(key.clone()))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| sdk_error("GetItem cursor key", e))?;
            Ok::<_, StoreError>(out.item.and_then(|item| match item.get("key") {
                Some(AttributeValue::B(b)) => <[u8; 32]>::try_from(b.as_ref()).ok().map(CursorKey::new),
                _ => None,
            }))
        };
        if let Some(existing) = read().await? {
            return Ok(existing);
        }
        let fresh = random_bytes::<32>()?;
        let mut item = key.clone();
        item.insert("key".into(), AttributeValue::B(fresh.to_vec().into()));
        if self.put_if_absent(item, "PutItem cursor key").await? {
            return Ok(CursorKey::new(fresh));
        }
        // Another container created it first: use theirs.
        read().await?.ok_or_else(|| StoreError::Other("cursor key vanished".into()))
    }
}

/// The key of the deployment's cursor MAC key item.
pub(crate) fn cursor_key_item() -> Item {
    key_of("CONFIG", "CURSOR_KEY")
}

pub(crate) fn app_pk(app_id: &str) -> String {
    format!("APP#{app_id}")
}

/// The endpoint's own partition: its delivery history and per-event attempt state, so that one
/// busy app spreads over as many partitions as it has endpoints (contract, "Storage").
pub(crate) fn endpoint_pk(app_id: &str, webhook_id: uuid::Uuid) -> String {
    format!("APP#{app_id}#WEBHOOK#{webhook_id}")
}

pub(crate) fn key_of(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn get_s(item: &Item, name: &str) -> Result<String, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        _ => Err(corrupt(name)),
    }
}

pub(crate) fn get_n(item: &Item, name: &str) -> Result<u64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| corrupt(name)),
        _ => Err(corrupt(name)),
    }
}

/// An optional string attribute (absent, or of another type, is `None`).
pub(crate) fn opt_s(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok().cloned())
}
