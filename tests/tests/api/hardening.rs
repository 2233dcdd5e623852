//! Regression tests for the faults of the registry review (issue #13), each on the input that
//! failed before and more of its kind.

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::receiver::{Behaviour, LoopbackCa, Receiver};
use integration_tests::serde_json::json;
use integration_tests::shared::uuid::Uuid;
use integration_tests::{send, Client, Req, World};

/// User-info reached through extra slashes or backslashes, and hosts with an empty label, are
/// refused on create and on update, and nothing is stored.
#[tokio::test]
async fn urls_are_judged_as_parsed_on_create_and_update() {
    let world = World::new().await;
    let client = Client::new(&world, "acme").await;
    let id = client.create_ok("https://hooks.example.com/a").await;
    for url in [
        "https:///alice:pw@example.com/hook",
        "https://\\:@example.com/hook",
        "https://\\alice@example.com/hook",
        "https:////alice:pw@example.com/",
        "https://localhost.../hook",
        "https://db.internal.../",
        "https://a..example.com/",
        "https://.example.com/",
    ] {
        let created = client.create(json!({"url": url, "events": ["*"]})).await;
        created.assert_error(400, "invalid_url");
        let patched = client.send(Req::new("PATCH", &client.item(&id)).json(json!({"url": url}))).await;
        patched.assert_error(400, "invalid_url");
        assert_eq!(patched.error_field(), Some("url"));
    }
    let listed = client.list("").await;
    assert_eq!(listed.data().as_array().unwrap().len(), 1, "only the first endpoint exists");
    assert_eq!(client.get(&id).await.data()["url"], json!("https://hooks.example.com/a"), "unchanged");
}

/// Writes a key item in the published layout with `extra` attributes; returns the key.
async fn dashboard_key(world: &World, app_id: &str, extra: &[(&str, AttributeValue)]) -> String {
    let key = integration_tests::shared::secrets::new_api_key().unwrap();
    let hash = integration_tests::shared::secrets::api_key_hash(&key);
    let mut put = world
        .client
        .put_item()
        .table_name(&world.table)
        .item("pk", AttributeValue::S(format!("KEY#{hash}")))
        .item("sk", AttributeValue::S("KEY".into()))
        .item("appId", AttributeValue::S(app_id.into()))
        .item("scopes", AttributeValue::Ss(vec!["webhooks:manage".into()]))
        .item("createdAt", AttributeValue::S("2026-11-22T00:00:00.000Z".into()));
    for (name, value) in extra {
        put = put.item(*name, value.clone());
    }
    put.send().await.unwrap();
    key
}

/// A `revokedAt` of any type revokes; an `expiresAt` in the past, or not a number, is 401.
#[tokio::test]
async fn key_records_fail_closed() {
    let world = World::new().await;
    let app = world.container();
    let list = |key: &str| Req::new("GET", "/apps/acme/webhooks").key(key);
    let good = dashboard_key(&world, "acme", &[("expiresAt", AttributeValue::N("9999999999".into()))]).await;
    send(&app, &list(&good)).await.assert_status(200);
    for (name, value) in [
        ("revokedAt", AttributeValue::N("1764547200".into())),
        ("revokedAt", AttributeValue::Bool(false)),
        ("revokedAt", AttributeValue::Null(true)),
        ("revokedAt", AttributeValue::S(String::new())),
        ("expiresAt", AttributeValue::N("1".into())),
        ("expiresAt", AttributeValue::S("9999999999".into())),
    ] {
        let key = dashboard_key(&world, "acme", &[(name, value)]).await;
        send(&app, &list(&key)).await.assert_error(401, "invalid_key");
    }
}

/// A key whose own appId breaks the pattern reaches nothing; ids of other UUID versions are
/// well-formed: method and body checks answer as for a v7 id that does not exist.
#[tokio::test]
async fn ids_follow_the_pattern_and_any_uuid_version_is_well_formed() {
    let world = World::new().await;
    let app = world.container();
    let bad = dashboard_key(&world, "-bad", &[]).await;
    send(&app, &Req::new("GET", "/apps/-bad/webhooks").key(&bad)).await.assert_error(404, "not_found");
    send(&app, &Req::new("DELETE", "/apps/-bad/webhooks").key(&bad)).await.assert_error(404, "not_found");

    let client = Client::new(&world, "a").await;
    let v7 = Uuid::now_v7().to_string();
    for id in ["0c1d7c1e-4d57-4b7a-9f2e-3a2b1c0d9e8f", "6BA7B810-9DAD-11D1-80B4-00C04FD430C8", v7.as_str()] {
        let item = client.item(id);
        let post = client.send(Req::new("POST", &item)).await;
        post.assert_error(405, "method_not_allowed");
        client.send(Req::new("PATCH", &item).json(json!({"url": 5}))).await.assert_error(400, "invalid_field");
        client.send(Req::new("PATCH", &item).json(json!({"active": true}))).await.assert_error(404, "not_found");
        client.get(id).await.assert_error(404, "not_found");
    }
}

