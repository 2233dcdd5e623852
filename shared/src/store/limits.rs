//! Per-app limits counted in the table: manual sends (test-ping, resend) per calendar minute
//! (contract, "Limits and failures": `MANUAL_SENDS_PER_MINUTE`, then 429 `rate_limited`). One
//! conditional `ADD` per send on `APP#{appId}` / `MANUAL#{minute}`, expiring with TTL.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};

use super::error::{build_error, is_conditional_failure, sdk_error};
use super::{app_pk, key_of, n, KeyGuard, Store, StoreError};

/// One more send in the minute…
const COUNT: &str = "ADD sends :one SET expiresAt = :expires";
/// …while the minute's allowance lasts.
const WITHIN: &str = "attribute_not_exists(sends) OR sends < :limit";
/// How long a minute's counter is kept after its minute (TTL removes it within days anyway).
const COUNTER_TTL_SECONDS: u64 = 120;

/// The seconds from `now_ms` to the next minute boundary, at least 1: a refused send's `Retry-After`.
pub fn seconds_to_next_minute(now_ms: u64) -> u64 {
    (60_000 - now_ms % 60_000).div_ceil(1000).max(1)
}

impl Store {
    /// Counts one manual send of `app_id` in the minute of `now_ms`: `Ok(None)` when it is within
    /// `per_minute`, `Ok(Some(retry_after_secs))` when the minute's allowance is used up. Unless the
    /// caller's key is already settled, the count and a check of the key are one transaction, so a
    /// key that may not act on this app never spends its allowance.
    pub async fn take_manual_send(
        &self,
        app_id: &str,
        per_minute: u32,
        now_ms: u64,
        guard: &KeyGuard,
    ) -> Result<Option<u64>, StoreError> {
        let minute = now_ms / 60_000;
        let key = key_of(app_pk(app_id), format!("MANUAL#{minute}"));
        let values = HashMap::from([
            (":one".to_owned(), n(1)),
            (":limit".to_owned(), n(per_minute)),
            (":expires".to_owned(), n((minute + 1) * 60 + COUNTER_TTL_SECONDS)),
        ]);
        let Some(key_check) = self.key_check(guard)? else {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key))
                .update_expression(COUNT)
                .condition_expression(WITHIN)
                .set_expression_attribute_values(Some(values))
                .send()
                .await;
            return match result {
                Ok(_) => Ok(None),
                Err(e) if is_conditional_failure(&e) => Ok(Some(seconds_to_next_minute(now_ms))),
                Err(e) => Err(sdk_error("UpdateItem manual sends", e)),
            };
        };
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(COUNT)
            .condition_expression(WITHIN)
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(build_error)?;
        let items = vec![TransactWriteItem::builder().update(update).build(), key_check];
        let outcome = self.transact(items, "manual sends").await?;
        self.key_check_done(guard, outcome.as_ref().err().is_some_and(|rejected| rejected.at(1))).await?;
        match outcome {
            Ok(()) => Ok(None),
            Err(_) => Ok(Some(seconds_to_next_minute(now_ms))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_counts_to_the_next_minute_and_is_never_zero() {
        assert_eq!(seconds_to_next_minute(0), 60);
        assert_eq!(seconds_to_next_minute(59_000), 1);
        assert_eq!(seconds_to_next_minute(59_999), 1);
        assert_eq!(seconds_to_next_minute(30_500), 30);
        assert_eq!(seconds_to_next_minute(60_001), 60);
    }
}
