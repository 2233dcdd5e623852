//! Delivery operations end to end (contract, "Events and delivery": auto-disable, resend, recover,
//! rate limit, fairness) on DynamoDB Local + moto's SQS server + real HTTPS receivers.

use std::collections::HashMap;
use std::time::Duration;

use integration_tests::engine::{event_sources, eventually, Deployment, Through};
use integration_tests::receiver::{Behaviour, Received, Receiver};
use integration_tests::serde_json::{json, Value};
use integration_tests::{send, Client, Req};
use shared::time::{now_millis, parse_rfc3339_millis, rfc3339_millis};

const SOON: Duration = Duration::from_secs(15);

fn status(code: u16) -> Behaviour {
    Behaviour::Status(code, String::new())
}

/// The `webhook-id` (the event id) of a received request.
fn event_of(received: &Received) -> String {
    received.header("webhook-id").unwrap_or_default().to_owned()
}

/// How many requests each event id reached the receiver with, at `path`.
fn sends_per_event(d: &Deployment, path: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for received in d.received_at(path) {
        *counts.entry(event_of(&received)).or_insert(0) += 1;
    }
    counts
}

async fn history_len(d: &Deployment, webhook_id: &str, n: usize) -> Vec<Value> {
    eventually(&format!("{n} records"), SOON, || async {
        let history = d.history(webhook_id).await;
        (history.len() >= n).then_some(history)
    })
    .await
}

async fn endpoint(d: &Deployment, id: &str) -> Value {
    let got = d.client.get(id).await;
    got.assert_status(200);
    got.data().clone()
}

