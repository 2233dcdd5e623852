//! rotate-secret, test-ping and deliveries, against a real HTTPS receiver on loopback.

use std::time::Duration;

use integration_tests::shared::delivery::Timeouts;

use integration_tests::receiver::{Behaviour, LoopbackCa, Receiver};
use integration_tests::serde_json::{json, Value};
use integration_tests::{send, Answer, Client, Req, World};

/// A world whose functions may reach 127.0.0.1 and trust the test CA (development settings).
async fn loopback_world(ca: &LoopbackCa) -> World {
    World::with_vars(&[("WEBHOOK_ALLOW_PRIVATE_CIDRS", "127.0.0.0/8"), ("WEBHOOK_EXTRA_CA_FILE", ca.pem_path())]).await
}

/// Creates an endpoint for `url`; returns its id and secret.
async fn endpoint(client: &Client, url: &str) -> (String, String) {
    let created = client.create(json!({"url": url, "events": ["*"]})).await;
    created.assert_status(201);
    (created.data()["id"].as_str().unwrap().into(), created.data()["secret"].as_str().unwrap().into())
}

async fn ping(client: &Client, id: &str) -> Answer {
    let answer = client.send(Req::new("POST", &format!("{}/test-ping", client.item(id)))).await;
    answer.assert_status(200);
    answer
}

async fn rotate(client: &Client, id: &str, body: Option<Value>) -> Answer {
    let req = Req::new("POST", &format!("{}/rotate-secret", client.item(id)));
    client
        .send(match body {
            Some(body) => req.json(body),
            None => req,
        })
        .await
}

fn verifies(secret: &str, received: &integration_tests::receiver::Received) -> bool {
    standardwebhooks::Webhook::new(secret).unwrap().verify(&received.body, &received.header_map()).is_ok()
}

