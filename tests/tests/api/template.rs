//! template.yaml against the code: every route deployed to the binary that serves it, and every
//! function allowed exactly the DynamoDB actions its code was seen to call.

use std::collections::BTreeSet;

use integration_tests::round_trips::CallLog;
use integration_tests::serde_json::json;
use integration_tests::template::{load_yaml, package_name, template_functions};
use integration_tests::{send, Client, Req, World};
use shared::http::routes::ROUTES;
use shared::App;

#[test]
fn every_route_is_deployed_to_the_binary_that_serves_it() {
    let template = load_yaml("template.yaml");
    let functions = template_functions(&template);
    // The routes of the contract (shared's route table), each served by the function it names.
    let mut expected = BTreeSet::new();
    for route in ROUTES {
        let shape = route.path;
        for method in route.methods {
            let dir = local_api::function_for(
                method,
                &shape.template_path().replace("{appId}", "a").replace("{webhookId}", "w"),
            );
            assert_eq!(dir, route.name, "{method} {} is routed locally to its function", shape.template_path());
            expected.insert((dir.to_owned(), method.to_string(), shape.template_path()));
        }
    }
    expected.insert(("fallback".into(), "ANY".into(), "$default".into()));
    let mut deployed = BTreeSet::new();
    for f in &functions {
        for (method, path) in &f.routes {
            let dir = std::fs::read_dir(integration_tests::repo_root().join("functions"))
                .unwrap()
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .find(|dir| package_name(dir) == f.binary)
                .unwrap_or_else(|| panic!("{}: binary {} is no crate under functions/", f.logical_id, f.binary));
            assert!(integration_tests::repo_root().join("functions").join(&dir).join("src/main.rs").exists());
            deployed.insert((dir, method.clone(), path.clone()));
        }
    }
    assert_eq!(deployed, expected);
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Runtime"].as_str(), Some("provided.al2023"));
    assert_eq!(globals["Architectures"][0].as_str(), Some("arm64"));
    assert_eq!(globals["MemorySize"].as_u64(), Some(128));
    let ping = functions.iter().find(|f| f.binary == "test-ping").unwrap();
    assert!(ping.properties["Timeout"].as_u64().unwrap() > 10, "test-ping's timeout covers its 10 s send bound");
}