async fn publish_id(d: &Deployment) -> String {
    d.publish("invoice.paid", json!({"n": 1})).await.data()["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_spent_schedule_disables_an_endpoint_that_failed_too_long_and_one_success_resets_the_clock() {
    // Window 5 s; two attempts 2 s (±20 %, whole SQS seconds) apart. Receiver: fail, succeed, then
    // fail for ever.
    let vars = [("DISABLE_AFTER_SECONDS", "5"), ("RETRY_SCHEDULE", "2")];
    let d = Deployment::start(&vars, Behaviour::Script(vec![status(500), status(200), status(500)])).await;
    let (id, _) = d.endpoint("/disable", &["*"]).await;
    assert_eq!(endpoint(&d, &id).await["disabledReason"], Value::Null);

    // Event 1 fails (the clock starts), then succeeds (the clock stops).
    publish_id(&d).await;
    let first = history_len(&d, &id, 2).await;
    let clock_started = parse_rfc3339_millis(first[1]["attemptedAt"].as_str().unwrap()).unwrap();
    // Let more than the window pass since that first failure.
    tokio::time::sleep(Duration::from_millis((clock_started + 6000).saturating_sub(now_millis()))).await;

    // Event 2's schedule is spent 2–4 s after its first failure: within the window of the clock
    // restarted by it. Had the success not reset the clock, it would have run over 8 s.
    publish_id(&d).await;
    let second = history_len(&d, &id, 4).await;
    let restarted = parse_rfc3339_millis(second[1]["attemptedAt"].as_str().unwrap()).unwrap();
    let after_second = endpoint(&d, &id).await;
    assert_eq!((after_second["active"].clone(), after_second["disabledReason"].clone()), (json!(true), Value::Null));

    // Event 3 fails on: its schedule ends over 5 s after event 2's first failure. Disabled.
    tokio::time::sleep(Duration::from_millis((restarted + 4000).saturating_sub(now_millis()))).await;
    publish_id(&d).await;
    history_len(&d, &id, 6).await;
    let disabled = eventually("disabled", SOON, || async {
        let got = endpoint(&d, &id).await;
        (got["active"] == json!(false)).then_some(got)
    })
    .await;
    assert_eq!(disabled["disabledReason"], "failing");
    assert!(disabled["updatedAt"].as_str() > after_second["updatedAt"].as_str(), "updatedAt moves");
    let sent_before = d.received_at("/disable").len();
    publish_id(&d).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(d.received_at("/disable").len(), sent_before, "a disabled endpoint is sent nothing new");

    // Re-enabling clears the reason; pausing by hand says `manual`, also over `failing`.
    let enabled = d.client.send(Req::new("PATCH", &d.client.item(&id)).json(json!({"active": true}))).await;
    enabled.assert_status(200);
    assert_eq!(
        (enabled.data()["active"].clone(), enabled.data()["disabledReason"].clone()),
        (json!(true), Value::Null)
    );
    assert_eq!(endpoint(&d, &id).await["disabledReason"], Value::Null);
    let paused = d.client.send(Req::new("PATCH", &d.client.item(&id)).json(json!({"active": false}))).await;
    assert_eq!(paused.data()["disabledReason"], "manual");
    assert_eq!(endpoint(&d, &id).await["disabledReason"], "manual");
}

#[tokio::test]
async fn disabled_reason_is_manual_for_a_paused_endpoint_and_is_never_input() {
    let d = Deployment::start(&[], status(200)).await;
    let url = format!("{}/manual", d.receiver.url);
    let created = d.client.create(json!({"url": url, "events": ["*"], "active": false})).await;
    created.assert_status(201);
    assert_eq!(created.data()["disabledReason"], "manual");
    let id = created.data()["id"].as_str().unwrap().to_owned();
    assert_eq!(endpoint(&d, &id).await["disabledReason"], "manual");
    let listed = d.client.list("").await;
    assert_eq!(listed.data()[0]["disabledReason"], "manual");
    for body in [json!({"disabledReason": null}), json!({"active": true, "disabledReason": "failing"})] {
        let refused = d.client.send(Req::new("PATCH", &d.client.item(&id)).json(body)).await;
        refused.assert_error(400, "invalid_field");
        assert_eq!(refused.error_field(), Some("disabledReason"));
    }
    let refused = d.client.create(json!({"url": url, "events": ["*"], "disabledReason": "manual"})).await;
    refused.assert_error(400, "invalid_field");
    assert_eq!(endpoint(&d, &id).await["active"], false, "nothing changed");
}

#[tokio::test]
async fn resend_makes_one_manual_attempt_now_and_a_success_ends_the_pending_retries() {
    let vars = [("RETRY_SCHEDULE", "3"), ("MANUAL_SENDS_PER_MINUTE", "6")];
    let d = Deployment::start(&vars, Behaviour::Script(vec![status(500), status(200)])).await;
    let (id, secret) = d.endpoint("/resend", &["invoice.*"]).await;
    let event_id = publish_id(&d).await;
    history_len(&d, &id, 1).await;

    let resend = |event: &str| format!("/apps/acme/events/{event}/resend");
    let answer = d.client.send(Req::new("POST", &resend(&event_id)).json(json!({"webhookId": id}))).await;
    answer.assert_status(200);
    let record = answer.data();
    assert_eq!(record["trigger"], "manual");
    assert_eq!((record["attempt"].clone(), record["status"].clone()), (json!(1), json!("succeeded")));
    assert_eq!((record["eventId"].as_str(), record["nextAttemptAt"].clone()), (Some(event_id.as_str()), Value::Null));
    let received = d.received_at("/resend");
    assert_eq!(received.len(), 2);
    let verified =
        standardwebhooks::Webhook::new(&secret).unwrap().verify(&received[1].body, &received[1].header_map());
    assert!(verified.is_ok(), "signed as every delivery is");
    assert_eq!(event_of(&received[1]), event_id, "webhook-id is the event id");

    // The retry due 3 s after the first failure sends nothing: the event was delivered.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(d.received_at("/resend").len(), 2, "the pending retry ended with the manual success");
    let history = d.history(&id).await;
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["id"], record["id"], "the manual attempt is in the history, newest first");

    // 404s, 400 for an endpoint that does not subscribe, 400s for the body.
    let missing = "0193a5b0-7c2e-7d3f-8a4b-5c6d7e8f9a0b";
    d.client
        .send(Req::new("POST", &resend(missing)).json(json!({"webhookId": id})))
        .await
        .assert_error(404, "not_found");
    d.client
        .send(Req::new("POST", &resend(&event_id)).json(json!({"webhookId": missing})))
        .await
        .assert_error(404, "not_found");
    d.client
        .send(Req::new("POST", &resend(&event_id)).json(json!({"webhookId": "not-a-uuid"})))
        .await
        .assert_error(404, "not_found");
    let (other, _) = d.endpoint("/other", &["customer.created"]).await;
    let refused = d.client.send(Req::new("POST", &resend(&event_id)).json(json!({"webhookId": other}))).await;
    refused.assert_error(400, "invalid_field");
    assert_eq!(refused.error_field(), Some("webhookId"));
    assert!(d.received_at("/other").is_empty());
    d.client
        .send(Req::new("POST", &resend(&event_id)).json(json!({})))
        .await
        .assert_error(400, "missing_required_field");

    // An inactive endpoint can be resent to.
    d.client.send(Req::new("PATCH", &d.client.item(&id)).json(json!({"active": false}))).await.assert_status(200);
    let again = d.client.send(Req::new("POST", &resend(&event_id)).json(json!({"webhookId": id}))).await;
    again.assert_status(200);
    assert_eq!(d.received_at("/resend").len(), 3);

    // The manual-send limit (6 a minute; every resend that passed its body counted): 429 past it.
    let mut limited = None;
    // (Eight tries: a new minute may begin meanwhile and start the count again.)
    for _ in 0..8 {
        let answer = d.client.send(Req::new("POST", &resend(&event_id)).json(json!({"webhookId": id}))).await;
        if answer.status == 429 {
            limited = Some(answer);
            break;
        }
        answer.assert_status(200);
    }
    let limited = limited.expect("a 429 within the minute's allowance");
    limited.assert_error(429, "rate_limited");
    assert!(limited.header("retry-after").is_some_and(|s| s.parse::<u64>().is_ok_and(|s| (1..=60).contains(&s))));
}

