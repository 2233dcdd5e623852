//! The `$default` fallback and the order in which checks answer.

use integration_tests::serde_json::json;
use integration_tests::{send, Client, Req, World};

#[tokio::test]
async fn fallback_answers_405_with_allow_on_known_paths_and_404_elsewhere() {
    let world = World::new().await;
    let client = Client::new(&world, "acme").await;
    let id = client.create_ok("https://hooks.example.com/a").await;
    let cases = [
        ("DELETE", client.collection(), "GET, POST"),
        ("PUT", client.collection(), "GET, POST"),
        ("POST", client.item(&id), "GET, PUT, PATCH, DELETE"),
        ("GET", format!("{}/rotate-secret", client.item(&id)), "POST"),
        ("DELETE", format!("{}/deliveries", client.item(&id)), "GET"),
    ];
    for (method, path, allow) in cases {
        let answer = client.send(Req::new(method, &path)).await;
        answer.assert_error(405, "method_not_allowed");
        assert_eq!(answer.header("allow"), Some(allow), "{method} {path}");
    }
    for path in ["/", "/apps", "/apps/acme", "/apps/acme/hooks", "/apps/acme/webhooks/x/y/z", "/apps/globex/webhooks"] {
        client.send(Req::new("DELETE", path)).await.assert_error(404, "not_found");
    }
    client.send(Req::new("POST", &client.item("not-a-uuid"))).await.assert_error(404, "not_found");
    let anonymous = send(&client.app, &Req::new("DELETE", &client.collection())).await;
    anonymous.assert_error(401, "invalid_key");
    assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));
}

#[tokio::test]
async fn authentication_then_app_then_scope_then_ids_then_body() {
    let world = World::new().await;
    let writer = Client::new(&world, "acme").await;
    let reader_key = world.key("acme", &["webhooks:read"]).await;
    let globex_key = world.key("globex", &["webhooks:manage"]).await;
    let app = &writer.app;
    let bad_body = |req: Req| req.raw_body("not json").header("content-type", "text/plain");
    let create = || bad_body(Req::new("POST", "/apps/acme/webhooks"));

    send(app, &create()).await.assert_error(401, "invalid_key");
    send(app, &create().key("whk_unknown")).await.assert_error(401, "invalid_key");
    send(app, &create().key(&globex_key)).await.assert_error(404, "not_found");
    let forbidden = send(app, &create().key(&reader_key)).await;
    forbidden.assert_error(403, "insufficient_permissions");
    assert!(forbidden.body["error"]["message"].as_str().unwrap().contains("webhooks:write"));
    // Scope comes before the path's ids, ids before the body.
    let bad_id = bad_body(Req::new("PATCH", "/apps/acme/webhooks/nope"));
    send(app, &bad_id.clone().key(&reader_key)).await.assert_error(403, "insufficient_permissions");
    writer.send(bad_id).await.assert_error(404, "not_found");
    writer.send(create()).await.assert_error(415, "unsupported_media_type");
    // A valid body on a missing id: the stored state answers last.
    let missing = shared::uuid::Uuid::now_v7().to_string();
    writer
        .send(Req::new("PATCH", &writer.item(&missing)).json(json!({"active": true})))
        .await
        .assert_error(404, "not_found");
    // An invalid appId is 404 like any unknown app (after authentication).
    writer.send(Req::new("GET", "/apps/-acme/webhooks")).await.assert_error(404, "not_found");
}

#[tokio::test]
async fn a_stage_prefix_in_the_path_is_tolerated() {
    let world = World::new().await;
    let client = Client::new(&world, "acme").await;
    client.create_ok("https://hooks.example.com/a").await;
    let listed = client.send(Req::new("GET", "/prod/apps/acme/webhooks")).await;
    assert_eq!(listed.data().as_array().unwrap().len(), 1);
}
