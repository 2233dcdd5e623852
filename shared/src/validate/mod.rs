//! Every input rule of the contract, in one place. Pure functions over parsed JSON, except the
//! resolve-time URL check, which asks the system resolver.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use url::{Host, Url};

use crate::error::ApiError;
use crate::net_policy::{blocked_name_reason, AddressPolicy};

pub const MAX_URL_CHARS: usize = 2083;
pub const MAX_EVENTS: usize = 100;
pub const MAX_DESCRIPTION_CHARS: usize = 500;
pub const MAX_METADATA_KEYS: usize = 50;
pub const MAX_METADATA_KEY_CHARS: usize = 40;
pub const MAX_METADATA_VALUE_CHARS: usize = 500;

/// A URL that passed every rule that needs no network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    /// Exactly as sent; this is what the API returns.
    pub url: String,
    /// The comparison form: scheme and host lower-case, no trailing dot, no `:443`.
    pub normalized: String,
    /// The host to resolve, or `None` for an IP literal (already checked).
    pub domain: Option<String>,
    pub port: u16,
}

impl WebhookUrl {
    /// A fixed-length key for the uniqueness marker (URLs may be longer than a sort key allows).
    pub fn uniqueness_key(&self) -> String {
        hex(&Sha256::digest(self.normalized.as_bytes()))
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The syntactic URL rules and the IP-literal and name rules.
pub fn parse_webhook_url(raw: &str, policy: &AddressPolicy) -> Result<WebhookUrl, ApiError> {
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(ApiError::invalid_url(format_args!("it is longer than {MAX_URL_CHARS} characters")));
    }
    // The URL parser silently strips tabs, newlines and edge spaces; refuse them instead so that
    // what is stored is what will be called.
    if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ApiError::invalid_url("it contains whitespace or control characters"));
    }
    let scheme_ok = raw.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    if !scheme_ok {
        return Err(ApiError::invalid_url("it must be an absolute URL starting with https://"));
    }
    if raw.contains('#') {
        return Err(ApiError::invalid_url("it must not have a fragment (#...)"));
    }
    // The authority ends at the first '/', '?' or '\' (the parser treats '\' as '/' for https).
    let authority = raw[8..].split(['/', '?', '\\']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(ApiError::invalid_url("it must not contain a user name or password"));
    }
    let url = Url::parse(raw).map_err(|e| ApiError::invalid_url(format_args!("it cannot be parsed ({e})")))?;
    let port = url.port_or_known_default().unwrap_or(443);
    let (host_text, domain) = match url.host() {
        None => return Err(ApiError::invalid_url("it has no host")),
        Some(Host::Ipv4(ip)) => {
            refuse_address(policy, IpAddr::V4(ip))?;
            (ip.to_string(), None)
        }
        Some(Host::Ipv6(ip)) => {
            refuse_address(policy, IpAddr::V6(ip))?;
            (format!("[{ip}]"), None)
        }
        Some(Host::Domain(name)) => {
            let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
            if name.is_empty() {
                return Err(ApiError::invalid_url("it has no host"));
            }
            if let Some(reason) = blocked_name_reason(&name) {
                return Err(ApiError::invalid_url(reason));
            }
            (name.clone(), Some(name))
        }
    };
    let mut normalized = format!("https://{host_text}");
    if let Some(p) = url.port() {
        normalized.push_str(&format!(":{p}"));
    }
    normalized.push_str(url.path());
    if let Some(q) = url.query() {
        normalized.push('?');
        normalized.push_str(q);
    }
    Ok(WebhookUrl { url: raw.to_owned(), normalized, domain, port })
}

fn refuse_address(policy: &AddressPolicy, ip: IpAddr) -> Result<(), ApiError> {
    match policy.refuse(ip) {
        Some(reason) => Err(ApiError::invalid_url(format_args!("the host is {reason}"))),
        None => Ok(()),
    }
}

/// The resolve-time rule: a name that resolves now to any refused address is refused. A name that
/// does not resolve is accepted; every delivery checks again.
pub async fn check_resolved_addresses(url: &WebhookUrl, policy: &AddressPolicy) -> Result<(), ApiError> {
    let Some(domain) = &url.domain else {
        return Ok(());
    };
    let Ok(addresses) = tokio::net::lookup_host((domain.as_str(), url.port)).await else {
        return Ok(());
    };
    for address in addresses {
        if let Some(reason) = policy.refuse(address.ip()) {
            return Err(ApiError::invalid_url(format_args!("the host resolves to {reason}")));
        }
    }
    Ok(())
}

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
            return Err(ApiError::invalid_events(format!(
                "Unknown event types: {}. Use `*`, a catalogued name, or a catalogued prefix such as `invoice.*`.",
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

/// `metadata`: an object of at most 50 string values, keys of 1 to 40 characters, values of at
/// most 500.
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
