//! Each route's handler on its own `events/` file: the event `sam local invoke -e` sends.

use integration_tests::serde_json::json;
use integration_tests::{send, Req, World, FIXTURE_APP, FIXTURE_EVENT_ID, FIXTURE_KEY, FIXTURE_WEBHOOK_ID};

/// The fixture with its placeholder webhook or event id replaced by a real one.
fn fixture_for(name: &str, id: &str) -> Req {
    let text = Req::fixture(name).event.to_string().replace(FIXTURE_WEBHOOK_ID, id).replace(FIXTURE_EVENT_ID, id);
    Req { event: integration_tests::serde_json::from_str(&text).unwrap() }
}

#[tokio::test]
async fn every_route_answers_its_fixture_event() {
    let world = World::new().await;
    world.install_fixture_key().await;
    let app = world.container();

    let created = send(&app, &Req::fixture("create")).await;
    created.assert_status(201);
    assert_eq!(created.data()["url"], json!("https://example.com/webhooks"));
    let id = created.data()["id"].as_str().unwrap().to_owned();

    let listed = send(&app, &Req::fixture("list")).await;
    listed.assert_status(200);
    assert_eq!(listed.data()[0]["id"], json!(id));

    send(&app, &fixture_for("get", &id)).await.assert_status(200);
    let rotated = send(&app, &fixture_for("rotate", &id)).await;
    rotated.assert_status(200);
    assert!(rotated.data()["secret"].as_str().unwrap().starts_with("whsec_"));
    // Point it somewhere that never answers (the tests must not depend on the internet): the ping
    // is recorded as failed, the call is still 200.
    let unreachable = json!({"url": "https://no-such-host.invalid/webhooks"});
    let path = format!("/apps/{FIXTURE_APP}/webhooks/{id}");
    send(&app, &Req::new("PATCH", &path).key(FIXTURE_KEY).json(unreachable)).await.assert_status(200);
    let pinged = send(&app, &fixture_for("test-ping", &id)).await;
    pinged.assert_status(200);
    assert_eq!(pinged.data()["status"], json!("failed"));
    let failed = send(&app, &fixture_for("deliveries", &id)).await;
    assert_eq!(failed.data()[0]["id"], pinged.data()["id"], "listed under ?status=failed");
    let updated = send(&app, &fixture_for("update", &id)).await;
    updated.assert_status(200);
    assert_eq!(updated.data()["active"], json!(false));
    let deleted = send(&app, &fixture_for("delete", &id)).await;
    assert_eq!(deleted.status, 204);

    let fallback = send(&app, &Req::fixture("fallback")).await;
    fallback.assert_error(405, "method_not_allowed");

    let published = send(&app, &Req::fixture("publish-event")).await;
    published.assert_status(202);
    assert_eq!(published.data()["type"], json!("invoice.paid"));
    let event_id = published.data()["id"].as_str().unwrap().to_owned();
    let events = send(&app, &Req::fixture("list-events")).await;
    events.assert_status(200);
    assert_eq!(events.data()[0]["id"], json!(event_id));
    let event = send(&app, &fixture_for("get-event", &event_id)).await;
    event.assert_status(200);
    assert_eq!(event.data()["data"], json!({"invoiceId": "in_1", "amount": 4200}));
    let catalogue = send(&app, &Req::fixture("event-types")).await;
    catalogue.assert_status(200);
    assert_eq!(catalogue.data()[0], json!("customer.created"), "sorted");

    // resend.json with this world's event and an endpoint that never answers: a failed manual attempt.
    let collection = format!("/apps/{FIXTURE_APP}/webhooks");
    let never = json!({"url": "https://no-such-host.invalid/resend", "events": ["invoice.*"]});
    let target = send(&app, &Req::new("POST", &collection).key(FIXTURE_KEY).json(never)).await;
    let target_id = target.data()["id"].as_str().unwrap().to_owned();
    let text = Req::fixture("resend")
        .event
        .to_string()
        .replace(FIXTURE_EVENT_ID, &event_id)
        .replace(FIXTURE_WEBHOOK_ID, &target_id);
    let resent = send(&app, &Req { event: integration_tests::serde_json::from_str(&text).unwrap() }).await;
    resent.assert_status(200);
    assert_eq!((resent.data()["trigger"].clone(), resent.data()["status"].clone()), (json!("manual"), json!("failed")));
    // recover.json with a window of the last hour (its own date is a placeholder: `since` may reach
    // 30 days back only), sent to the recover queue (moto's server).
    let config = integration_tests::engine::config_with_recover_queue(&world).await;
    let recovering = shared::App::new(config, world.client.clone());
    let hour_ago = shared::time::rfc3339_millis(shared::time::now_millis() - 3_600_000);
    let text = fixture_for("recover", &target_id).event.to_string().replace("2026-12-01T00:00:00.000Z", &hour_ago);
    let recovered = send(&recovering, &Req { event: integration_tests::serde_json::from_str(&text).unwrap() }).await;
    recovered.assert_status(202);
    assert_eq!(recovered.data()["since"], json!(hour_ago));

    // Every fixture is routed to the function it is named after.
    let names = ["create", "list", "get", "update", "delete", "rotate", "test-ping", "deliveries", "fallback"];
    let event_routes = ["publish-event", "list-events", "get-event", "event-types", "resend", "recover"];
    for name in names.into_iter().chain(event_routes) {
        let req = Req::fixture(name);
        assert_eq!(local_api::function_for(&req.rest_method(), &req.raw_path()), name);
        assert_eq!(req.event["requestContext"]["requestId"], json!(format!("fixture-{name}")));
    }
    assert_eq!(send(&app, &fixture_for("get", &id)).await.body["error"]["requestId"], json!("fixture-get"));
}

