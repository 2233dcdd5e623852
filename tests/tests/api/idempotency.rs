//! `Idempotency-Key` on POST: replay, misuse, concurrency, failure release and stale claims.

use std::sync::Arc;

use integration_tests::serde_json::json;
use integration_tests::{Answer, Client, Req, World};
use shared::{ApiError, App, Reply};
use tokio::sync::{oneshot, Notify};

fn create(key: &str, idempotency_key: &str, url: &str) -> Req {
    Req::new("POST", "/apps/acme/webhooks")
        .key(key)
        .header("idempotency-key", idempotency_key)
        .json(json!({"url": url, "events": ["*"]}))
}

#[tokio::test]
async fn a_retry_replays_the_first_answer_byte_for_byte() {
    let world = World::new().await;
    let client = Client::new(&world, "acme").await;
    let first = client.send(create(&client.key, "order-1", "https://hooks.example.com/a")).await;
    first.assert_status(201);
    assert_eq!(first.header("idempotent-replayed"), None);
    // From another container, as a retry through API Gateway may land.
    let other = world.container();
    let again = integration_tests::send(&other, &create(&client.key, "order-1", "https://hooks.example.com/a")).await;
    assert_eq!((again.status, &again.raw), (201, &first.raw), "same status and bytes, secret included");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.header("content-type"), Some("application/json"));
    assert_eq!(client.list("").await.data().as_array().unwrap().len(), 1, "created once");

    let reused = client.send(create(&client.key, "order-1", "https://hooks.example.com/b")).await;
    reused.assert_error(422, "idempotency_key_reused");
    assert_eq!(reused.error_field(), Some("Idempotency-Key"));
    // Keys are per app: globex's "order-1" is its own.
    let globex = Client::new(&world, "globex").await;
    let theirs =
        globex.send(create(&globex.key, "order-1", "https://hooks.example.com/a").path("/apps/globex/webhooks")).await;
    theirs.assert_status(201);
    assert_ne!(theirs.data()["id"], first.data()["id"]);
}

#[tokio::test]
async fn client_errors_are_kept_and_replayed_too() {
    let world = World::new().await;
    let client = Client::new(&world, "acme").await;
    let bad = || create(&client.key, "k", "http://hooks.example.com/a");
    let first = client.send(bad()).await;
    first.assert_error(400, "invalid_url");
    let again = client.send(bad()).await;
    assert_eq!((again.status, again.header("idempotent-replayed")), (400, Some("true")));
    assert_eq!(again.body["error"]["code"], first.body["error"]["code"]);
}

#[tokio::test]
async fn malformed_idempotency_keys_are_400_naming_the_header() {
    let world = World::new().await;
    let client = Client::new(&world, "acme").await;
    for bad in ["".to_owned(), "k".repeat(256), "clé".to_owned(), "tab\there".to_owned()] {
        let answer = client.send(create(&client.key, &bad, "https://hooks.example.com/a")).await;
        answer.assert_error(400, "invalid_field");
        assert_eq!(answer.error_field(), Some("Idempotency-Key"), "{bad:?}");
    }
    client.send(create(&client.key, &"k".repeat(255), "https://hooks.example.com/a")).await.assert_status(201);
    assert_eq!(client.list("").await.data().as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_while_the_first_runs_is_409_and_a_5xx_releases_the_key() {
    let world = World::new().await;
    let key = world.key("acme", &["webhooks:manage"]).await;
    let app: &'static App = Box::leak(Box::new(world.container()));
    let req = create(&key, "slow", "https://hooks.example.com/a");
    let route = shared::http::routes::CREATE_WEBHOOK;

    // The first attempt holds the key until told to finish.
    let started = Arc::new(Notify::new());
    let (finish, finished) = oneshot::channel::<()>();
    let first = {
        let (started, request) = (started.clone(), req.build());
        tokio::spawn(async move {
            let response = app
                .respond(&route, request, |_| async move {
                    started.notify_one();
                    let _ = finished.await;
                    Err::<Reply, _>(ApiError::service_unavailable())
                })
                .await;
            Answer::from_response(response)
        })
    };
    started.notified().await;
    let during = Answer::from_response(
        app.respond(&route, req.build(), |_| async { Reply::data(201, &json!({"attempt": 2})) }).await,
    );
    during.assert_error(409, "idempotency_in_progress");
    assert_eq!(during.error_field(), Some("Idempotency-Key"));
    let _ = finish.send(());
    first.await.unwrap().assert_error(503, "service_unavailable");

    // The 503 was not kept: the retry runs, and its answer is the one replayed from now on.
    let retry = Answer::from_response(
        app.respond(&route, req.build(), |_| async { Reply::data(201, &json!({"attempt": 3})) }).await,
    );
    assert_eq!((retry.status, &retry.data()["attempt"]), (201, &json!(3)));
    let replay = Answer::from_response(
        app.respond(&route, req.build(), |_| async { Reply::data(201, &json!({"attempt": 4})) }).await,
    );
    assert_eq!((&replay.data()["attempt"], replay.header("idempotent-replayed")), (&json!(3), Some("true")));
}

#[tokio::test]
async fn a_claim_left_by_a_crashed_invocation_frees_the_key_after_its_timeout() {
    let world = World::new().await;
    let client = Client::new(&world, "acme").await;
    let now = shared::time::now_millis();
    let store = world.store();
    // A claim whose invocation died: locked until a moment ago, never completed.
    let stale = store
        .claim_idempotency("acme", "crashed", "fingerprint-of-the-dead-attempt", now - 60_000, now - 1)
        .await
        .unwrap();
    assert!(matches!(stale, shared::store::Claim::Acquired { .. }));
    client.send(create(&client.key, "crashed", "https://hooks.example.com/a")).await.assert_status(201);
    // One still within its timeout holds.
    let live = store.claim_idempotency("acme", "live", "fingerprint-x", now, now + 60_000).await.unwrap();
    assert!(matches!(live, shared::store::Claim::Acquired { .. }));
    client
        .send(create(&client.key, "live", "https://hooks.example.com/b"))
        .await
        .assert_error(422, "idempotency_key_reused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_ten_concurrent_first_attempts_exactly_one_runs() {
    let world = World::new().await;
    let key = world.key("acme", &["webhooks:manage"]).await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let container = world.container();
        let req = create(&key, "race", "https://hooks.example.com/race");
        tasks.push(tokio::spawn(async move { integration_tests::send(&container, &req).await }));
    }
    let mut ran = 0;
    for task in tasks {
        let answer = task.await.unwrap();
        match (answer.status, answer.header("idempotent-replayed")) {
            (201, None) => ran += 1,
            (201, Some("true")) => {}
            (409, None) => answer.assert_error(409, "idempotency_in_progress"),
            other => panic!("unexpected {other:?}: {}", answer.raw),
        }
    }
    assert_eq!(ran, 1);
    let client = Client { app: world.container(), app_id: "acme".into(), key };
    assert_eq!(client.list("").await.data().as_array().unwrap().len(), 1);
}
