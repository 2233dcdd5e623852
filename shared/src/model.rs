//! The endpoint as the API shows it, and the validated inputs that create or change one.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::Config;
use crate::error::ApiError;
use crate::url::WebhookUrl;
use crate::validate::{self, check_resolved_addresses, parse_webhook_url, reject_unknown_fields};

/// The endpoint object of the contract. It has no secret field, so no response built from it can
/// leak one.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub active: bool,
    /// Why the endpoint is inactive: `failing` (the service, auto-disable) or `manual` (the
    /// customer set `active: false`); `None` while active (contract, "Auto-disable").
    pub disabled_reason: Option<DisabledReason>,
    /// Deliveries per second (1–10000), `None` for no limit (contract, "Rate limit per endpoint").
    pub rate_limit: Option<u32>,
    pub metadata: Map<String, Value>,
    pub created_at: String,
    pub updated_at: String,
}

/// Why an endpoint is inactive (contract, "Auto-disable").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DisabledReason {
    /// The service disabled it: an event's schedule was spent after failing for longer than
    /// `DISABLE_AFTER_SECONDS`.
    Failing,
    /// The customer set `active: false` (on create or update).
    Manual,
}

impl DisabledReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DisabledReason::Failing => "failing",
            DisabledReason::Manual => "manual",
        }
    }

    pub fn parse(text: &str) -> Option<DisabledReason> {
        match text {
            "failing" => Some(DisabledReason::Failing),
            "manual" => Some(DisabledReason::Manual),
            _ => None,
        }
    }
}

/// The create response: the endpoint plus its signing secret, shown this once. `Debug` prints the
/// secret redacted, so no log line can carry it.
#[derive(Serialize)]
pub struct CreatedEndpoint {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    pub secret: String,
}

/// A validated create request.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub url: WebhookUrl,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub active: bool,
    pub rate_limit: Option<u32>,
    pub metadata: Map<String, Value>,
}

/// A validated update: `None` leaves a field as it is; `description: Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct EndpointPatch {
    pub url: Option<WebhookUrl>,
    pub events: Option<Vec<String>>,
    pub description: Option<Option<String>>,
    pub active: Option<bool>,
    /// `Some(None)` removes the limit.
    pub rate_limit: Option<Option<u32>>,
    pub metadata: Option<Map<String, Value>>,
}

/// The fields create and update take; `disabledReason` is named too, so that sending it is
/// `invalid_field` (it is never input) rather than `unknown_field`.
const ENDPOINT_FIELDS: [&str; 7] =
    ["url", "events", "description", "active", "rateLimit", "metadata", "disabledReason"];
/// The fields an update may change (the `{}` message lists them).
const CHANGEABLE_FIELDS: [&str; 6] = ["url", "events", "description", "active", "rateLimit", "metadata"];

/// `disabledReason` is the service's to set (contract, "Fine points").
fn refuse_disabled_reason(body: &Map<String, Value>) -> Result<(), ApiError> {
    if body.contains_key("disabledReason") {
        return Err(ApiError::invalid_field(
            "disabledReason",
            "`disabledReason` is set by the service; set `active` instead (`false` records `manual`).",
        ));
    }
    Ok(())
}

impl CreatedEndpoint {
    /// The endpoint `new` becomes at `now_ms`: a fresh UUIDv7 id and signing secret, both
    /// timestamps `now`. Minted before it is stored, so that the create answer (and its idempotent
    /// copy) can be written in the same transaction.
    pub fn mint(new: &NewEndpoint, now_ms: u64) -> Result<CreatedEndpoint, crate::secrets::RandomError> {
        let now = crate::time::rfc3339_millis(now_ms);
        let endpoint = Endpoint {
            id: uuid::Uuid::now_v7().to_string(),
            url: new.url.url.clone(),
            events: new.events.clone(),
            description: new.description.clone(),
            active: new.active,
            disabled_reason: (!new.active).then_some(DisabledReason::Manual),
            rate_limit: new.rate_limit,
            metadata: new.metadata.clone(),
            created_at: now.clone(),
            updated_at: now,
        };
        Ok(CreatedEndpoint { endpoint, secret: crate::secrets::new_signing_secret()? })
    }
}

