//! The one place where storage's and delivery's own errors become the contract's answers
//! (sections "Limits and failures", "Endpoints", "Pagination").

use crate::delivery::DeliveryError;
use crate::error::ApiError;
use crate::store::{Conflict, KeyRejection, StoreError};

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => ApiError::not_found(),
            StoreError::Conflict(Conflict::DuplicateUrl) => ApiError::duplicate_webhook(),
            StoreError::Conflict(Conflict::EndpointQuota { max }) => ApiError::quota_exceeded(format!(
                "This app already has the maximum of {max} webhook endpoints; delete one first."
            )),
            StoreError::Conflict(Conflict::RetiredSecrets { max }) => ApiError::quota_exceeded(format!(
                "This endpoint already has {max} retired secrets still in their grace period; \
                 rotate without a grace period or wait for one to expire."
            )),
            StoreError::Conflict(Conflict::IdempotencyLost) => ApiError::idempotency_in_progress(),
            StoreError::InvalidCursor => ApiError::invalid_cursor(),
            StoreError::KeyRejected(KeyRejection::Invalid) => ApiError::invalid_key(),
            StoreError::KeyRejected(KeyRejection::OtherApp) => ApiError::not_found(),
            // The scope a route needs is named by the route, which answers this itself (`App::checked`).
            StoreError::KeyRejected(KeyRejection::MissingScope) => ApiError::insufficient_permissions("webhooks:write"),
            StoreError::Unavailable(detail) => ApiError::service_unavailable().with_detail(detail),
            StoreError::TooLarge(detail) | StoreError::Other(detail) => ApiError::internal().with_detail(detail),
        }
    }
}

impl From<crate::secrets::RandomError> for ApiError {
    fn from(err: crate::secrets::RandomError) -> Self {
        ApiError::internal().with_detail(format!("getrandom: {err}"))
    }
}

impl From<DeliveryError> for ApiError {
    fn from(err: DeliveryError) -> Self {
        ApiError::internal().with_detail(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_errors_map_to_the_contract_codes() {
        let code = |e: StoreError| {
            let api = ApiError::from(e);
            (api.status, api.code)
        };
        assert_eq!(code(StoreError::NotFound), (404, "not_found"));
        assert_eq!(code(StoreError::Conflict(Conflict::DuplicateUrl)), (409, "duplicate_webhook"));
        assert_eq!(code(StoreError::Conflict(Conflict::EndpointQuota { max: 5 })), (409, "quota_exceeded"));
        assert_eq!(code(StoreError::Conflict(Conflict::RetiredSecrets { max: 10 })), (409, "quota_exceeded"));
        assert_eq!(code(StoreError::InvalidCursor), (400, "invalid_cursor"));
        assert_eq!(code(StoreError::KeyRejected(KeyRejection::Invalid)), (401, "invalid_key"));
        assert_eq!(code(StoreError::KeyRejected(KeyRejection::OtherApp)), (404, "not_found"));
        assert_eq!(code(StoreError::Unavailable("t".into())), (503, "service_unavailable"));
        assert_eq!(code(StoreError::TooLarge("t".into())), (500, "internal_error"));
        assert_eq!(code(StoreError::Other("t".into())), (500, "internal_error"));
        let unavailable = ApiError::from(StoreError::Unavailable("throttled".into()));
        assert_eq!(unavailable.headers, vec![("Retry-After", "1".to_owned())]);
        assert_eq!(unavailable.detail.as_deref(), Some("throttled"), "the detail is for the log only");
        assert!(!unavailable.message.contains("throttled"));
    }
}
