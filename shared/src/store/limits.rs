//! Per-app limits counted in the table: manual sends (test-ping, resend) per calendar minute
//! (contract, "Limits and failures": `MANUAL_SENDS_PER_MINUTE`, then 429 `rate_limited`). One
//! conditional `ADD` per send on `APP#{appId}` / `MANUAL#{minute}`, expiring with TTL.

use super::error::{is_conditional_failure, sdk_error};
use super::{app_pk, key_of, n, Store, StoreError};

/// How long a minute's counter is kept after its minute (TTL removes it within days anyway).
const COUNTER_TTL_SECONDS: u64 = 120;

/// The seconds from `now_ms` to the next minute boundary, at least 1: a refused send's `Retry-After`.
pub fn seconds_to_next_minute(now_ms: u64) -> u64 {
    (60_000 - now_ms % 60_000).div_ceil(1000).max(1)
}

impl Store {
    /// Counts one manual send of `app_id` in the minute of `now_ms`: `Ok(None)` when it is within
    /// `per_minute`, `Ok(Some(retry_after_secs))` when the minute's allowance is used up.
    pub async fn take_manual_send(
        &self,
        app_id: &str,
        per_minute: u32,
        now_ms: u64,
    ) -> Result<Option<u64>, StoreError> {
        let minute = now_ms / 60_000;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(app_pk(app_id), format!("MANUAL#{minute}"))))
            .update_expression("ADD sends :one SET expiresAt = :expires")
            .condition_expression("attribute_not_exists(sends) OR sends < :limit")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(per_minute))
            .expression_attribute_values(":expires", n((minute + 1) * 60 + COUNTER_TTL_SECONDS))
            .send()
            .await;
        match result {
            Ok(_) => Ok(None),
            Err(e) if is_conditional_failure(&e) => Ok(Some(seconds_to_next_minute(now_ms))),
            Err(e) => Err(sdk_error("UpdateItem manual sends", e)),
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
