//! DynamoDB calls and round trips per request, per route, on warm containers and cold ones (no key
//! is cached: each request settles its key beside its own work). Calls in flight together share a
//! round trip; the lists are sorted, since concurrent calls start in no fixed order.

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

    /// Sends `req` and returns the answer with the DynamoDB operations it cost (sorted) and the
    /// round trips they took one after another.
    async fn calls(&self, req: Req) -> (Answer, Cost) {
        self.log.take();
        let answer = send(&self.app, &req.key(&self.key)).await;
        let (mut calls, trips) = self.log.take_with_trips();
        calls.sort();
        (answer, (calls, trips))
    }
}

/// The DynamoDB operations a request made (sorted) and the round trips they took.
type Cost = (Vec<String>, usize);

/// The operations (sorted) and the round trips they take.
fn ops(list: &[&str], trips: usize) -> Cost {
    let mut calls: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    calls.sort();
    (calls, trips)
}

#[tokio::test]
async fn each_warm_request_costs_the_fewest_round_trips_its_rules_allow() {
    let world = World::new().await;
    let c = Counted::new(&world).await;
    let create = |url: &str| Req::new("POST", "/apps/acme/webhooks").json(json!({"url": url, "events": ["*"]}));

    // Cold: the same calls as warm; only the connection is new.
    let (first, cold) = c.calls(create("https://no-such-host.invalid/0")).await;
    first.assert_status(201);
    assert_eq!(cold, ops(&["TransactWriteItems"], 1), "cold create: the write, the key checked inside it");
    let id = first.data()["id"].as_str().unwrap().to_owned();
    let item = format!("/apps/acme/webhooks/{id}");
    c.calls(create("https://hooks.example.com/1")).await;
    // The cursor MAC key is read once per container, beside the first query and the caller's key;
    // the table's first list with a next page creates it (read again consistently, then PutItem).
    let (page, first_list) = c.calls(Req::new("GET", "/apps/acme/webhooks?limit=1")).await;
    assert_eq!(first_list, ops(&["BatchGetItem", "GetItem", "PutItem", "Query"], 3));
    let other = Counted::new(&world).await;
    let (_, cold_list) = other.calls(Req::new("GET", "/apps/acme/webhooks")).await;
    assert_eq!(
        cold_list,
        ops(&["BatchGetItem", "Query"], 1),
        "cold list: the query beside one BatchGetItem of the caller's key and the cursor MAC key"
    );
    let cursor = page.body["nextCursor"].as_str().unwrap().to_owned();

    // The key is confirmed beside the first read, or checked inside the transaction of a write
    // that reads nothing first; either way in no round trip of its own.
    let warm: Vec<(&str, Req, Cost)> = vec![
        ("create", create("https://hooks.example.com/2"), ops(&["TransactWriteItems"], 1)),
        (
            "create + Idempotency-Key",
            create("https://hooks.example.com/3").header("idempotency-key", "k1"),
            // The claim beside the key's confirmation; the answer kept in the create's own transaction.
            ops(&["PutItem", "GetItem", "TransactWriteItems"], 2),
        ),
        (
            "create, idempotent replay",
            create("https://hooks.example.com/3").header("idempotency-key", "k1"),
            ops(&["PutItem", "GetItem"], 1),
        ),
        ("list", Req::new("GET", "/apps/acme/webhooks"), ops(&["BatchGetItem", "Query"], 1)),
        (
            "list, next page",
            Req::new("GET", &format!("/apps/acme/webhooks?limit=1&cursor={cursor}")),
            ops(&["BatchGetItem", "Query"], 1),
        ),
        // The endpoint and the caller's key in one BatchGetItem: one request, one connection.
        ("get", Req::new("GET", &item), ops(&["BatchGetItem"], 1)),
        (
            "update (no URL change)",
            Req::new("PATCH", &item).json(json!({"active": false})),
            ops(&["TransactWriteItems", "GetItem"], 1),
        ),
        (
            "update (URL change)",
            Req::new("PUT", &item).json(json!({"url": "https://hooks.example.com/moved"})),
            ops(&["BatchGetItem", "TransactWriteItems"], 2),
        ),
        ("rotate-secret", Req::new("POST", &format!("{item}/rotate-secret")), ops(&["BatchGetItem", "UpdateItem"], 2)),
        (
            "rotate-secret + Idempotency-Key",
            Req::new("POST", &format!("{item}/rotate-secret")).header("idempotency-key", "k2"),
            ops(&["PutItem", "GetItem", "BatchGetItem", "TransactWriteItems"], 3),
        ),
        (
            // The manual-send allowance (counted with a check of the key) beside the endpoint's read.
            "test-ping (the send fails fast: no such host)",
            Req::new("POST", &format!("{item}/test-ping")),
            ops(&["TransactWriteItems", "BatchGetItem", "TransactWriteItems"], 2),
        ),
        // The endpoint's existence and the caller's key in one BatchGetItem, beside the Query.
        ("deliveries", Req::new("GET", &format!("{item}/deliveries")), ops(&["BatchGetItem", "Query"], 1)),
        (
            "deliveries ?status=",
            Req::new("GET", &format!("{item}/deliveries?status=failed")),
            ops(&["BatchGetItem", "Query"], 1),
        ),
        ("delete", Req::new("DELETE", &item), ops(&["BatchGetItem", "TransactWriteItems"], 2)),
        // Answers given before any read settle the key on their own: a revoked key is 401.
        ("fallback (405)", Req::new("DELETE", "/apps/acme/webhooks"), ops(&["GetItem"], 1)),
        ("invalid body (400)", Req::new("POST", "/apps/acme/webhooks").json(json!({})), ops(&["GetItem"], 1)),
    ];
    eprintln!("| route | DynamoDB calls (warm) |\n|---|---|");
    for (name, req, expected) in warm {
        let (answer, calls) = c.calls(req).await;
        assert!(answer.status < 500, "{name}: {}", answer.raw);
        eprintln!("| {name} | {} in {} round trips ({}) |", calls.0.len(), calls.1, calls.0.join(", "));
        assert_eq!(calls, expected, "{name}");
    }
}
