//! create, get, update and delete: exact shapes, every input error, stored state.

use integration_tests::serde_json::{json, Value};
use integration_tests::{Client, Req, World};

const ENDPOINT_KEYS: [&str; 10] = [
    "active",
    "createdAt",
    "description",
    "disabledReason",
    "events",
    "id",
    "metadata",
    "rateLimit",
    "updatedAt",
    "url",
];

fn keys_of(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().expect("an object").keys().cloned().collect();
    keys.sort();
    keys
}

fn is_rfc3339_millis(value: &Value) -> bool {
    let s = value.as_str().unwrap_or_default();
    s.len() == 24 && s.ends_with('Z') && s.as_bytes()[10] == b'T' && s.as_bytes()[19] == b'.'
}

#[tokio::test]
async fn create_answers_201_with_the_endpoint_and_its_secret_exactly_once() {
    let world = World::new().await;
    let client = Client::new(&world, "acme").await;
    let body = json!({
        "url": "https://Hooks.Example.com/billing?x=1",
        "events": ["invoice.paid", "customer.*", "invoice.paid"],
        "description": "Billing",
        "active": false,
        "metadata": {"team": "billing"}
    });
    let created = client.create(body).await;
    created.assert_status(201);
    assert_eq!(created.header("content-type"), Some("application/json"));
    assert_eq!(created.body["success"], json!(true));
    let data = created.data();
    let mut expected_keys: Vec<String> = ENDPOINT_KEYS.iter().map(|k| k.to_string()).collect();
    expected_keys.push("secret".into());
    expected_keys.sort();
    assert_eq!(keys_of(data), expected_keys);
    let id = data["id"].as_str().unwrap();
    let uuid = shared::uuid::Uuid::parse_str(id).expect("a UUID");
    assert_eq!(uuid.get_version_num(), 7);
    assert_eq!(data["url"], json!("https://Hooks.Example.com/billing?x=1"), "the URL as sent");
    assert_eq!(data["events"], json!(["invoice.paid", "customer.*"]), "duplicates dropped, order kept");
    assert_eq!((&data["description"], &data["active"]), (&json!("Billing"), &json!(false)));
    assert_eq!(data["metadata"], json!({"team": "billing"}));
    assert!(is_rfc3339_millis(&data["createdAt"]), "{}", data["createdAt"]);
    assert_eq!(data["createdAt"], data["updatedAt"]);
    let secret = data["secret"].as_str().unwrap();
    let raw = secret.strip_prefix("whsec_").expect("whsec_ prefix");
    assert_eq!(raw.len(), 44, "standard base64 of 32 bytes");

    let fetched = client.get(id).await;
    fetched.assert_status(200);
    assert_eq!(keys_of(fetched.data()), ENDPOINT_KEYS);
    let mut without_secret = data.clone();
    without_secret.as_object_mut().unwrap().remove("secret");
    assert_eq!(fetched.data(), &without_secret);

    let listed = client.list("").await;
    let updated = client.send(Req::new("PATCH", &client.item(id)).json(json!({"active": true}))).await;
    let deleted = client.send(Req::new("DELETE", &client.item(id))).await;
    for answer in [&fetched, &listed, &updated, &deleted] {
        assert!(!answer.raw.contains(secret) && !answer.raw.contains("whsec_"), "{}", answer.raw);
    }
}

#[tokio::test]
async fn create_defaults_description_active_and_metadata() {
    let world = World::new().await;
    let client = Client::new(&world, "acme").await;
    let created = client.create(json!({"url": "https://hooks.example.com/a", "events": ["*"]})).await;
    created.assert_status(201);
    let data = created.data();
    assert_eq!((&data["description"], &data["active"], &data["metadata"]), (&Value::Null, &json!(true), &json!({})));
}

