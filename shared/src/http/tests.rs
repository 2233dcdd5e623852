use super::request::{idempotency_key, parse_body};
use super::routes::{BodyRule, PathShape, EVENT, WEBHOOK, WEBHOOKS};
use super::runtime::warm_up_in_init;
use crate::validate::{is_valid_app_id, parse_webhook_id, MAX_BODY_BYTES};
use lambda_http::http::{HeaderMap, HeaderValue};
use uuid::Uuid;

fn json_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("application/json; charset=utf-8"));
    h
}

#[test]
fn paths_match_with_or_without_a_stage_prefix() {
    let ids = WEBHOOK.match_path("/apps/acme/webhooks/0193a1b2-0000-7000-8000-000000000000").unwrap();
    assert_eq!(ids.app_id, "acme");
    assert_eq!(ids.item_id.as_deref(), Some("0193a1b2-0000-7000-8000-000000000000"));
    assert_eq!(WEBHOOKS.match_path("/prod/apps/acme/webhooks").unwrap().app_id, "acme");
    assert!(WEBHOOKS.match_path("/a/b/apps/acme/webhooks").is_none());
    assert!(WEBHOOKS.match_path("/apps/acme/webhooks/").is_none());
    assert!(WEBHOOK.match_path("/apps/acme/webhooks").is_none());
    let action = PathShape::ItemAction("webhooks", "rotate-secret");
    assert!(action.match_path("/apps/a/webhooks/x/rotate-secret").is_some());
    assert!(action.match_path("/apps/a/webhooks/x/test-ping").is_none());
    assert_eq!(WEBHOOKS.match_path("/apps/my%2Dapp/webhooks").unwrap().app_id, "my-app");
    let event = EVENT.match_path("/apps/acme/events/0193a1b2-0000-7000-8000-000000000000").unwrap();
    assert_eq!(event.item_id.as_deref(), Some("0193a1b2-0000-7000-8000-000000000000"));
    assert!(EVENT.match_path("/apps/acme/webhooks/x").is_none());
    assert_eq!(EVENT.template_path(), "/apps/{appId}/events/{eventId}");
}

#[test]
fn app_ids_follow_the_pattern() {
    for ok in ["a", "A1", "0app", "acme_prod-2", &"a".repeat(64)] {
        assert!(is_valid_app_id(ok), "{ok}");
    }
    for bad in ["", "-a", "_a", "a.b", "a b", "é", &"a".repeat(65)] {
        assert!(!is_valid_app_id(bad), "{bad}");
    }
}

#[test]
fn webhook_ids_are_hyphenated_uuids_of_any_version() {
    let v7 = Uuid::now_v7().to_string();
    assert_eq!(parse_webhook_id(&v7).unwrap().to_string(), v7);
    assert!(parse_webhook_id(&v7.to_uppercase()).is_some());
    assert!(parse_webhook_id("6ba7b810-9dad-11d1-80b4-00c04fd430c8").is_some(), "v1");
    assert!(parse_webhook_id("0c1d7c1e-4d57-4b7a-9f2e-3a2b1c0d9e8f").is_some(), "v4, from a migration");
    assert!(parse_webhook_id(&v7.replace('-', "")).is_none());
    assert!(parse_webhook_id(&format!("{{{v7}}}")).is_none());
    assert!(parse_webhook_id(&format!("urn:uuid:{v7}")[..36]).is_none());
    assert!(parse_webhook_id("0c1d7c1e4-d57-4b7a-9f2e-3a2b1c0d9e8f").is_none(), "hyphens out of place");
    assert!(parse_webhook_id("not-a-uuid").is_none());
}

#[test]
fn body_checks_run_in_contract_order() {
    let mut text = HeaderMap::new();
    text.insert("content-type", HeaderValue::from_static("text/plain"));
    // 415 before 413 before 400
    let huge = vec![b'x'; MAX_BODY_BYTES + 1];
    assert_eq!(parse_body(BodyRule::Required, MAX_BODY_BYTES, &text, &huge).unwrap_err().status, 415);
    assert_eq!(parse_body(BodyRule::Required, MAX_BODY_BYTES, &HeaderMap::new(), b"{}").unwrap_err().status, 415);
    assert_eq!(parse_body(BodyRule::Required, MAX_BODY_BYTES, &json_headers(), &huge).unwrap_err().status, 413);
    assert_eq!(parse_body(BodyRule::Required, MAX_BODY_BYTES, &json_headers(), b"{").unwrap_err().code, "invalid_json");
    assert_eq!(
        parse_body(BodyRule::Required, MAX_BODY_BYTES, &json_headers(), b"[1]").unwrap_err().code,
        "invalid_json"
    );
    assert_eq!(
        parse_body(BodyRule::Required, MAX_BODY_BYTES, &json_headers(), b"null").unwrap_err().code,
        "invalid_json"
    );
    assert_eq!(
        parse_body(BodyRule::Required, MAX_BODY_BYTES, &HeaderMap::new(), b"").unwrap_err().code,
        "invalid_json"
    );
    assert_eq!(parse_body(BodyRule::Required, MAX_BODY_BYTES, &json_headers(), br#"{"a":1}"#).unwrap()["a"], 1);
    let mut upper = HeaderMap::new();
    upper.insert("content-type", HeaderValue::from_static("Application/JSON"));
    assert!(parse_body(BodyRule::Required, MAX_BODY_BYTES, &upper, b"{}").is_ok());
}

#[test]
fn body_at_exactly_the_limit_is_parsed() {
    let mut body = br#"{"a":""#.to_vec();
    body.resize(MAX_BODY_BYTES - 2, b'x');
    body.extend_from_slice(br#""}"#);
    assert_eq!(body.len(), MAX_BODY_BYTES);
    assert!(parse_body(BodyRule::Required, MAX_BODY_BYTES, &json_headers(), &body).is_ok());
}

#[test]
fn optional_and_ignored_bodies() {
    assert!(parse_body(BodyRule::Optional, MAX_BODY_BYTES, &HeaderMap::new(), b"").unwrap().is_empty());
    assert_eq!(parse_body(BodyRule::Optional, MAX_BODY_BYTES, &HeaderMap::new(), b"{}").unwrap_err().status, 415);
    assert!(parse_body(BodyRule::Ignored, MAX_BODY_BYTES, &HeaderMap::new(), b"garbage").unwrap().is_empty());
}

#[test]
fn idempotency_keys_are_printable_ascii_up_to_255() {
    let with = |v: &[u8]| {
        let mut h = HeaderMap::new();
        h.insert("idempotency-key", HeaderValue::from_bytes(v).unwrap());
        idempotency_key(&h).map(|k| k.map(str::to_owned))
    };
    assert_eq!(idempotency_key(&HeaderMap::new()).unwrap(), None);
    assert_eq!(with(b"abc-123 ~").unwrap().as_deref(), Some("abc-123 ~"));
    assert!(with(&[b'k'; 255]).unwrap().is_some());
    let err = with(&[b'k'; 256]).unwrap_err();
    assert_eq!((err.code, err.field.as_deref()), ("invalid_field", Some("Idempotency-Key")));
    assert!(with(&[0xc3, 0xa9]).is_err());
    assert!(with(b"a\tb").is_err());
}

#[test]
fn init_opens_the_connection_only_for_provisioned_concurrency() {
    assert!(warm_up_in_init(Some("provisioned-concurrency")));
    for on_demand in [Some("on-demand"), Some("snap-start"), Some(""), None] {
        assert!(!warm_up_in_init(on_demand), "{on_demand:?}");
    }
}