/// A receiver's answer is bounded wherever it could reach a record: a 400 KB `Location` still
/// gives a 200 with a failed delivery whose texts are short.
#[tokio::test]
async fn unbounded_receiver_data_never_reaches_a_record() {
    let ca = LoopbackCa::new();
    let receiver =
        Receiver::start(&ca, Behaviour::Redirect(format!("https://x.example/{}", "a".repeat(400_000)))).await;
    let world =
        World::with_vars(&[("WEBHOOK_ALLOW_PRIVATE_CIDRS", "127.0.0.0/8"), ("WEBHOOK_EXTRA_CA_FILE", ca.pem_path())])
            .await;
    let client = Client::new(&world, "acme").await;
    let created = client.create(json!({"url": receiver.url, "events": ["*"]})).await;
    let id = created.data()["id"].as_str().unwrap().to_owned();
    let ping = || client.send(Req::new("POST", &format!("{}/test-ping", client.item(&id))));
    let huge = ping().await;
    huge.assert_status(200);
    assert_eq!(huge.data()["status"], json!("failed"));
    assert!(huge.raw.len() < 4096, "the record stays small: {} bytes", huge.raw.len());

    receiver.set(Behaviour::Redirect(format!("https://x.example/{}", "b".repeat(10_000))));
    let long = ping().await;
    long.assert_status(200);
    let error = long.data()["error"].as_str().unwrap();
    assert!(error.contains("redirect") && error.len() < 600, "{error}");
    let history = client.send(Req::new("GET", &format!("{}/deliveries", client.item(&id)))).await;
    assert_eq!(history.data().as_array().unwrap().len(), 2, "both attempts recorded");
}

/// Answers that carry a secret are never cached: create and rotate-secret, replays included.
#[tokio::test]
async fn secret_bearing_answers_are_not_stored_by_caches() {
    let world = World::new().await;
    let client = Client::new(&world, "acme").await;
    let create = Req::new("POST", &client.collection())
        .header("idempotency-key", "k1")
        .json(json!({"url": "https://hooks.example.com/a", "events": ["*"]}));
    let created = client.send(create.clone()).await;
    created.assert_status(201);
    assert_eq!(created.header("cache-control"), Some("no-store"));
    let replayed = client.send(create).await;
    assert_eq!(
        (replayed.header("idempotent-replayed"), replayed.header("cache-control")),
        (Some("true"), Some("no-store"))
    );
    let id = created.data()["id"].as_str().unwrap();
    let rotated = client.send(Req::new("POST", &format!("{}/rotate-secret", client.item(id)))).await;
    rotated.assert_status(200);
    assert_eq!(rotated.header("cache-control"), Some("no-store"));
    assert_eq!(client.get(id).await.header("cache-control"), None, "only where a secret is");
}

/// Identical URL changes racing on one endpoint all succeed; the marker ends up the endpoint's, and
/// the old URL is free again.
#[tokio::test]
async fn identical_url_changes_racing_all_succeed() {
    let world = World::new().await;
    let client = Client::new(&world, "acme").await;
    for round in 0..4 {
        let old = format!("https://hooks.example.com/old{round}");
        let new = format!("https://hooks.example.com/new{round}");
        let id = client.create_ok(&old).await;
        let put = || client.send(Req::new("PUT", &client.item(&id)).json(json!({"url": new})));
        let (a, b, c) = tokio::join!(put(), put(), put());
        for answer in [a, b, c] {
            answer.assert_status(200);
            assert_eq!(answer.data()["url"], json!(new));
        }
        client.create(json!({"url": new, "events": ["*"]})).await.assert_error(409, "duplicate_webhook");
        client.create_ok(&old).await;
    }
}

