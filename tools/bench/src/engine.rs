//! The delivery engine's figures (issue #14, "Numbers"), appended to the report:
//!
//! - **End to end through the local runner**: events published one after another through the
//!   publish-event handler, fanned out and delivered by the workers behind `event-sources` (the
//!   same runner as `scripts/dev`) to a local HTTPS receiver: publish → receiver latency, and the
//!   DynamoDB and SQS requests each part made, counted by relays in front of DynamoDB Local and
//!   moto's server, by operation.
//! - **The deliver worker's release binary** under the minimal Runtime API, fed SQS events: warm
//!   time per delivery against `floor-post` (one bare hyper + rustls POST to the same receiver),
//!   deliveries per second of one container fed batches of 10, and its peak RSS.
//! - The cost per million single-endpoint events at list prices, from those counts.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loopback_ca::LoopbackCa;
use serde_json::{json, Value};
use shared::model::{CreatedEndpoint, Event, NewEndpoint, NewEvent};
use shared::store::{KeyGuard, Store};
use shared::time::now_millis;
use shared::url::AddressPolicy;
use shared::validate::parse_webhook_url;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use webhook_keys::FIXTURE_APP as APP;

use crate::counter::CountingRelay;
use crate::runtime_api::RuntimeApi;
use crate::{median, ms, proc_status_kb, process_cpu, zipped_size, Options, EVENT_TYPES};

/// A receiver that answers 200 at once and notes when each `webhook-id` arrived.
struct FastReceiver {
    port: u16,
    arrivals: Arc<Mutex<HashMap<String, Instant>>>,
}

impl FastReceiver {
    async fn start(ca: &LoopbackCa) -> Result<FastReceiver, String> {
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let acceptor = ca.acceptor();
        let arrivals = Arc::new(Mutex::new(HashMap::new()));
        let noted = arrivals.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, noted) = (acceptor.clone(), noted.clone());
                tokio::spawn(async move {
                    let _ = tcp.set_nodelay(true);
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    let Ok(raw) = local_api::http::read_request(&mut tls).await else { return };
                    if let Some((_, id)) = raw.headers.iter().find(|(n, _)| n == "webhook-id") {
                        if let Ok(mut arrivals) = noted.lock() {
                            arrivals.insert(id.clone(), Instant::now());
                        }
                    }
                    let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        Ok(FastReceiver { port, arrivals })
    }

    fn arrived(&self, id: &str) -> Option<Instant> {
        self.arrivals.lock().ok()?.get(id).copied()
    }
}

/// The SQS event Lambda would send for `bodies`.
fn sqs_event(bodies: &[String]) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            json!({
                "messageId": format!("bench-{i}-{}", now_millis()), "receiptHandle": "bench", "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": now_millis().to_string()},
                "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:bench", "awsRegion": "us-east-1",
            })
        })
        .collect();
    json!({ "Records": records })
}

/// A worker binary started as Lambda starts one, polling `api`.
async fn spawn(
    binary: &Path,
    api: &RuntimeApi,
    table: &str,
    relay: &CountingRelay,
    extra: &[(&str, String)],
) -> Result<(tokio::process::Child, u32), String> {
    let child = tokio::process::Command::new(binary)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench-worker")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()))
        .env("AWS_ACCESS_KEY_ID", std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_default())
        .env("AWS_SECRET_ACCESS_KEY", std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_default())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(relay.client_env.iter().map(|(name, value)| (name, value)))
        .env("AWS_ENDPOINT_URL_SQS", std::env::var("AWS_ENDPOINT_URL_SQS").unwrap_or_default())
        .env("TABLE_NAME", table)
        .env("EVENT_TYPES", EVENT_TYPES)
        .env("WEBHOOK_ALLOW_PRIVATE_CIDRS", "127.0.0.0/8")
        .envs(extra.iter().map(|(name, value)| (name, value)))
        .stdout(Stdio::null())
        .stderr(if std::env::var_os("BENCH_VERBOSE").is_some() { Stdio::inherit() } else { Stdio::null() })
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("spawn {}: {e}", binary.display()))?;
    let pid = child.id().ok_or("the worker exited at once")?;
    Ok((child, pid))
}