impl NewEndpoint {
    pub async fn from_body(body: &Map<String, Value>, config: &Config) -> Result<Self, ApiError> {
        reject_unknown_fields(body, &ENDPOINT_FIELDS)?;
        refuse_disabled_reason(body)?;
        let url = body.get("url").ok_or_else(|| ApiError::missing_field("url"))?;
        let events = body.get("events").ok_or_else(|| ApiError::missing_field("events"))?;
        let url = webhook_url(url, config)?;
        let endpoint = NewEndpoint {
            events: config.events.validate(events)?,
            description: body.get("description").map(validate::description).transpose()?.flatten(),
            active: body.get("active").map(validate::active).transpose()?.unwrap_or(true),
            rate_limit: body.get("rateLimit").map(validate::rate_limit).transpose()?.flatten(),
            metadata: body.get("metadata").map(validate::metadata).transpose()?.unwrap_or_default(),
            url,
        };
        // The network check runs last, once everything that costs nothing has passed.
        check_resolved_addresses(&endpoint.url, &config.address_policy).await?;
        Ok(endpoint)
    }
}

impl EndpointPatch {
    pub async fn from_body(body: &Map<String, Value>, config: &Config) -> Result<Self, ApiError> {
        reject_unknown_fields(body, &ENDPOINT_FIELDS)?;
        refuse_disabled_reason(body)?;
        if body.is_empty() {
            return Err(ApiError::nothing_to_change(&CHANGEABLE_FIELDS));
        }
        let patch = EndpointPatch {
            url: body.get("url").map(|u| webhook_url(u, config)).transpose()?,
            events: body.get("events").map(|e| config.events.validate(e)).transpose()?,
            description: body.get("description").map(validate::description).transpose()?,
            active: body.get("active").map(validate::active).transpose()?,
            rate_limit: body.get("rateLimit").map(validate::rate_limit).transpose()?,
            metadata: body.get("metadata").map(validate::metadata).transpose()?,
        };
        if let Some(url) = &patch.url {
            check_resolved_addresses(url, &config.address_policy).await?;
        }
        Ok(patch)
    }
}

impl EndpointPatch {
    /// `endpoint` with this patch applied at `now` (RFC 3339): the fields it carries replaced,
    /// `updatedAt` moved, `id` and `createdAt` kept.
    pub fn apply(&self, mut endpoint: Endpoint, now: &str) -> Endpoint {
        if let Some(url) = &self.url {
            endpoint.url = url.url.clone();
        }
        if let Some(events) = &self.events {
            endpoint.events = events.clone();
        }
        if let Some(description) = &self.description {
            endpoint.description = description.clone();
        }
        if let Some(active) = self.active {
            // Re-enabling clears the reason; pausing by hand is `manual`, also over `failing`.
            endpoint.active = active;
            endpoint.disabled_reason = (!active).then_some(DisabledReason::Manual);
        }
        if let Some(rate_limit) = self.rate_limit {
            endpoint.rate_limit = rate_limit;
        }
        if let Some(metadata) = &self.metadata {
            endpoint.metadata = metadata.clone();
        }
        endpoint.updated_at = now.to_owned();
        endpoint
    }
}

fn webhook_url(value: &Value, config: &Config) -> Result<WebhookUrl, ApiError> {
    match value {
        Value::String(raw) => parse_webhook_url(raw, &config.address_policy),
        _ => Err(ApiError::invalid_field("url", "`url` must be a string.")),
    }
}

/// The most a retired secret may keep signing (7 days).
pub const MAX_GRACE_PERIOD_SECONDS: u64 = 604_800;
/// Retired secrets that may be unexpired at once, the one being retired included.
pub const MAX_RETIRED_SECRETS: usize = 10;