#[tokio::test]
async fn a_test_ping_is_signed_verifiable_and_recorded() {
    let ca = LoopbackCa::new();
    let receiver = Receiver::start(&ca, Behaviour::Status(200, "thanks".into())).await;
    let world = loopback_world(&ca).await;
    let client = Client::new(&world, "acme").await;
    let (id, secret) = endpoint(&client, &format!("{}?source=test", receiver.url)).await;
    client.send(Req::new("PATCH", &client.item(&id)).json(json!({"active": false}))).await.assert_status(200);

    let answer = ping(&client, &id).await;
    let delivery = answer.data();
    let mut keys: Vec<&str> = delivery.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    let expected = [
        "attempt",
        "attemptedAt",
        "durationMs",
        "error",
        "eventId",
        "eventType",
        "id",
        "nextAttemptAt",
        "responseBody",
        "responseStatus",
        "status",
        "trigger",
        "webhookId",
    ];
    assert_eq!(keys, expected);
    // A test ping is no event's attempt: no event id, attempt 1, trigger `test`, nothing next.
    assert_eq!(
        (&delivery["eventId"], &delivery["attempt"], &delivery["trigger"], &delivery["nextAttemptAt"]),
        (&Value::Null, &json!(1), &json!("test"), &Value::Null)
    );
    assert_eq!(
        (&delivery["status"], &delivery["responseStatus"], &delivery["responseBody"], &delivery["error"]),
        (&json!("succeeded"), &json!(200), &json!("thanks"), &Value::Null)
    );
    assert_eq!((&delivery["eventType"], &delivery["webhookId"]), (&json!("webhook.test"), &json!(id)));
    assert!(delivery["durationMs"].is_u64());
    assert!(!answer.raw.contains("whsec_"), "no secret in the answer");

    let got = receiver.received();
    assert_eq!(got.len(), 1, "sent once, though the endpoint is paused");
    let request = &got[0];
    assert_eq!((request.method.as_str(), request.target.as_str()), ("POST", "/hook?source=test"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("webhook-id"), delivery["id"].as_str(), "webhook-id is the delivery id");
    assert!(verifies(&secret, request), "the official verifier accepts it: {:?}", request.headers);
    let payload: Value = integration_tests::serde_json::from_slice(&request.body).unwrap();
    assert_eq!(payload["type"], json!("webhook.test"));
    assert_eq!(payload["data"], json!({"appId": "acme", "webhookId": id}));
    assert_eq!(payload["timestamp"], delivery["attemptedAt"]);

    let listed = client.send(Req::new("GET", &format!("{}/deliveries", client.item(&id)))).await;
    listed.assert_status(200);
    assert_eq!(listed.data(), &json!([delivery]));
    assert_eq!(listed.body["nextCursor"], Value::Null);
}

#[tokio::test]
async fn every_failure_is_a_failed_delivery_with_a_reason_and_the_call_still_answers_200() {
    let ca = LoopbackCa::new();
    let receiver = Receiver::start(&ca, Behaviour::Status(500, "boom".into())).await;
    let elsewhere = Receiver::start(&ca, Behaviour::Status(200, String::new())).await;
    let world = loopback_world(&ca).await;
    let client = Client::new(&world, "acme").await;
    let (id, _) = endpoint(&client, &receiver.url).await;

    let failed = |answer: &Answer, needle: &str| {
        let d = answer.data();
        assert_eq!(d["status"], json!("failed"), "{}", answer.raw);
        let error = d["error"].as_str().unwrap_or_default();
        assert!(error.contains(needle), "error {error:?} should mention {needle:?}");
        d.clone()
    };
    let d = failed(&ping(&client, &id).await, "500");
    assert_eq!((&d["responseStatus"], &d["responseBody"]), (&json!(500), &json!("boom")));

    receiver.set(Behaviour::Status(404, "x".repeat(5000)));
    let d = failed(&ping(&client, &id).await, "404");
    assert_eq!(d["responseBody"].as_str().unwrap().len(), 1024, "the first 1024 bytes");

    receiver.set(Behaviour::Redirect(elsewhere.url.clone()));
    let d = failed(&ping(&client, &id).await, "redirect");
    assert_eq!(d["responseStatus"], json!(302));
    assert!(elsewhere.received().is_empty(), "the redirect was not followed");

    receiver.set(Behaviour::Slow(Duration::from_secs(3)));
    let impatient = Client {
        app: world
            .container()
            .with_delivery_timeouts(Timeouts { connect: Duration::from_secs(1), total: Duration::from_secs(1) }),
        ..client_clone(&world, &client)
    };
    let d = failed(&ping(&impatient, &id).await, "within 1 s");
    assert_eq!(d["responseStatus"], Value::Null);
    assert!(d["durationMs"].as_u64().unwrap() < 2500);

    // Nothing listens on port 1 (a port freed a moment ago could be taken by a parallel test's
    // receiver).
    let closed = 1;
    let (refused_id, _) = endpoint(&client, &format!("https://127.0.0.1:{closed}/hook")).await;
    let d = failed(&ping(&client, &refused_id).await, "refused");
    assert_eq!(d["responseStatus"], Value::Null);

    let (dns_id, _) = endpoint(&client, "https://no-such-host.invalid/hook").await;
    failed(&ping(&client, &dns_id).await, "could not be resolved");

    // A container without the development allow list: loopback is blocked at send time.
    let strict_world_vars = World { vars: without(&world, "WEBHOOK_ALLOW_PRIVATE_CIDRS"), ..shallow(&world) };
    let strict = Client { app: strict_world_vars.container(), ..client_clone(&world, &client) };
    let before = receiver.received().len();
    failed(&ping(&strict, &id).await, "blocked");
    // A container that does not trust the test CA: the TLS handshake fails.
    let untrusting_vars = World { vars: without(&world, "WEBHOOK_EXTRA_CA_FILE"), ..shallow(&world) };
    let untrusting = Client { app: untrusting_vars.container(), ..client_clone(&world, &client) };
    failed(&ping(&untrusting, &id).await, "TLS");
    assert_eq!(receiver.received().len(), before, "neither reached the receiver");
}

fn shallow(world: &World) -> World {
    World { table: world.table.clone(), client: world.client.clone(), vars: world.vars.clone() }
}

fn without(world: &World, name: &str) -> std::collections::HashMap<String, String> {
    let mut vars = world.vars.clone();
    vars.remove(name);
    vars
}

fn client_clone(world: &World, client: &Client) -> Client {
    Client { app: world.container(), app_id: client.app_id.clone(), key: client.key.clone() }
}

#[tokio::test]
async fn rotation_with_a_grace_period_signs_with_both_secrets_until_it_expires() {
    let ca = LoopbackCa::new();
    let receiver = Receiver::start(&ca, Behaviour::Status(204, String::new())).await;
    let world = loopback_world(&ca).await;
    let client = Client::new(&world, "acme").await;
    let (id, first) = endpoint(&client, &receiver.url).await;

    let rotated = rotate(&client, &id, Some(json!({"gracePeriodSeconds": 1}))).await;
    rotated.assert_status(200);
    assert_eq!(rotated.data().as_object().unwrap().keys().collect::<Vec<_>>(), vec!["secret"], "only the secret");
    let second = rotated.data()["secret"].as_str().unwrap().to_owned();
    assert!(second.starts_with("whsec_") && second != first);

    ping(&client, &id).await;
    let during = receiver.received().pop().unwrap();
    assert_eq!(during.header("webhook-signature").unwrap().split(' ').count(), 2);
    assert!(verifies(&first, &during) && verifies(&second, &during));

    tokio::time::sleep(Duration::from_millis(1100)).await;
    ping(&client, &id).await;
    let after = receiver.received().pop().unwrap();
    assert_eq!(after.header("webhook-signature").unwrap().split(' ').count(), 1);
    assert!(verifies(&second, &after) && !verifies(&first, &after), "an expired secret never signs again");

    // Without a grace period the old secret stops at once.
    let third = rotate(&client, &id, None).await.data()["secret"].as_str().unwrap().to_owned();
    ping(&client, &id).await;
    let now = receiver.received().pop().unwrap();
    assert!(verifies(&third, &now) && !verifies(&second, &now));
    let fetched = client.get(&id).await;
    assert!(!fetched.raw.contains("whsec_"));
}

#[tokio::test]
async fn rotation_refuses_bad_input_too_many_retired_secrets_and_foreign_ids() {
    let world = World::new().await;
    let client = Client::new(&world, "acme").await;
    let (id, _) = endpoint(&client, "https://hooks.example.com/a").await;
    for bad in
        [json!({"gracePeriodSeconds": -1}), json!({"gracePeriodSeconds": 604801}), json!({"gracePeriodSeconds": "1"})]
    {
        let answer = rotate(&client, &id, Some(bad)).await;
        answer.assert_error(400, "invalid_field");
        assert_eq!(answer.error_field(), Some("gracePeriodSeconds"));
    }
    rotate(&client, &id, Some(json!({"grace": 1}))).await.assert_error(400, "unknown_field");
    for _ in 0..10 {
        rotate(&client, &id, Some(json!({"gracePeriodSeconds": 3600}))).await.assert_status(200);
    }
    rotate(&client, &id, Some(json!({"gracePeriodSeconds": 3600}))).await.assert_error(409, "quota_exceeded");
    rotate(&client, &id, None).await.assert_status(200);
    rotate(&client, &shared::uuid::Uuid::now_v7().to_string(), None).await.assert_error(404, "not_found");
    let reader = world.key("acme", &["webhooks:read"]).await;
    let path = format!("{}/rotate-secret", client.item(&id));
    send(&client.app, &Req::new("POST", &path).key(&reader)).await.assert_error(403, "insufficient_permissions");
    let intruder = world.key("globex", &["webhooks:manage"]).await;
    send(&client.app, &Req::new("POST", &path).key(&intruder)).await.assert_error(404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_rotations_all_land_and_lose_no_secret() {
    let ca = LoopbackCa::new();
    let receiver = Receiver::start(&ca, Behaviour::Status(200, String::new())).await;
    let world = loopback_world(&ca).await;
    let client = Client::new(&world, "acme").await;
    let (id, _) = endpoint(&client, &receiver.url).await;
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let (app, req) = (
            world.container(),
            Req::new("POST", &format!("{}/rotate-secret", client.item(&id)))
                .key(&client.key)
                .json(json!({"gracePeriodSeconds": 600})),
        );
        tasks.push(tokio::spawn(async move { send(&app, &req).await }));
    }
    let mut secrets = Vec::new();
    for task in tasks {
        let answer = task.await.unwrap();
        answer.assert_status(200);
        secrets.push(answer.data()["secret"].as_str().unwrap().to_owned());
    }
    ping(&client, &id).await;
    let got = receiver.received().pop().unwrap();
    assert_eq!(got.header("webhook-signature").unwrap().split(' ').count(), 6, "the original and five rotations");
    assert!(secrets.iter().all(|s| verifies(s, &got)), "every secret handed out still signs");
}

#[tokio::test]
async fn deliveries_list_newest_first_filter_by_status_and_page_with_bound_cursors() {
    let ca = LoopbackCa::new();
    let receiver = Receiver::start(&ca, Behaviour::Status(200, String::new())).await;
    let world = loopback_world(&ca).await;
    let client = Client::new(&world, "acme").await;
    let (id, _) = endpoint(&client, &receiver.url).await;
    let (other, _) = endpoint(&client, &format!("{}/other", receiver.url)).await;
    let mut sent = Vec::new();
    for status in [200, 500, 200, 503, 200] {
        receiver.set(Behaviour::Status(status, String::new()));
        sent.push((ping(&client, &id).await.data()["id"].as_str().unwrap().to_owned(), status));
    }
    ping(&client, &other).await;
    let list = |query: &str| client.send(Req::new("GET", &format!("{}/deliveries{query}", client.item(&id))));

    let all = list("").await;
    let ids: Vec<&str> = all.data().as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
    let newest_first: Vec<&str> = sent.iter().rev().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, newest_first);
    let failed = list("?status=failed").await;
    let statuses: Vec<&Value> = failed.data().as_array().unwrap().iter().map(|d| &d["responseStatus"]).collect();
    assert_eq!(statuses, vec![&json!(503), &json!(500)]);
    assert_eq!(list("?status=succeeded").await.data().as_array().unwrap().len(), 3);

    let first = list("?status=succeeded&limit=2").await;
    let cursor = first.body["nextCursor"].as_str().unwrap().to_owned();
    let second = list(&format!("?status=succeeded&limit=2&cursor={cursor}")).await;
    assert_eq!(second.data().as_array().unwrap().len(), 1);
    assert_eq!(second.body["nextCursor"], Value::Null);
    // The cursor belongs to this endpoint's succeeded list only.
    list(&format!("?limit=2&cursor={cursor}")).await.assert_error(400, "invalid_cursor");
    list(&format!("?status=failed&limit=2&cursor={cursor}")).await.assert_error(400, "invalid_cursor");
    let elsewhere = format!("{}/deliveries?status=succeeded&cursor={cursor}", client.item(&other));
    client.send(Req::new("GET", &elsewhere)).await.assert_error(400, "invalid_cursor");
    let endpoints_cursor = client.list("?limit=1").await.body["nextCursor"].as_str().unwrap().to_owned();
    list(&format!("?cursor={endpoints_cursor}")).await.assert_error(400, "invalid_cursor");

    for bad in ["Failed", "ok", ""] {
        let answer = list(&format!("?status={bad}")).await;
        answer.assert_error(400, "invalid_field");
        assert_eq!(answer.error_field(), Some("status"));
    }
    let missing = shared::uuid::Uuid::now_v7().to_string();
    client.send(Req::new("GET", &format!("{}/deliveries", client.item(&missing)))).await.assert_error(404, "not_found");
    let intruder = Client::new(&world, "globex").await;
    send(&intruder.app, &Req::new("GET", &format!("{}/deliveries", client.item(&id))).key(&intruder.key))
        .await
        .assert_error(404, "not_found");
    client.send(Req::new("DELETE", &client.item(&id))).await;
    list("").await.assert_error(404, "not_found");
}

#[tokio::test]
async fn deliveries_carry_a_30_day_ttl_and_expired_ones_are_never_listed() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let ca = LoopbackCa::new();
    let receiver = Receiver::start(&ca, Behaviour::Status(200, String::new())).await;
    let world = loopback_world(&ca).await;
    let client = Client::new(&world, "acme").await;
    let (id, _) = endpoint(&client, &receiver.url).await;
    let kept = ping(&client, &id).await.data()["id"].as_str().unwrap().to_owned();
    let expiring = ping(&client, &id).await.data()["id"].as_str().unwrap().to_owned();
    let items = world
        .client
        .query()
        .table_name(&world.table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("APP#acme#WEBHOOK#{id}")))
        .send()
        .await
        .unwrap();
    let now = shared::time::now_millis() / 1000;
    let delivery_items: Vec<_> = items.items().iter().filter(|i| i["sk"].as_s().unwrap().contains(&kept)).collect();
    assert_eq!(delivery_items.len(), 2, "the record and its status copy");
    for item in delivery_items {
        let expires: u64 = item["expiresAt"].as_n().unwrap().parse().unwrap();
        assert!(expires.abs_diff(now + 30 * 24 * 3600) < 60, "{expires}");
    }
    // TTL has not removed it yet, but it has expired: reads ignore it.
    for item in items.items().iter().filter(|i| i["sk"].as_s().unwrap().contains(&expiring)) {
        world
            .client
            .update_item()
            .table_name(&world.table)
            .key("pk", item["pk"].clone())
            .key("sk", item["sk"].clone())
            .update_expression("SET expiresAt = :past")
            .expression_attribute_values(":past", AttributeValue::N((now - 1).to_string()))
            .send()
            .await
            .unwrap();
    }
    for query in ["", "?status=succeeded"] {
        let listed = client.send(Req::new("GET", &format!("{}/deliveries{query}", client.item(&id)))).await;
        let ids: Vec<&str> = listed.data().as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
        assert_eq!(ids, vec![kept.as_str()]);
    }
}