#[tokio::test]
async fn every_invalid_create_body_is_refused_with_its_code_and_field_and_writes_nothing() {
    let world = World::new().await;
    let client = Client::new(&world, "acme").await;
    let url = "https://hooks.example.com/x";
    let long = "d".repeat(501);
    let cases: Vec<(Value, &str, Option<&str>)> = vec![
        (json!({"events": ["*"]}), "missing_required_field", Some("url")),
        (json!({"url": url}), "missing_required_field", Some("events")),
        (json!({"url": null, "events": ["*"]}), "invalid_field", Some("url")),
        (json!({"url": 42, "events": ["*"]}), "invalid_field", Some("url")),
        (json!({"url": "http://hooks.example.com/x", "events": ["*"]}), "invalid_url", Some("url")),
        (json!({"url": "https://169.254.169.254/latest", "events": ["*"]}), "invalid_url", Some("url")),
        (json!({"url": "https://0x7f000001/", "events": ["*"]}), "invalid_url", Some("url")),
        (json!({"url": "https://[::ffff:10.0.0.1]/", "events": ["*"]}), "invalid_url", Some("url")),
        (json!({"url": "https://localhost/", "events": ["*"]}), "invalid_url", Some("url")),
        (json!({"url": "https://metadata.internal/", "events": ["*"]}), "invalid_url", Some("url")),
        (json!({"url": "https://user:pw@hooks.example.com/", "events": ["*"]}), "invalid_url", Some("url")),
        (json!({"url": "https://hooks.example.com/#", "events": ["*"]}), "invalid_url", Some("url")),
        (json!({"url": url, "events": []}), "invalid_events", Some("events")),
        (json!({"url": url, "events": ["invoice.paid", "nope", "inv*"]}), "invalid_events", Some("events")),
        (json!({"url": url, "events": "invoice.paid"}), "invalid_field", Some("events")),
        (json!({"url": url, "events": ["*"], "description": long}), "invalid_field", Some("description")),
        (json!({"url": url, "events": ["*"], "description": "a\u{7}b"}), "invalid_field", Some("description")),
        (json!({"url": url, "events": ["*"], "active": "yes"}), "invalid_field", Some("active")),
        (json!({"url": url, "events": ["*"], "active": null}), "invalid_field", Some("active")),
        (json!({"url": url, "events": ["*"], "metadata": {"n": 1}}), "invalid_field", Some("metadata")),
        (json!({"url": url, "events": ["*"], "metadata": []}), "invalid_field", Some("metadata")),
        (json!({"url": url, "events": ["*"], "secret": "whsec_x"}), "unknown_field", Some("secret")),
        (json!({"url": url, "events": ["*"], "Active": true}), "unknown_field", Some("Active")),
    ];
    for (body, code, field) in cases {
        let answer = client.create(body.clone()).await;
        answer.assert_error(400, code);
        assert_eq!(answer.error_field(), field, "{body}");
    }
    let unknown = client.create(json!({"url": url, "events": ["invoice.paid", "nope", "inv*"]})).await;
    let message = unknown.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("nope") && message.contains("inv*"), "lists every unknown name: {message}");
    let listed = client.list("").await;
    assert_eq!(listed.data(), &json!([]), "nothing was written");
}

#[tokio::test]
async fn body_media_type_size_and_json_are_checked_in_that_order() {
    let world = World::new().await;
    let client = Client::new(&world, "acme").await;
    let collection = client.collection();
    let valid = json!({"url": "https://hooks.example.com/x", "events": ["*"]}).to_string();
    let text = client.send(Req::new("POST", &collection).raw_body(&valid).header("content-type", "text/plain")).await;
    text.assert_error(415, "unsupported_media_type");
    let missing = client.send(Req::new("POST", &collection).raw_body(&valid)).await;
    missing.assert_error(415, "unsupported_media_type");
    let charset = client
        .send(Req::new("POST", &collection).raw_body(&valid).header("content-type", "Application/JSON; charset=utf-8"))
        .await;
    charset.assert_status(201);

    let huge = format!(
        "{{\"url\": \"https://hooks.example.com/big\", \"events\": [\"*\"], \"description\": \"{}\"}}",
        " ".repeat(64 * 1024)
    );
    let too_big = client.send(Req::new("POST", &collection).raw_body(&huge).header("content-type", "text/plain")).await;
    too_big.assert_error(415, "unsupported_media_type");
    let too_big =
        client.send(Req::new("POST", &collection).raw_body(&huge).header("content-type", "application/json")).await;
    too_big.assert_error(413, "payload_too_large");
    for bad in ["not json", "[1,2]", "\"url\"", "", "{\"url\": "] {
        let answer =
            client.send(Req::new("POST", &collection).raw_body(bad).header("content-type", "application/json")).await;
        answer.assert_error(400, "invalid_json");
    }
    assert_eq!(client.list("").await.data().as_array().unwrap().len(), 1, "only the valid create landed");
}

#[tokio::test]
async fn one_url_per_app_compared_after_normalisation() {
    let world = World::new().await;
    let client = Client::new(&world, "acme").await;
    client.create_ok("https://hooks.example.com/Path?q=1").await;
    for same in ["HTTPS://HOOKS.EXAMPLE.COM/Path?q=1", "https://hooks.example.com.:443/Path?q=1"] {
        let answer = client.create(json!({"url": same, "events": ["*"]})).await;
        answer.assert_error(409, "duplicate_webhook");
        assert_eq!(answer.error_field(), Some("url"));
    }
    for other in [
        "https://hooks.example.com/path?q=1",
        "https://hooks.example.com:8443/Path?q=1",
        "https://hooks.example.com/Path?q=2",
    ] {
        client.create(json!({"url": other, "events": ["*"]})).await.assert_status(201);
    }
    let other_app = Client::new(&world, "globex").await;
    other_app.create_ok("https://hooks.example.com/Path?q=1").await;
}

#[tokio::test]
async fn get_of_a_missing_malformed_or_foreign_id_is_404() {
    let world = World::new().await;
    let acme = Client::new(&world, "acme").await;
    let globex = Client::new(&world, "globex").await;
    let foreign = globex.create_ok("https://hooks.example.com/g").await;
    let v4 = "3b241101-e2bb-4255-8caf-4136c566a962";
    for id in [shared::uuid::Uuid::now_v7().to_string(), "not-a-uuid".into(), v4.into(), foreign.clone()] {
        acme.get(&id).await.assert_error(404, "not_found");
    }
    globex.get(&foreign).await.assert_status(200);
    globex.get(&foreign.to_uppercase()).await.assert_status(200);
}