/// The workers on their `events/` files (`fan-out.json`: a stream batch; `deliver.json`: an SQS
/// batch), decoded from that JSON as the Lambda runtime decodes them.
#[tokio::test]
async fn every_worker_handles_its_fixture_event() {
    use aws_sdk_sqs::types::MessageSystemAttributeName;
    use integration_tests::engine::{event_sources, test_settings};
    use integration_tests::receiver::{Behaviour, LoopbackCa, Receiver};
    use integration_tests::serde_json::Value;
    use shared::queue::worker::Worker;
    use shared::queue::Task;

    let ca = LoopbackCa::new();
    let receiver = Receiver::start(&ca, Behaviour::Status(200, String::new())).await;
    let world =
        World::with_vars(&[("WEBHOOK_ALLOW_PRIVATE_CIDRS", "127.0.0.0/8"), ("WEBHOOK_EXTRA_CA_FILE", ca.pem_path())])
            .await;
    world.install_fixture_key().await;
    let app = world.container();
    let url = format!("{}/fixture", receiver.url);
    let created = send(&app, &Req::fixture("create").json(json!({"url": url, "events": ["invoice.*"]}))).await;
    created.assert_status(201);
    let webhook_id = created.data()["id"].as_str().unwrap().to_owned();

    let sdk = shared::aws::sdk_config().await.unwrap();
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queues = event_sources::create_queues(&sqs, &world.table, &test_settings()).await.unwrap();
    let (delivery, retry) = (queues.delivery.clone(), queues.retry.clone());
    let vars = world.vars.clone();
    let lookup = move |name: &str| match name {
        "DELIVERY_QUEUE_URL" => Some(delivery.clone()),
        "RETRY_QUEUE_URL" => Some(retry.clone()),
        other => vars.get(other).cloned(),
    };
    let worker: &'static Worker =
        Box::leak(Box::new(Worker::new(world.config(), world.client.clone(), sqs.clone(), lookup).unwrap()));
    let fixture = |name: &str| {
        let path = integration_tests::repo_root().join("events").join(format!("{name}.json"));
        std::fs::read_to_string(path).unwrap()
    };

    // fan-out.json: only the INSERT of the event item is fanned out, to the app's subscribed endpoint.
    let answer = (event_sources::fan_out_function(worker))(
        integration_tests::serde_json::from_str(&fixture("fan-out")).unwrap(),
        0,
    )
    .await
    .unwrap();
    assert_eq!(answer["batchItemFailures"], json!([]));
    let received = sqs
        .receive_message()
        .queue_url(&queues.delivery)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap();
    let tasks: Vec<Task> = received.messages().iter().map(|m| Task::from_body(m.body().unwrap()).unwrap()).collect();
    let [Task::Deliver(task)] = &tasks[..] else { panic!("one task: {tasks:?}") };
    assert_eq!(
        (task.app_id.as_str(), task.event_id.to_string(), task.webhook_id.to_string()),
        (FIXTURE_APP, FIXTURE_EVENT_ID.to_owned(), webhook_id.clone())
    );
    assert_eq!(task.attempt, 1);

    // deliver.json as it is: its event does not exist, so nothing is sent, and nothing fails.
    let deliver = event_sources::deliver_function(worker);
    let deadline = shared::time::now_millis() + 30_000;
    let answer =
        deliver(integration_tests::serde_json::from_str(&fixture("deliver")).unwrap(), deadline).await.unwrap();
    assert_eq!(answer["batchItemFailures"], json!([]));
    assert!(receiver.received().is_empty());
    // With a published event and the endpoint's id in it: delivered, signed, recorded.
    let published = send(&app, &Req::fixture("publish-event")).await;
    let event_id = published.data()["id"].as_str().unwrap().to_owned();
    let text = fixture("deliver").replace(FIXTURE_EVENT_ID, &event_id).replace(FIXTURE_WEBHOOK_ID, &webhook_id);
    let event: Value = integration_tests::serde_json::from_str(&text).unwrap();
    let answer = deliver(event.clone(), deadline).await.unwrap();
    assert_eq!(answer["batchItemFailures"], json!([]));
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("webhook-id"), Some(event_id.as_str()));
    // The same message again (SQS delivers at least once): nothing is sent or recorded twice.
    deliver(event, deadline).await.unwrap();
    assert_eq!(receiver.received().len(), 1);
    let history =
        send(&app, &Req::new("GET", &format!("/apps/{FIXTURE_APP}/webhooks/{webhook_id}/deliveries")).key(FIXTURE_KEY))
            .await;
    assert_eq!(history.data().as_array().unwrap().len(), 1);
    // A body that is no task is reported as a failed item (after five receives, the DLQ).
    let mut bad: Value = integration_tests::serde_json::from_str(&fixture("deliver")).unwrap();
    bad["Records"][0]["body"] = json!("{\"kind\":\"unknown\"}");
    let answer = deliver(bad, deadline).await.unwrap();
    assert_eq!(answer["batchItemFailures"], json!([{"itemIdentifier": "5a1b2c3d-0000-4000-8000-000000000001"}]));

    // recover-worker.json as it is: its endpoint does not exist, so nothing is sent, and nothing fails.
    let recover = event_sources::recover_function(worker);
    let answer =
        recover(integration_tests::serde_json::from_str(&fixture("recover-worker")).unwrap(), deadline).await.unwrap();
    assert_eq!(answer["batchItemFailures"], json!([]));
    assert_eq!(receiver.received().len(), 1);
    // With the endpoint's id and a window holding an event whose attempt failed: re-sent, recorded.
    receiver.set(Behaviour::Status(500, String::new()));
    let failing = send(
        &app,
        &Req::new("POST", &format!("/apps/{FIXTURE_APP}/events"))
            .key(FIXTURE_KEY)
            .json(json!({"type": "invoice.paid", "data": {}})),
    )
    .await;
    let failing_id = failing.data()["id"].as_str().unwrap().to_owned();
    let text = fixture("deliver").replace(FIXTURE_EVENT_ID, &failing_id).replace(FIXTURE_WEBHOOK_ID, &webhook_id);
    deliver(integration_tests::serde_json::from_str(&text).unwrap(), deadline).await.unwrap();
    assert_eq!(receiver.received().len(), 2);
    receiver.set(Behaviour::Status(200, String::new()));
    let now = shared::time::now_millis();
    let text = fixture("recover-worker")
        .replace(FIXTURE_WEBHOOK_ID, &webhook_id)
        .replace("1795219200000", &(now - 600_000).to_string())
        .replace("1795262400000", &now.to_string());
    let answer = recover(integration_tests::serde_json::from_str(&text).unwrap(), deadline).await.unwrap();
    assert_eq!(answer["batchItemFailures"], json!([]));
    let got = receiver.received();
    assert_eq!(got.len(), 3, "only the failed event is re-sent");
    assert_eq!(got[2].header("webhook-id"), Some(failing_id.as_str()));
}
