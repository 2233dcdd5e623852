//! DynamoDB round trips per request, per route: warm containers (key cached) and cold ones.

use integration_tests::round_trips::CallLog;
use integration_tests::serde_json::json;
use integration_tests::{send, Answer, Req, World};
use shared::App;

struct Counted {
    app: App,
    log: CallLog,
    key: String,
}

impl Counted {
    async fn new(world: &World) -> Counted {
        let log = CallLog::default();
        let app = App::new(world.config(), log.client(&world.client));
        Counted { app, log, key: world.key("acme", &["webhooks:manage"]).await }
    }

    /// Sends `req` and returns the answer with the DynamoDB operations it cost.
    async fn calls(&self, req: Req) -> (Answer, Vec<String>) {
        self.log.take();
        let answer = send(&self.app, &req.key(&self.key)).await;
        (answer, self.log.take())
    }
}

fn ops(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn each_warm_request_costs_the_fewest_round_trips_its_rules_allow() {
    let world = World::new().await;
    let c = Counted::new(&world).await;
    let create = |url: &str| Req::new("POST", "/apps/acme/webhooks").json(json!({"url": url, "events": ["*"]}));

    // Cold: the key is read once, then cached for the container.
    let (first, cold) = c.calls(create("https://no-such-host.invalid/0")).await;
    first.assert_status(201);
    assert_eq!(cold, ops(&["GetItem", "TransactWriteItems"]), "cold create: key lookup + the write");
    let id = first.data()["id"].as_str().unwrap().to_owned();
    let item = format!("/apps/acme/webhooks/{id}");
    c.calls(create("https://hooks.example.com/1")).await;
    // The cursor MAC key is read once per container too (and created by the table's first list ever).
    let (page, first_list) = c.calls(Req::new("GET", "/apps/acme/webhooks?limit=1")).await;
    assert_eq!(first_list, ops(&["GetItem", "PutItem", "Query"]));
    let other = Counted::new(&world).await;
    let (_, cold_list) = other.calls(Req::new("GET", "/apps/acme/webhooks")).await;
    assert_eq!(cold_list, ops(&["GetItem", "GetItem", "Query"]), "cold list: key, cursor key, the query");
    let cursor = page.body["nextCursor"].as_str().unwrap().to_owned();

    let warm: Vec<(&str, Req, Vec<String>)> = vec![
        ("create", create("https://hooks.example.com/2"), ops(&["TransactWriteItems"])),
        (
            "create + Idempotency-Key",
            create("https://hooks.example.com/3").header("idempotency-key", "k1"),
            // The answer is kept in the create's own transaction: no separate write.
            ops(&["PutItem", "TransactWriteItems"]),
        ),
        (
            "create, idempotent replay",
            create("https://hooks.example.com/3").header("idempotency-key", "k1"),
            ops(&["PutItem"]),
        ),
        ("list", Req::new("GET", "/apps/acme/webhooks"), ops(&["Query"])),
        ("list, next page", Req::new("GET", &format!("/apps/acme/webhooks?limit=1&cursor={cursor}")), ops(&["Query"])),
        ("get", Req::new("GET", &item), ops(&["GetItem"])),
        ("update (no URL change)", Req::new("PATCH", &item).json(json!({"active": false})), ops(&["UpdateItem"])),
        (
            "update (URL change)",
            Req::new("PUT", &item).json(json!({"url": "https://hooks.example.com/moved"})),
            ops(&["GetItem", "TransactWriteItems"]),
        ),
        ("rotate-secret", Req::new("POST", &format!("{item}/rotate-secret")), ops(&["GetItem", "UpdateItem"])),
        (
            "rotate-secret + Idempotency-Key",
            Req::new("POST", &format!("{item}/rotate-secret")).header("idempotency-key", "k2"),
            ops(&["PutItem", "GetItem", "TransactWriteItems"]),
        ),
        (
            "test-ping (the send fails fast: no such host)",
            Req::new("POST", &format!("{item}/test-ping")),
            ops(&["GetItem", "TransactWriteItems"]),
        ),
        ("deliveries", Req::new("GET", &format!("{item}/deliveries")), ops(&["GetItem", "Query"])),
        (
            "deliveries ?status=",
            Req::new("GET", &format!("{item}/deliveries?status=failed")),
            ops(&["GetItem", "Query"]),
        ),
        ("delete", Req::new("DELETE", &item), ops(&["GetItem", "TransactWriteItems"])),
        ("fallback (405)", Req::new("DELETE", "/apps/acme/webhooks"), ops(&[])),
        ("invalid body (400)", Req::new("POST", "/apps/acme/webhooks").json(json!({})), ops(&[])),
    ];
    eprintln!("| route | DynamoDB calls (warm) |\n|---|---|");
    for (name, req, expected) in warm {
        let (answer, calls) = c.calls(req).await;
        assert!(answer.status < 500, "{name}: {}", answer.raw);
        eprintln!("| {name} | {} ({}) |", calls.len(), calls.join(", "));
        assert_eq!(calls, expected, "{name}");
    }
}
