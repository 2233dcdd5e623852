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
    // Every fixture is routed to the function it is named after.
    let names = ["create", "list", "get", "update", "delete", "rotate", "test-ping", "deliveries", "fallback"];
    for name in names.into_iter().chain(["publish-event", "list-events", "get-event"]) {
        let req = Req::fixture(name);
        assert_eq!(local_api::function_for(&req.rest_method(), &req.raw_path()), name);
        assert_eq!(req.event["requestContext"]["requestId"], json!(format!("fixture-{name}")));
    }
    assert_eq!(send(&app, &fixture_for("get", &id)).await.body["error"]["requestId"], json!("fixture-get"));
}