/// Transient DynamoDB errors are 503 with `Retry-After` after the bounded retries, never 500:
/// throttling inside a transaction's cancellation reasons, and a transaction conflict on a
/// single-item write.
#[tokio::test]
async fn transient_dynamodb_errors_are_503_never_500() {
    use integration_tests::faults::Fault;
    use integration_tests::shared::App;
    let world = World::with_vars(&[("WEBHOOK_ALLOW_PRIVATE_CIDRS", "127.0.0.0/8")]).await;
    let client = Client::new(&world, "acme").await;
    let id = client.create_ok("https://127.0.0.1:1/hook").await;
    let cases = [
        ("POST", "test-ping", Fault::cancelled(&["ThrottlingError", "None"], 100)),
        ("POST", "test-ping", Fault::cancelled(&["ProvisionedThroughputExceeded", "None"], 100)),
        ("POST", "test-ping", Fault::cancelled(&["TransactionConflict", "None"], 100)),
        ("POST", "rotate-secret", Fault::new("UpdateItem", "TransactionConflictException", "", 100)),
        ("POST", "rotate-secret", Fault::new("UpdateItem", "ProvisionedThroughputExceededException", "", 100)),
    ];
    for (method, action, fault) in cases {
        let app = App::new(world.config(), fault.client(&world.client));
        let faulty = Client { app, app_id: client.app_id.clone(), key: client.key.clone() };
        let answer = faulty.send(Req::new(method, &format!("{}/{action}", client.item(&id)))).await;
        answer.assert_error(503, "service_unavailable");
        assert_eq!(answer.header("retry-after"), Some("1"));
        assert!(fault.injected() >= 1);
    }
}

/// The idempotent answer commits with the work: a create whose answer was lost after its
/// transaction committed is answered 503, and its retry replays the 201 with the secret (before,
/// the retry answered 409 `duplicate_webhook` and the secret was lost). And an SDK retry of the
/// claim that finds its own claim proceeds.
#[tokio::test]
async fn idempotent_answers_commit_with_the_work() {
    use integration_tests::faults::Fault;
    use integration_tests::shared::App;
    let world = World::new().await;
    let client = Client::new(&world, "acme").await;
    let with = |fault: &Fault| Client {
        app: App::new(world.config(), fault.client(&world.client)),
        app_id: client.app_id.clone(),
        key: client.key.clone(),
    };
    let create = Req::new("POST", &client.collection())
        .header("idempotency-key", "create-1")
        .json(json!({"url": "https://hooks.example.com/a", "events": ["*"]}));
    let lost = Fault::new("TransactWriteItems", "InternalServerError", "", 100);
    with(&lost).send(create.clone()).await.assert_error(503, "service_unavailable");
    let retried = client.send(create.clone()).await;
    retried.assert_status(201);
    assert_eq!(retried.header("idempotent-replayed"), Some("true"), "the committed answer");
    assert!(retried.data()["secret"].as_str().unwrap().starts_with("whsec_"));
    let replayed = client.send(create).await;
    assert_eq!((replayed.status, replayed.raw.as_str()), (201, retried.raw.as_str()));

    // The claim's PutItem lands, its answer is lost, the SDK sends it again: still ours.
    let lost = Fault::new("PutItem", "InternalServerError", "", 1).with_status(500);
    let rotate = Req::new("POST", &format!("{}/rotate-secret", client.item(retried.data()["id"].as_str().unwrap())))
        .header("idempotency-key", "rotate-1");
    let rotated = with(&lost).send(rotate.clone()).await;
    rotated.assert_status(200);
    assert_eq!(lost.injected(), 1);
    let again = client.send(rotate).await;
    assert_eq!((again.header("idempotent-replayed"), again.raw.as_str()), (Some("true"), rotated.raw.as_str()));
}

