//! Every input rule of the contract, in one place: pure functions over parsed JSON and header
//! values, answering with the contract's 400-family errors. The URL and address rule itself lives
//! in `crate::url` (the delivery client applies it too); `webhook_url` here turns its reasons into
//! `invalid_url`.

use std::collections::BTreeSet;

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::ApiError;
use crate::url::{self as url_rule, AddressPolicy, WebhookUrl};

pub use crate::url::MAX_URL_CHARS;
pub const MAX_EVENTS: usize = 100;
pub const MAX_DESCRIPTION_CHARS: usize = 500;
pub const MAX_METADATA_KEYS: usize = 50;
pub const MAX_METADATA_KEY_CHARS: usize = 40;
pub const MAX_METADATA_VALUE_CHARS: usize = 500;
/// Request bodies: at most 64 KiB (contract, "Input rules"; 413 above).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// A published event's body: at most 256 KiB (contract, "Events and delivery"; 413 above).
pub const MAX_EVENT_BODY_BYTES: usize = 256 * 1024;
/// `?limit=` when absent (contract, "Pagination").
pub const DEFAULT_PAGE_LIMIT: u32 = 20;
/// The largest `?limit=` (contract, "Pagination").
pub const MAX_PAGE_LIMIT: u32 = 100;
/// The longest `Idempotency-Key` (contract, "Idempotency").
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 255;

/// The contract's `appId` pattern: 1–64 of `[A-Za-z0-9_-]`, starting with a letter or digit.
pub fn is_valid_app_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    (1..=64).contains(&bytes.len())
        && bytes[0].is_ascii_alphanumeric()
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
}

/// A `webhookId` (or `eventId`): a UUID in its canonical hyphenated form, any version, either case
/// (contract, "Routes": this service mints version 7; another version is well-formed and simply
/// not found).
pub fn parse_webhook_id(id: &str) -> Option<Uuid> {
    let hyphens_at_canonical_places = id.len() == 36 && [8, 13, 18, 23].iter().all(|i| id.as_bytes()[*i] == b'-');
    hyphens_at_canonical_places.then(|| Uuid::try_parse(id).ok()).flatten()
}

/// `?limit=`: absent is 20; otherwise a whole number from 1 to 100, else 400 `invalid_field`.
pub fn page_limit(raw: Option<&str>) -> Result<u32, ApiError> {
    match raw {
        None => Ok(DEFAULT_PAGE_LIMIT),
        Some(raw) => raw.parse::<u32>().ok().filter(|l| (1..=MAX_PAGE_LIMIT).contains(l)).ok_or_else(|| {
            ApiError::invalid_field("limit", format!("`limit` must be a whole number from 1 to {MAX_PAGE_LIMIT}."))
        }),
    }
}

/// An `Idempotency-Key` header value: 1–255 printable ASCII characters, else 400 `invalid_field`
/// with `field: "Idempotency-Key"`.
pub fn idempotency_key(value: &[u8]) -> Result<&str, ApiError> {
    let printable = value.iter().all(|b| (0x20..=0x7e).contains(b));
    match std::str::from_utf8(value) {
        Ok(key) if printable && (1..=MAX_IDEMPOTENCY_KEY_BYTES).contains(&value.len()) => Ok(key),
        _ => Err(ApiError::invalid_field(
            "Idempotency-Key",
            "`Idempotency-Key` must be 1 to 255 printable ASCII characters.",
        )),
    }
}

/// The syntactic URL rules and the IP-literal and name rules (`crate::url::parse`), as
/// 400 `invalid_url`.
pub fn parse_webhook_url(raw: &str, policy: &AddressPolicy) -> Result<WebhookUrl, ApiError> {
    url_rule::parse(raw, policy).map_err(ApiError::invalid_url)
}

/// The resolve-time rule (`crate::url::check_resolved_addresses`), as 400 `invalid_url`.
pub async fn check_resolved_addresses(url: &WebhookUrl, policy: &AddressPolicy) -> Result<(), ApiError> {
    url_rule::check_resolved_addresses(url, policy).await.map_err(ApiError::invalid_url)
}

/// A catalogue up to this many names is named in full in an `invalid_events` message.
const SHORT_CATALOGUE: usize = 20;

/// The deployment's event catalogue (`EVENT_TYPES`).
#[derive(Debug, Clone, Default)]
pub struct EventCatalogue {
    names: BTreeSet<String>,
}

impl EventCatalogue {
    pub fn parse(list: &str) -> Self {
        let names = list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
        EventCatalogue { names }
    }

    /// The catalogue's names, sorted (`GET /apps/{appId}/event-types`).
    pub fn names(&self) -> Vec<&str> {
        self.names.iter().map(String::as_str).collect()
    }