/// A validated `rotate-secret` body: `{}` / no body, or `{"gracePeriodSeconds": N}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rotation {
    pub grace_period_seconds: u64,
}

impl Rotation {
    pub fn from_body(body: &Map<String, Value>) -> Result<Self, ApiError> {
        reject_unknown_fields(body, &["gracePeriodSeconds"])?;
        let grace_period_seconds = match body.get("gracePeriodSeconds") {
            None => 0,
            Some(value) => value.as_u64().filter(|n| *n <= MAX_GRACE_PERIOD_SECONDS).ok_or_else(|| {
                ApiError::invalid_field(
                    "gracePeriodSeconds",
                    format!("`gracePeriodSeconds` must be a whole number from 0 to {MAX_GRACE_PERIOD_SECONDS}."),
                )
            })?,
        };
        Ok(Rotation { grace_period_seconds })
    }
}

/// The `rotate-secret` response: the new secret and nothing else. `Debug` prints it redacted.
#[derive(Serialize)]
pub struct RotatedSecret {
    pub secret: String,
}

/// What `Debug` shows of a secret.
const REDACTED: &str = "<redacted>";

impl std::fmt::Debug for CreatedEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedEndpoint").field("endpoint", &self.endpoint).field("secret", &REDACTED).finish()
    }
}

impl std::fmt::Debug for RotatedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotatedSecret").field("secret", &REDACTED).finish()
    }
}

impl std::fmt::Debug for DeliveryTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryTarget")
            .field("webhook_id", &self.webhook_id)
            .field("url", &self.url)
            .field("secrets", &format_args!("<{} redacted>", self.secrets.len()))
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Succeeded,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// The `?status=` filter: exactly `succeeded` or `failed`.
    pub fn from_query(value: &str) -> Result<Self, ApiError> {
        match value {
            "succeeded" => Ok(DeliveryStatus::Succeeded),
            "failed" => Ok(DeliveryStatus::Failed),
            _ => Err(ApiError::invalid_field("status", "`status` must be `succeeded` or `failed`.")),
        }
    }
}

/// What started an attempt (contract, "Delivery record"): the retry schedule (an event's own
/// attempts), a person (resend, recover) or a test ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Scheduled,
    Manual,
    Test,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Scheduled => "scheduled",
            Trigger::Manual => "manual",
            Trigger::Test => "test",
        }
    }

    pub fn parse(text: &str) -> Option<Trigger> {
        match text {
            "scheduled" => Some(Trigger::Scheduled),
            "manual" => Some(Trigger::Manual),
            "test" => Some(Trigger::Test),
            _ => None,
        }
    }
}

/// A delivery record of the contract: one attempt, its answer, and what comes next.
/// `eventId` is null for a test ping; `attempt` counts an event's tries to this endpoint from 1
/// (1 for test pings and manual sends); `nextAttemptAt` (RFC 3339) is null when no further
/// attempt is scheduled.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub id: String,
    pub webhook_id: String,
    pub event_id: Option<String>,
    pub event_type: String,
    pub attempt: u32,
    pub trigger: Trigger,
    pub status: DeliveryStatus,
    pub response_status: Option<u16>,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub duration_ms: u64,
    pub attempted_at: String,
    pub next_attempt_at: Option<String>,
}

/// Whether an endpoint subscribed to `events` receives an event of `event_type` (contract,
/// "Fan-out"): `*`, the exact name, or a `prefix.*` whose prefix covers it by whole segments.
pub fn subscribes(events: &[String], event_type: &str) -> bool {
    events.iter().any(|pattern| {
        pattern == "*"
            || pattern == event_type
            || pattern
                .strip_suffix(".*")
                .is_some_and(|prefix| event_type.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.')))
    })
}

/// What a delivery needs of an endpoint, loaded by the store and handed to `delivery::deliver`.
/// `Debug` prints the secrets redacted.
#[derive(Clone)]
pub struct DeliveryTarget {
    pub webhook_id: uuid::Uuid,
    pub url: String,
    /// Every secret that signs now: the current one first, then unexpired retired ones.
    pub secrets: Vec<String>,
}

/// An event the platform published (contract, "Events and delivery"): `{id, type, createdAt,
/// data}`; lists show it without `data`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Map<String, Value>>,
}

