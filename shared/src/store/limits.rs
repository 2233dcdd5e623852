//! Limits counted in the table. Manual sends (test-ping, resend, recover) per app and calendar
//! minute (contract, "Limits and failures": `MANUAL_SENDS_PER_MINUTE`, then 429 `rate_limited`):
//! one conditional `ADD` per send on `APP#{appId}` / `MANUAL#{minute}`. An endpoint's `rateLimit`
//! (contract, "Rate limit per endpoint"): one conditional `ADD` per scheduled attempt on the
//! endpoint's own partition, `RATE#{second}`, so every deliver container shares one count. Both
//! counters expire with TTL.

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

/// How long a second's delivery counter is kept after its second.
const RATE_COUNTER_TTL_SECONDS: u64 = 60;

impl Store {
    /// Takes a place in the endpoint's `per_second` delivery allowance for the second of `now_ms`:
    /// `None` when the attempt may go now, `Some(seconds)` when this second's allowance is used up
    /// and the attempt should wait that long (it is not a failure). The count is one unconditional
    /// `ADD` returning the place taken, so waiting attempts spread over the seconds ahead in the
    /// order they asked (the n-th over the limit waits `n / per_second` seconds, at least 1) instead
    /// of all asking again next second. At most `per_second` attempts start in any calendar second,
    /// a burst of up to the limit allowed (contract, "Fine points"). Errors: `Unavailable`, `Other`.
    pub async fn take_delivery_slot(
        &self,
        app_id: &str,
        webhook_id: uuid::Uuid,
        per_second: u32,
        now_ms: u64,
    ) -> Result<Option<u64>, StoreError> {
        let second = now_ms / 1000;
        let values =
            HashMap::from([(":one".to_owned(), n(1)), (":expires".to_owned(), n(second + RATE_COUNTER_TTL_SECONDS))]);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(super::endpoint_pk(app_id, webhook_id), format!("RATE#{second}"))))
            .update_expression(COUNT)
            .set_expression_attribute_values(Some(values))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| sdk_error("UpdateItem delivery rate", e))?;
        let place = out.attributes.as_ref().and_then(|a| super::get_n(a, "sends").ok()).unwrap_or(1);
        Ok(rate_wait_seconds(place, per_second))
    }
}

/// The wait of the `place`-th attempt (from 1) in a second whose allowance is `per_second`: none
/// within the allowance, else one second per allowance's worth of attempts ahead of it, at least 1.
pub fn rate_wait_seconds(place: u64, per_second: u32) -> Option<u64> {
    let per_second = u64::from(per_second.max(1));
    (place > per_second).then(|| ((place - 1) / per_second).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_over_the_rate_wait_in_order_of_asking() {
        assert_eq!(rate_wait_seconds(1, 2), None);
        assert_eq!(rate_wait_seconds(2, 2), None);
        assert_eq!(rate_wait_seconds(3, 2), Some(1));
        assert_eq!(rate_wait_seconds(4, 2), Some(1));
        assert_eq!(rate_wait_seconds(5, 2), Some(2));
        assert_eq!(rate_wait_seconds(10_001, 10_000), Some(1));
        assert_eq!(rate_wait_seconds(2, 1), Some(1));
    }

    #[test]
    fn retry_after_counts_to_the_next_minute_and_is_never_zero() {
        assert_eq!(seconds_to_next_minute(0), 60);
        assert_eq!(seconds_to_next_minute(59_000), 1);
        assert_eq!(seconds_to_next_minute(59_999), 1);
        assert_eq!(seconds_to_next_minute(30_500), 30);
        assert_eq!(seconds_to_next_minute(60_001), 60);
    }
}
