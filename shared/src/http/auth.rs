//! API keys: which key a request presents, what it may do, and a short per-container cache of each
//! key's app and scopes, so that a warm request can run its checks at once. The cache never decides
//! validity alone: a key it vouches for comes with a `KeyGuard` that the store confirms alongside
//! the work's own first read or inside its transaction (contract: a revoked key is 401 from the
//! moment `revokedAt` is written, on every container).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lambda_http::http::HeaderMap;

use crate::error::ApiError;
use crate::secrets::api_key_hash;
use crate::store::{ApiKeyRecord, KeyGuard, Store};
use crate::time::now_millis;

/// How long a looked-up key's app and scopes are kept; its validity is confirmed on every request.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(30);
/// Bounds the cache; past this many entries it starts afresh rather than growing without end.
const KEY_CACHE_MAX_ENTRIES: usize = 1024;
/// Longer header values are not keys; refuse them before hashing.
const MAX_KEY_LEN: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Read,
    Write,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "webhooks:read",
            Scope::Write => "webhooks:write",
        }
    }
}

/// The app and scopes of an authenticated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub app_id: String,
    pub scopes: Vec<String>,
}

impl Principal {
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.iter().any(|s| s == scope.name() || s == "webhooks:manage")
    }
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

pub struct KeyCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, ApiKeyRecord)>>,
}

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        KeyCache { ttl, entries: Mutex::new(HashMap::new()) }
    }

    fn get(&self, hash: &str) -> Option<ApiKeyRecord> {
        let entries = self.entries.lock().ok()?;
        let (at, record) = entries.get(hash)?;
        (at.elapsed() < self.ttl).then(|| record.clone())
    }

    fn put(&self, record: ApiKeyRecord) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= KEY_CACHE_MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(record.hash.clone(), (Instant::now(), record));
        }
    }

    /// The principal behind the request's key and the guard its validity travels with, or 401.
    /// A key read now comes `confirmed`; one from the cache `to_confirm`. Unknown keys and invalid
    /// ones are not cached, so a key issued a moment ago works at once.
    pub async fn authenticate(&self, store: &Store, headers: &HeaderMap) -> Result<(Principal, KeyGuard), ApiError> {
        let key = presented_key(headers).ok_or_else(ApiError::invalid_key)?;
        let hash = api_key_hash(key);
        let now_secs = now_millis() / 1000;
        let (record, guard) = match self.get(&hash) {
            Some(record) => (record, KeyGuard::to_confirm(&hash)),
            None => {
                let record = store.api_key(&hash).await?.ok_or_else(ApiError::invalid_key)?;
                if record.is_valid_at(now_secs) {
                    self.put(record.clone());
                }
                (record, KeyGuard::confirmed(&hash))
            }
        };
        if !record.is_valid_at(now_secs) {
            return Err(ApiError::invalid_key());
        }
        Ok((Principal { app_id: record.app_id, scopes: record.scopes }, guard))
    }
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
        let p =
            |scopes: &[&str]| Principal { app_id: "a".into(), scopes: scopes.iter().map(|s| s.to_string()).collect() };
        assert!(p(&["webhooks:read"]).allows(Scope::Read));
        assert!(!p(&["webhooks:read"]).allows(Scope::Write));
        assert!(p(&["webhooks:write"]).allows(Scope::Write));
        assert!(!p(&["webhooks:write"]).allows(Scope::Read));
        assert!(p(&["webhooks:manage"]).allows(Scope::Read) && p(&["webhooks:manage"]).allows(Scope::Write));
        assert!(!p(&["webhooks:admin"]).allows(Scope::Read));
    }
}