/// A validated publish body: `{"type": catalogued name, "data": {...}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_type: String,
    pub data: Map<String, Value>,
}

impl NewEvent {
    /// `type` (required, catalogued, no wildcard) and `data` (required, an object); nothing else.
    pub fn from_body(body: &Map<String, Value>, config: &Config) -> Result<Self, ApiError> {
        reject_unknown_fields(body, &["type", "data"])?;
        let event_type = body.get("type").ok_or_else(|| ApiError::missing_field("type"))?;
        let data = body.get("data").ok_or_else(|| ApiError::missing_field("data"))?;
        let event_type = config.events.event_type(event_type, "type")?;
        let Value::Object(data) = data else {
            return Err(ApiError::invalid_field("data", "`data` must be a JSON object."));
        };
        Ok(NewEvent { event_type, data: data.clone() })
    }
}

impl Event {
    /// The event `new` becomes at `now_ms`: a fresh UUIDv7 id, `createdAt` now.
    pub fn mint(new: NewEvent, now_ms: u64) -> Event {
        Event {
            id: uuid::Uuid::now_v7().to_string(),
            event_type: new.event_type,
            created_at: crate::time::rfc3339_millis(now_ms),
            data: Some(new.data),
        }
    }

    /// The body every attempt sends, to every endpoint (contract, "What is sent"):
    /// `{"type", "timestamp": createdAt, "data"}`, in that order, serialised once.
    pub fn payload(&self) -> Vec<u8> {
        let data = Value::Object(self.data.clone().unwrap_or_default());
        ordered_payload(&self.event_type, &self.created_at, &data)
    }
}

/// `{"type":…,"timestamp":…,"data":…}` with its keys in the contract's order (a `json!` map would
/// sort them), compact, as the receiver reads it.
fn ordered_payload(event_type: &str, timestamp: &str, data: &Value) -> Vec<u8> {
    let text = |s: &str| Value::String(s.to_owned());
    format!("{{\"type\":{},\"timestamp\":{},\"data\":{}}}", text(event_type), text(timestamp), data).into_bytes()
}

/// The `?type=` filter of the events list: a catalogued name (400 `invalid_field` otherwise).
pub fn event_type_filter(value: Option<&str>, config: &Config) -> Result<Option<String>, ApiError> {
    value.map(|name| config.events.event_type(&Value::String(name.to_owned()), "type")).transpose()
}

/// How far back a recover may reach: 30 days, the events' own lifetime (contract, "Recover").
pub const MAX_RECOVER_WINDOW_MS: u64 = 30 * 24 * 60 * 60 * 1000;

/// A validated recover body and its answer (contract, "Recover"): the window of the events'
/// `createdAt`, `since` at most 30 days back, `until` (default now) not in the future, `since`
/// before `until`; both answered normalised (RFC 3339 UTC with milliseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoveryWindow {
    pub since: String,
    pub until: String,
    #[serde(skip)]
    pub since_ms: u64,
    #[serde(skip)]
    pub until_ms: u64,
}