/// A revoked key is 401 from the moment `revokedAt` is written, on a warm container whose cache
/// vouched for it a moment before, on every route, and nothing is written with it.
#[tokio::test]
async fn revocation_is_immediate_on_warm_containers_on_every_route() {
    let world = World::new().await;
    let owner = Client::new(&world, "acme").await;
    let id = owner.create_ok("https://hooks.example.com/a").await;
    let key = world.key("acme", &["webhooks:manage"]).await;
    // One warm container (default cache lifetime), used before and after the revocation.
    let warm = Client { app: world.container(), app_id: "acme".into(), key: key.clone() };
    let item = owner.item(&id);
    let requests = || {
        vec![
            Req::new("GET", &owner.collection()),
            Req::new("GET", &item),
            Req::new("POST", &owner.collection()).json(json!({"url": "https://hooks.example.com/b", "events": ["*"]})),
            Req::new("POST", &owner.collection()).header("idempotency-key", "r1").json(json!({"url": 1})),
            Req::new("PATCH", &item).json(json!({"description": "changed"})),
            Req::new("PUT", &item).json(json!({"url": "https://hooks.example.com/c"})),
            Req::new("POST", &format!("{item}/rotate-secret")),
            Req::new("POST", &format!("{item}/test-ping")),
            Req::new("GET", &format!("{item}/deliveries")),
            Req::new("POST", &item),
            Req::new("DELETE", &item),
        ]
    };
    // Warm the cache on every route (the writes here are harmless: they change nothing asserted).
    warm.send(Req::new("GET", &owner.collection())).await.assert_status(200);
    assert!(webhook_keys::revoke_key(&world.store(), "acme", &key).await.unwrap());
    for req in requests() {
        let label = format!("{} {}", req.rest_method(), req.raw_path());
        let answer = warm.send(req).await;
        assert_eq!((answer.status, answer.error_code()), (401, "invalid_key"), "{label}: {}", answer.raw);
    }
    let endpoint = owner.get(&id).await;
    endpoint.assert_status(200);
    assert_eq!(endpoint.data()["description"], json!(null), "nothing was changed with the revoked key");
    assert_eq!(endpoint.data()["url"], json!("https://hooks.example.com/a"));
    assert_eq!(owner.list("").await.data().as_array().unwrap().len(), 1, "nothing was created");
}

async fn ping(client: &Client, id: &str) -> integration_tests::Answer {
    client.send(Req::new("POST", &format!("{}/test-ping", client.item(id)))).await
}

/// Manual sends are limited per app and minute: past `MANUAL_SENDS_PER_MINUTE`, test-ping is 429
/// `rate_limited` with `Retry-After` (to the next minute), sends nothing, and another app is unaffected.
#[tokio::test]
async fn manual_sends_are_limited_per_app_and_minute() {
    let world =
        World::with_vars(&[("WEBHOOK_ALLOW_PRIVATE_CIDRS", "127.0.0.0/8"), ("MANUAL_SENDS_PER_MINUTE", "3")]).await;
    // Stay clear of a minute boundary, where the count starts afresh.
    let second = integration_tests::shared::time::now_millis() / 1000 % 60;
    if second > 50 {
        tokio::time::sleep(std::time::Duration::from_secs(61 - second)).await;
    }
    let acme = Client::new(&world, "acme").await;
    let globex = Client::new(&world, "globex").await;
    let id = acme.create_ok("https://127.0.0.1:1/hook").await;
    let other = globex.create_ok("https://127.0.0.1:1/hook").await;
    for _ in 0..3 {
        ping(&acme, &id).await.assert_status(200);
    }
    let limited = ping(&acme, &id).await;
    limited.assert_error(429, "rate_limited");
    let retry_after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let history = acme.send(Req::new("GET", &format!("{}/deliveries", acme.item(&id)))).await;
    assert_eq!(history.data().as_array().unwrap().len(), 3, "the refused ping sent nothing");
    ping(&globex, &other).await.assert_status(200);
    // Checked after the body, before stored state: a missing endpoint is 429 too once limited.
    let missing = Uuid::now_v7().to_string();
    ping(&acme, &missing).await.assert_error(429, "rate_limited");
    acme.send(Req::new("POST", &format!("{}/test-ping", acme.item(&id))).json(json!({"x": 1})))
        .await
        .assert_error(400, "unknown_field");
}

/// The key is settled beside the work, never after a write: on a cold container a read-only key
/// creates nothing (403 from the check inside the transaction), and another app's key neither sees
/// an endpoint nor spends that app's manual-send allowance.
#[tokio::test]
async fn a_key_that_may_not_act_writes_nothing_even_where_the_key_is_checked_inside_the_write() {
    let world =
        World::with_vars(&[("WEBHOOK_ALLOW_PRIVATE_CIDRS", "127.0.0.0/8"), ("MANUAL_SENDS_PER_MINUTE", "1")]).await;
    let second = integration_tests::shared::time::now_millis() / 1000 % 60;
    if second > 50 {
        tokio::time::sleep(std::time::Duration::from_secs(61 - second)).await;
    }
    let acme = Client::new(&world, "acme").await;
    let reader = world.key("acme", &["webhooks:read"]).await;
    let globex = world.key("globex", &["webhooks:manage"]).await;
    let body = json!({"url": "https://hooks.example.com/new", "events": ["*"]});
    let cold = world.container();
    let create = Req::new("POST", &acme.collection()).json(body);
    send(&cold, &create.clone().key(&reader)).await.assert_error(403, "insufficient_permissions");
    send(&world.container(), &create.key(&globex)).await.assert_error(404, "not_found");
    assert_eq!(acme.list("").await.data().as_array().unwrap().len(), 0, "nothing created");

    let id = acme.create_ok("https://127.0.0.1:1/hook").await;
    let foreign = Req::new("POST", &format!("{}/test-ping", acme.item(&id))).key(&globex);
    send(&world.container(), &foreign).await.assert_error(404, "not_found");
    // acme's one ping of the minute is still there.
    ping(&acme, &id).await.assert_status(200);
    ping(&acme, &id).await.assert_error(429, "rate_limited");
}