/// Sends `event` to the waiting worker and answers how long it took; any failed item is an error.
async fn invoke(api: &mut RuntimeApi, index: usize, event: &Value) -> Result<Duration, String> {
    tokio::time::timeout(Duration::from_secs(30), api.polls.recv()).await.ok().flatten().ok_or("no /next poll")?;
    let sent = Instant::now();
    api.invoke(format!("engine-{index}"), serde_json::to_vec(event).unwrap_or_default()).await;
    let answer = tokio::time::timeout(Duration::from_secs(30), api.answers.recv())
        .await
        .ok()
        .flatten()
        .ok_or("no answer within 30 s")?;
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    if answer.is_error || body["batchItemFailures"].as_array().is_some_and(|f| !f.is_empty()) {
        return Err(format!("the worker failed: {}", String::from_utf8_lossy(&answer.body)));
    }
    Ok(answer.at - sent)
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q).ceil() as usize).saturating_sub(1).min(sorted.len().saturating_sub(1))]
}

/// Requests per event of each operation in `after - before`.
fn per_event(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>, events: usize) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(op, n)| {
            let short = op.rsplit('.').next().unwrap_or(op).to_owned();
            (short, (n - before.get(op).copied().unwrap_or(0)) as f64 / events as f64)
        })
        .filter(|(_, n)| *n > 0.0)
        .collect()
}

fn listed(ops: &BTreeMap<String, f64>) -> String {
    if ops.is_empty() {
        return "none".into();
    }
    ops.iter().map(|(op, n)| format!("{op} {n:.2}")).collect::<Vec<_>>().join(", ")
}