#[tokio::test]
async fn recover_resends_only_the_window_s_failed_events_once_each() {
    // Long retries, so the only re-sends in this test are the recovers'.
    let vars = [("RETRY_SCHEDULE", "600")];
    let d = Deployment::start(&vars, status(500)).await;
    let (id, secret) = d.endpoint("/recover", &["*"]).await;
    let item = d.client.item(&id);

    let before_window = publish_id(&d).await;
    history_len(&d, &id, 1).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let since = rfc3339_millis(now_millis());
    let failed = [publish_id(&d).await, publish_id(&d).await];
    history_len(&d, &id, 3).await;
    d.receiver.set(status(200));
    let delivered = publish_id(&d).await;
    history_len(&d, &id, 4).await;

    // Window rules.
    let recover = |body: Value| Req::new("POST", &format!("{item}/recover")).json(body);
    let future = rfc3339_millis(now_millis() + 60_000);
    let cases = [
        (json!({"since": since, "until": future}), "until"),
        (json!({"since": rfc3339_millis(now_millis() - 31 * 86_400_000)}), "since"),
        (json!({"since": future}), "since"),
        (json!({"since": since, "until": since}), "since"),
        (json!({"since": "last tuesday"}), "since"),
    ];
    for (body, field) in cases {
        let refused = d.client.send(recover(body.clone())).await;
        refused.assert_error(400, "invalid_field");
        assert_eq!(refused.error_field(), Some(field), "{body}");
    }
    let missing = "0193a5b0-7c2e-7d3f-8a4b-5c6d7e8f9a0b";
    let unknown = Req::new("POST", &format!("{}/recover", d.client.item(missing))).json(json!({"since": since}));
    d.client.send(unknown).await.assert_error(404, "not_found");

    // Accepted at once, normalised; the worker re-sends the two failed events of the window only.
    let spelled = since.replace('Z', "+00:00");
    let accepted = d.client.send(recover(json!({"since": spelled}))).await;
    accepted.assert_status(202);
    assert_eq!(accepted.data()["since"], since);
    let until = accepted.data()["until"].as_str().unwrap().to_owned();
    assert!(parse_rfc3339_millis(&until).unwrap() <= now_millis() && until.ends_with('Z') && until.len() == 24);
    let history = history_len(&d, &id, 6).await;
    let manual: Vec<&Value> = history.iter().filter(|r| r["trigger"] == "manual").collect();
    assert_eq!(manual.len(), 2);
    for record in &manual {
        assert_eq!((record["status"].clone(), record["attempt"].clone()), (json!("succeeded"), json!(1)));
        assert!(failed.iter().any(|e| record["eventId"] == json!(e)), "{record}");
    }
    // An overlapping recover reaching further back: only the event before the first window is
    // new; nothing is sent twice.
    let earlier = rfc3339_millis(now_millis() - 600_000);
    d.client.send(recover(json!({"since": earlier}))).await.assert_status(202);
    history_len(&d, &id, 7).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let counts = sends_per_event(&d, "/recover");
    assert_eq!(counts.get(&before_window), Some(&2));
    assert_eq!((counts.get(&failed[0]), counts.get(&failed[1])), (Some(&2), Some(&2)));
    assert_eq!(counts.get(&delivered), Some(&1), "delivered events are skipped");
    assert_eq!(d.history(&id).await.len(), 7);
    for received in d.received_at("/recover") {
        let verified = standardwebhooks::Webhook::new(&secret).unwrap().verify(&received.body, &received.header_map());
        assert!(verified.is_ok());
    }
}

