//! What storage can answer instead of a result, in storage's own words. The store never decides a
//! status code or writes a sentence for a caller: `http::errors` maps these to the contract's
//! answers, a worker decides for itself whether to retry.

use std::fmt;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::CancellationReason;

/// Which rule a write ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// Another endpoint of the app has the same normalized URL (its URL marker exists).
    DuplicateUrl,
    /// The app already has `max` endpoints.
    EndpointQuota { max: u32 },
    /// More than `max` retired secrets would still be in their grace period.
    RetiredSecrets { max: usize },
    /// The `Idempotency-Key` claim this work held went stale and another attempt took it over;
    /// nothing of this work was written.
    IdempotencyLost,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The item does not exist (or is not this app's).
    NotFound,
    /// A uniqueness or limit rule held the write back.
    Conflict(Conflict),
    /// Throttled, timed out, unreachable, or lost too many races: retrying later can succeed.
    /// The text is for the log line.
    Unavailable(String),
    /// DynamoDB refused an item or request for its size (400 KB per item).
    TooLarge(String),
    /// A page cursor that is not from this list (fails its MAC).
    InvalidCursor,
    /// The caller's API key may not do this (`KeyGuard`): invalid, of another app, or short of scope.
    KeyRejected(super::KeyRejection),
    /// Anything else: a malformed stored item, a request that could not be built, an SDK error
    /// that retrying will not fix. The text is for the log line.
    Other(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::NotFound => f.write_str("no such item"),
            StoreError::Conflict(c) => write!(f, "conflict: {c:?}"),
            StoreError::Unavailable(d) => write!(f, "unavailable: {d}"),
            StoreError::TooLarge(d) => write!(f, "too large: {d}"),
            StoreError::InvalidCursor => f.write_str("invalid cursor"),
            StoreError::KeyRejected(why) => write!(f, "the API key may not do this: {why:?}"),
            StoreError::Other(d) => f.write_str(d),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<crate::cursor::InvalidCursor> for StoreError {
    fn from(_: crate::cursor::InvalidCursor) -> Self {
        StoreError::InvalidCursor
    }
}

impl From<crate::secrets::RandomError> for StoreError {
    fn from(e: crate::secrets::RandomError) -> Self {
        StoreError::Other(format!("getrandom: {e}"))
    }
}

/// A stored item missing an attribute or holding one of the wrong type.
pub(crate) fn corrupt(attribute: &str) -> StoreError {
    StoreError::Other(format!("stored item has a missing or malformed `{attribute}`"))
}

/// A request builder's complaint (a missing required field: a bug, not a condition).
pub(crate) fn build_error(e: impl fmt::Display) -> StoreError {
    StoreError::Other(format!("request build: {e}"))
}

/// Maps an SDK failure by kind: throttling, timeouts and an unreachable service are `Unavailable`;
/// an item over the size limit is `TooLarge`; everything else is `Other`. The SDK's words go into
/// the detail, for the log line only.
pub(crate) fn sdk_error<E, R>(operation: &str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug,
{
    match &err {
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code().unwrap_or("unknown");
            let message = ctx.err().message().unwrap_or("");
            let detail = format!("{operation}: service error {code}: {message}");
            if is_transient_code(code) {
                StoreError::Unavailable(detail)
            } else if code == "ValidationException" && message.contains("size") {
                StoreError::TooLarge(detail)
            } else {
                StoreError::Other(detail)
            }
        }
        SdkError::TimeoutError(_) => StoreError::Unavailable(format!("{operation}: timed out")),
        SdkError::DispatchFailure(f) => StoreError::Unavailable(format!("{operation}: dispatch failure: {f:?}")),
        SdkError::ResponseError(_) => StoreError::Unavailable(format!("{operation}: unreadable response")),
        other => StoreError::Other(format!("{operation}: {other}")),
    }
}

/// Error codes (and transaction cancellation reasons) that a later retry can get past.
pub(crate) fn is_transient_code(code: &str) -> bool {
    matches!(
        code,
        "ProvisionedThroughputExceededException"
            | "ProvisionedThroughputExceeded"
            | "ThrottlingException"
            | "ThrottlingError"
            | "Throttling"
            | "RequestLimitExceeded"
            | "InternalServerError"
            | "ServiceUnavailable"
            | "TransactionInProgressException"
            | "TransactionConflict"
            | "TransactionConflictException"
    )
}

/// Whether a single-item write failed its condition expression.
pub(crate) fn is_conditional_failure<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(err, SdkError::ServiceError(ctx) if ctx.err().code() == Some("ConditionalCheckFailedException"))
}

/// Per item of a cancelled transaction, whether its condition failed (`ConditionalCheckFailed`),
/// from the structured cancellation reasons, never from error text.
pub(crate) fn failed_conditions(reasons: &[CancellationReason]) -> Vec<bool> {
    reasons.iter().map(|r| r.code() == Some("ConditionalCheckFailed")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_and_outages_are_transient_other_codes_are_not() {
        for code in [
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
            "RequestLimitExceeded",
            "InternalServerError",
        ] {
            assert!(is_transient_code(code), "{code}");
        }
        for code in ["ValidationException", "ResourceNotFoundException", "AccessDeniedException", "unknown"] {
            assert!(!is_transient_code(code), "{code}");
        }
    }

    #[test]
    fn cancellation_reasons_mark_the_items_whose_condition_failed() {
        let reason = |code: &str| CancellationReason::builder().code(code).build();
        let reasons = [reason("None"), reason("ConditionalCheckFailed"), reason("TransactionConflict")];
        assert_eq!(failed_conditions(&reasons), vec![false, true, false]);
    }
}