pub async fn report(options: &Options, upstream: &str, relay: &CountingRelay) -> Result<String, String> {
    let moto = std::env::var("AWS_ENDPOINT_URL_SQS").map_err(|_| "AWS_ENDPOINT_URL_SQS must point at moto's server")?;
    let (sequential, warm, batches) = if options.quick { (5, 10, 2) } else { (200, 500, 50) };
    let table = format!("bench-engine-{}", now_millis());
    let direct = shared::store::dynamodb_client().await?;
    webhook_keys::create_table(&direct, &table).await?;
    let store = Store::new(direct.clone(), &table);
    webhook_keys::install_fixture_key(&store).await?;
    let ca = LoopbackCa::new();
    let receiver = FastReceiver::start(&ca).await?;
    let loopback = AddressPolicy::from_allow_list("127.0.0.0/8")?;
    let new = NewEndpoint {
        url: parse_webhook_url(&format!("https://127.0.0.1:{}/hook", receiver.port), &loopback)
            .map_err(|e| e.message)?,
        events: vec!["*".into()],
        description: None,
        active: true,
        rate_limit: None,
        metadata: Default::default(),
    };
    let created = CreatedEndpoint::mint(&new, now_millis()).map_err(|e| e.to_string())?;
    store
        .create_endpoint(APP, &new, &created, u32::MAX, None, &KeyGuard::internal())
        .await
        .map_err(|e| e.to_string())?;
    let webhook_id = created.endpoint.id.clone();

    // ---- End to end through the local runner, counted. ----
    let sdk = shared::aws::sdk_config().await?;
    let publish_relay = CountingRelay::start(upstream, None, Duration::ZERO).await?;
    let workers_relay = CountingRelay::start(upstream, None, Duration::ZERO).await?;
    let sqs_relay = CountingRelay::start(&moto, None, Duration::ZERO).await?;
    let vars: HashMap<String, String> = [
        ("TABLE_NAME", table.clone()),
        ("EVENT_TYPES", EVENT_TYPES.to_owned()),
        ("WEBHOOK_ALLOW_PRIVATE_CIDRS", "127.0.0.0/8".to_owned()),
        ("WEBHOOK_EXTRA_CA_FILE", ca.pem_path().to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let config = shared::config::Config::from_lookup(|name| vars.get(name).cloned())?;
    let dynamodb_via = |relay: &CountingRelay| {
        aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk).endpoint_url(&relay.endpoint).build(),
        )
    };
    let worker_dynamodb = dynamodb_via(&workers_relay);
    let worker_sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&sdk).endpoint_url(&sqs_relay.endpoint).build(),
    );
    let clients = |_: &str| event_sources::WorkerClients { dynamodb: worker_dynamodb.clone(), sqs: worker_sqs.clone() };
    let lookup = vars.clone();
    let engine = event_sources::Engine::start_with(
        config.clone(),
        &sdk,
        clients,
        move |name| lookup.get(name).cloned(),
        event_sources::Settings::default(),
    )
    .await?;
    let app = shared::App::new(config, dynamodb_via(&publish_relay));
    let text = std::fs::read_to_string(options.root.join("events/publish-event.json")).map_err(|e| e.to_string())?;
    let mut fixture: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    // Each publish is a new event: without the fixture's Idempotency-Key, which would replay the first.
    if let Some(headers) = fixture["headers"].as_object_mut() {
        headers.remove("idempotency-key");
    }
    let fixture = fixture.to_string();
    let (publish_before, workers_before, sqs_before) =
        (publish_relay.operations(), workers_relay.operations(), sqs_relay.operations());
    let mut latencies = Vec::with_capacity(sequential);
    for i in 0..sequential {
        let request = shared::lambda_http::request::from_str(&fixture).map_err(|e| e.to_string())?;
        let started = Instant::now();
        let response = publish_event::handle(&app, request).await;
        if response.status().as_u16() != 202 {
            return Err(format!("publish {i}: {}", String::from_utf8_lossy(response.body().as_ref())));
        }
        let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null);
        let id = body["data"]["id"].as_str().unwrap_or_default().to_owned();
        let deadline = Instant::now() + Duration::from_secs(30);
        let arrived = loop {
            if let Some(at) = receiver.arrived(&id) {
                break at;
            }
            if Instant::now() > deadline {
                return Err(format!("event {i} did not arrive within 30 s"));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        latencies.push(arrived - started);
    }
    // Let the last records land before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let publish_ops = per_event(&publish_before, &publish_relay.operations(), sequential);
    let worker_ops = per_event(&workers_before, &workers_relay.operations(), sequential);
    let sqs_ops = per_event(&sqs_before, &sqs_relay.operations(), sequential);
    drop(engine);
    latencies.sort();

    // ---- The deliver binary against the floor. ----
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queues = event_sources::create_queues(&sqs, &table, &event_sources::Settings::default()).await?;
    let total_events = warm + 10 * batches + 2;
    let mut event_ids = Vec::with_capacity(total_events);
    for _ in 0..total_events {
        let event = Event::mint(NewEvent { event_type: "invoice.paid".into(), data: Default::default() }, now_millis());
        store.put_event(APP, &event, None, &KeyGuard::internal()).await.map_err(|e| e.to_string())?;
        event_ids.push(event.id);
    }
    let task = |event_id: &str| {
        json!({"kind": "deliver", "appId": APP, "eventId": event_id, "webhookId": webhook_id, "attempt": 1, "trigger": "scheduled"})
            .to_string()
    };
    let extra = [
        ("WEBHOOK_EXTRA_CA_FILE", ca.pem_path().to_owned()),
        ("RETRY_QUEUE_URL", queues.retry.clone()),
        ("FLOOR_RECEIVER", format!("127.0.0.1:{}", receiver.port)),
    ];
    let deliver_binary = options.bin_dir.join("deliver");
    let mut api = RuntimeApi::start().await.map_err(|e| e.to_string())?;
    let (mut child, pid) = spawn(&deliver_binary, &api, &table, relay, &extra).await?;
    let mut next = 0;
    // A first invocation opens the connections; then one message per invocation.
    invoke(&mut api, 0, &sqs_event(&[task(&event_ids[next])])).await?;
    next += 1;
    let requests_before = relay.count();
    let cpu_before = process_cpu(pid);
    let mut per_delivery = Vec::with_capacity(warm);
    for i in 0..warm {
        per_delivery.push(invoke(&mut api, i + 1, &sqs_event(&[task(&event_ids[next])])).await?);
        next += 1;
    }
    let cpu_per_delivery = (process_cpu(pid) - cpu_before) / warm as u32;
    let dynamodb_per_delivery = (relay.count() - requests_before) as f64 / warm as f64;
    // Batches of 10, handled concurrently inside the invocation.
    let mut batch_time = Duration::ZERO;
    for b in 0..batches {
        let bodies: Vec<String> = event_ids[next..next + 10].iter().map(|id| task(id)).collect();
        next += 10;
        batch_time += invoke(&mut api, warm + 1 + b, &sqs_event(&bodies)).await?;
    }
    let deliveries_per_second = (10 * batches) as f64 / batch_time.as_secs_f64();
    let peak_rss_kb = proc_status_kb(pid, "VmHWM:");
    let _ = child.kill().await;

    let mut floor_api = RuntimeApi::start().await.map_err(|e| e.to_string())?;
    let (mut floor_child, floor_pid) =
        spawn(&options.bin_dir.join("floor-post"), &floor_api, &table, relay, &extra).await?;
    invoke(&mut floor_api, 0, &sqs_event(&["{}".into()])).await?;
    let floor_cpu_before = process_cpu(floor_pid);
    let mut floor = Vec::with_capacity(warm);
    for i in 0..warm {
        floor.push(invoke(&mut floor_api, i + 1, &sqs_event(&[task(&event_ids[0])])).await?);
    }
    let floor_cpu = (process_cpu(floor_pid) - floor_cpu_before) / warm as u32;
    let _ = floor_child.kill().await;
    per_delivery.sort();
    floor.sort();

    let mut out = String::new();
    out.push_str("\n## Delivery engine\n\n");
    out.push_str(&format!(
        "**Publish → receiver, through the local runner** (`event-sources`, as `scripts/dev` runs it: the table's stream polled every 100 ms when idle, SQS long polls), {sequential} events published one after another to one endpoint: p50 **{:.1} ms**, p99 **{:.1} ms** (AWS: a stream's poller and SQS's add their own, about a second at most).\n\n",
        ms(quantile(&latencies, 0.5)),
        ms(quantile(&latencies, 0.99)),
    ));
    out.push_str("Requests per event (one endpoint), counted by relays in front of DynamoDB Local and moto:\n\n| part | DynamoDB | SQS |\n|---|---|---|\n");
    out.push_str(&format!("| publish (route) | {} | none |\n", listed(&publish_ops)));
    out.push_str(&format!(
        "| fan-out + deliver (workers) | {} | {} (the workers' own sends) |\n\n",
        listed(&worker_ops),
        listed(&sqs_ops)
    ));
    let (p50, floor_p50) = (median(per_delivery.clone()), median(floor.clone()));
    let cpu_ratio = ms(cpu_per_delivery) / ms(floor_cpu);
    let wall_ratio = ms(p50) / ms(floor_p50);
    let mark = |ok: bool| if ok { "✅" } else { "❌" };
    out.push_str(&format!(
        "**The deliver worker's {} binary** under the Runtime API, one SQS message per invocation ({warm} warm), against `floor-post` (a bare hyper + rustls POST to the same receiver, a fresh connection each time, no DynamoDB):\n\n\
         | per delivery | deliver | floor-post | ratio (target ≤ 1.5×) |\n|---|---|---|---|\n\
         | CPU time (the work the worker does) | {:.2} ms | {:.2} ms | {cpu_ratio:.2}× {} |\n\
         | wall time p50 (what Lambda bills) | {:.2} ms | {:.2} ms | {wall_ratio:.2}× {} |\n\
         | wall time p99 | {:.2} ms | {:.2} ms | |\n\n\
         The deliver worker also waits on {dynamodb_per_delivery:.2} DynamoDB requests per delivery (BatchGetItem, the claim's UpdateItem, BatchWriteItem), which the floor does not make: on DynamoDB Local each takes several milliseconds, longer than the loopback POST itself. Batches of 10 ({batches} invocations): **{deliveries_per_second:.0} deliveries/s** from one container; peak RSS **{:.1} MB** (target ≤ 16 MB) {}.\n\n",
        if options.quick { "debug" } else { "release" },
        ms(cpu_per_delivery),
        ms(floor_cpu),
        mark(cpu_ratio <= 1.5),
        ms(p50),
        ms(floor_p50),
        mark(wall_ratio <= 1.5),
        ms(quantile(&per_delivery, 0.99)),
        ms(quantile(&floor, 0.99)),
        peak_rss_kb as f64 / 1024.0,
        mark(peak_rss_kb <= 16 * 1024),
    ));
    out.push_str("Zipped `bootstrap`s (target ≤ 2.5 MB for arm64, what Lambda receives; `cargo lambda build --release --arm64`):\n\n| binary | zipped (host) | zipped (arm64) |\n|---|---|---|\n");
    for binary in ["publish-event", "fan-out", "deliver"] {
        let host = zipped_size(&options.bin_dir.join(binary))
            .map(|b| format!("{:.2} MB", b as f64 / 1e6))
            .unwrap_or_else(|_| "not built".into());
        let arm = options
            .arm64_dir
            .as_ref()
            .map(|dir| dir.join(binary).join("bootstrap"))
            .filter(|p| p.exists())
            .and_then(|p| zipped_size(&p).ok())
            .map(|b| format!("{:.2} MB", b as f64 / 1e6))
            .unwrap_or_else(|| "–".into());
        out.push_str(&format!("| {binary} | {host} | {arm} |\n"));
    }
    out.push_str(&cost_table(&publish_ops, &worker_ops, &sqs_ops, p50));
    Ok(out)
}