#[tokio::test]
async fn replayed_posts_do_nothing_twice() {
    let ca = LoopbackCa::new();
    let receiver = Receiver::start(&ca, Behaviour::Status(200, String::new())).await;
    let world = loopback_world(&ca).await;
    let client = Client::new(&world, "acme").await;
    let (id, _) = endpoint(&client, &receiver.url).await;

    let ping_req = || Req::new("POST", &format!("{}/test-ping", client.item(&id))).header("idempotency-key", "ping-1");
    let first = client.send(ping_req()).await;
    let again = client.send(ping_req()).await;
    assert_eq!((again.raw.as_str(), again.header("idempotent-replayed")), (first.raw.as_str(), Some("true")));
    assert_eq!(receiver.received().len(), 1, "a replayed ping sends nothing");

    let rotate_req =
        || Req::new("POST", &format!("{}/rotate-secret", client.item(&id))).header("idempotency-key", "rot-1");
    let rotated = client.send(rotate_req()).await;
    let replayed = client.send(rotate_req()).await;
    assert_eq!((replayed.raw.as_str(), replayed.header("idempotent-replayed")), (rotated.raw.as_str(), Some("true")));
    ping(&client, &id).await;
    let got = receiver.received().pop().unwrap();
    assert!(verifies(rotated.data()["secret"].as_str().unwrap(), &got), "rotated once: the secret handed out signs");

    let bad = client.send(Req::new("POST", &format!("{}/test-ping", client.item(&id))).json(json!({"x": 1}))).await;
    bad.assert_error(400, "unknown_field");
    let text = Req::new("POST", &format!("{}/test-ping", client.item(&id)))
        .raw_body("hi")
        .header("content-type", "text/plain");
    client.send(text).await.assert_error(415, "unsupported_media_type");
}