#[tokio::test]
async fn a_rate_limited_endpoint_is_sent_no_faster_than_its_limit_and_nothing_fails() {
    let d = Deployment::start(&[], status(200)).await;
    let url = format!("https://127.0.0.1:{}/limited", d.receiver.port);
    for bad in [json!(0), json!(10_001), json!("5"), json!(1.5), json!(-1)] {
        let refused = d.client.create(json!({"url": url, "events": ["*"], "rateLimit": bad})).await;
        refused.assert_error(400, "invalid_field");
        assert_eq!(refused.error_field(), Some("rateLimit"));
    }
    let created = d.client.create(json!({"url": url, "events": ["*"], "rateLimit": 2})).await;
    created.assert_status(201);
    assert_eq!(created.data()["rateLimit"], 2);
    let id = created.data()["id"].as_str().unwrap().to_owned();

    for _ in 0..6 {
        publish_id(&d).await;
    }
    let history = history_len(&d, &id, 6).await;
    for record in &history {
        assert_eq!((record["status"].clone(), record["attempt"].clone()), (json!("succeeded"), json!(1)), "{record}");
        assert_eq!(record["nextAttemptAt"], Value::Null);
    }
    // Six sends at two a second need three calendar seconds at least.
    let mut at: Vec<u64> = d.received_at("/limited").iter().map(|r| r.at_ms).collect();
    at.sort();
    assert_eq!(at.len(), 6, "each event sent once");
    assert!(at[5] - at[0] >= 1000, "spread over at least three seconds: {at:?}");
    let busiest = at.iter().map(|a| at.iter().filter(|b| **b >= *a && **b < a + 1000).count()).max().unwrap();
    // A fixed one-second window: at most the limit per calendar second, so at most twice it
    // across a second's boundary.
    assert!(busiest <= 4, "at most twice the limit within any second: {at:?}");

    // Removing the limit: `null`.
    let cleared = d.client.send(Req::new("PATCH", &d.client.item(&id)).json(json!({"rateLimit": null}))).await;
    assert_eq!(cleared.data()["rateLimit"], Value::Null);
    assert_eq!(endpoint(&d, &id).await["rateLimit"], Value::Null);
}