/// The endpoint and the caller's key are read in one BatchGetItem; keys DynamoDB leaves unprocessed
/// (as it does under throttling) are asked for again, and the answer is the same as without.
#[tokio::test]
async fn keys_a_batch_read_leaves_unprocessed_are_read_again() {
    use integration_tests::faults::Fault;
    use integration_tests::shared::App;
    let world = World::new().await;
    let client = Client::new(&world, "acme").await;
    let id = client.create_ok("https://hooks.example.com/a").await;
    let hash = integration_tests::shared::secrets::api_key_hash(&client.key);
    let unprocessed = json!({
        "Responses": {},
        "UnprocessedKeys": {world.table.clone(): {"ConsistentRead": true, "Keys": [
            {"pk": {"S": "APP#acme"}, "sk": {"S": format!("WEBHOOK#{id}")}},
            {"pk": {"S": format!("KEY#{hash}")}, "sk": {"S": "KEY"}},
        ]}},
    });
    let throttled = Fault::raw("BatchGetItem", 200, unprocessed.to_string(), 2);
    let app = App::new(world.config(), throttled.client(&world.client));
    let patient = Client { app, app_id: client.app_id.clone(), key: client.key.clone() };
    let got = patient.get(&id).await;
    got.assert_status(200);
    assert_eq!(got.data()["id"], json!(id));
    assert_eq!(throttled.injected(), 2, "two answers left everything unprocessed; the third read it");
    let forever = Fault::raw("BatchGetItem", 200, unprocessed.to_string(), 100);
    let app = App::new(world.config(), forever.client(&world.client));
    let starved = Client { app, app_id: client.app_id.clone(), key: client.key.clone() };
    starved.get(&id).await.assert_error(503, "service_unavailable");
}

/// Found by review: a path app that breaks the pattern is 404 before the scope check (a read-only
/// key gets 404, not 403); and a key item whose `scopes` is not a string set grants nothing, also
/// where the key is checked inside a write's transaction.
#[tokio::test]
async fn review_findings_invalid_path_app_and_malformed_scopes() {
    let world = World::new().await;
    let reader = world.key("acme", &["webhooks:read"]).await;
    let app = world.container();
    let create = |path: &str, key: &str| {
        Req::new("POST", path).key(key).json(json!({"url": "https://hooks.example.com/x", "events": ["*"]}))
    };
    send(&app, &create("/apps/-acme/webhooks", &reader)).await.assert_error(404, "not_found");
    send(&app, &create("/apps/acme/webhooks", &reader)).await.assert_error(403, "insufficient_permissions");
    for scopes in [
        AttributeValue::S("webhooks:manage".into()),
        AttributeValue::L(vec![AttributeValue::S("webhooks:manage".into())]),
    ] {
        let key = integration_tests::shared::secrets::new_api_key().unwrap();
        let hash = integration_tests::shared::secrets::api_key_hash(&key);
        world
            .client
            .put_item()
            .table_name(&world.table)
            .item("pk", AttributeValue::S(format!("KEY#{hash}")))
            .item("sk", AttributeValue::S("KEY".into()))
            .item("appId", AttributeValue::S("acme".into()))
            .item("scopes", scopes)
            .send()
            .await
            .unwrap();
        send(&app, &create("/apps/acme/webhooks", &key)).await.assert_error(403, "insufficient_permissions");
        send(&app, &Req::new("GET", "/apps/acme/webhooks").key(&key))
            .await
            .assert_error(403, "insufficient_permissions");
    }
    let owner = Client::new(&world, "acme").await;
    assert_eq!(owner.list("").await.data().as_array().unwrap().len(), 0, "nothing was created");
}
