//! API keys: how they are presented, scopes, tenancy and revocation.

use integration_tests::serde_json::json;
use integration_tests::{send, Client, Req, World};

#[tokio::test]
async fn keys_are_accepted_as_bearer_or_x_api_key_and_authorization_wins() {
    let world = World::new().await;
    let key = world.key("acme", &["webhooks:read"]).await;
    let app = world.container();
    let list = || Req::new("GET", "/apps/acme/webhooks");
    send(&app, &list().header("authorization", &format!("bearer {key}"))).await.assert_status(200);
    send(&app, &list().header("authorization", &format!("BEARER {key}"))).await.assert_status(200);
    send(&app, &list().header("x-api-key", &key)).await.assert_status(200);
    let both = list().header("x-api-key", &key).header("authorization", "Bearer whk_wrong");
    send(&app, &both).await.assert_error(401, "invalid_key");
    for value in ["Basic abc", "Bearer", "Bearer ", &key] {
        send(&app, &list().header("authorization", value)).await.assert_error(401, "invalid_key");
    }
    let unknown = send(&app, &list().key(&shared::secrets::new_api_key().unwrap())).await;
    unknown.assert_error(401, "invalid_key");
    assert_eq!(unknown.header("www-authenticate"), Some("Bearer"));
}

#[tokio::test]
async fn scopes_decide_which_routes_a_key_may_call() {
    let world = World::new().await;
    let manager = Client::new(&world, "acme").await;
    let id = manager.create_ok("https://hooks.example.com/a").await;
    let reader = world.key("acme", &["webhooks:read"]).await;
    let writer = world.key("acme", &["webhooks:write"]).await;
    let app = world.container();
    let reads = [Req::new("GET", "/apps/acme/webhooks"), Req::new("GET", &manager.item(&id))];
    let writes = [
        Req::new("POST", "/apps/acme/webhooks").json(json!({"url": "https://hooks.example.com/w", "events": ["*"]})),
        Req::new("PATCH", &manager.item(&id)).json(json!({"active": false})),
        Req::new("DELETE", &manager.item(&id)),
    ];
    for req in &reads {
        send(&app, &req.clone().key(&reader)).await.assert_status(200);
        send(&app, &req.clone().key(&writer)).await.assert_error(403, "insufficient_permissions");
    }
    for req in &writes {
        send(&app, &req.clone().key(&reader)).await.assert_error(403, "insufficient_permissions");
    }
    let statuses: Vec<u16> = {
        let mut out = Vec::new();
        for req in &writes {
            out.push(send(&app, &req.clone().key(&writer)).await.status);
        }
        out
    };
    assert_eq!(statuses, vec![201, 200, 204]);
}

#[tokio::test]
async fn another_apps_key_sees_404_on_every_route_exactly_as_for_a_missing_id() {
    let world = World::new().await;
    let acme = Client::new(&world, "acme").await;
    let id = acme.create_ok("https://hooks.example.com/a").await;
    let intruder = Client::new(&world, "globex").await;
    let missing = shared::uuid::Uuid::now_v7().to_string();
    let body = json!({"url": "https://hooks.example.com/b", "events": ["*"]});
    for target in [&id, &missing] {
        let probes = [
            Req::new("GET", &acme.item(target)),
            Req::new("PUT", &acme.item(target)).json(json!({"active": false})),
            Req::new("PATCH", &acme.item(target)).json(json!({"active": false})),
            Req::new("DELETE", &acme.item(target)),
            Req::new("POST", &acme.item(target)),
            Req::new("GET", &acme.collection()),
            Req::new("POST", &acme.collection()).json(body.clone()),
            Req::new("DELETE", &acme.collection()),
        ];
        for probe in probes {
            let answer = send(&intruder.app, &probe.key(&intruder.key)).await;
            answer.assert_error(404, "not_found");
        }
    }
    // acme's data is untouched and unseen.
    let listed = acme.list("").await;
    assert_eq!(listed.data().as_array().unwrap().len(), 1);
    assert_eq!(acme.get(&id).await.data()["active"], json!(true));
}

#[tokio::test]
async fn a_revoked_key_stops_working_at_once_even_on_a_warm_container() {
    let world = World::new().await;
    let key = world.key("acme", &["webhooks:read"]).await;
    let warm = world.container();
    let list = Req::new("GET", "/apps/acme/webhooks").key(&key);
    send(&warm, &list).await.assert_status(200);
    assert!(webhook_keys::revoke_key(&world.store(), "acme", &key).await.unwrap());
    // A new container and a warm one alike see the revocation at once.
    send(&world.container(), &list).await.assert_error(401, "invalid_key");
    send(&warm, &list).await.assert_error(401, "invalid_key");
    // Revoking again, or from another app, or an unknown key, changes nothing.
    assert!(!webhook_keys::revoke_key(&world.store(), "globex", &key).await.unwrap());
    assert!(!webhook_keys::revoke_key(&world.store(), "acme", "whk_never-issued").await.unwrap());
    let listed = world.store().list_api_keys("acme").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].revoked_at.is_some());
}

#[tokio::test]
async fn a_key_issued_after_a_miss_works_at_once() {
    let world = World::new().await;
    let app = world.container();
    let key = shared::secrets::new_api_key().unwrap();
    let list = Req::new("GET", "/apps/acme/webhooks").key(&key);
    send(&app, &list).await.assert_error(401, "invalid_key");
    let record = shared::store::ApiKeyRecord {
        hash: shared::secrets::api_key_hash(&key),
        app_id: "acme".into(),
        scopes: vec!["webhooks:read".into()],
        created_at: "2026-11-22T00:00:00.000Z".into(),
        revoked_at: None,
        expires_at: None,
    };
    world.store().put_api_key(&record).await.unwrap();
    send(&app, &list).await.assert_status(200);
}

#[tokio::test]
async fn a_key_item_written_in_the_published_layout_is_honoured() {
    use aws_sdk_dynamodb::types::AttributeValue::{Ss, S};
    let world = World::new().await;
    let key = shared::secrets::new_api_key().unwrap();
    let hash = shared::secrets::api_key_hash(&key);
    assert!(hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    // As the platform's dashboard would write it: no index item of ours.
    world
        .client
        .put_item()
        .table_name(&world.table)
        .item("pk", S(format!("KEY#{hash}")))
        .item("sk", S("KEY".into()))
        .item("appId", S("acme".into()))
        .item("scopes", Ss(vec!["webhooks:manage".into()]))
        .item("createdAt", S("2026-11-22T00:00:00.000Z".into()))
        .send()
        .await
        .unwrap();
    let app = world.container();
    let create = Req::new("POST", "/apps/acme/webhooks")
        .key(&key)
        .json(json!({"url": "https://hooks.example.com/a", "events": ["*"]}));
    send(&app, &create).await.assert_status(201);
    world
        .client
        .update_item()
        .table_name(&world.table)
        .key("pk", S(format!("KEY#{hash}")))
        .key("sk", S("KEY".into()))
        .update_expression("SET revokedAt = :at")
        .expression_attribute_values(":at", S("2026-11-22T00:00:01.000Z".into()))
        .send()
        .await
        .unwrap();
    send(&app, &Req::new("GET", "/apps/acme/webhooks").key(&key)).await.assert_error(401, "invalid_key");
}
