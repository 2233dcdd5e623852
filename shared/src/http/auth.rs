//! API keys: which key a request presents and which scopes a route accepts. There is no cache of
//! keys: every request settles its key against the table beside its own work (`store::KeyGuard`), so
//! a revoked key is 401 from the moment `revokedAt` is written, on every container, at no round trip
//! of its own.

use lambda_http::http::HeaderMap;

use crate::error::ApiError;
use crate::secrets::api_key_hash;

/// Longer header values are not keys; refuse them before hashing.
const MAX_KEY_LEN: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Read,
    Write,
    /// `events:publish`: the platform's own servers; `webhooks:manage` does not include it.
    Publish,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "webhooks:read",
            Scope::Write => "webhooks:write",
            Scope::Publish => "events:publish",
        }
    }

    /// The key scopes that grant this one: itself, or `webhooks:manage` for read and write
    /// (contract, "Authentication").
    pub fn granted_by(self) -> &'static [&'static str] {
        match self {
            Scope::Read => &["webhooks:read", "webhooks:manage"],
            Scope::Write => &["webhooks:write", "webhooks:manage"],
            Scope::Publish => &["events:publish"],
        }
    }
}

/// The SHA-256 hex of the key the request presents (the key item's id), or 401 `invalid_key`.
pub fn presented_key_hash(headers: &HeaderMap) -> Result<String, ApiError> {
    presented_key(headers).map(api_key_hash).ok_or_else(ApiError::invalid_key)
}

/// The key a request presents: `Authorization: Bearer` (scheme case-insensitive) wins over
/// `X-API-Key`. An `Authorization` header of another scheme presents no key at all.
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let key = match headers.get("authorization") {
        Some(value) => {
            let value = value.to_str().ok()?.trim();
            let (scheme, token) = value.split_once(' ')?;
            if !scheme.eq_ignore_ascii_case("bearer") {
                return None;
            }
            token.trim()
        }
        None => headers.get("x-api-key")?.to_str().ok()?.trim(),
    };
    (!key.is_empty() && key.len() <= MAX_KEY_LEN).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_wins_over_x_api_key() {
        assert_eq!(presented_key(&headers(&[("authorization", "Bearer k1")])), Some("k1"));
        assert_eq!(presented_key(&headers(&[("authorization", "bEaReR   k1 ")])), Some("k1"));
        assert_eq!(presented_key(&headers(&[("authorization", "Bearer k1"), ("x-api-key", "k2")])), Some("k1"));
        assert_eq!(presented_key(&headers(&[("x-api-key", "k2")])), Some("k2"));
    }

    #[test]
    fn malformed_or_missing_keys_present_nothing() {
        assert_eq!(presented_key(&headers(&[])), None);
        assert_eq!(presented_key(&headers(&[("authorization", "Basic abc")])), None);
        assert_eq!(presented_key(&headers(&[("authorization", "Basic abc"), ("x-api-key", "k2")])), None);
        assert_eq!(presented_key(&headers(&[("authorization", "Bearer")])), None);
        assert_eq!(presented_key(&headers(&[("authorization", "Bearer ")])), None);
        assert_eq!(presented_key(&headers(&[("x-api-key", "")])), None);
        assert_eq!(presented_key(&headers(&[("x-api-key", &"k".repeat(513))])), None);
    }

    #[test]
    fn manage_covers_read_and_write() {
        assert_eq!(Scope::Read.granted_by(), ["webhooks:read", "webhooks:manage"]);
        assert_eq!(Scope::Write.granted_by(), ["webhooks:write", "webhooks:manage"]);
        assert!(!Scope::Read.granted_by().contains(&"webhooks:write"));
        assert!(!Scope::Write.granted_by().contains(&"webhooks:admin"));
        assert_eq!(Scope::Publish.granted_by(), ["events:publish"], "manage does not include publishing");
    }
}
