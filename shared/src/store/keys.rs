//! API key items in the published layout: `pk = KEY#{sha256 hex}`, `sk = KEY`, `appId`, `scopes`
//! (SS), `createdAt`, `revokedAt` once revoked. Keys issued by the CLI also get an index item under
//! their app (`APIKEY#{hash}`) so that an app's keys can be listed without a scan.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, KeysAndAttributes, TransactWriteItem, Update};
use tokio::sync::OnceCell;

use super::error::{build_error, failed_conditions, sdk_error};
use super::{app_pk, get_s, key_of, s, Item, Store, StoreError};

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

/// Why a key may not do what a request asks (contract, "Authentication and tenancy").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRejection {
    /// No such key, revoked (a `revokedAt` of any type), or expired.
    Invalid,
    /// A valid key of another app.
    OtherApp,
    /// A valid key of this app without any of the accepted scopes.
    MissingScope,
}

/// The caller's API key and what the request needs of it: valid now, of the path's app, holding one
/// of the accepted scopes. There is no cache: every request settles it against the table, beside the
/// work and never before it. A route's first read runs alongside the key's GetItem
/// (`Store::guarded`), so nothing it read is answered unless the key passes; a write that reads
/// nothing first carries a ConditionCheck of the key in its own transaction (`Store::key_check`),
/// so nothing commits for a key revoked, foreign or short of scope (contract: a revoked key is 401
/// from the moment `revokedAt` is written, on every container). Settled at most once per request.
#[derive(Debug)]
pub struct KeyGuard {
    hash: String,
    /// The path's app; `None` when the path names no (valid) app: then only validity counts.
    app_id: Option<String>,
    /// Any one of these scopes will do; empty: no scope needed.
    accepted_scopes: &'static [&'static str],
    outcome: OnceCell<Result<(), KeyRejection>>,
}

impl KeyGuard {
    /// The key whose SHA-256 hex is `hash`, asked to act on `app_id` with one of `accepted_scopes`.
    pub fn new(hash: impl Into<String>, app_id: Option<&str>, accepted_scopes: &'static [&'static str]) -> KeyGuard {
        KeyGuard { hash: hash.into(), app_id: app_id.map(str::to_owned), accepted_scopes, outcome: OnceCell::new() }
    }

    /// No API key at all: a worker or a local tool acting on the table directly.
    pub fn internal() -> KeyGuard {
        KeyGuard { hash: String::new(), app_id: None, accepted_scopes: &[], outcome: OnceCell::new_with(Some(Ok(()))) }
    }

    /// What is known so far: `None` until the key was read or checked in this request.
    pub fn verdict(&self) -> Option<Result<(), KeyRejection>> {
        self.outcome.get().copied()
    }

    /// The verdict on `record` (`None`: no such key) at `now_secs`.
    fn judge(&self, record: Option<&ApiKeyRecord>, now_secs: u64) -> Result<(), KeyRejection> {
        let record = record.filter(|r| r.is_valid_at(now_secs)).ok_or(KeyRejection::Invalid)?;
        // A platform key (`appId` `*`) serves every app (contract, "Authentication and tenancy").
        if record.app_id != ALL_APPS && self.app_id.as_deref().is_some_and(|app| app != record.app_id) {
            return Err(KeyRejection::OtherApp);
        }
        let scoped =
            self.accepted_scopes.is_empty() || record.scopes.iter().any(|s| self.accepted_scopes.contains(&s.as_str()));
        if !scoped {
            return Err(KeyRejection::MissingScope);
        }
        Ok(())
    }
}

