use super::*;
use serde_json::json;

fn policy() -> AddressPolicy {
    AddressPolicy::default()
}

const REFUSED: &[&str] = &[
    // scheme and shape
    "http://example.com/hook",
    "ftp://example.com/hook",
    "example.com/hook",
    "//example.com/hook",
    "https:/example.com/hook",
    "https:example.com/hook",
    "",
    "https://",
    "https:///path",
    "https://example.com:99999/",
    // user-info and fragments, even empty ones
    "https://user@example.com/",
    "https://user:pass@example.com/",
    "https://:@example.com/",
    "https://@example.com/",
    "https://example.com/#",
    "https://example.com/hook#frag",
    // user-info reached through extra slashes and backslashes, which the parser skips
    "https:///alice:pw@example.com/hook",
    "https://\\:@example.com/hook",
    "https://\\alice@example.com/hook",
    "https:////alice@example.com/",
    "https://\\/\\:pw@example.com/",
    "https:///@example.com/",
    // whitespace and control characters the parser would silently strip
    "https://example.com/ hook",
    "https://exa\tmple.com/",
    " https://example.com/",
    "https://example.com/\n",
    "https://example.com/\u{7f}",
    // internal names
    "https://localhost/",
    "https://LOCALHOST/",
    "https://localhost./",
    "https://api.localhost/",
    "https://printer.local/",
    "https://db.internal/",
    "https://metadata.google.internal/",
    "https://box.localdomain/",
    "https://nas.home.arpa/",
    "https://intranet/",
    "https://intranet./",
    // empty host labels: only one trailing dot is allowed
    "https://localhost.../hook",
    "https://db.internal.../",
    "https://a..example.com/",
    "https://.example.com/",
    "https://example.com../",
    "https://example..com./",
    // loopback in every spelling the parser accepts
    "https://127.0.0.1/",
    "https://127.0.0.1:8443/",
    "https://127.1/",
    "https://2130706433/",
    "https://0x7f000001/",
    "https://0177.0.0.1/",
    "https://0x7f.0.0.1/",
    "https://127.0.0.1./",
    "https://[::1]/",
    "https://[0:0:0:0:0:0:0:1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:7f00:1]/",
    "https://[::127.0.0.1]/",
    "https://[64:ff9b::7f00:1]/",
    "https://[64:ff9b:1::7f00:1]/",
    // unspecified
    "https://0.0.0.0/",
    "https://0/",
    "https://[::]/",
    // private and CGNAT
    "https://10.0.0.1/",
    "https://172.16.5.4/",
    "https://192.168.0.1/",
    "https://0300.0250.0.1/",
    "https://3232235521/",
    "https://[0:0:0:0:0:ffff:a00:1]/",
    "https://100.64.0.1/",
    "https://[fc00::1]/",
    // metadata services and link-local
    "https://169.254.169.254/latest/meta-data/",
    "https://0xa9fea9fe/",
    "https://[::ffff:169.254.169.254]/",
    "https://[fd00:ec2::254]/",
    "https://[fe80::1]/",
    "https://[fe80::1%25eth0]/",
    // documentation, benchmarking, reserved, multicast, broadcast
    "https://192.0.2.10/",
    "https://198.51.100.1/",
    "https://203.0.113.5/",
    "https://[2001:db8::1]/",
    "https://198.18.0.1/",
    "https://192.0.0.1/",
    "https://240.0.0.1/",
    "https://224.0.0.1/",
    "https://[ff02::1]/",
    "https://255.255.255.255/",
];

const ACCEPTED: &[&str] = &[
    "https://example.com/webhooks",
    "https://example.com",
    "HTTPS://EXAMPLE.com/Hook?X=1",
    "https://example.com:8443/hook",
    "https://example.com./hook",
    "https://8.8.8.8/hook",
    "https://1.1.1.1:443/",
    "https://[2606:4700:4700::1111]/hook",
    "https://sub.domain.example.co.uk/a/b/c?x=y&z=1",
    "https://bücher.example/path",
    "https://localhost.example.com/",
    "https://api.internal.example.com/hook",
];

#[test]
fn refuses_every_unsafe_or_malformed_url() {
    assert!(REFUSED.len() >= 60, "the table must hold at least 60 refusals");
    for raw in REFUSED {
        let err = parse_webhook_url(raw, &policy()).expect_err(raw);
        assert_eq!(err.code, "invalid_url", "{raw:?}");
        assert_eq!(err.field.as_deref(), Some("url"), "{raw:?}");
    }
}