    /// Whether `name` is a catalogued event type, exactly (no wildcard).
    pub fn contains(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    /// An event's `type`: a catalogued name, never a wildcard (contract, "Events and delivery"),
    /// else 400 `invalid_field` naming it.
    pub fn event_type(&self, value: &Value, field: &str) -> Result<String, ApiError> {
        let Value::String(name) = value else {
            return Err(ApiError::invalid_field(field, format!("`{field}` must be an event type name (a string).")));
        };
        if !self.contains(name) {
            return Err(ApiError::invalid_field(
                field,
                format!("`{}` is not an event type of this deployment's catalogue.", name.escape_debug()),
            ));
        }
        Ok(name.clone())
    }

    fn knows(&self, name: &str) -> bool {
        if name == "*" || self.names.contains(name) {
            return true;
        }
        let Some(prefix) = name.strip_suffix(".*") else {
            return false;
        };
        let whole_segments = !prefix.is_empty() && prefix.split('.').all(|s| !s.is_empty() && !s.contains('*'));
        whole_segments && self.names.iter().any(|n| n.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.')))
    }

    /// Validates an `events` value: 1 to 100 strings, all known; duplicates dropped, order kept.
    pub fn validate(&self, value: &Value) -> Result<Vec<String>, ApiError> {
        let Value::Array(items) = value else {
            return Err(ApiError::invalid_field("events", "`events` must be an array of event type names."));
        };
        if items.is_empty() {
            return Err(ApiError::invalid_events("`events` must list at least one event type (`*` for all)."));
        }
        if items.len() > MAX_EVENTS {
            return Err(ApiError::invalid_events(format!("`events` may list at most {MAX_EVENTS} event types.")));
        }
        let mut kept: Vec<String> = Vec::with_capacity(items.len());
        let mut unknown: Vec<&str> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let Value::String(name) = item else {
                return Err(ApiError::invalid_field("events", format!("`events[{i}]` must be a string.")));
            };
            if !self.knows(name) {
                if !unknown.contains(&name.as_str()) {
                    unknown.push(name);
                }
            } else if !kept.contains(name) {
                kept.push(name.clone());
            }
        }
        if !unknown.is_empty() {
            let quoted: Vec<String> = unknown.iter().map(|n| format!("`{}`", n.escape_debug())).collect();
            // A short catalogue is named outright; a long one is at `GET /apps/{appId}/event-types`.
            let choices = if self.names.len() <= SHORT_CATALOGUE {
                let names: Vec<String> = self.names.iter().map(|n| format!("`{n}`")).collect();
                format!(" The catalogue: {}.", names.join(", "))
            } else {
                " The catalogue is listed at `GET /apps/{appId}/event-types`.".to_owned()
            };
            return Err(ApiError::invalid_events(format!(
                "Unknown event types: {}. Use `*`, a catalogued name, or a catalogued prefix such as `invoice.*`.{choices}",
                quoted.join(", ")
            )));
        }
        Ok(kept)
    }
}

/// `description`: `null` or at most 500 characters without control characters.
pub fn description(value: &Value) -> Result<Option<String>, ApiError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.chars().count() > MAX_DESCRIPTION_CHARS => Err(ApiError::invalid_field(
            "description",
            format!("`description` may be at most {MAX_DESCRIPTION_CHARS} characters."),
        )),
        Value::String(s) if s.chars().any(char::is_control) => Err(ApiError::invalid_field(
            "description",
            "`description` must not contain control characters (tabs, newlines included).",
        )),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(ApiError::invalid_field("description", "`description` must be a string or null.")),
    }
}

pub fn active(value: &Value) -> Result<bool, ApiError> {
    value.as_bool().ok_or_else(|| ApiError::invalid_field("active", "`active` must be true or false."))
}

/// The most deliveries per second a `rateLimit` may name (contract, "Rate limit per endpoint").
pub const MAX_RATE_LIMIT: u64 = 10_000;

/// `rateLimit`: `null` (no limit) or a whole number of deliveries per second from 1 to 10000.
pub fn rate_limit(value: &Value) -> Result<Option<u32>, ApiError> {
    match value {
        Value::Null => Ok(None),
        _ => value
            .as_u64()
            .filter(|n| (1..=MAX_RATE_LIMIT).contains(n))
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                ApiError::invalid_field(
                    "rateLimit",
                    format!("`rateLimit` must be null or a whole number of deliveries per second from 1 to {MAX_RATE_LIMIT}."),
                )
            }),
    }
}

/// `metadata`: an object of at most 50 string values, keys of 1 to 40 characters, values of at
/// most 500, neither with control characters.
pub fn metadata(value: &Value) -> Result<Map<String, Value>, ApiError> {
    let field = "metadata";
    let Value::Object(map) = value else {
        return Err(ApiError::invalid_field(field, "`metadata` must be an object of string values."));
    };
    if map.len() > MAX_METADATA_KEYS {
        return Err(ApiError::invalid_field(field, format!("`metadata` may have at most {MAX_METADATA_KEYS} keys.")));
    }
    for (key, value) in map {
        let key_chars = key.chars().count();
        if key_chars == 0 || key_chars > MAX_METADATA_KEY_CHARS {
            return Err(ApiError::invalid_field(
                field,
                format!("`metadata` keys must be 1 to {MAX_METADATA_KEY_CHARS} characters."),
            ));
        }
        let Value::String(text) = value else {
            return Err(ApiError::invalid_field(field, format!("`metadata.{key}` must be a string.")));
        };
        // Control characters would each become a six-byte `\u00XX` in JSON: with them refused, a
        // page (at most 1 MB of items per DynamoDB Query) stays far below Lambda's 6 MB response.
        if key.chars().any(char::is_control) || text.chars().any(char::is_control) {
            return Err(ApiError::invalid_field(
                field,
                "`metadata` keys and values must not contain control characters (tabs, newlines included).",
            ));
        }
        if text.chars().count() > MAX_METADATA_VALUE_CHARS {
            return Err(ApiError::invalid_field(
                field,
                format!("`metadata` values may be at most {MAX_METADATA_VALUE_CHARS} characters."),
            ));
        }
    }
    Ok(map.clone())
}

/// The first field of `body` that is not in `allowed`, as `unknown_field`.
pub fn reject_unknown_fields(body: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(ApiError::unknown_field(unknown)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