#[tokio::test]
async fn fresh_events_of_one_app_are_not_delayed_by_another_app_s_dead_endpoint_backlog() {
    // The template's own timeouts (30 s function, 10 s send bound), so a hanging receiver fails
    // each attempt after 10 s as on AWS; retries every 1 s keep the retry lane full.
    let settings = event_sources::Settings {
        function_timeout: Duration::from_secs(30),
        visibility_timeout: Duration::from_secs(180),
        ..integration_tests::engine::test_settings()
    };
    let vars = [("RETRY_SCHEDULE", "1,1,1,1,1,1,1")];
    let through = Through { settings: Some(settings), ..Through::default() };
    let d = Deployment::start_through(&vars, Behaviour::Slow(Duration::from_secs(60)), through).await;
    let (dead, _) = d.endpoint("/dead", &["*"]).await;

    // App beta: its own key, its own receiver that answers at once.
    let beta_receiver = Receiver::start(&d.ca, status(200)).await;
    let beta = Client::new(&d.world, "beta").await;
    let beta_url = format!("{}/beta", beta_receiver.url);
    beta.create(json!({"url": beta_url, "events": ["*"]})).await.assert_status(201);
    let beta_publisher = d.world.key("beta", &["events:publish"]).await;
    let publish_beta = || async {
        let req = Req::new("POST", "/apps/beta/events")
            .key(&beta_publisher)
            .json(json!({"type": "invoice.paid", "data": {}}));
        let answer = send(&beta.app, &req).await;
        answer.assert_status(202);
        answer.data()["id"].as_str().unwrap().to_owned()
    };
    let latency = |event_id: String| {
        let receiver = &beta_receiver;
        async move {
            let started = now_millis();
            eventually("beta's event delivered", SOON, || async {
                receiver.received().iter().find(|r| event_of(r) == event_id).map(|r| r.at_ms)
            })
            .await
            .saturating_sub(started)
        }
    };
    // Baseline: no backlog.
    let mut baseline = Vec::new();
    for _ in 0..3 {
        let id = publish_beta().await;
        baseline.push(latency(id).await);
    }

    // App acme's dead endpoint: 100 events, each attempt hanging until the 10 s bound.
    for _ in 0..100 {
        publish_id(&d).await;
    }
    // Once its failing clock has run 30 s, its new events leave the fresh lane unsent.
    let first_failure = eventually("the dead endpoint's first failure", Duration::from_secs(30), || async {
        let history = d.history(&dead).await;
        history.last().and_then(|r| parse_rfc3339_millis(r["attemptedAt"].as_str()?))
    })
    .await;
    tokio::time::sleep(Duration::from_millis((first_failure + 35_000).saturating_sub(now_millis()))).await;
    let mut loaded = Vec::new();
    for _ in 0..5 {
        publish_id(&d).await; // more of acme's events arriving all along
        let id = publish_beta().await;
        loaded.push(latency(id).await);
    }
    // acme's backlog: its tasks waiting on (or being sent from) the retry queue.
    let sqs = aws_sdk_sqs::Client::new(&shared::aws::sdk_config().await.unwrap());
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&d.engine.queues.retry)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let count = |name: aws_sdk_sqs::types::QueueAttributeName| -> u64 {
        attributes.attributes().and_then(|a| a.get(&name)).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    use aws_sdk_sqs::types::QueueAttributeName::{
        ApproximateNumberOfMessages, ApproximateNumberOfMessagesDelayed, ApproximateNumberOfMessagesNotVisible,
    };
    let backlog = count(ApproximateNumberOfMessages)
        + count(ApproximateNumberOfMessagesNotVisible)
        + count(ApproximateNumberOfMessagesDelayed);
    let sent = d.received_at("/dead").len();
    eprintln!(
        "beta publish→receiver ms: baseline {baseline:?}, with acme's backlog {loaded:?}; acme's retry backlog {backlog} tasks, {sent} sends hanging or failed"
    );
    assert!(backlog >= 80, "acme's dead endpoint has a deep retry backlog: {backlog}");
    assert!(loaded.iter().all(|ms| *ms < 1000), "within a second despite the backlog: {loaded:?}");
}