#[test]
fn refuses_urls_over_the_length_limit() {
    let base = "https://example.com/";
    let at_limit = format!("{base}{}", "a".repeat(MAX_URL_CHARS - base.len()));
    assert!(parse_webhook_url(&at_limit, &policy()).is_ok());
    let over = format!("{at_limit}a");
    assert_eq!(parse_webhook_url(&over, &policy()).unwrap_err().code, "invalid_url");
}

#[test]
fn accepts_public_https_urls_and_keeps_them_as_sent() {
    assert!(ACCEPTED.len() >= 10);
    for raw in ACCEPTED {
        let url = parse_webhook_url(raw, &policy()).unwrap_or_else(|e| panic!("{raw}: {e}"));
        assert_eq!(url.url, *raw);
    }
}

#[test]
fn normalizes_scheme_host_trailing_dot_and_default_port_only() {
    let n = |raw: &str| parse_webhook_url(raw, &policy()).unwrap().normalized;
    assert_eq!(n("HTTPS://Example.COM.:443/Path?Q=A"), "https://example.com/Path?Q=A");
    assert_eq!(n("https://example.com/Path?Q=A"), n("https://EXAMPLE.com:443/Path?Q=A"));
    assert_ne!(n("https://example.com/path"), n("https://example.com/PATH"));
    assert_ne!(n("https://example.com/?q=a"), n("https://example.com/?q=A"));
    assert_ne!(n("https://example.com/"), n("https://example.com:8443/"));
    assert_eq!(n("https://0x08.8.8.8/"), n("https://8.8.8.8/"));
}

#[test]
fn allow_list_exempts_addresses_but_never_names() {
    let dev = AddressPolicy::from_allow_list("127.0.0.0/8,::1/128").unwrap();
    assert!(parse_webhook_url("https://127.0.0.1:9443/hook", &dev).is_ok());
    assert!(parse_webhook_url("https://[::1]:9443/hook", &dev).is_ok());
    assert!(parse_webhook_url("https://10.0.0.1/hook", &dev).is_err());
    assert!(parse_webhook_url("https://localhost:9443/hook", &dev).is_err());
}

#[tokio::test]
async fn refuses_names_that_resolve_to_blocked_addresses() {
    // `localhost.` is caught by name; a name in /etc/hosts or with a loopback answer is caught by
    // resolution. `localtest.me`-style public names cannot be relied on offline, so use an IP-only
    // hostname the resolver answers locally.
    let url = WebhookUrl {
        url: "https://x/".into(),
        normalized: "https://x/".into(),
        domain: Some("localhost".into()),
        port: 443,
    };
    let err = check_resolved_addresses(&url, &policy()).await.unwrap_err();
    assert_eq!(err.code, "invalid_url");
    assert!(err.message.contains("resolves to"), "{}", err.message);
    let dev = AddressPolicy::from_allow_list("127.0.0.0/8,::1/128").unwrap();
    assert!(check_resolved_addresses(&url, &dev).await.is_ok());
    let unresolvable = WebhookUrl { domain: Some("no-such-host.invalid".into()), ..url };
    assert!(check_resolved_addresses(&unresolvable, &policy()).await.is_ok());
}

fn catalogue() -> EventCatalogue {
    EventCatalogue::parse("invoice.paid, invoice.payment_failed,customer.created,customer.subscription.updated,,")
}

#[test]
fn events_accept_names_star_and_prefix_wildcards_dropping_duplicates_in_order() {
    let kept = catalogue()
        .validate(&json!(["invoice.paid", "*", "customer.*", "invoice.paid", "customer.subscription.*"]))
        .unwrap();
    assert_eq!(kept, vec!["invoice.paid", "*", "customer.*", "customer.subscription.*"]);
}

#[test]
fn events_reject_unknown_names_and_bad_wildcards_listing_each() {
    for bad in [
        "*.paid",
        "inv*",
        "nothing.*",
        "invoice",
        "Invoice.paid",
        "invoice.paid.*",
        ".*",
        "invoice..*",
        "customer.sub*",
    ] {
        let err = catalogue().validate(&json!([bad])).unwrap_err();
        assert_eq!(err.code, "invalid_events", "{bad}");
    }
    let err = catalogue().validate(&json!(["a.b", "invoice.paid", "c.d", "a.b"])).unwrap_err();
    assert!(err.message.contains("`a.b`") && err.message.contains("`c.d`"), "{}", err.message);
    assert_eq!(err.message.matches("`a.b`").count(), 1);
}

