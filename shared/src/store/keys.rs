//! API key items in the published layout: `pk = KEY#{sha256 hex}`, `sk = KEY`, `appId`, `scopes`
//! (SS), `createdAt`, `revokedAt` once revoked. Keys issued by the CLI also get an index item under
//! their app (`APIKEY#{hash}`) so that an app's keys can be listed without a scan.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem, Update};
use tokio::sync::OnceCell;

use super::error::{build_error, failed_conditions, sdk_error};
use super::{app_pk, get_s, key_of, s, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub hash: String,
    pub app_id: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    /// `revokedAt` as text; a `revokedAt` of another type (N, BOOL, NULL…) reads as `"revoked"`, so
    /// it revokes all the same (contract: fail closed).
    pub revoked_at: Option<String>,
    /// `expiresAt` (N, Unix seconds): the key is invalid from then on. An `expiresAt` that is not a
    /// number reads as 0, already expired (fail closed).
    pub expires_at: Option<u64>,
}

impl ApiKeyRecord {
    /// Whether the key may authenticate at `now_secs`: not revoked, not expired.
    pub fn is_valid_at(&self, now_secs: u64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now_secs)
    }
}

/// The caller's API key as the work sees it (contract, "Authentication": a revoked key is refused
/// from the moment `revokedAt` is written). Either it was read in this request (`confirmed`), or
/// the container's cache vouched for it (`to_confirm`) and the store confirms it alongside the
/// work: read concurrently with the work's first read (`Store::confirm_key`), or, for a write that
/// reads nothing first, checked inside its transaction (`Store::key_check`). Either way no
/// round trip is added, and no write commits for a key revoked before it.
#[derive(Debug)]
pub struct KeyGuard {
    hash: String,
    outcome: OnceCell<Result<(), StoreError>>,
}

impl KeyGuard {
    /// A key read (and judged valid) in this very request.
    pub fn confirmed(hash: impl Into<String>) -> KeyGuard {
        KeyGuard { hash: hash.into(), outcome: OnceCell::new_with(Some(Ok(()))) }
    }

    /// No API key at all: a worker or a local tool acting on the table directly.
    pub fn internal() -> KeyGuard {
        KeyGuard::confirmed("")
    }

    /// A key the cache vouched for, to confirm against the table.
    pub fn to_confirm(hash: impl Into<String>) -> KeyGuard {
        KeyGuard { hash: hash.into(), outcome: OnceCell::new() }
    }

    fn is_confirmed(&self) -> bool {
        self.outcome.get().is_some_and(|o| o.is_ok())
    }

    /// Records what a transaction's check of the key (`Store::key_check`) found, so the request
    /// need not read the key again.
    pub(crate) fn checked(&self, valid: bool) {
        let _ = self.outcome.set(if valid { Ok(()) } else { Err(StoreError::KeyRejected) });
    }

    /// Whether the key's validity is known in this request (read now, or confirmed since).
    pub fn is_settled(&self) -> bool {
        self.outcome.initialized()
    }
}

/// Valid now: exists, no `revokedAt` of any type, no `expiresAt` that has passed (a non-number
/// `expiresAt` fails the comparison: fail closed).
const KEY_VALID: &str =
    "attribute_exists(pk) AND attribute_not_exists(revokedAt) AND (attribute_not_exists(expiresAt) OR expiresAt > :nowSecs)";

/// `revokedAt` of any type.
fn revoked_at(item: &super::Item) -> Option<String> {
    item.get("revokedAt").map(|v| v.as_s().cloned().unwrap_or_else(|_| "revoked".to_owned()))
}

/// `expiresAt`: a number of seconds, or 0 when present in any other form.
fn expires_at(item: &super::Item) -> Option<u64> {
    item.get("expiresAt").map(|v| v.as_n().ok().and_then(|n| n.parse::<f64>().ok()).map_or(0, |n| n.max(0.0) as u64))
}

fn key_pk(hash: &str) -> String {
    format!("KEY#{hash}")
}

fn index_sk(hash: &str) -> String {
    format!("APIKEY#{hash}")
}

fn record_from_item(hash: &str, item: &super::Item) -> Result<ApiKeyRecord, StoreError> {
    let scopes = match item.get("scopes") {
        Some(AttributeValue::Ss(set)) => set.clone(),
        _ => Vec::new(),
    };
    Ok(ApiKeyRecord {
        hash: hash.to_owned(),
        app_id: get_s(item, "appId")?,
        scopes,
        created_at: get_s(item, "createdAt").unwrap_or_default(),
        revoked_at: revoked_at(item),
        expires_at: expires_at(item),
    })
}

impl Store {
    /// `Ok` when the guarded key is valid now; `KeyRejected` when it is revoked, expired or gone.
    /// One consistent GetItem at most per request, however often it is asked (a confirmed key
    /// costs nothing); run it concurrently with the work's first read.
    pub async fn confirm_key(&self, guard: &KeyGuard) -> Result<(), StoreError> {
        let outcome = guard
            .outcome
            .get_or_init(|| async {
                match self.api_key(&guard.hash).await {
                    Ok(Some(record)) if record.is_valid_at(crate::time::now_millis() / 1000) => Ok(()),
                    Ok(_) => Err(StoreError::KeyRejected),
                    Err(e) => Err(e),
                }
            })
            .await;
        outcome.clone()
    }

