//! Idempotency records: `pk = APP#{appId}`, `sk = IDEM#{key}`. A claim is one conditional write;
//! the answer is stored for 24 hours and replayed byte for byte.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};

use super::error::{build_error, is_conditional_failure, sdk_error};
use super::{app_pk, get_n, get_s, key_of, n, s, Item, Store, StoreError};
use crate::secrets::random_bytes;

pub const IDEMPOTENCY_TTL_SECONDS: u64 = 24 * 60 * 60;

/// A response kept for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// An answer to keep for replay under a claimed key: what `complete_idempotency` stores, or what a
/// store write carries into its own transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub app_id: String,
    pub key: String,
    /// The claim's token: the answer is kept only while this claim still holds the key.
    pub token: String,
    pub response: StoredResponse,
}

/// Only the claim that holds the key may complete it.
const COMPLETION_CONDITION: &str = "#token = :token";

fn completion_update(c: &Completion) -> (String, HashMap<String, String>, HashMap<String, AttributeValue>) {
    let headers: HashMap<String, AttributeValue> = c.response.headers.iter().map(|(k, v)| (k.clone(), s(v))).collect();
    let names = [("#state", "state"), ("#status", "status"), ("#token", "token")]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .into();
    let values = HashMap::from([
        (":done".to_owned(), s("done")),
        (":status".to_owned(), n(c.response.status)),
        (":headers".to_owned(), AttributeValue::M(headers)),
        (":body".to_owned(), s(&c.response.body)),
        (":token".to_owned(), s(&c.token)),
    ]);
    ("SET #state = :done, #status = :status, headers = :headers, body = :body".to_owned(), names, values)
}

#[derive(Debug)]
pub enum Claim {
    /// This request runs; finish with `complete_idempotency` or `release_idempotency`.
    Acquired {
        token: String,
    },
    Replay(StoredResponse),
    InProgress,
    /// The key was used for a different request.
    Mismatch,
}

fn idem_key(app_id: &str, key: &str) -> Item {
    key_of(app_pk(app_id), format!("IDEM#{key}"))
}

impl Store {
    pub async fn claim_idempotency(
        &self,
        app_id: &str,
        key: &str,
        fingerprint: &str,
        now_ms: u64,
        locked_until_ms: u64,
    ) -> Result<Claim, StoreError> {
        let token = hex::encode(random_bytes::<16>()?);
        let mut item = idem_key(app_id, key);
        item.insert("fingerprint".into(), s(fingerprint));
        item.insert("state".into(), s("running"));
        item.insert("token".into(), s(&token));
        item.insert("lockedUntil".into(), n(locked_until_ms));
        item.insert("expiresAt".into(), n(now_ms / 1000 + IDEMPOTENCY_TTL_SECONDS));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            // Free, expired (TTL not yet run), or a claim whose invocation outlived its timeout.
            .condition_expression(
                "attribute_not_exists(pk) OR expiresAt < :nowSecs OR (#state = :running AND lockedUntil < :nowMs)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":nowSecs", n(now_ms / 1000))
            .expression_attribute_values(":nowMs", n(now_ms))
            .expression_attribute_values(":running", s("running"))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let existing = match result {
            Ok(_) => return Ok(Claim::Acquired { token }),
            Err(SdkError::ServiceError(ctx))
                if matches!(ctx.err(), PutItemError::ConditionalCheckFailedException(_)) =>
            {
                match ctx.into_err() {
                    PutItemError::ConditionalCheckFailedException(e) => e.item,
                    _ => None,
                }
            }
            Err(e) => return Err(sdk_error("PutItem idempotency claim", e)),
        };
        let existing = match existing {
            Some(item) => item,
            None => self
                .read_idempotency(app_id, key)
                .await?
                .ok_or_else(|| StoreError::Unavailable("idempotency record vanished".into()))?,
        };
        // The SDK retried our own PutItem after the first one had landed: the claim is ours.
        if get_s(&existing, "token").is_ok_and(|t| t == token) {
            return Ok(Claim::Acquired { token });
        }
        if get_s(&existing, "fingerprint")? != fingerprint {
            return Ok(Claim::Mismatch);
        }
        if get_s(&existing, "state")? != "done" {
            return Ok(Claim::InProgress);
        }
        let headers = match existing.get("headers") {
            Some(AttributeValue::M(map)) => {
                let mut pairs: Vec<(String, String)> =
                    map.iter().filter_map(|(k, v)| v.as_s().ok().map(|v| (k.clone(), v.clone()))).collect();
                pairs.sort();
                pairs
            }
            _ => Vec::new(),
        };
        Ok(Claim::Replay(StoredResponse {
            status: u16::try_from(get_n(&existing, "status")?).map_err(|_| super::error::corrupt("status"))?,
            headers,
            body: get_s(&existing, "body")?,
        }))
    }

    async fn read_idempotency(&self, app_id: &str, key: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(idem_key(app_id, key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem idempotency", e))?;
        Ok(out.item)
    }

    /// Stores the answer for replay on its own, if this claim still holds the key (for answers the
    /// work did not commit itself: errors below 500). A claim gone stale is no error: the attempt
    /// that took over answers.
    pub async fn complete_idempotency(&self, completion: &Completion) -> Result<(), StoreError> {
        let (expression, names, values) = completion_update(completion);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(idem_key(&completion.app_id, &completion.key)))
            .update_expression(expression)
            .condition_expression(COMPLETION_CONDITION)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(sdk_error("UpdateItem idempotency", e)),
        }
    }

    /// The transaction item that stores `completion`'s answer with the work itself, so that the
    /// work and its replayable answer commit together or not at all (a cancelled item here is
    /// `Conflict::IdempotencyLost`).
    pub(crate) fn completion_item(&self, completion: &Completion) -> Result<TransactWriteItem, StoreError> {
        let (expression, names, values) = completion_update(completion);
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(idem_key(&completion.app_id, &completion.key)))
            .update_expression(expression)
            .condition_expression(COMPLETION_CONDITION)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Frees the key so that a retry runs again (after a 5xx).
    pub async fn release_idempotency(&self, app_id: &str, key: &str, token: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(idem_key(app_id, key)))
            // Only a claim still running: a work whose answer was lost after it committed (and with
            // it, its idempotent answer) keeps that answer for the retry to replay.
            .condition_expression("#token = :token AND #state = :running")
            .expression_attribute_names("#token", "token")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":token", s(token))
            .expression_attribute_values(":running", s("running"))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(sdk_error("DeleteItem idempotency", e)),
        }
    }
}