#[test]
fn events_count_and_types() {
    assert_eq!(catalogue().validate(&json!([])).unwrap_err().code, "invalid_events");
    // A long catalogue is not spelled out in the message: the route that lists it is named.
    let long = EventCatalogue::parse(&(0..30).map(|i| format!("e.n{i}")).collect::<Vec<_>>().join(","));
    let message = long.validate(&json!(["x.y"])).unwrap_err().message;
    assert!(message.contains("GET /apps/{appId}/event-types") && !message.contains("e.n1"), "{message}");
    assert_eq!(long.names().len(), 30);
    let hundred: Vec<&str> = vec!["invoice.paid"; 100];
    assert_eq!(catalogue().validate(&json!(hundred)).unwrap(), vec!["invoice.paid"]);
    let too_many: Vec<&str> = vec!["invoice.paid"; 101];
    assert_eq!(catalogue().validate(&json!(too_many)).unwrap_err().code, "invalid_events");
    assert_eq!(catalogue().validate(&json!("invoice.paid")).unwrap_err().code, "invalid_field");
    assert_eq!(catalogue().validate(&json!(["invoice.paid", 3])).unwrap_err().code, "invalid_field");
    assert_eq!(catalogue().validate(&Value::Null).unwrap_err().code, "invalid_field");
}

#[test]
fn description_rules() {
    assert_eq!(description(&Value::Null).unwrap(), None);
    assert_eq!(description(&json!("é".repeat(500))).unwrap().unwrap().chars().count(), 500);
    assert!(description(&json!("é".repeat(501))).is_err());
    for control in ["a\tb", "a\nb", "a\u{7f}b", "a\u{85}b", "\u{0}"] {
        assert_eq!(description(&json!(control)).unwrap_err().field.as_deref(), Some("description"));
    }
    assert!(description(&json!(5)).is_err());
}

#[test]
fn metadata_rules() {
    let fifty: Map<String, Value> = (0..50).map(|i| (format!("k{i}"), json!("v"))).collect();
    assert_eq!(metadata(&Value::Object(fifty.clone())).unwrap().len(), 50);
    let mut fifty_one = fifty;
    fifty_one.insert("one-more".into(), json!("v"));
    assert!(metadata(&Value::Object(fifty_one)).is_err());
    assert!(metadata(&json!({ "k".repeat(40): "v" })).is_ok());
    assert!(metadata(&json!({ "k".repeat(41): "v" })).is_err());
    assert!(metadata(&json!({ "": "v" })).is_err());
    assert!(metadata(&json!({ "k": "v".repeat(500) })).is_ok());
    assert!(metadata(&json!({ "k": "v".repeat(501) })).is_err());
    assert!(metadata(&json!({ "k": 1 })).is_err());
    assert!(metadata(&json!({ "k": null })).is_err());
    assert!(metadata(&json!(["k"])).is_err());
    assert!(metadata(&Value::Null).is_err());
    // Control characters (category Cc: C0, DEL, C1) in keys or values: a page must stay small.
    for bad in ["a\u{0}b", "tab\there", "line\n", "\u{7f}", "\u{85}"] {
        assert!(metadata(&json!({ "k": bad })).is_err(), "{bad:?}");
        assert!(metadata(&json!({ bad: "v" })).is_err(), "{bad:?} as a key");
    }
    assert!(metadata(&json!({ "k": "ünïcödé ✓ \"quoted\" \\" })).is_ok());
}

#[test]
fn active_must_be_boolean() {
    assert!(active(&json!(false)).is_ok());
    assert_eq!(active(&json!("true")).unwrap_err().code, "invalid_field");
    assert!(active(&Value::Null).is_err());
}

#[test]
fn unknown_fields_are_named() {
    let body = json!({"url": "x", "evnets": []});
    let err = reject_unknown_fields(body.as_object().unwrap(), &["url", "events"]).unwrap_err();
    assert_eq!((err.code, err.field.as_deref()), ("unknown_field", Some("evnets")));
}