#[tokio::test]
async fn the_table_is_the_one_the_key_tool_creates_locally() {
    let template = load_yaml("template.yaml");
    let table = &template["Resources"]["Table"]["Properties"];
    let declared_keys: Vec<(String, String)> = table["KeySchema"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| (k["AttributeName"].as_str().unwrap().to_owned(), k["KeyType"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(table["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
    assert_eq!(table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(), Some(true));
    assert_eq!(table["SSESpecification"]["SSEEnabled"].as_bool(), Some(true));
    assert_eq!(template["Resources"]["Table"]["DeletionPolicy"].as_str(), Some("Retain"));

    // What `webhook-keys create-table` (and so scripts/dev and every test) makes, as DynamoDB sees it.
    let world = World::new().await;
    let described = world.client.describe_table().table_name(&world.table).send().await.unwrap();
    let made = described.table().unwrap();
    let made_keys: Vec<(String, String)> =
        made.key_schema().iter().map(|k| (k.attribute_name().to_owned(), k.key_type().as_str().to_owned())).collect();
    assert_eq!(made_keys, declared_keys);
    let made_types: BTreeSet<(String, String)> = made
        .attribute_definitions()
        .iter()
        .map(|a| (a.attribute_name().to_owned(), a.attribute_type().as_str().to_owned()))
        .collect();
    let declared_types: BTreeSet<(String, String)> = table["AttributeDefinitions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| (a["AttributeName"].as_str().unwrap().to_owned(), a["AttributeType"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(made_types, declared_types);
    let billing = made.billing_mode_summary().and_then(|b| b.billing_mode()).map(|m| m.as_str().to_owned());
    assert_eq!(billing.as_deref(), table["BillingMode"].as_str());
    let ttl = world.client.describe_time_to_live().table_name(&world.table).send().await.unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), table["TimeToLiveSpecification"]["AttributeName"].as_str());
}

/// Runs `requests` through a logged container of a fresh world (after `setup` with an unlogged
/// one) and returns the IAM actions they needed.
async fn actions_of(function: &str) -> BTreeSet<String> {
    let world = World::new().await;
    let setup = Client::new(&world, "acme").await;
    let id = setup.create_ok("https://no-such-host.invalid/a").await;
    let item = setup.item(&id);
    let key = world.key("acme", &["webhooks:manage", "events:publish"]).await;
    let event = json!({"type": "ping", "data": {"n": 1}});
    // Two of each listed thing, so `?limit=1` has a next page: the first list with one creates the
    // deployment's cursor MAC key.
    setup.create_ok("https://no-such-host.invalid/second").await;
    let mut event_id = String::new();
    for _ in 0..2 {
        let published = send(&setup.app, &Req::new("POST", "/apps/acme/events").key(&key).json(event.clone())).await;
        event_id = published.data()["id"].as_str().unwrap_or_default().to_owned();
        setup.send(Req::new("POST", &format!("{item}/test-ping"))).await;
    }
    // The recover route sends its work to the recover queue (moto's server).
    let config = match function {
        "recover" => integration_tests::engine::config_with_recover_queue(&world).await,
        _ => world.config(),
    };
    let log = CallLog::default();
    let app = App::new(config, log.client(&world.client));
    let requests: Vec<Req> = match function {
        "create" => vec![
            Req::new("POST", &setup.collection())
                .json(json!({"url": "https://no-such-host.invalid/b", "events": ["*"]})),
            Req::new("POST", &setup.collection())
                .header("idempotency-key", "k")
                .json(json!({"url": "https://no-such-host.invalid/c", "events": ["*"]})),
            // Warm, no key: the cached key is checked inside the create's transaction.
            Req::new("POST", &setup.collection())
                .json(json!({"url": "https://no-such-host.invalid/e", "events": ["*"]})),
        ],
        "list" => vec![Req::new("GET", &format!("{}?limit=1", setup.collection()))],
        "get" => vec![Req::new("GET", &item)],
        "update" => vec![
            Req::new("PATCH", &item).json(json!({"active": false})),
            // Warm: the cached key is checked inside the update's transaction.
            Req::new("PATCH", &item).json(json!({"active": true})),
            Req::new("PUT", &item).json(json!({"url": "https://no-such-host.invalid/d"})),
        ],
        "delete" => vec![Req::new("DELETE", &item)],
        "rotate" => vec![
            Req::new("POST", &format!("{item}/rotate-secret")).header("idempotency-key", "k"),
            // Without a claim, the endpoint and the key are read in one BatchGetItem.
            Req::new("POST", &format!("{item}/rotate-secret")),
        ],
        "test-ping" => vec![
            Req::new("POST", &format!("{item}/test-ping")).header("idempotency-key", "k"),
            // Without a claim to settle the key first, the allowance is counted with a check of the key.
            Req::new("POST", &format!("{item}/test-ping")),
        ],
        "deliveries" => vec![Req::new("GET", &format!("{item}/deliveries?limit=1"))],
        "publish-event" => vec![
            // With a claim the key is settled beside it; without, it is checked in the transaction.
            Req::new("POST", "/apps/acme/events").header("idempotency-key", "k").json(event.clone()),
            Req::new("POST", "/apps/acme/events").json(event.clone()),
        ],
        "list-events" => {
            vec![Req::new("GET", "/apps/acme/events?limit=1"), Req::new("GET", "/apps/acme/events?type=ping")]
        }
        "get-event" => vec![Req::new("GET", &format!("/apps/acme/events/{event_id}"))],
        "event-types" => vec![Req::new("GET", "/apps/acme/event-types")],
        "resend" => {
            // A published event the endpoint subscribes to (`*`), with and without a claim.
            let resend = format!("/apps/acme/events/{event_id}/resend");
            let webhook = json!({"webhookId": id});
            vec![
                Req::new("POST", &resend).header("idempotency-key", "k").json(webhook.clone()),
                Req::new("POST", &resend).json(webhook),
            ]
        }
        "recover" => {
            let since = shared::time::rfc3339_millis(shared::time::now_millis() - 60_000);
            vec![
                Req::new("POST", &format!("{item}/recover"))
                    .header("idempotency-key", "k")
                    .json(json!({"since": since})),
                Req::new("POST", &format!("{item}/recover")).json(json!({"since": since})),
            ]
        }
        "fallback" => vec![Req::new("DELETE", &setup.collection())],
        other => panic!("no scenario for {other}"),
    };
    for req in requests {
        let answer = send(&app, &req.clone().key(&key)).await;
        assert!(answer.status < 500, "{function}: {}", answer.raw);
        assert_eq!(local_api::function_for(&req.rest_method(), &req.raw_path()), function);
    }
    log.iam_actions().into_iter().collect()
}

#[tokio::test]
async fn every_function_may_call_exactly_what_its_code_calls_and_nothing_that_scans() {
    let template = load_yaml("template.yaml");
    let functions = template_functions(&template);
    let dirs = [
        "create",
        "list",
        "get",
        "update",
        "delete",
        "rotate",
        "test-ping",
        "deliveries",
        "fallback",
        "publish-event",
        "list-events",
        "get-event",
        "event-types",
        "resend",
        "recover",
    ];
    for dir in dirs {
        let binary = package_name(dir);
        let f = functions.iter().find(|f| f.binary == binary).unwrap_or_else(|| panic!("{binary} not in the template"));
        let used = actions_of(dir).await;
        let missing: Vec<&String> = used.difference(&f.actions).collect();
        assert!(missing.is_empty(), "{}: its code calls {missing:?}, which its policy does not allow", f.logical_id);
        // Least privilege: nothing beyond what was seen, except the idempotency release (DeleteItem)
        // that POST routes make only after a 5xx.
        let mut needed = used.clone();
        if f.routes.iter().any(|(method, _)| method == "POST") {
            needed.insert("dynamodb:DeleteItem".into());
        }
        assert_eq!(dynamodb_grants(f), needed, "{}: allowed more than its code calls", f.logical_id);
        assert!(!f.actions.iter().any(|a| a.contains("Scan") || a.contains('*')), "{}: {:?}", f.logical_id, f.actions);
        for policy in f.properties["Policies"].as_sequence().unwrap() {
            for statement in policy["Statement"].as_sequence().unwrap() {
                let resource = serde_yaml::to_string(&statement["Resource"]).unwrap();
                let actions = serde_yaml::to_string(&statement["Action"]).unwrap();
                if actions.contains("dynamodb:") {
                    assert_eq!(resource.trim(), "!GetAtt Table.Arn", "{}: the table only", f.logical_id);
                }
            }
        }
        // Only the recover route sends to a queue: the recover queue.
        let expected_sqs = match dir {
            "recover" => BTreeSet::from([("sqs:SendMessage".to_owned(), "RecoverQueue".to_owned())]),
            _ => BTreeSet::new(),
        };
        assert_eq!(sqs_grants(f), expected_sqs, "{}: its queue grants", f.logical_id);
        eprintln!("{:<24} uses {:?}\n{:<24} allowed {:?}", f.logical_id, used, "", f.actions);
    }
}

#[test]
fn openapi_describes_the_same_routes_as_the_template() {
    let template = load_yaml("template.yaml");
    let deployed: BTreeSet<(String, String)> = template_functions(&template)
        .into_iter()
        .flat_map(|f| f.routes)
        .filter(|(_, path)| path != "$default")
        .collect();
    let openapi = load_yaml("openapi.yaml");
    assert!(openapi["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")));
    let mut described = BTreeSet::new();
    for (path, item) in openapi["paths"].as_mapping().expect("paths") {
        for (method, operation) in item.as_mapping().unwrap() {
            let method = method.as_str().unwrap();
            if method == "parameters" {
                continue;
            }
            described.insert((method.to_uppercase(), path.as_str().unwrap().to_owned()));
            let responses = operation["responses"].as_mapping().expect("responses");
            for status in ["401", "403", "404", "500", "503"] {
                assert!(responses.contains_key(status), "{method} {path:?} does not document {status}");
            }
        }
    }
    assert_eq!(described, deployed);
}

/// The SQS actions a function's policies allow, with the queue each names (`!GetAtt X.Arn` → X).
fn sqs_grants(f: &integration_tests::template::TemplateFunction) -> BTreeSet<(String, String)> {
    let mut grants = BTreeSet::new();
    for policy in f.properties["Policies"].as_sequence().unwrap() {
        for statement in policy["Statement"].as_sequence().unwrap() {
            let resource = serde_yaml::to_string(&statement["Resource"]).unwrap();
            for action in statement["Action"].as_sequence().unwrap() {
                let action = action.as_str().unwrap();
                if action.starts_with("sqs:") {
                    let queue = resource.trim().trim_start_matches("!GetAtt ").trim_end_matches(".Arn").to_owned();
                    grants.insert((action.to_owned(), queue));
                }
            }
        }
    }
    grants
}

fn dynamodb_grants(f: &integration_tests::template::TemplateFunction) -> BTreeSet<String> {
    f.actions.iter().filter(|a| a.starts_with("dynamodb:")).cloned().collect()
}

#[tokio::test]
async fn every_worker_may_call_exactly_what_its_code_calls_and_is_fed_as_the_engine_expects() {
    use integration_tests::engine::{event_sources, eventually, Deployment, Through};
    use integration_tests::receiver::Behaviour;
    use std::time::Duration;

    let template = load_yaml("template.yaml");
    let functions = template_functions(&template);
    let by_id = |id: &str| functions.iter().find(|f| f.logical_id == id).unwrap_or_else(|| panic!("{id}")).clone();
    let (fan_out, deliver, retry) = (by_id("FanOutFunction"), by_id("DeliverFunction"), by_id("RetryFunction"));
    let recover = by_id("RecoverWorkerFunction");
    for (f, crate_dir) in [(&fan_out, "fan-out"), (&deliver, "deliver"), (&retry, "deliver"), (&recover, "recover")] {
        assert_eq!(f.binary, crate_dir, "{}: the worker crate's binary", f.logical_id);
        assert!(integration_tests::repo_root().join("workers").join(crate_dir).join("src/main.rs").exists());
    }

    // Every path of the code: fan-out, a failed attempt and its retry, a success; then a spent
    // schedule (the failing clock), a recover that re-sends it, and a rate-limited endpoint.
    let (fan_out_log, deliver_log, recover_log) = (CallLog::default(), CallLog::default(), CallLog::default());
    let fail = Behaviour::Status(500, String::new());
    let ok = Behaviour::Status(200, String::new());
    let script = Behaviour::Script(vec![fail.clone(), ok.clone(), fail.clone(), fail, ok]);
    let through =
        Through { logs: Some((&fan_out_log, &deliver_log)), recover_log: Some(&recover_log), ..Through::default() };
    let d = Deployment::start_through(&[("RETRY_SCHEDULE", "1")], script, through).await;
    let (id, _) = d.endpoint("/iam", &["*"]).await;
    d.publish("ping", json!({})).await;
    eventually("two attempts recorded", Duration::from_secs(10), || async {
        (d.history(&id).await.len() == 2).then_some(())
    })
    .await;
    d.publish("ping", json!({})).await;
    eventually("the second event's schedule spent", Duration::from_secs(10), || async {
        (d.history(&id).await.len() == 4).then_some(())
    })
    .await;
    let since = shared::time::rfc3339_millis(shared::time::now_millis() - 60_000);
    d.client
        .send(Req::new("POST", &format!("{}/recover", d.client.item(&id))).json(json!({"since": since})))
        .await
        .assert_status(202);
    eventually("the failed event recovered", Duration::from_secs(10), || async {
        (d.history(&id).await.len() == 5).then_some(())
    })
    .await;
    d.client.send(Req::new("PATCH", &d.client.item(&id)).json(json!({"rateLimit": 1}))).await.assert_status(200);
    d.publish("ping", json!({})).await;
    d.publish("ping", json!({})).await;
    eventually("two rate-limited deliveries", Duration::from_secs(10), || async {
        (d.history(&id).await.len() == 7).then_some(())
    })
    .await;
    let used = |log: &CallLog| log.iam_actions().into_iter().collect::<BTreeSet<String>>();
    assert_eq!(dynamodb_grants(&fan_out), used(&fan_out_log), "FanOutFunction: exactly what its code calls");
    for f in [&deliver, &retry] {
        assert_eq!(dynamodb_grants(f), used(&deliver_log), "{}: exactly what its code calls", f.logical_id);
    }
    // SQS: each sends to the queue after it only (the fan-out also to its on-failure destination).
    let grant = |queue: &str| ("sqs:SendMessage".to_owned(), queue.to_owned());
    assert_eq!(sqs_grants(&fan_out), BTreeSet::from([grant("DeliveryQueue"), grant("FanOutDeadLetterQueue")]));
    assert_eq!(sqs_grants(&deliver), BTreeSet::from([grant("RetryQueue")]));
    assert_eq!(sqs_grants(&retry), BTreeSet::from([grant("RetryQueue")]));
    assert_eq!(dynamodb_grants(&recover), used(&recover_log), "RecoverWorkerFunction: exactly what its code calls");
    assert_eq!(sqs_grants(&recover), BTreeSet::from([grant("RecoverQueue")]));

    // The stream mapping: the filter the local runner applies, partial failures, no record dropped.
    let stream = &fan_out.properties["Events"]["Stream"]["Properties"];
    let pattern = stream["FilterCriteria"]["Filters"][0]["Pattern"].as_str().unwrap();
    let declared: serde_json::Value = serde_json::from_str(pattern).unwrap();
    assert_eq!(declared, serde_json::from_str::<serde_json::Value>(event_sources::filter::FAN_OUT_FILTER).unwrap());
    assert_eq!(stream["FunctionResponseTypes"][0].as_str(), Some("ReportBatchItemFailures"));
    assert_eq!(stream["MaximumRetryAttempts"].as_i64(), Some(-1));
    assert_eq!(
        template["Resources"]["Table"]["Properties"]["StreamSpecification"]["StreamViewType"].as_str(),
        Some("NEW_IMAGE")
    );
    // The queue mappings: partial failures, bounded concurrency, a visibility timeout at least six
    // times the function's timeout, a dead-letter queue with an alarm behind each queue.
    for (f, queue) in [(&deliver, "DeliveryQueue"), (&retry, "RetryQueue"), (&recover, "RecoverQueue")] {
        let mapping = &f.properties["Events"]["Queue"]["Properties"];
        assert_eq!(serde_yaml::to_string(&mapping["Queue"]).unwrap().trim(), format!("!GetAtt {queue}.Arn"));
        assert_eq!(mapping["FunctionResponseTypes"][0].as_str(), Some("ReportBatchItemFailures"));
        assert!(!mapping["ScalingConfig"]["MaximumConcurrency"].is_null(), "{queue}: bounded concurrency");
        let queue_properties = &template["Resources"][queue]["Properties"];
        let visibility = queue_properties["VisibilityTimeout"].as_u64().unwrap();
        assert!(visibility >= 6 * f.properties["Timeout"].as_u64().unwrap(), "{queue}: visibility {visibility}");
        let dead_letters = serde_yaml::to_string(&queue_properties["RedrivePolicy"]["deadLetterTargetArn"]).unwrap();
        let dlq = dead_letters.trim().trim_start_matches("!GetAtt ").trim_end_matches(".Arn").to_owned();
        assert_eq!(template["Resources"][dlq.as_str()]["Type"].as_str(), Some("AWS::SQS::Queue"), "{queue}: {dlq}");
        let alarmed = template["Resources"].as_mapping().unwrap().values().any(|r| {
            r["Type"].as_str() == Some("AWS::CloudWatch::Alarm")
                && serde_yaml::to_string(&r["Properties"]["Dimensions"]).unwrap().contains(&format!("{dlq}.QueueName"))
        });
        assert!(alarmed, "{dlq}: an alarm on it");
    }
    // Each worker is given the queues it sends to (as `Worker::new` reads them) and nothing else.
    let variables = |f: &integration_tests::template::TemplateFunction| -> BTreeSet<String> {
        let env = &f.properties["Environment"]["Variables"];
        env.as_mapping().map(|m| m.keys().filter_map(|k| k.as_str().map(str::to_owned)).collect()).unwrap_or_default()
    };
    assert_eq!(variables(&fan_out), BTreeSet::from(["DELIVERY_QUEUE_URL".to_owned()]));
    assert_eq!(variables(&recover), BTreeSet::from(["RECOVER_QUEUE_URL".to_owned()]));
    for f in [&deliver, &retry] {
        let names = ["RETRY_QUEUE_URL", "RETRY_SCHEDULE", "DISABLE_AFTER_SECONDS"];
        assert_eq!(variables(f), names.iter().map(|n| n.to_string()).collect::<BTreeSet<String>>());
        let env = &f.properties["Environment"]["Variables"];
        assert_eq!(serde_yaml::to_string(&env["RETRY_QUEUE_URL"]).unwrap().trim(), "!Ref RetryQueue");
    }
    let env = &fan_out.properties["Environment"]["Variables"];
    assert_eq!(serde_yaml::to_string(&env["DELIVERY_QUEUE_URL"]).unwrap().trim(), "!Ref DeliveryQueue");
}
