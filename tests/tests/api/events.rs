//! Publishing events and reading them back: validation in the envelope with nothing stored,
//! scopes and platform keys, tenancy, pages and filters, idempotent publish.

use integration_tests::serde_json::{json, Value};
use integration_tests::{Answer, Client, Req, World};

fn publish(app_id: &str, body: Value) -> Req {
    Req::new("POST", &format!("/apps/{app_id}/events")).json(body)
}

async fn publisher(world: &World, app_id: &str) -> Client {
    Client { app: world.container(), app_id: app_id.into(), key: world.key(app_id, &["events:publish"]).await }
}

async fn listed(reader: &Client, query: &str) -> Answer {
    reader.send(Req::new("GET", &format!("/apps/{}/events{query}", reader.app_id))).await
}

#[tokio::test]
async fn bad_publishes_answer_in_the_envelope_and_store_nothing() {
    let world = World::new().await;
    let platform = publisher(&world, "acme").await;
    let reader = Client::new(&world, "acme").await;
    let big = "x".repeat(256 * 1024);
    let cases: Vec<(Req, u16, &str, Option<&str>)> = vec![
        (publish("acme", json!({"data": {}})), 400, "missing_required_field", Some("type")),
        (publish("acme", json!({"type": "invoice.paid"})), 400, "missing_required_field", Some("data")),
        (publish("acme", json!({"type": "invoice.refunded", "data": {}})), 400, "invalid_field", Some("type")),
        (publish("acme", json!({"type": "invoice.*", "data": {}})), 400, "invalid_field", Some("type")),
        (publish("acme", json!({"type": "*", "data": {}})), 400, "invalid_field", Some("type")),
        (publish("acme", json!({"type": 5, "data": {}})), 400, "invalid_field", Some("type")),
        (publish("acme", json!({"type": "invoice.paid", "data": [1]})), 400, "invalid_field", Some("data")),
        (publish("acme", json!({"type": "invoice.paid", "data": null})), 400, "invalid_field", Some("data")),
        (publish("acme", json!({"type": "invoice.paid", "data": {}, "id": "x"})), 400, "unknown_field", Some("id")),
        (publish("acme", json!({"type": "invoice.paid", "data": {"blob": big}})), 413, "payload_too_large", None),
        (
            publish("acme", json!({})).raw_body("{not json").header("content-type", "application/json"),
            400,
            "invalid_json",
            None,
        ),
        (
            publish("acme", json!({"type": "invoice.paid", "data": {}})).header("content-type", "text/plain"),
            415,
            "unsupported_media_type",
            None,
        ),
    ];
    for (req, status, code, field) in cases {
        let answer = platform.send(req).await;
        answer.assert_error(status, code);
        assert_eq!(answer.error_field(), field, "{}", answer.raw);
    }
    let unknown = platform.send(publish("acme", json!({"type": "invoice.refunded", "data": {}}))).await;
    assert!(unknown.body["error"]["message"].as_str().unwrap().contains("invoice.refunded"), "names it");
    assert_eq!(listed(&reader, "").await.data(), &json!([]), "nothing was stored");
    // Above the 64 KiB of other bodies, within the 256 KiB of events.
    let large = json!({"type": "invoice.paid", "data": {"blob": "y".repeat(100 * 1024)}});
    platform.send(publish("acme", large)).await.assert_status(202);
}

#[tokio::test]
async fn publishing_needs_its_own_scope_and_platform_keys_serve_every_app() {
    let world = World::new().await;
    let manager = Client::new(&world, "acme").await;
    let denied = manager.send(publish("acme", json!({"type": "invoice.paid", "data": {}}))).await;
    denied.assert_error(403, "insufficient_permissions");
    assert!(denied.body["error"]["message"].as_str().unwrap().contains("events:publish"));
    let publisher = publisher(&world, "acme").await;
    publisher.send(Req::new("GET", "/apps/acme/events")).await.assert_error(403, "insufficient_permissions");
    publisher.send(publish("globex", json!({"type": "ping", "data": {}}))).await.assert_error(404, "not_found");

    let platform_key = webhook_keys::issue_key(&world.store(), "*", vec!["events:publish".into()]).await.unwrap().key;
    let platform = Client { app: world.container(), app_id: "*".into(), key: platform_key };
    for app in ["acme", "globex"] {
        let accepted = platform.send(publish(app, json!({"type": "ping", "data": {"app": app}}))).await;
        accepted.assert_status(202);
    }
    platform.send(Req::new("GET", "/apps/acme/events")).await.assert_error(403, "insufficient_permissions");
    let globex = Client::new(&world, "globex").await;
    for (reader, app) in [(&manager, "acme"), (&globex, "globex")] {
        let page = listed(reader, "").await;
        let events = page.data().as_array().unwrap();
        assert_eq!(events.len(), 1, "each app sees only its own event");
        let id = events[0]["id"].as_str().unwrap();
        let event = reader.send(Req::new("GET", &format!("/apps/{app}/events/{id}"))).await;
        assert_eq!(event.data()["data"], json!({"app": app}));
    }
}

