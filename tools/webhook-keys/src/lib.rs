//! The key tool's operations, as a library so that the integration tests drive the same code the
//! command line does.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, StreamSpecification,
    StreamViewType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use shared::secrets::{api_key_hash, new_api_key};
use shared::store::{ApiKeyRecord, Store, ALL_APPS};
use shared::time::{now_millis, rfc3339_millis};

/// The scopes a key may carry (contract: Authentication and tenancy).
pub const SCOPES: [&str; 4] = ["webhooks:read", "webhooks:write", "webhooks:manage", "events:publish"];

/// A freshly issued key: the only moment its plaintext exists. `Debug` prints the key redacted.
pub struct IssuedKey {
    pub key: String,
    pub record: ApiKeyRecord,
}

impl std::fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedKey").field("key", &"<redacted>").field("record", &self.record).finish()
    }
}

/// Parses `webhooks:read,webhooks:write`; duplicates dropped, unknown scopes refused.
pub fn parse_scopes(list: &str) -> Result<Vec<String>, String> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !SCOPES.contains(&scope) {
            return Err(format!("unknown scope `{scope}`; use {}", SCOPES.join(", ")));
        }
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    if scopes.is_empty() {
        return Err(format!("give at least one scope: {}", SCOPES.join(", ")));
    }
    Ok(scopes)
}

/// The published, local-only key in every `events/` fixture, for app `acme` with every scope
/// (`webhooks:manage` and `events:publish`);
/// `scripts/dev`, the tests and the benchmark install it. Never issued against a deployed table.
pub const FIXTURE_KEY: &str = "whk_local-fixture-key-for-sam-invoke-0000000000";
pub const FIXTURE_APP: &str = "acme";
/// The placeholder `webhookId` of the fixtures under `/webhooks/{webhookId}`.
pub const FIXTURE_WEBHOOK_ID: &str = "0193a5b0-7c2e-7d3f-8a4b-5c6d7e8f9a0b";
/// The placeholder `eventId` of the fixtures under `/events/{eventId}`.
pub const FIXTURE_EVENT_ID: &str = "0193a5b0-7c2e-7d3f-8a4b-5c6d7e8f9a0c";

/// Stores the fixtures' key (its hash) for `FIXTURE_APP`.
///
/// The fixture key is published (it is in `events/`), so it is installed only into a DynamoDB on
/// this machine: `AWS_ENDPOINT_URL_DYNAMODB` must name a loopback host, or this refuses.
pub async fn install_fixture_key(store: &Store) -> Result<(), String> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_default();
    if !is_loopback_endpoint(&endpoint) {
        return Err(format!(
            "refusing to install the published fixture key: AWS_ENDPOINT_URL_DYNAMODB ({}) is not a \
             DynamoDB on loopback",
            if endpoint.is_empty() { "unset" } else { endpoint.as_str() }
        ));
    }
    let record = ApiKeyRecord {
        hash: api_key_hash(FIXTURE_KEY),
        app_id: FIXTURE_APP.into(),
        scopes: vec!["webhooks:manage".into(), "events:publish".into()],
        created_at: rfc3339_millis(now_millis()),
        revoked_at: None,
        expires_at: None,
    };
    store.put_api_key(&record).await.map_err(|e| e.to_string())
}

/// Whether `endpoint` (a URL) points at this machine: `localhost`, 127.0.0.0/8 or `[::1]`.
pub fn is_loopback_endpoint(endpoint: &str) -> bool {
    let Some(rest) = endpoint.strip_prefix("http://").or_else(|| endpoint.strip_prefix("https://")) else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return false;
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Issues a key of `app_id` (or, with `ALL_APPS`, a platform key serving every app) with `scopes`.
pub async fn issue_key(store: &Store, app_id: &str, scopes: Vec<String>) -> Result<IssuedKey, String> {
    if app_id != ALL_APPS && !shared::validate::is_valid_app_id(app_id) {
        return Err(format!(
            "`{app_id}` is not a valid app id (1-64 of A-Z a-z 0-9 _ -, starting with a letter or digit)"
        ));
    }
    let key = new_api_key().map_err(|e| e.to_string())?;
    let record = ApiKeyRecord {
        hash: api_key_hash(&key),
        app_id: app_id.to_owned(),
        scopes,
        created_at: rfc3339_millis(now_millis()),
        revoked_at: None,
        expires_at: None,
    };
    store.put_api_key(&record).await.map_err(|e| e.to_string())?;
    Ok(IssuedKey { key, record })
}

/// Revokes by hash, or by the key itself (hashed here, never stored or printed).
pub async fn revoke_key(store: &Store, app_id: &str, key_or_hash: &str) -> Result<bool, String> {
    let hash =
        if key_or_hash.starts_with("whk_") { api_key_hash(key_or_hash) } else { key_or_hash.to_ascii_lowercase() };
    store.revoke_api_key(app_id, &hash, &rfc3339_millis(now_millis())).await.map_err(|e| e.to_string())
}

/// Creates the table as `template.yaml` declares it (on-demand, `pk`/`sk`, TTL on `expiresAt`):
/// for DynamoDB Local and tests. `Ok(false)` when it already exists.
pub async fn create_table(client: &Client, table: &str) -> Result<bool, String> {
    let key = |name: &str, kind| KeySchemaElement::builder().attribute_name(name).key_type(kind).build();
    let attr =
        |name: &str| AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build();
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash).map_err(|e| e.to_string())?)
        .key_schema(key("sk", KeyType::Range).map_err(|e| e.to_string())?)
        .attribute_definitions(attr("pk").map_err(|e| e.to_string())?)
        .attribute_definitions(attr("sk").map_err(|e| e.to_string())?)
        // The stream is the outbox of published events (the fan-out reads it), as in template.yaml.
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => return Ok(false),
        Err(e) => return Err(format!("CreateTable {table}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e))),
    }
    let ttl = TimeToLiveSpecification::builder()
        .attribute_name("expiresAt")
        .enabled(true)
        .build()
        .map_err(|e| e.to_string())?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(|e| format!("UpdateTimeToLive {table}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_checked_trimmed_and_deduplicated() {
        assert_eq!(
            parse_scopes(" webhooks:read ,webhooks:write,webhooks:read").unwrap(),
            ["webhooks:read", "webhooks:write"]
        );
        assert_eq!(parse_scopes("webhooks:manage").unwrap(), ["webhooks:manage"]);
        for bad in ["", " , ", "webhooks:admin", "webhooks:READ", "read"] {
            assert!(parse_scopes(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_fixture_key_goes_only_to_a_dynamodb_on_loopback() {
        for local in ["http://127.0.0.1:8000", "http://localhost:8000/", "http://127.9.9.9", "http://[::1]:8000"] {
            assert!(is_loopback_endpoint(local), "{local}");
        }
        for remote in [
            "",
            "https://dynamodb.us-east-1.amazonaws.com",
            "http://10.0.0.5:8000",
            "http://127.0.0.1.nip.io:8000",
            "http://user@127.0.0.1:8000",
            "127.0.0.1:8000",
        ] {
            assert!(!is_loopback_endpoint(remote), "{remote}");
        }
    }
}
