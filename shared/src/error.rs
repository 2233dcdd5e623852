//! The contract's error codes and the one type every failure a caller sees travels in. Every
//! code has its constructor here; `http::errors` maps storage's and delivery's own errors onto them.

use std::fmt;

/// An error answer: HTTP status, the contract's `code`, a sentence a person can act on, and the
/// offending input where there is one. Everything a caller sees of a failure is in here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// Extra response headers (`Allow`, `Retry-After`, `WWW-Authenticate`).
    pub headers: Vec<(&'static str, String)>,
    /// What went wrong inside, for the log line only; never sent to the caller.
    pub detail: Option<String>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), field: None, headers: Vec::new(), detail: None }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn invalid_key() -> Self {
        Self::new(401, "invalid_key", "Send a valid API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`.")
            .with_header("WWW-Authenticate", "Bearer")
    }

    pub fn not_found() -> Self {
        Self::new(404, "not_found", "No such resource exists for this key.")
    }

    pub fn insufficient_permissions(scope: &str) -> Self {
        Self::new(403, "insufficient_permissions", format!("This API key lacks the `{scope}` scope this route needs."))
    }

    pub fn method_not_allowed(allow: &str) -> Self {
        Self::new(405, "method_not_allowed", format!("This path accepts only {allow}.")).with_header("Allow", allow)
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(415, "unsupported_media_type", "Send the request body as `Content-Type: application/json`.")
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(413, "payload_too_large", format!("The request body is larger than {limit} bytes."))
    }

    pub fn invalid_json(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_json", message)
    }

    pub fn unknown_field(field: &str) -> Self {
        Self::new(400, "unknown_field", format!("`{field}` is not a field of this request; check its spelling."))
            .with_field(field)
    }

    pub fn missing_field(field: &str) -> Self {
        Self::new(400, "missing_required_field", format!("`{field}` is required.")).with_field(field)
    }

    /// An update with none of `fields`: 400 `missing_required_field` without a `field`.
    pub fn nothing_to_change(fields: &[&str]) -> Self {
        let names: Vec<String> = fields.iter().map(|f| format!("`{f}`")).collect();
        Self::new(400, "missing_required_field", format!("Send at least one of {}.", names.join(", ")))
    }

    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::new(400, "invalid_field", message).with_field(field)
    }

    pub fn invalid_url(reason: impl fmt::Display) -> Self {
        Self::new(400, "invalid_url", format!("`url` is not allowed: {reason}.")).with_field("url")
    }

    pub fn invalid_events(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_events", message).with_field("events")
    }

    pub fn invalid_cursor() -> Self {
        Self::new(400, "invalid_cursor", "`cursor` is not a cursor from this list; start again without it.")
            .with_field("cursor")
    }

    pub fn duplicate_webhook() -> Self {
        Self::new(409, "duplicate_webhook", "Another webhook endpoint of this app already has this URL.")
            .with_field("url")
    }

    pub fn quota_exceeded(message: impl Into<String>) -> Self {
        Self::new(409, "quota_exceeded", message)
    }

    pub fn idempotency_in_progress() -> Self {
        Self::new(
            409,
            "idempotency_in_progress",
            "A request with this Idempotency-Key is still running; retry shortly.",
        )
        .with_field("Idempotency-Key")
    }

    pub fn idempotency_key_reused() -> Self {
        Self::new(
            422,
            "idempotency_key_reused",
            "This Idempotency-Key was used for a different request; use a new key.",
        )
        .with_field("Idempotency-Key")
    }

    /// 429: the app's manual sends for this minute are used up; retry after `retry_after_secs`.
    pub fn rate_limited(per_minute: u32, retry_after_secs: u64) -> Self {
        Self::new(
            429,
            "rate_limited",
            format!("This app may make at most {per_minute} manual sends (test pings, resends, recovers) a minute; retry after {retry_after_secs} s."),
        )
        .with_header("Retry-After", retry_after_secs.to_string())
    }

    pub fn service_unavailable() -> Self {
        Self::new(503, "service_unavailable", "The service is briefly unavailable; retry after a second.")
            .with_header("Retry-After", "1")
    }

    pub fn internal() -> Self {
        Self::new(
            500,
            "internal_error",
            "Something went wrong on our side; quote the requestId if you contact support.",
        )
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for ApiError {}
