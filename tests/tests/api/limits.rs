//! Quota, races, and DynamoDB being unreachable.

use std::sync::Arc;

use integration_tests::outage::Relay;
use integration_tests::serde_json::json;
use integration_tests::{send, Client, Req, World};
use shared::App;

#[tokio::test]
async fn quota_counts_live_endpoints_per_app() {
    let world = World::with_vars(&[("MAX_ENDPOINTS_PER_APP", "3")]).await;
    let acme = Client::new(&world, "acme").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(acme.create_ok(&format!("https://hooks.example.com/{i}")).await);
    }
    let over = acme.create(json!({"url": "https://hooks.example.com/3", "events": ["*"]})).await;
    over.assert_error(409, "quota_exceeded");
    assert!(over.body["error"]["message"].as_str().unwrap().contains('3'), "names the limit");
    assert_eq!(acme.list("").await.data().as_array().unwrap().len(), 3);
    // A URL change is not a new endpoint.
    acme.send(Req::new("PATCH", &acme.item(&ids[0])).json(json!({"url": "https://hooks.example.com/moved"})))
        .await
        .assert_status(200);
    acme.send(Req::new("DELETE", &acme.item(&ids[1]))).await;
    acme.create_ok("https://hooks.example.com/3").await;
    acme.create(json!({"url": "https://hooks.example.com/4", "events": ["*"]}))
        .await
        .assert_error(409, "quota_exceeded");
    Client::new(&world, "globex").await.create_ok("https://hooks.example.com/0").await;
}

/// Runs `n` creates at once, each from its own container (as separate Lambda instances would).
async fn race(world: &World, key: &str, urls: Vec<String>) -> Vec<(u16, String)> {
    let mut tasks = Vec::new();
    for url in urls {
        let container = Arc::new(world.container());
        let req = Req::new("POST", "/apps/acme/webhooks").key(key).json(json!({"url": url, "events": ["*"]}));
        tasks.push(tokio::spawn(async move {
            let answer = send(&container, &req).await;
            (answer.status, answer.error_code().to_owned())
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task"));
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_creates_of_one_url_give_exactly_one_201() {
    let world = World::new().await;
    let key = world.key("acme", &["webhooks:write", "webhooks:read"]).await;
    let results = race(&world, &key, vec!["https://hooks.example.com/same".to_owned(); 20]).await;
    let created = results.iter().filter(|(s, _)| *s == 201).count();
    let duplicates = results.iter().filter(|(s, c)| *s == 409 && c == "duplicate_webhook").count();
    assert_eq!((created, duplicates), (1, 19), "{results:?}");
    let acme = Client { app: world.container(), app_id: "acme".into(), key };
    assert_eq!(acme.list("").await.data().as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_creates_never_pass_the_quota() {
    let world = World::with_vars(&[("MAX_ENDPOINTS_PER_APP", "5")]).await;
    let key = world.key("acme", &["webhooks:manage"]).await;
    let urls = (0..20).map(|i| format!("https://hooks.example.com/{i}")).collect();
    let results = race(&world, &key, urls).await;
    let created = results.iter().filter(|(s, _)| *s == 201).count();
    let refused = results.iter().filter(|(s, c)| *s == 409 && c == "quota_exceeded").count();
    assert_eq!((created, refused), (5, 15), "{results:?}");
    let acme = Client { app: world.container(), app_id: "acme".into(), key };
    assert_eq!(acme.list("").await.data().as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn dynamodb_unreachable_is_503_with_retry_after_and_writes_nothing() {
    let world = World::new().await;
    let upstream = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap();
    let relay = Relay::start(&upstream).await;
    let key = world.key("acme", &["webhooks:manage"]).await;
    let container = App::new(world.config(), relay.client(&world.client));
    let create = |path: &str| {
        Req::new("POST", "/apps/acme/webhooks")
            .key(&key)
            .json(json!({"url": format!("https://hooks.example.com/{path}"), "events": ["*"]}))
    };

    // Warm: the key is cached, connections pooled.
    send(&container, &create("warm")).await.assert_status(201);
    relay.cut();
    let down = send(&container, &create("during")).await;
    down.assert_error(503, "service_unavailable");
    assert!(down.header("retry-after").is_some_and(|v| v.parse::<u32>().is_ok()), "{:?}", down.headers);
    assert!(!down.raw.contains("dispatch") && !down.raw.contains("127.0.0.1"), "no SDK words leak: {}", down.raw);
    // A cold container cannot even check the key: still 503, never 401 or 500.
    let cold = App::new(world.config(), relay.client(&world.client));
    send(&cold, &create("cold")).await.assert_error(503, "service_unavailable");
    let list = Req::new("GET", "/apps/acme/webhooks").key(&key);
    send(&container, &list).await.assert_error(503, "service_unavailable");

    relay.heal();
    let listed = send(&container, &list).await;
    let urls: Vec<&str> = listed.data().as_array().unwrap().iter().map(|e| e["url"].as_str().unwrap()).collect();
    assert_eq!(urls, vec!["https://hooks.example.com/warm"], "nothing half-written");
    send(&container, &create("during")).await.assert_status(201);
}
