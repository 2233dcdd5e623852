//! The store's write helpers, each in one place: a put that must not overwrite, transactions with
//! their cancellation reasons read per item, and the optimistic retry loop with its jitter.

use std::future::Future;
use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::error::{build_error, failed_conditions, is_conditional_failure, is_transient_code, sdk_error};
use super::{Item, Store, StoreError};
use crate::secrets::random_bytes;

/// The condition that makes a put create, never overwrite.
const ABSENT: &str = "attribute_not_exists(pk)";

/// A transaction that did not commit because conditions failed: `failed[i]` is true when item
/// `i`'s condition did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejected {
    pub failed: Vec<bool>,
}

impl Rejected {
    /// Whether item `index`'s condition failed.
    pub fn at(&self, index: usize) -> bool {
        self.failed.get(index) == Some(&true)
    }
}

/// What an optimistic step decided: done with a value, or lost a race and should read again.
pub(crate) enum Step<T> {
    Done(T),
    Retry,
}

/// A random pause of `base + 0..spread` ms, so that racers that lost together spread out.
pub(crate) async fn jitter(base_ms: u64, spread_ms: u64) -> Result<(), StoreError> {
    let pause = base_ms + u64::from(u16::from_le_bytes(random_bytes::<2>()?)) % spread_ms.max(1);
    tokio::time::sleep(Duration::from_millis(pause)).await;
    Ok(())
}

/// Runs `step` (read, then a conditional write) up to `attempts` times, pausing with jitter after
/// each lost race; `Unavailable` once every attempt lost. Used by every read-modify-write.
pub(crate) async fn optimistic<T, F, Fut>(operation: &str, attempts: usize, mut step: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Step<T>, StoreError>>,
{
    for _ in 0..attempts {
        match step().await? {
            Step::Done(value) => return Ok(value),
            Step::Retry => jitter(5, 40).await?,
        }
    }
    Err(StoreError::Unavailable(format!("{operation}: too many concurrent changes")))
}

/// One conditional UpdateItem's parts: `update` and `condition` expressions, with the `#name`
/// placeholders and `:value`s they use.
pub(crate) struct ConditionalUpdate<'a> {
    pub key: Item,
    pub update: &'a str,
    pub condition: &'a str,
    pub names: &'a [(&'a str, &'a str)],
    pub values: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
}

impl Store {
    /// Applies `change` if its condition holds: `Ok(true)` when applied, `Ok(false)` when the
    /// condition did not hold (someone else got there first, or the item is gone). `operation`
    /// names the call in errors. Errors: `Unavailable`, `Other`.
    pub(crate) async fn update_if(&self, change: ConditionalUpdate<'_>, operation: &str) -> Result<bool, StoreError> {
        let names = change.names.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(change.key))
            .update_expression(change.update)
            .condition_expression(change.condition)
            .set_expression_attribute_names((!change.names.is_empty()).then_some(names))
            .set_expression_attribute_values((!change.values.is_empty()).then_some(change.values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(sdk_error(operation, e)),
        }
    }

    /// A transaction item writing `item`, which must not exist yet.
    pub(crate) fn put_new(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(ABSENT)
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Writes `item` unless an item with its key exists: `Ok(false)` when one did.
    pub(crate) async fn put_if_absent(&self, item: Item, operation: &str) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(ABSENT)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(sdk_error(operation, e)),
        }
    }

    /// Runs a transaction; `Ok(Err(Rejected))` when conditions failed. A cancellation for a
    /// conflict with another transaction or throttling is retried a few times with jitter, then
    /// `Unavailable`.
    pub(crate) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        operation: &str,
    ) -> Result<Result<(), Rejected>, StoreError> {
        const ATTEMPTS: u64 = 4;
        for attempt in 1..=ATTEMPTS {
            let result = self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await;
            let err = match result {
                Ok(_) => return Ok(Ok(())),
                Err(err) => err,
            };
            let reasons = match &err {
                SdkError::ServiceError(ctx) => match ctx.err() {
                    TransactWriteItemsError::TransactionCanceledException(e) => e.cancellation_reasons().to_vec(),
                    _ => return Err(sdk_error(operation, err)),
                },
                _ => return Err(sdk_error(operation, err)),
            };
            let failed = failed_conditions(&reasons);
            if failed.iter().any(|f| *f) {
                return Ok(Err(Rejected { failed }));
            }
            let codes: Vec<&str> = reasons.iter().map(|r| r.code().unwrap_or("None")).collect();
            let retryable = codes.iter().any(|c| is_transient_code(c));
            let detail = format!("{operation}: transaction cancelled: {codes:?}");
            if !retryable {
                return Err(StoreError::Other(detail));
            }
            if attempt == ATTEMPTS {
                return Err(StoreError::Unavailable(detail));
            }
            jitter(10 + 20 * attempt, 40).await?;
        }
        Err(StoreError::Other(format!("{operation}: retries exhausted")))
    }
}