impl RecoveryWindow {
    /// `{"since": RFC 3339, "until"?: RFC 3339}` read at `now_ms`; 400 `missing_required_field`,
    /// `unknown_field` or `invalid_field` naming the field at fault.
    pub fn from_body(body: &Map<String, Value>, now_ms: u64) -> Result<RecoveryWindow, ApiError> {
        reject_unknown_fields(body, &["since", "until"])?;
        let instant = |field: &str| -> Result<Option<u64>, ApiError> {
            body.get(field)
                .map(|value| {
                    value.as_str().and_then(crate::time::parse_rfc3339_millis).ok_or_else(|| {
                        ApiError::invalid_field(
                            field,
                            format!("`{field}` must be an RFC 3339 timestamp such as `2026-05-12T12:00:00.000Z`."),
                        )
                    })
                })
                .transpose()
        };
        let since_ms = instant("since")?.ok_or_else(|| ApiError::missing_field("since"))?;
        let until_ms = instant("until")?.unwrap_or(now_ms);
        if until_ms > now_ms {
            return Err(ApiError::invalid_field("until", "`until` may not be in the future."));
        }
        if since_ms < now_ms.saturating_sub(MAX_RECOVER_WINDOW_MS) {
            return Err(ApiError::invalid_field(
                "since",
                "`since` may be at most 30 days ago (events are kept 30 days).",
            ));
        }
        if since_ms >= until_ms {
            return Err(ApiError::invalid_field("since", "`since` must be before `until`."));
        }
        let at = crate::time::rfc3339_millis;
        Ok(RecoveryWindow { since: at(since_ms), until: at(until_ms), since_ms, until_ms })
    }
}

/// A validated resend body: `{"webhookId": UUID}`. A `webhookId` that is not a UUID is 404
/// `not_found`, as a path id would be (contract, "Fine points").
pub fn resend_target(body: &Map<String, Value>) -> Result<uuid::Uuid, ApiError> {
    reject_unknown_fields(body, &["webhookId"])?;
    match body.get("webhookId") {
        None => Err(ApiError::missing_field("webhookId")),
        Some(Value::String(id)) => crate::validate::parse_webhook_id(id).ok_or_else(ApiError::not_found),
        Some(_) => Err(ApiError::invalid_field("webhookId", "`webhookId` must be a string (the endpoint's id).")),
    }
}

/// The event type of a test ping.
pub const TEST_EVENT_TYPE: &str = "webhook.test";