/// The cost per million single-endpoint events at us-east-1 list prices, from the counts.
fn cost_table(
    publish: &BTreeMap<String, f64>,
    workers: &BTreeMap<String, f64>,
    sqs: &BTreeMap<String, f64>,
    delivery: Duration,
) -> String {
    // Capacity units per request, for items under 1 KB (reads under 4 KB), strongly consistent:
    // a transaction costs twice per item (publish: two puts and the key's ConditionCheck).
    let units = |op: &str| -> (f64, f64) {
        match op {
            "TransactWriteItems" => (6.0, 0.0),
            "BatchWriteItem" => (3.0, 0.0),
            "UpdateItem" | "PutItem" | "DeleteItem" => (1.0, 0.0),
            "BatchGetItem" => (0.0, 3.0),
            "Query" | "GetItem" => (0.0, 1.0),
            _ => (0.0, 0.0),
        }
    };
    let (mut wru, mut rru) = (0.0, 0.0);
    for (op, n) in publish.iter().chain(workers.iter()) {
        let (w, r) = units(op);
        wru += w * n;
        rru += r * n;
    }
    let sqs_requests: f64 = sqs.values().sum();
    // Per event: the publish request; Lambda: publish, fan-out and deliver invocations (one each
    // when events come one at a time, the dearest case); SQS: the workers' sends plus the
    // deliver mapping's receive and delete of the task.
    let api = 1.00;
    let lambda_requests = 3.0 * 0.20;
    let gb_second = 0.000_013_333_4;
    let lambda_compute = (10.0 + 10.0 + ms(delivery)) / 1000.0 * 0.125 * gb_second * 1e6;
    let dynamodb = wru * 0.625 + rru * 0.125;
    let queue = (sqs_requests + 2.0) * 0.40;
    let total = api + lambda_requests + lambda_compute + dynamodb + queue;
    format!(
        "\n**Cost per million single-endpoint events** (us-east-1 list prices: HTTP API $1.00/M; Lambda arm64 $0.20/M requests + $0.0000133334/GB-s at 128 MB; DynamoDB on demand $0.625/M write units, $0.125/M read units, transactions double; SQS $0.40/M requests; stream reads by Lambda free), from the counts above ({wru:.1} write units and {rru:.1} read units per event, items under 1 KB) and one invocation per function per event (batching lowers it): \n\n| part | $ per million events |\n|---|---|\n| API Gateway | {api:.2} |\n| Lambda requests (publish, fan-out, deliver) | {lambda_requests:.2} |\n| Lambda compute (10 ms + 10 ms + the delivery's {:.1} ms) | {lambda_compute:.2} |\n| DynamoDB | {dynamodb:.2} |\n| SQS ({:.1} requests: sends, receive, delete) | {queue:.2} |\n| **total** (target ≤ $5; Svix Cloud charges $100) | **{total:.2}** {} |\n",
        ms(delivery),
        sqs_requests + 2.0,
        if total <= 5.0 { "✅" } else { "❌" }
    )
}