    /// `read` run concurrently with the key's confirmation; the key's verdict comes first (401
    /// before anything the read found).
    pub(crate) async fn guarded<T>(
        &self,
        guard: &KeyGuard,
        read: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let (key, value) = tokio::join!(self.confirm_key(guard), read);
        key?;
        value
    }

    /// For a transaction that reads nothing first: a ConditionCheck that the guarded key is valid at
    /// commit time (`None` when this request already read it). A failed check is `KeyRejected`.
    pub(crate) fn key_check(&self, guard: &KeyGuard) -> Result<Option<TransactWriteItem>, StoreError> {
        if guard.is_confirmed() {
            return Ok(None);
        }
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key_of(key_pk(&guard.hash), "KEY")))
            .condition_expression(KEY_VALID)
            .expression_attribute_values(":nowSecs", super::n(crate::time::now_millis() / 1000))
            .build()
            .map_err(build_error)?;
        Ok(Some(TransactWriteItem::builder().condition_check(check).build()))
    }

    pub async fn api_key(&self, hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_of(key_pk(hash), "KEY")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem api key", e))?;
        out.item.map(|item| record_from_item(hash, &item)).transpose()
    }

    /// Writes a new key item and its app index item together.
    pub async fn put_api_key(&self, record: &ApiKeyRecord) -> Result<(), StoreError> {
        let mut item = key_of(key_pk(&record.hash), "KEY");
        item.insert("appId".into(), s(&record.app_id));
        item.insert("scopes".into(), AttributeValue::Ss(record.scopes.clone()));
        item.insert("createdAt".into(), s(&record.created_at));
        if let Some(at) = record.expires_at {
            item.insert("expiresAt".into(), super::n(at));
        }
        let mut index = key_of(app_pk(&record.app_id), index_sk(&record.hash));
        index.insert("keyHash".into(), s(&record.hash));
        index.insert("scopes".into(), AttributeValue::Ss(record.scopes.clone()));
        index.insert("createdAt".into(), s(&record.created_at));
        match self.transact(vec![self.put_new(item)?, self.put_new(index)?], "TransactWriteItems api key").await? {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::Other("TransactWriteItems api key: the key exists".into())),
        }
    }

    /// The keys issued for an app by the CLI, newest state of each.
    pub async fn list_api_keys(&self, app_id: &str) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let mut records = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(app_pk(app_id)))
                .expression_attribute_values(":prefix", s("APIKEY#"))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("Query api keys", e))?;
            for item in out.items() {
                let mut record = record_from_item(&get_s(item, "keyHash")?, &{
                    let mut with_app = item.clone();
                    with_app.insert("appId".into(), s(app_id));
                    with_app
                })?;
                record.revoked_at = revoked_at(item);
                records.push(record);
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(records);
            }
        }
    }

    /// Marks a key revoked (and its index item, where there is one). `Ok(false)`: no such key for
    /// this app.
    pub async fn revoke_api_key(&self, app_id: &str, hash: &str, revoked_at: &str) -> Result<bool, StoreError> {
        let update = |key, condition: &str| {
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(key))
                .update_expression("SET revokedAt = if_not_exists(revokedAt, :at)")
                .condition_expression(condition)
                .expression_attribute_values(":at", s(revoked_at))
                .expression_attribute_values(":app", s(app_id))
                .build()
                .map(|u| TransactWriteItem::builder().update(u).build())
                .map_err(build_error)
        };
        let key_item = update(key_of(key_pk(hash), "KEY"), "appId = :app")?;
        let has_index = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_of(app_pk(app_id), index_sk(hash))))
            .send()
            .await
            .map_err(|e| sdk_error("GetItem api key index", e))?
            .item
            .is_some();
        let mut tx = self.client.transact_write_items().transact_items(key_item);
        if has_index {
            // `:app` must be used by every item's expressions; the index item is already under the app.
            tx = tx.transact_items(update(
                key_of(app_pk(app_id), index_sk(hash)),
                "attribute_exists(pk) AND :app = :app",
            )?);
        }
        match tx.send().await {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(ctx))
                if matches!(ctx.err(), TransactWriteItemsError::TransactionCanceledException(e)
                    if failed_conditions(e.cancellation_reasons()).contains(&true)) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error("TransactWriteItems revoke", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(extra: &[(&str, AttributeValue)]) -> ApiKeyRecord {
        let mut item = key_of("KEY#h", "KEY");
        item.insert("appId".into(), s("acme"));
        item.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        record_from_item("h", &item).unwrap()
    }

    #[test]
    fn a_revoked_at_of_any_type_revokes() {
        assert!(record(&[]).is_valid_at(1000));
        for revoked in [
            s("2026-01-01T00:00:00.000Z"),
            AttributeValue::N("1".into()),
            AttributeValue::Bool(false),
            AttributeValue::Null(true),
            AttributeValue::Ss(vec!["x".into()]),
        ] {
            assert!(!record(&[("revokedAt", revoked.clone())]).is_valid_at(1000), "{revoked:?}");
        }
    }

    #[test]
    fn a_past_or_unreadable_expires_at_is_invalid() {
        let at = |v: AttributeValue| record(&[("expiresAt", v)]);
        assert!(at(AttributeValue::N("1001".into())).is_valid_at(1000));
        assert!(!at(AttributeValue::N("1000".into())).is_valid_at(1000));
        assert!(!at(AttributeValue::N("5".into())).is_valid_at(1000));
        assert!(!at(s("9999999999")).is_valid_at(1000), "a string is not a number: fail closed");
        assert!(!at(AttributeValue::N("-1".into())).is_valid_at(1000));
    }
}
