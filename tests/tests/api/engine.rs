//! The delivery engine end to end (contract, "Events and delivery"): publish → the table's stream →
//! fan-out → SQS → deliver → a real HTTPS receiver, verified by the official `standardwebhooks`
//! crate; retries through the retry queue; the history; and faults along the way.

use std::time::Duration;

use integration_tests::engine::{eventually, Deployment, Through};
use integration_tests::outage::Relay;
use integration_tests::receiver::{Behaviour, Received};
use integration_tests::serde_json::{json, Value};
use integration_tests::Req;
use shared::time::parse_rfc3339_millis;

const SOON: Duration = Duration::from_secs(10);

fn verifies(secret: &str, received: &Received) -> bool {
    standardwebhooks::Webhook::new(secret).unwrap().verify(&received.body, &received.header_map()).is_ok()
}

fn ms(value: &Value) -> u64 {
    parse_rfc3339_millis(value.as_str().expect("a timestamp")).expect("RFC 3339")
}

/// Waits until `path` has received `n` requests, then a little longer, and answers them all (so a
/// test also sees one that should not have come).
async fn requests(deployment: &Deployment, path: &str, n: usize) -> Vec<Received> {
    eventually(&format!("{n} requests at {path}"), SOON, || async {
        (deployment.received_at(path).len() >= n).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    deployment.received_at(path)
}

/// Waits until the endpoint's history holds `n` records; answers them oldest first.
async fn records(deployment: &Deployment, webhook_id: &str, n: usize) -> Vec<Value> {
    let mut history = eventually(&format!("{n} records"), SOON, || async {
        let history = deployment.history(webhook_id).await;
        (history.len() >= n).then_some(history)
    })
    .await;
    history.reverse();
    history
}

#[tokio::test]
async fn an_event_reaches_exactly_the_active_subscribed_endpoints_signed() {
    let d = Deployment::start(&[], Behaviour::Status(200, "ok".into())).await;
    let (all, all_secret) = d.endpoint("/all", &["*"]).await;
    let (prefix, prefix_secret) = d.endpoint("/prefix", &["invoice.*"]).await;
    let (exact, exact_secret) = d.endpoint("/exact", &["customer.created", "invoice.paid"]).await;
    d.endpoint("/other-type", &["customer.created"]).await;
    let (inactive, _) = d.endpoint("/inactive", &["*"]).await;
    d.client.send(Req::new("PATCH", &d.client.item(&inactive)).json(json!({"active": false}))).await.assert_status(200);
    // Another app's endpoint at the same receiver: it must get nothing.
    let other = integration_tests::Client::new(&d.world, "globex").await;
    let url = format!("https://127.0.0.1:{}/globex", d.receiver.port);
    other.create(json!({"url": url, "events": ["*"]})).await.assert_status(201);

    let published = d.publish("invoice.paid", json!({"amount": 42, "currency": "eur"})).await;
    let event = published.data().clone();
    let event_id = event["id"].as_str().unwrap();

    for (path, secret, webhook_id) in
        [("/all", &all_secret, &all), ("/prefix", &prefix_secret, &prefix), ("/exact", &exact_secret, &exact)]
    {
        let got = requests(&d, path, 1).await;
        assert_eq!(got.len(), 1, "{path}: exactly one request");
        let request = &got[0];
        assert_eq!(request.method, "POST");
        assert!(verifies(secret, request), "{path}: the official verifier accepts the signature");
        assert_eq!(request.header("webhook-id"), Some(event_id));
        let body: Value = integration_tests::serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body, json!({"type": "invoice.paid", "timestamp": event["createdAt"], "data": event["data"]}));
        let history = records(&d, webhook_id, 1).await;
        let record = &history[0];
        assert_eq!(record["eventId"].as_str(), Some(event_id));
        assert_eq!(record["eventType"], "invoice.paid");
        assert_eq!((record["attempt"].as_u64(), record["trigger"].as_str()), (Some(1), Some("scheduled")));
        assert_eq!((record["status"].as_str(), record["responseStatus"].as_u64()), (Some("succeeded"), Some(200)));
        assert_eq!(record["nextAttemptAt"], Value::Null);
    }
    // Every endpoint was sent the same bytes.
    let bodies: Vec<Vec<u8>> = ["/all", "/prefix", "/exact"].iter().map(|p| d.received_at(p)[0].body.clone()).collect();
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
    for path in ["/other-type", "/inactive", "/globex"] {
        assert!(d.received_at(path).is_empty(), "{path} is not sent the event");
    }
    assert!(d.history(&inactive).await.is_empty());
}

#[tokio::test]
async fn failed_attempts_are_retried_on_the_schedule_until_one_succeeds() {
    let script = Behaviour::Script(vec![
        Behaviour::Status(500, "down".into()),
        Behaviour::Status(502, "still down".into()),
        Behaviour::Status(200, "back".into()),
    ]);
    let d = Deployment::start(&[("RETRY_SCHEDULE", "1,2,30")], script).await;
    let (id, secret) = d.endpoint("/flaky", &["invoice.paid"]).await;
    let event_id = d.publish("invoice.paid", json!({"n": 1})).await.data()["id"].as_str().unwrap().to_owned();

    let got = requests(&d, "/flaky", 3).await;
    assert_eq!(got.len(), 3, "two failures, then the success ends the schedule");
    for request in &got {
        assert!(verifies(&secret, request));
        assert_eq!(request.header("webhook-id"), Some(event_id.as_str()));
        assert_eq!(request.body, got[0].body, "the same bytes on every attempt");
    }
    assert_ne!(got[0].header("webhook-timestamp"), got[2].header("webhook-timestamp"), "a fresh timestamp per attempt");

    let history = records(&d, &id, 3).await;
    let attempts: Vec<(u64, &str)> =
        history.iter().map(|r| (r["attempt"].as_u64().unwrap(), r["status"].as_str().unwrap())).collect();
    assert_eq!(attempts, [(1, "failed"), (2, "failed"), (3, "succeeded")]);
    assert!(history.iter().all(|r| r["eventId"].as_str() == Some(event_id.as_str()) && r["trigger"] == "scheduled"));
    // nextAttemptAt: the scheduled delay (±20 %) after the end of the attempt; null at the end.
    for (record, delay_ms) in history.iter().zip([1000u64, 2000]) {
        let end = ms(&record["attemptedAt"]) + record["durationMs"].as_u64().unwrap();
        let wait = ms(&record["nextAttemptAt"]) - end;
        assert!((delay_ms * 8 / 10..=delay_ms * 12 / 10 + 1).contains(&wait), "wait {wait} ms for {delay_ms} ms");
    }
    assert_eq!(history[2]["nextAttemptAt"], Value::Null);
    // Each retry came no earlier than its nextAttemptAt.
    for (record, next) in history.iter().zip(&got[1..]) {
        assert!(next.at_ms + 50 >= ms(&record["nextAttemptAt"]), "sent before it was due");
    }
    let failed = d.client.send(Req::new("GET", &format!("{}/deliveries?status=failed", d.client.item(&id)))).await;
    assert_eq!(failed.data().as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_spent_schedule_stops_and_says_so() {
    let d = Deployment::start(&[("RETRY_SCHEDULE", "1")], Behaviour::Status(500, "no".into())).await;
    let (id, _) = d.endpoint("/dead", &["*"]).await;
    d.publish("customer.created", json!({})).await;
    let history = records(&d, &id, 2).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(d.received_at("/dead").len(), 2, "one retry in the schedule: two attempts in all");
    assert_eq!(d.history(&id).await.len(), 2);
    assert!(history[0]["nextAttemptAt"].is_string());
    assert_eq!(history[1]["nextAttemptAt"], Value::Null, "no further attempt is scheduled");
    assert_eq!(history[1]["status"], "failed");
    assert!(history[1]["error"].as_str().unwrap().contains("500"));
}

#[tokio::test]
async fn retry_after_on_429_and_503_is_honoured_within_bounds() {
    let retry_after =
        |status: u16, value: &str| Behaviour::WithHeaders(status, vec![("retry-after".into(), value.into())]);
    let script = Behaviour::Script(vec![
        retry_after(503, "3"),
        retry_after(429, "3600"),
        retry_after(500, "30"),
        retry_after(503, "0"),
        Behaviour::Status(200, String::new()),
    ]);
    let d = Deployment::start(&[("RETRY_SCHEDULE", "2,1,1,1")], script).await;
    let (id, _) = d.endpoint("/busy", &["*"]).await;
    d.publish("ping", json!({})).await;
    let history = eventually("five attempts recorded", Duration::from_secs(20), || async {
        let mut history = d.history(&id).await;
        history.reverse();
        (history.len() >= 5).then_some(history)
    })
    .await;
    let waits: Vec<u64> = history[..4]
        .iter()
        .map(|r| ms(&r["nextAttemptAt"]) - ms(&r["attemptedAt"]) - r["durationMs"].as_u64().unwrap())
        .collect();
    // 503 + Retry-After 3 after a 2 s ± 20 % delay (1.6 to 2.4 s, twice that 3.2 to 4.8 s): exactly 3 s.
    assert!((2999..=3001).contains(&waits[0]), "{waits:?}");
    // 429 + Retry-After 3600: at most twice the jittered 1 s delay (1.6 to 2.4 s).
    assert!((1600..=2401).contains(&waits[1]), "{waits:?}");
    // 500 + Retry-After: ignored, the schedule's 1 s ± 20 %.
    assert!((800..=1201).contains(&waits[2]), "{waits:?}");
    // 503 + Retry-After 0: at least the jittered delay.
    assert!((800..=1201).contains(&waits[3]), "{waits:?}");
    assert_eq!(history[4]["status"], "succeeded");
}

#[tokio::test]
async fn signatures_cover_a_rotation_with_grace() {
    let d = Deployment::start(&[], Behaviour::Status(200, String::new())).await;
    let (id, old) = d.endpoint("/rotating", &["*"]).await;
    let rotated = d
        .client
        .send(
            Req::new("POST", &format!("{}/rotate-secret", d.client.item(&id)))
                .json(json!({"gracePeriodSeconds": 3600})),
        )
        .await;
    rotated.assert_status(200);
    let new = rotated.data()["secret"].as_str().unwrap().to_owned();
    d.publish("invoice.paid", json!({})).await;
    let got = requests(&d, "/rotating", 1).await;
    assert!(verifies(&new, &got[0]) && verifies(&old, &got[0]), "both secrets sign during the grace period");
    assert_eq!(got[0].header("webhook-signature").unwrap().split(' ').count(), 2);

    // Without grace the old secret stops signing at once.
    let rotated = d.client.send(Req::new("POST", &format!("{}/rotate-secret", d.client.item(&id)))).await;
    let newest = rotated.data()["secret"].as_str().unwrap().to_owned();
    d.publish("invoice.paid", json!({})).await;
    let got = requests(&d, "/rotating", 2).await;
    assert!(verifies(&newest, &got[1]) && verifies(&old, &got[1]) && !verifies(&new, &got[1]));
}

#[tokio::test]
async fn retries_stop_when_the_endpoint_is_deleted_or_made_inactive() {
    let d = Deployment::start(&[("RETRY_SCHEDULE", "2,2,2")], Behaviour::Status(500, String::new())).await;
    let (paused, _) = d.endpoint("/paused", &["*"]).await;
    let (deleted, _) = d.endpoint("/deleted", &["*"]).await;
    d.publish("ping", json!({})).await;
    records(&d, &paused, 1).await;
    records(&d, &deleted, 1).await;
    d.client.send(Req::new("PATCH", &d.client.item(&paused)).json(json!({"active": false}))).await.assert_status(200);
    d.client.send(Req::new("DELETE", &d.client.item(&deleted))).await.assert_status(204);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(d.received_at("/paused").len(), 1, "no retry after the endpoint was made inactive");
    assert_eq!(d.received_at("/deleted").len(), 1, "no retry after the endpoint was deleted");
    assert_eq!(d.history(&paused).await.len(), 1);
    // Re-enabled, it gets new events, not the stopped retries.
    d.client.send(Req::new("PATCH", &d.client.item(&paused)).json(json!({"active": true}))).await.assert_status(200);
    let first = d.received_at("/paused")[0].header("webhook-id").unwrap().to_owned();
    let fresh = d.publish("ping", json!({"after": "re-enabled"})).await.data()["id"].as_str().unwrap().to_owned();
    requests(&d, "/paused", 2).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ids: Vec<String> =
        d.received_at("/paused").iter().filter_map(|r| r.header("webhook-id").map(str::to_owned)).collect();
    assert_eq!(ids.iter().filter(|id| **id == first).count(), 1, "the stopped event is not retried: {ids:?}");
    assert!(ids.contains(&fresh), "the new event is sent: {ids:?}");
}

#[tokio::test]
async fn an_idempotent_publish_is_delivered_once() {
    let d = Deployment::start(&[], Behaviour::Status(200, String::new())).await;
    let (id, _) = d.endpoint("/once", &["*"]).await;
    let req = Req::new("POST", "/apps/acme/events").header("idempotency-key", "order-42");
    let first = d.publish_as(req.clone(), "invoice.paid", json!({"order": 42})).await;
    let second = d.publish_as(req, "invoice.paid", json!({"order": 42})).await;
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(first.data()["id"], second.data()["id"]);
    assert_eq!(requests(&d, "/once", 1).await.len(), 1);
    assert_eq!(d.history(&id).await.len(), 1);
}

#[tokio::test]
async fn a_worker_that_dies_mid_attempt_repeats_it_under_the_same_record() {
    // The first answer outlasts the function's 3 s timeout: the invocation is abandoned (as Lambda
    // stops it) after sending and before recording; the message comes back, the claim's lease has
    // run out, and the attempt is made again and recorded once.
    let script = Behaviour::Script(vec![Behaviour::Slow(Duration::from_secs(5)), Behaviour::Status(200, "ok".into())]);
    let d = Deployment::start(&[], script).await;
    let (id, _) = d.endpoint("/slow", &["*"]).await;
    d.publish("invoice.paid", json!({})).await;
    let history = eventually("the repeated attempt is recorded", Duration::from_secs(20), || async {
        let history = d.history(&id).await;
        (!history.is_empty()).then_some(history)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let history_now = d.history(&id).await;
    assert_eq!(history_now.len(), 1, "one record for the one attempt: {history_now:?}");
    assert_eq!((history[0]["attempt"].as_u64(), history[0]["status"].as_str()), (Some(1), Some("succeeded")));
    let got = d.received_at("/slow");
    assert_eq!(got.len(), 2, "at least once: the receiver saw the attempt twice");
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
}

#[tokio::test]
async fn a_dynamodb_outage_in_the_workers_delays_delivery_and_loses_nothing() {
    let upstream = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap();
    let relay = Relay::start(&upstream).await;
    let d = Deployment::start_through(
        &[],
        Behaviour::Status(200, String::new()),
        Through { dynamodb: Some(&relay), ..Through::default() },
    )
    .await;
    let (id, _) = d.endpoint("/later", &["*"]).await;
    relay.cut();
    let event = d.publish("invoice.paid", json!({"during": "outage"})).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(d.received_at("/later").is_empty(), "nothing can be fanned out while DynamoDB is unreachable");
    relay.heal();
    let got = requests(&d, "/later", 1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("webhook-id"), event.data()["id"].as_str());
    assert_eq!(records(&d, &id, 1).await.len(), 1);
}

#[tokio::test]
async fn an_sqs_outage_delays_fan_out_and_loses_nothing() {
    let upstream = std::env::var("AWS_ENDPOINT_URL_SQS").unwrap();
    let relay = Relay::start(&upstream).await;
    let d = Deployment::start_through(
        &[],
        Behaviour::Status(200, String::new()),
        Through { sqs: Some(&relay), ..Through::default() },
    )
    .await;
    let (id, _) = d.endpoint("/queued", &["*"]).await;
    relay.cut();
    d.publish("invoice.paid", json!({"during": "sqs outage"})).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(d.received_at("/queued").is_empty(), "the fan-out cannot send its tasks");
    relay.heal();
    assert_eq!(requests(&d, "/queued", 1).await.len(), 1);
    assert_eq!(records(&d, &id, 1).await.len(), 1);
}

#[tokio::test]
async fn a_paused_queue_delivers_everything_when_resumed() {
    let d = Deployment::start(&[], Behaviour::Status(200, String::new())).await;
    let (id, _) = d.endpoint("/resumed", &["*"]).await;
    d.engine.pause_queues(true);
    // A receive already waiting finishes its long poll (as a disabled mapping finishes its batch).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for n in 0..5 {
        d.publish("invoice.paid", json!({"n": n})).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(d.received_at("/resumed").is_empty());
    d.engine.pause_queues(false);
    let got = requests(&d, "/resumed", 5).await;
    assert_eq!(got.len(), 5);
    let mut ids: Vec<&str> = got.iter().filter_map(|r| r.header("webhook-id")).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5, "each event once");
    assert_eq!(records(&d, &id, 5).await.len(), 5);
}

#[tokio::test]
async fn a_new_secret_and_url_apply_from_the_next_attempt() {
    let script = Behaviour::Script(vec![Behaviour::Status(500, String::new()), Behaviour::Status(200, String::new())]);
    let d = Deployment::start(&[("RETRY_SCHEDULE", "3")], script).await;
    let (id, old) = d.endpoint("/before", &["*"]).await;
    d.publish("invoice.paid", json!({})).await;
    records(&d, &id, 1).await;
    let rotated = d.client.send(Req::new("POST", &format!("{}/rotate-secret", d.client.item(&id)))).await;
    let new = rotated.data()["secret"].as_str().unwrap().to_owned();
    let url = format!("https://127.0.0.1:{}/after", d.receiver.port);
    d.client.send(Req::new("PATCH", &d.client.item(&id)).json(json!({"url": url}))).await.assert_status(200);
    let retried = requests(&d, "/after", 1).await;
    assert_eq!(retried.len(), 1, "the retry goes to the new URL");
    assert!(verifies(&new, &retried[0]) && !verifies(&old, &retried[0]), "signed with the secret valid then");
    assert!(verifies(&old, &d.received_at("/before")[0]));
    let history = records(&d, &id, 2).await;
    assert_eq!((history[1]["attempt"].as_u64(), history[1]["status"].as_str()), (Some(2), Some("succeeded")));
}

#[tokio::test]
async fn a_wait_longer_than_one_sqs_delay_hops_until_it_is_due() {
    use shared::queue::{DeliveryTask, Task};
    let d = Deployment::start(&[], Behaviour::Status(200, String::new())).await;
    let (id, _) = d.endpoint("/later", &["customer.deleted"]).await;
    // An event the endpoint does not subscribe to: only the task below sends it.
    let event = d.publish("invoice.paid", json!({})).await.data()["id"].as_str().unwrap().parse().unwrap();
    let due = shared::time::now_millis() + 3500;
    let mut task = DeliveryTask::first("acme", event, id.parse().unwrap());
    task.due_at_ms = Some(due);
    // Put straight on the delivery queue with no delay: the worker re-sends it to the retry queue
    // with the time left, as it does for a wait beyond SQS's 15 minutes.
    let sdk = shared::aws::sdk_config().await.unwrap();
    let queue = shared::queue::Queue::new(aws_sdk_sqs::Client::new(&sdk), d.engine.queues.delivery.clone());
    queue.send(&Task::Deliver(task), 0).await.unwrap();
    let got = requests(&d, "/later", 1).await;
    assert_eq!(got.len(), 1);
    assert!(got[0].at_ms >= due, "sent {} ms before it was due", due - got[0].at_ms);
}

#[tokio::test]
async fn a_fan_out_beyond_one_send_batch_reaches_every_endpoint_once() {
    let d = Deployment::start(&[], Behaviour::Status(200, String::new())).await;
    let mut ids = Vec::new();
    for n in 0..12 {
        ids.push(d.endpoint(&format!("/many/{n}"), &["invoice.*"]).await.0);
    }
    let other = integration_tests::Client::new(&d.world, "globex").await;
    other
        .create(json!({"url": format!("https://127.0.0.1:{}/globex", d.receiver.port), "events": ["*"]}))
        .await
        .assert_status(201);
    let other_key = d.world.key("globex", &["events:publish"]).await;
    // Two apps' events, published together: one stream batch may hold both.
    let acme = d.publish("invoice.paid", json!({})).await.data()["id"].as_str().unwrap().to_owned();
    let globex = integration_tests::send(
        &other.app,
        &Req::new("POST", "/apps/globex/events").key(&other_key).json(json!({"type": "ping", "data": {}})),
    )
    .await;
    globex.assert_status(202);
    for n in 0..12 {
        let got = requests(&d, &format!("/many/{n}"), 1).await;
        assert_eq!(got.len(), 1, "/many/{n}");
        assert_eq!(got[0].header("webhook-id"), Some(acme.as_str()));
    }
    let got = d.received_at("/globex");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("webhook-id"), globex.data()["id"].as_str());
}