#[tokio::test]
async fn update_changes_only_what_is_sent_and_moves_updated_at() {
    let world = World::new().await;
    let client = Client::new(&world, "acme").await;
    let created = client
        .create(json!({"url": "https://hooks.example.com/a", "events": ["invoice.paid"], "description": "first", "metadata": {"a": "1", "b": "2"}}))
        .await;
    let before = created.data().clone();
    let id = before["id"].as_str().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;

    let patched = client
        .send(Req::new("PATCH", &client.item(id)).json(json!({"description": null, "metadata": {"c": "3"}})))
        .await;
    patched.assert_status(200);
    let after = patched.data();
    assert_eq!(keys_of(after), ENDPOINT_KEYS);
    assert_eq!(
        (&after["id"], &after["createdAt"], &after["url"], &after["events"]),
        (&before["id"], &before["createdAt"], &before["url"], &before["events"])
    );
    assert_eq!(
        (&after["description"], &after["metadata"]),
        (&Value::Null, &json!({"c": "3"})),
        "null clears; metadata replaced whole"
    );
    assert!(after["updatedAt"].as_str() > before["updatedAt"].as_str(), "updatedAt moves");
    assert_eq!(&client.get(id).await.data().clone(), after, "stored as answered");

    let put = client
        .send(
            Req::new("PUT", &client.item(id))
                .json(json!({"url": "https://hooks.example.com/b", "events": ["customer.*"], "active": false})),
        )
        .await;
    put.assert_status(200);
    assert_eq!(
        (&put.data()["url"], &put.data()["events"], &put.data()["active"]),
        (&json!("https://hooks.example.com/b"), &json!(["customer.*"]), &json!(false))
    );
    // The old URL is free again; the new one is taken.
    client.create_ok("https://hooks.example.com/a").await;
    client
        .create(json!({"url": "https://hooks.example.com/b", "events": ["*"]}))
        .await
        .assert_error(409, "duplicate_webhook");
    // Sending its own URL again is no conflict.
    client
        .send(Req::new("PATCH", &client.item(id)).json(json!({"url": "https://HOOKS.example.com/b"})))
        .await
        .assert_status(200);
}

#[tokio::test]
async fn invalid_updates_are_refused_and_change_nothing() {
    let world = World::new().await;
    let client = Client::new(&world, "acme").await;
    let id = client.create_ok("https://hooks.example.com/a").await;
    client.create_ok("https://hooks.example.com/taken").await;
    let before = client.get(&id).await.data().clone();
    let cases: Vec<(Value, u16, &str, Option<&str>)> = vec![
        (json!({}), 400, "missing_required_field", None),
        (json!({"url": "https://10.0.0.1/"}), 400, "invalid_url", Some("url")),
        (json!({"url": null}), 400, "invalid_field", Some("url")),
        (json!({"events": []}), 400, "invalid_events", Some("events")),
        (json!({"events": null}), 400, "invalid_field", Some("events")),
        (json!({"active": 1}), 400, "invalid_field", Some("active")),
        (json!({"metadata": null}), 400, "invalid_field", Some("metadata")),
        (json!({"id": "x"}), 400, "unknown_field", Some("id")),
        (json!({"url": "https://hooks.example.com/taken", "description": "x"}), 409, "duplicate_webhook", Some("url")),
    ];
    for (body, status, code, field) in cases {
        let answer = client.send(Req::new("PATCH", &client.item(&id)).json(body.clone())).await;
        answer.assert_error(status, code);
        if let Some(field) = field {
            assert_eq!(answer.error_field(), Some(field), "{body}");
        }
    }
    assert_eq!(client.get(&id).await.data(), &before, "unchanged");
    let missing = shared::uuid::Uuid::now_v7().to_string();
    client
        .send(Req::new("PATCH", &client.item(&missing)).json(json!({"active": false})))
        .await
        .assert_error(404, "not_found");
    client
        .send(Req::new("PUT", &client.item(&missing)).json(json!({"url": "https://hooks.example.com/z"})))
        .await
        .assert_error(404, "not_found");
    client.create_ok("https://hooks.example.com/z").await;
}

#[tokio::test]
async fn delete_answers_204_frees_the_url_and_is_404_the_second_time() {
    let world = World::new().await;
    let client = Client::new(&world, "acme").await;
    let id = client.create_ok("https://hooks.example.com/a").await;
    let deleted = client.send(Req::new("DELETE", &client.item(&id))).await;
    assert_eq!((deleted.status, deleted.raw.as_str()), (204, ""));
    client.get(&id).await.assert_error(404, "not_found");
    client.send(Req::new("DELETE", &client.item(&id))).await.assert_error(404, "not_found");
    client.create_ok("https://hooks.example.com/a").await;
    assert_eq!(client.list("").await.data().as_array().unwrap().len(), 1);
}