/// The `webhook.test` payload, serialised once so that the bytes signed are the bytes sent.
pub fn test_ping_payload(app_id: &str, webhook_id: &str, timestamp: &str) -> Vec<u8> {
    ordered_payload(TEST_EVENT_TYPE, timestamp, &serde_json::json!({"appId": app_id, "webhookId": webhook_id}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn grace_periods_are_whole_seconds_up_to_a_week() {
        assert_eq!(Rotation::from_body(&body(json!({}))).unwrap().grace_period_seconds, 0);
        assert_eq!(
            Rotation::from_body(&body(json!({"gracePeriodSeconds": 604800}))).unwrap().grace_period_seconds,
            604800
        );
        for bad in [json!(604801), json!(-1), json!(1.5), json!("60"), json!(null)] {
            let err = Rotation::from_body(&body(json!({"gracePeriodSeconds": bad}))).unwrap_err();
            assert_eq!((err.code, err.field.as_deref()), ("invalid_field", Some("gracePeriodSeconds")), "{bad}");
        }
        assert_eq!(Rotation::from_body(&body(json!({"grace": 5}))).unwrap_err().code, "unknown_field");
    }

    #[test]
    fn secrets_print_redacted() {
        let endpoint = Endpoint {
            id: "i".into(),
            url: "https://example.com/".into(),
            events: vec![],
            description: None,
            active: true,
            disabled_reason: None,
            rate_limit: None,
            metadata: Map::new(),
            created_at: "t".into(),
            updated_at: "t".into(),
        };
        let secret = "whsec_c2VjcmV0";
        let created = format!("{:?}", CreatedEndpoint { endpoint, secret: secret.into() });
        let rotated = format!("{:?}", RotatedSecret { secret: secret.into() });
        let target = format!(
            "{:?}",
            DeliveryTarget { webhook_id: uuid::Uuid::nil(), url: "u".into(), secrets: vec![secret.into()] }
        );
        for printed in [created, rotated, target] {
            assert!(!printed.contains("c2VjcmV0") && printed.contains("redacted"), "{printed}");
        }
    }

    #[test]
    fn subscriptions_match_by_whole_segments() {
        let subs = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(subscribes(&subs(&["*"]), "invoice.paid"));
        assert!(subscribes(&subs(&["customer.created", "invoice.paid"]), "invoice.paid"));
        assert!(subscribes(&subs(&["invoice.*"]), "invoice.paid"));
        assert!(subscribes(&subs(&["invoice.*"]), "invoice.payment.failed"));
        assert!(!subscribes(&subs(&["invoice.*"]), "invoices.paid"));
        assert!(!subscribes(&subs(&["invoice.*"]), "invoice"));
        assert!(!subscribes(&subs(&["invoice.paid"]), "invoice.paid.late"));
        assert!(!subscribes(&subs(&[]), "invoice.paid"));
    }

    #[test]
    fn recover_windows_follow_the_contract() {
        let now = crate::time::parse_rfc3339_millis("2026-12-01T12:00:00.000Z").unwrap();
        let window = |v: Value| RecoveryWindow::from_body(&body(v), now);
        let ok = window(json!({"since": "2026-12-01T13:00:00+02:00"})).unwrap();
        assert_eq!((ok.since.as_str(), ok.until.as_str()), ("2026-12-01T11:00:00.000Z", "2026-12-01T12:00:00.000Z"));
        assert_eq!(ok.until_ms - ok.since_ms, 3_600_000);
        let field = |v: Value| {
            let e = window(v).unwrap_err();
            (e.code, e.field)
        };
        let at = |f: &str| ("invalid_field", Some(f.to_owned()));
        assert_eq!(field(json!({})), ("missing_required_field", Some("since".to_owned())));
        assert_eq!(field(json!({"since": "yesterday"})), at("since"));
        assert_eq!(field(json!({"since": 5})), at("since"));
        assert_eq!(field(json!({"since": "2026-10-01T00:00:00Z"})), at("since"), "more than 30 days back");
        assert_eq!(field(json!({"since": "2026-12-01T11:00:00Z", "until": "2026-12-01T12:00:01Z"})), at("until"));
        assert_eq!(field(json!({"since": "2026-12-01T11:00:00Z", "until": "2026-12-01T11:00:00Z"})), at("since"));
        assert_eq!(field(json!({"since": "2026-12-01T11:00:00Z", "to": "x"})).0, "unknown_field");
    }

    #[test]
    fn a_resend_names_an_endpoint_by_uuid() {
        let id = "0193a5b0-7c2e-7d3f-8a4b-5c6d7e8f9a0b";
        assert_eq!(resend_target(&body(json!({"webhookId": id}))).unwrap().to_string(), id);
        assert_eq!(resend_target(&body(json!({"webhookId": "nope"}))).unwrap_err().status, 404);
        assert_eq!(resend_target(&body(json!({}))).unwrap_err().code, "missing_required_field");
        assert_eq!(resend_target(&body(json!({"webhookId": 7}))).unwrap_err().code, "invalid_field");
    }

    #[test]
    fn status_filter_is_exact() {
        assert_eq!(DeliveryStatus::from_query("failed").unwrap(), DeliveryStatus::Failed);
        for bad in ["Failed", "ok", "", "succeeded "] {
            assert_eq!(DeliveryStatus::from_query(bad).unwrap_err().field.as_deref(), Some("status"));
        }
    }

    #[test]
    fn the_test_payload_has_the_contract_shape() {
        let bytes = test_ping_payload("acme", "w1", "2026-11-22T00:00:00.000Z");
        assert!(bytes.starts_with(br#"{"type":"webhook.test","timestamp":"#), "the contract's order");
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            value,
            json!({"type": "webhook.test", "timestamp": "2026-11-22T00:00:00.000Z", "data": {"appId": "acme", "webhookId": "w1"}})
        );
    }
}