#[tokio::test]
async fn events_list_newest_first_filter_by_type_and_page_with_bound_cursors() {
    let world = World::new().await;
    let platform = publisher(&world, "acme").await;
    let reader = Client::new(&world, "acme").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let event_type = if i % 2 == 0 { "invoice.paid" } else { "customer.created" };
        let published = platform.send(publish("acme", json!({"type": event_type, "data": {"n": i}}))).await;
        published.assert_status(202);
        let data = published.data();
        assert_eq!((data["type"].as_str(), &data["data"]), (Some(event_type), &json!({"n": i})));
        assert!(data["createdAt"].as_str().unwrap().ends_with('Z'));
        ids.push(data["id"].as_str().unwrap().to_owned());
    }
    let all = listed(&reader, "").await;
    let listed_ids: Vec<&str> = all.data().as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(listed_ids, newest_first);
    assert!(all.data()[0].get("data").is_none(), "lists leave data out");
    assert_eq!(all.body["nextCursor"], Value::Null);

    let paid = listed(&reader, "?type=invoice.paid&limit=2").await;
    assert_eq!(paid.data().as_array().unwrap().len(), 2);
    assert!(paid.data().as_array().unwrap().iter().all(|e| e["type"] == json!("invoice.paid")));
    let cursor = paid.body["nextCursor"].as_str().unwrap().to_owned();
    let rest = listed(&reader, &format!("?type=invoice.paid&limit=2&cursor={cursor}")).await;
    assert_eq!(rest.data()[0]["id"], json!(ids[2]));
    listed(&reader, &format!("?type=customer.created&cursor={cursor}")).await.assert_error(400, "invalid_cursor");
    listed(&reader, &format!("?cursor={cursor}")).await.assert_error(400, "invalid_cursor");
    let globex = Client::new(&world, "globex").await;
    listed(&globex, &format!("?type=invoice.paid&cursor={cursor}")).await.assert_error(400, "invalid_cursor");
    let bad_type = listed(&reader, "?type=invoice.*").await;
    bad_type.assert_error(400, "invalid_field");
    assert_eq!(bad_type.error_field(), Some("type"));

    let one = reader.send(Req::new("GET", &format!("/apps/acme/events/{}", ids[3]))).await;
    assert_eq!(one.data()["data"], json!({"n": 3}));
    globex.send(Req::new("GET", &format!("/apps/globex/events/{}", ids[3]))).await.assert_error(404, "not_found");
    let unknown = integration_tests::shared::uuid::Uuid::now_v7();
    reader.send(Req::new("GET", &format!("/apps/acme/events/{unknown}"))).await.assert_error(404, "not_found");
    reader.send(Req::new("GET", "/apps/acme/events/not-a-uuid")).await.assert_error(404, "not_found");
    reader
        .send(Req::new("DELETE", &format!("/apps/acme/events/{}", ids[3])))
        .await
        .assert_error(405, "method_not_allowed");
}

#[tokio::test]
async fn a_retried_publish_with_the_same_key_replays_and_stores_once() {
    let world = World::new().await;
    let platform = publisher(&world, "acme").await;
    let reader = Client::new(&world, "acme").await;
    let req = publish("acme", json!({"type": "invoice.paid", "data": {"n": 1}})).header("idempotency-key", "evt-1");
    let first = platform.send(req.clone()).await;
    first.assert_status(202);
    let again = platform.send(req).await;
    assert_eq!((again.status, again.raw.as_str()), (202, first.raw.as_str()));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(listed(&reader, "").await.data().as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_catalogue_is_listed_sorted_for_readers_of_the_app() {
    let world = World::new().await;
    let reader =
        Client { app: world.container(), app_id: "acme".into(), key: world.key("acme", &["webhooks:read"]).await };
    let answer = reader.send(Req::new("GET", "/apps/acme/event-types")).await;
    answer.assert_status(200);
    let mut expected: Vec<&str> = integration_tests::EVENT_TYPES.split(',').collect();
    expected.sort();
    assert_eq!(answer.data(), &json!(expected));
    // The key's rules, as on every route: no key 401, a publishing key 403, another app's path 404.
    let path = "/apps/acme/event-types";
    integration_tests::send(&reader.app, &Req::new("GET", path)).await.assert_error(401, "invalid_key");
    let platform = publisher(&world, "acme").await;
    platform.send(Req::new("GET", path)).await.assert_error(403, "insufficient_permissions");
    reader.send(Req::new("GET", "/apps/globex/event-types")).await.assert_error(404, "not_found");
    reader.send(Req::new("POST", path).json(json!({}))).await.assert_error(405, "method_not_allowed");
    // A short catalogue is named in the invalid_events message.
    let manager = Client::new(&world, "acme").await;
    let refused = manager.create(json!({"url": "https://example.com/hook", "events": ["invoice.refunded"]})).await;
    refused.assert_error(400, "invalid_events");
    let message = refused.body["error"]["message"].as_str().unwrap();
    assert!(expected.iter().all(|name| message.contains(&format!("`{name}`"))), "{message}");
}