/// The `appId` of a platform key: it serves every app (no app id can be `*`).
pub const ALL_APPS: &str = "*";

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
    /// Settles the guard by reading the key (one consistent GetItem, at most once per request):
    /// `KeyRejected` when it may not act. Run it beside the work's first read (`guarded`).
    pub async fn confirm_key(&self, guard: &KeyGuard) -> Result<(), StoreError> {
        let verdict = guard
            .outcome
            .get_or_try_init(|| async {
                let record = self.api_key(&guard.hash).await?;
                Ok::<_, StoreError>(guard.judge(record.as_ref(), crate::time::now_millis() / 1000))
            })
            .await?;
        verdict.map_err(StoreError::KeyRejected)
    }

    /// The item at `key` read together with the guarded API key in one consistent BatchGetItem: one
    /// request, so one connection and one round trip even on a cold container (two concurrent
    /// GetItems would open two connections). `projection` (expression, names) limits what is read
    /// of the item. The key's verdict first, then `NotFound` when the item is absent.
    pub(crate) async fn get_guarded(
        &self,
        guard: &KeyGuard,
        key: Item,
        projection: Option<(String, HashMap<String, String>)>,
        operation: &str,
    ) -> Result<Item, StoreError> {
        let mut found = self.settle_with(guard, vec![key], projection, operation).await?;
        found.pop().flatten().ok_or(StoreError::NotFound)
    }

    /// Settles the guarded API key (if it is not yet) and reads the items at `keys`, all in one
    /// consistent BatchGetItem: one request and one connection. Answers the items in the order of
    /// `keys` (`None` where absent), after the key's verdict. With the key settled and no items,
    /// no request at all. Keys DynamoDB leaves unprocessed are asked for again a few times, then
    /// `Unavailable`.
    pub(crate) async fn settle_with(
        &self,
        guard: &KeyGuard,
        keys: Vec<Item>,
        projection: Option<(String, HashMap<String, String>)>,
        operation: &str,
    ) -> Result<Vec<Option<Item>>, StoreError> {
        let settled = guard.verdict().is_some();
        if settled {
            self.confirm_key(guard).await?;
            if keys.is_empty() {
                return Ok(Vec::new());
            }
        }
        let key_item = key_of(key_pk(&guard.hash), "KEY");
        let mut wanted = KeysAndAttributes::builder().set_keys(Some(keys.clone())).consistent_read(true);
        if !settled {
            wanted = wanted.keys(key_item.clone());
        }
        if let Some((expression, mut names)) = projection {
            // The key item's attributes too, and every item's key to tell them apart.
            let mut paths = vec![expression];
            for attribute in ["pk", "sk", "appId", "scopes", "createdAt", "revokedAt", "expiresAt"] {
                if !names.values().any(|named| named == attribute) {
                    names.insert(format!("#k_{attribute}"), attribute.to_owned());
                    paths.push(format!("#k_{attribute}"));
                }
            }
            wanted = wanted.projection_expression(paths.join(", ")).set_expression_attribute_names(Some(names));
        }
        let mut pending = HashMap::from([(self.table.clone(), wanted.build().map_err(build_error)?)]);
        let mut found: Vec<Item> = Vec::with_capacity(keys.len() + 1);
        for attempt in 0..4u64 {
            let out = self
                .client
                .batch_get_item()
                .set_request_items(Some(pending))
                .send()
                .await
                .map_err(|e| sdk_error(operation, e))?;
            found.extend(out.responses.unwrap_or_default().into_values().flatten());
            pending = out.unprocessed_keys.unwrap_or_default();
            if pending.values().all(|k| k.keys().is_empty()) {
                let is = |item: &Item, key: &Item| item.get("pk") == key.get("pk") && item.get("sk") == key.get("sk");
                if !settled {
                    let record = found
                        .iter()
                        .find(|i| is(i, &key_item))
                        .map(|i| record_from_item(&guard.hash, i))
                        .transpose()?;
                    let verdict = guard.judge(record.as_ref(), crate::time::now_millis() / 1000);
                    let _ = guard.outcome.set(verdict);
                    verdict.map_err(StoreError::KeyRejected)?;
                }
                return Ok(keys.iter().map(|key| found.iter().find(|i| is(i, key)).cloned()).collect());
            }
            // DynamoDB left keys unprocessed (throttling): a short pause, then those again.
            super::write::jitter(10 + 20 * attempt, 40).await?;
        }
        Err(StoreError::Unavailable(format!("{operation}: keys left unprocessed")))
    }

    /// For a transaction that reads nothing first: a ConditionCheck that the guarded key is valid,
    /// of the app and scoped, at commit time (`None` when already settled as valid). When it fails,
    /// `key_check_failed` says why.
    pub(crate) fn key_check(&self, guard: &KeyGuard) -> Result<Option<TransactWriteItem>, StoreError> {
        if guard.verdict() == Some(Ok(())) {
            return Ok(None);
        }
        let mut condition = KEY_VALID.to_owned();
        let mut check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key_of(key_pk(&guard.hash), "KEY")))
            .expression_attribute_values(":nowSecs", super::n(crate::time::now_millis() / 1000));
        if let Some(app) = &guard.app_id {
            condition.push_str(" AND (appId = :app OR appId = :allApps)");
            check =
                check.expression_attribute_values(":app", s(app)).expression_attribute_values(":allApps", s(ALL_APPS));
        }
        if !guard.accepted_scopes.is_empty() {
            let names: Vec<String> = (0..guard.accepted_scopes.len()).map(|i| format!(":scope{i}")).collect();
            let any = names.iter().map(|n| format!("contains(scopes, {n})")).collect::<Vec<_>>().join(" OR ");
            // A string set only, as `judge` reads it: `contains` would also match inside an S or an L.
            condition.push_str(&format!(" AND attribute_type(scopes, :ss) AND ({any})"));
            check = check.expression_attribute_values(":ss", s("SS"));
            for (name, scope) in names.iter().zip(guard.accepted_scopes) {
                check = check.expression_attribute_values(name, s(*scope));
            }
        }
        let check = check.condition_expression(condition).build().map_err(build_error)?;
        Ok(Some(TransactWriteItem::builder().condition_check(check).build()))
    }

    /// After a transaction with `key_check` committed (`failed: false`) or was cancelled by that
    /// check (`failed: true`): settles the guard, reading the key for the reason when it failed.
    pub(crate) async fn key_check_done(&self, guard: &KeyGuard, failed: bool) -> Result<(), StoreError> {
        if !failed {
            let _ = guard.outcome.set(Ok(()));
            return Ok(());
        }
        match self.confirm_key(guard).await {
            // Valid again by now (a racing change): the write did not commit; the caller may retry.
            Ok(()) => Err(StoreError::Unavailable("the API key changed during the request".into())),
            Err(e) => Err(e),
        }
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
