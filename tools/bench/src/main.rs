//! `bench`: runs each function's binary (and two floors) under a minimal Lambda Runtime API against
//! DynamoDB Local, and reports init time, first response, warm latency, memory, zipped size and
//! DynamoDB requests per invocation as a markdown table. Run it through `scripts/bench`.

mod counter;
mod engine;
mod runtime_api;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use counter::CountingRelay;
use loopback_ca::LoopbackCa;
use runtime_api::RuntimeApi;
use serde_json::{json, Value};
use shared::model::{CreatedEndpoint, NewEndpoint};
use shared::store::{dynamodb_client, KeyGuard, Store};
use shared::time::now_millis;
use shared::url::AddressPolicy;
use shared::validate::parse_webhook_url;
use webhook_keys::{FIXTURE_APP as APP, FIXTURE_WEBHOOK_ID};

const EVENT_TYPES: &str = "invoice.paid,invoice.payment_failed,customer.created";
/// A test-ping target that refuses at once (loopback is allowed for the benchmark only).
const PING_URL: &str = "https://127.0.0.1:1/ping";
/// Warm calls of the discarded first pass: enough for DynamoDB Local's JIT to compile what each
/// operation runs (with 5, a freshly started DynamoDB Local kept transactions and queries slow for
/// the whole run, and the routes that make more calls looked slower than they are).
const PRE_PASS_CALLS: usize = 300;
/// A pause before each cold start: the previous process's connections close at the relay and
/// DynamoDB Local after it is killed, and that work is let finish rather than charged to the next
/// binary's start.
const SETTLE_BEFORE_START: Duration = Duration::from_millis(50);
/// Cold starts per binary; their medians are reported.
const COLD_RUNS: usize = 21;

struct Options {
    quick: bool,
    bin_dir: PathBuf,
    /// cargo-lambda's output (`{dir}/{binary}/bootstrap`, arm64): the size Lambda receives.
    arm64_dir: Option<PathBuf>,
    out: Option<PathBuf>,
    root: PathBuf,
    /// `--only a,b`: just these binaries (for experiments; the report needs the floors beside them).
    only: Option<Vec<String>>,
    /// `--cold N`: cold starts per binary instead of the default.
    cold_runs: Option<usize>,
    /// `--plain-dynamodb`: reach DynamoDB Local over plain HTTP instead of through the HTTPS relay
    /// (to see what the TLS handshake of a cold connection costs).
    plain_dynamodb: bool,
    /// `--dynamodb-rtt-ms N`: a network's round trip between the functions and DynamoDB.
    dynamodb_rtt: Duration,
    /// `--provisioned-ms N`: start as Lambda starts an environment for provisioned concurrency
    /// (`AWS_LAMBDA_INITIALIZATION_TYPE`), frozen once it polls, and thawed N ms later for its first
    /// event. The default is an on-demand cold start: the event that caused it is already waiting.
    provisioned_idle: Option<Duration>,
}

/// What one binary measured.
struct Figures {
    name: String,
    init: Duration,
    first_response: Duration,
    first_invocation: Duration,
    /// CPU time (all threads) from exec to the first response.
    cold_cpu: Duration,
    /// DynamoDB connections opened from exec to the first response.
    cold_connections: u64,
    p50: Duration,
    p99: Duration,
    rss_early_kb: u64,
    rss_end_kb: u64,
    peak_rss_kb: u64,
    zipped_bytes: u64,
    arm64_zipped_bytes: Option<u64>,
    dynamodb_per_invocation: f64,
    warm: usize,
    cold_runs: usize,
}

/// A function to run: its binary, its expected answer, and the event of invocation `i`.
struct Subject {
    binary: &'static str,
    expect_status: u16,
    fewest_dynamodb_requests: Option<u32>,
    event: Box<dyn Fn(usize) -> Value>,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        quick: false,
        bin_dir: PathBuf::from("target/release"),
        arm64_dir: None,
        out: None,
        root: PathBuf::from("."),
        only: None,
        cold_runs: None,
        plain_dynamodb: false,
        dynamodb_rtt: Duration::ZERO,
        provisioned_idle: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--plain-dynamodb" => options.plain_dynamodb = true,
            "--provisioned-ms" => {
                let ms = args.next().and_then(|n| n.parse::<u64>().ok());
                options.provisioned_idle = Some(Duration::from_millis(ms.ok_or("--provisioned-ms needs milliseconds")?));
            }
            "--dynamodb-rtt-ms" => {
                let ms = args.next().and_then(|n| n.parse::<f64>().ok()).filter(|n| n.is_finite() && *n >= 0.0);
                options.dynamodb_rtt = Duration::from_secs_f64(ms.ok_or("--dynamodb-rtt-ms needs milliseconds")? / 1000.0);
            }
            "--bin-dir" => options.bin_dir = args.next().ok_or("--bin-dir needs a path")?.into(),
            "--arm64-dir" => options.arm64_dir = Some(args.next().ok_or("--arm64-dir needs a path")?.into()),
            "--out" => options.out = Some(args.next().ok_or("--out needs a path")?.into()),
            "--root" => options.root = args.next().ok_or("--root needs a path")?.into(),
            "--only" => {
                options.only = Some(args.next().ok_or("--only needs names")?.split(',').map(str::to_owned).collect())
            }
            "--cold" => {
                let n = args.next().and_then(|n| n.parse().ok()).filter(|n| *n > 0);
                options.cold_runs = Some(n.ok_or("--cold needs a positive number")?);
            }
            "-h" | "--help" => {
                return Err(
                    "usage: bench [--quick] [--bin-dir DIR] [--arm64-dir DIR] [--out FILE.md] [--root REPO] [--only NAME,..] [--cold N] [--plain-dynamodb] [--dynamodb-rtt-ms N] [--provisioned-ms N] (see scripts/bench)".into()
                )
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let options = parse_options()?;
    let upstream = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .map_err(|_| "AWS_ENDPOINT_URL_DYNAMODB must point at DynamoDB Local")?;
    let (cold_runs, warm) = if options.quick { (1, 20) } else { (COLD_RUNS, 1000) };
    let cold_runs = options.cold_runs.unwrap_or(cold_runs);
    let table = format!("bench-{}", shared::time::now_millis());
    // (--quick only proves the tool works: no need to warm anything.)
    let pre_pass_calls = if options.quick { 5 } else { PRE_PASS_CALLS };
    let pre_pass_events = cold_runs + pre_pass_calls + 1;
    let (target, deletable) = setup(&table, pre_pass_events + cold_runs + warm + 2).await?;
    // DynamoDB is HTTPS to a Lambda function: the relay is too, unless asked otherwise.
    let ca = (!options.plain_dynamodb).then(LoopbackCa::new);
    let relay = CountingRelay::start(&upstream, ca.as_ref(), options.dynamodb_rtt).await?;
    let mut subjects = subjects(&options.root, &target, deletable)?;
    if let Some(only) = &options.only {
        subjects.retain(|s| only.iter().any(|name| name == s.binary));
    }
    // A first pass warms DynamoDB Local itself (a JVM: each operation's first call is slow there and
    // would be charged to whichever function calls it first); its figures are discarded.
    for subject in &subjects {
        measure(&options, subject, &table, &relay, Vec::new(), pre_pass_calls, 0).await?;
    }
    // Cold starts go round-robin over the binaries, so that drift on the machine spreads evenly.
    let mut next_event = pre_pass_events;
    let mut colds: Vec<Vec<ColdSample>> = subjects.iter().map(|_| Vec::new()).collect();
    for _ in 1..cold_runs {
        for (subject, samples) in subjects.iter().zip(colds.iter_mut()) {
            let mut cold = cold_start(&options, subject, &table, &relay, next_event).await?;
            samples.push(cold.sample);
            let _ = cold.child.kill().await;
        }
        next_event += 1;
    }
    let mut results = Vec::new();
    for (subject, samples) in subjects.iter().zip(colds) {
        let figures = measure(&options, subject, &table, &relay, samples, warm, next_event).await?;
        eprintln!(
            "{:<16} init {:>6.1} ms  first {:>6.1} ms  CPU {:>5.1} ms  conns {}  p50 {:>5.2} ms  p99 {:>5.2} ms  peak RSS {:>6} kB  DynamoDB {:.2}/call",
            figures.name,
            ms(figures.init),
            ms(figures.first_response),
            ms(figures.cold_cpu),
            figures.cold_connections,
            ms(figures.p50),
            ms(figures.p99),
            figures.peak_rss_kb,
            figures.dynamodb_per_invocation
        );
        results.push((figures, subject.fewest_dynamodb_requests));
    }
    let mut report = report(&options, &results);
    // The engine's section: always, or with `--only engine` (alone: only it).
    if options.only.as_ref().is_none_or(|only| only.iter().any(|name| name == "engine")) {
        report.push_str(&engine::report(&options, &upstream, &relay).await?);
    }
    match &options.out {
        Some(path) => std::fs::write(path, report).map_err(|e| format!("write {}: {e}", path.display()))?,
        None => print!("{report}"),
    }
    Ok(())
}

/// How the functions reached DynamoDB and got their first event, as the report's header says it.
fn conditions(options: &Options) -> String {
    let mut said = String::from(if options.plain_dynamodb {
        ", over plain HTTP"
    } else {
        " behind an HTTPS relay (as DynamoDB is HTTPS to Lambda, a new connection costs a TLS handshake)"
    });
    if !options.dynamodb_rtt.is_zero() {
        said.push_str(&format!(" with {:.1} ms added round-trip time", ms(options.dynamodb_rtt)));
    }
    match options.provisioned_idle {
        Some(idle) => said.push_str(&format!(
            ", started as for provisioned concurrency (frozen after the first poll, thawed {} ms later for the first event)",
            idle.as_millis()
        )),
        None => said.push_str(", started on demand (the first event waiting)"),
    }
    said
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The table, the fixtures' key, the endpoint most routes act on, and endpoints for delete to remove.
async fn setup(table: &str, deletable_count: usize) -> Result<(String, Vec<String>), String> {
    let client = dynamodb_client().await?;
    webhook_keys::create_table(&client, table).await?;
    let store = Store::new(client, table);
    webhook_keys::install_fixture_key(&store).await?;
    // A deployed table has had its first list long ago: its cursor key exists.
    store.cursor_key().await.map_err(|e| e.to_string())?;
    let loopback = AddressPolicy::from_allow_list("127.0.0.0/8")?;
    let new = |url: &str| -> Result<NewEndpoint, String> {
        Ok(NewEndpoint {
            url: parse_webhook_url(url, &loopback).map_err(|e| e.message)?,
            events: vec!["invoice.paid".into()],
            description: None,
            active: true,
            rate_limit: None,
            metadata: Default::default(),
        })
    };
    let create = |url: String| {
        let store = &store;
        let new = new(&url);
        async move {
            let new = new?;
            let created = CreatedEndpoint::mint(&new, now_millis()).map_err(|e| e.to_string())?;
            store
                .create_endpoint(APP, &new, &created, u32::MAX, None, &KeyGuard::internal())
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(created.endpoint.id)
        }
    };
    let target = create(PING_URL.to_owned()).await?;
    let mut deletable = Vec::with_capacity(deletable_count);
    for i in 0..deletable_count {
        deletable.push(create(format!("https://93.184.215.14/delete/{i}")).await?);
    }
    Ok((target, deletable))
}

fn fixture(root: &Path, name: &str) -> Result<Value, String> {
    let path = root.join("events").join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The fixture with its placeholder id replaced (in the path and the path parameters).
fn for_webhook(event: &Value, id: &str) -> Value {
    serde_json::from_str(&event.to_string().replace(FIXTURE_WEBHOOK_ID, id)).unwrap_or_else(|_| event.clone())
}

fn with_body(mut event: Value, body: Value) -> Value {
    event["body"] = json!(body.to_string());
    if let Some(headers) = event["headers"].as_object_mut() {
        headers.remove("content-length");
        headers.insert("content-type".into(), json!("application/json"));
    }
    event
}

fn subjects(root: &Path, target: &str, deletable: Vec<String>) -> Result<Vec<Subject>, String> {
    let create = fixture(root, "create")?;
    let list = fixture(root, "list")?;
    let get = for_webhook(&fixture(root, "get")?, target);
    let update = for_webhook(&fixture(root, "update")?, target);
    // Without the fixture's grace period: a thousand rotations would pass the retired-secret limit.
    let rotate = with_body(for_webhook(&fixture(root, "rotate")?, target), json!({}));
    let ping = for_webhook(&fixture(root, "test-ping")?, target);
    let deliveries = for_webhook(&fixture(root, "deliveries")?, target);
    let delete = fixture(root, "delete")?;
    let fallback = fixture(root, "fallback")?;
    let constant = |event: Value| -> Box<dyn Fn(usize) -> Value> { Box::new(move |_| event.clone()) };
    Ok(vec![
        Subject {
            binary: "floor-hello",
            expect_status: 200,
            fewest_dynamodb_requests: Some(0),
            event: constant(list.clone()),
        },
        Subject {
            binary: "floor-dynamodb",
            expect_status: 200,
            fewest_dynamodb_requests: Some(1),
            event: constant(list.clone()),
        },
        Subject {
            binary: "create-webhook",
            expect_status: 201,
            fewest_dynamodb_requests: Some(1),
            // An IP literal: no DNS lookup in the measurement.
            event: Box::new(move |i| {
                with_body(
                    create.clone(),
                    json!({"url": format!("https://93.184.215.14/create/{i}"), "events": ["invoice.paid"]}),
                )
            }),
        },
        Subject {
            binary: "list-webhooks",
            expect_status: 200,
            fewest_dynamodb_requests: Some(1),
            event: constant(list),
        },
        Subject { binary: "get-webhook", expect_status: 200, fewest_dynamodb_requests: Some(1), event: constant(get) },
        Subject {
            binary: "update-webhook",
            expect_status: 200,
            fewest_dynamodb_requests: Some(1),
            event: Box::new(move |i| with_body(update.clone(), json!({"active": i % 2 == 0}))),
        },
        Subject {
            binary: "rotate-secret",
            expect_status: 200,
            fewest_dynamodb_requests: Some(2),
            event: constant(rotate),
        },
        Subject { binary: "test-ping", expect_status: 200, fewest_dynamodb_requests: Some(2), event: constant(ping) },
        Subject {
            binary: "list-deliveries",
            expect_status: 200,
            fewest_dynamodb_requests: Some(2),
            event: constant(deliveries),
        },
        Subject {
            binary: "delete-webhook",
            expect_status: 204,
            fewest_dynamodb_requests: Some(2),
            event: Box::new(move |i| {
                for_webhook(&delete, deletable.get(i).map(String::as_str).unwrap_or(FIXTURE_WEBHOOK_ID))
            }),
        },
        Subject {
            binary: "fallback",
            expect_status: 405,
            fewest_dynamodb_requests: Some(0),
            event: constant(fallback),
        },
    ])
}

fn proc_status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Sends a signal with `kill`, as the freezer Lambda uses would stop and resume the process.
fn signal(pid: u32, which: &str) -> Result<(), String> {
    let status = std::process::Command::new("kill").args([which, &pid.to_string()]).status();
    match status {
        Ok(status) if status.success() => Ok(()),
        other => Err(format!("kill {which} {pid}: {other:?}")),
    }
}

/// CPU time the process has used, all its threads (the scheduler's nanosecond count, where
/// `/proc/PID/stat` only has clock ticks).
fn process_cpu(pid: u32) -> Duration {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten();
    let nanos = tasks
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next().and_then(|ns| ns.parse::<u64>().ok()))
        .sum();
    Duration::from_nanos(nanos)
}

/// The binary zipped as Lambda receives it (`bootstrap`, deflate level 9).
fn zipped_size(binary: &Path) -> Result<u64, String> {
    let zip = std::env::temp_dir().join(format!("bench-{}.zip", std::process::id()));
    let script = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED, compresslevel=9)\nz.write(sys.argv[2], 'bootstrap')\nz.close()";
    let status = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&zip)
        .arg(binary)
        .status()
        .map_err(|e| format!("python3: {e}"))?;
    if !status.success() {
        return Err("zipping failed".into());
    }
    let size = std::fs::metadata(&zip).map_err(|e| e.to_string())?.len();
    let _ = std::fs::remove_file(&zip);
    Ok(size)
}

/// A started function that has answered its first (cold) invocation.
struct Cold {
    api: RuntimeApi,
    child: tokio::process::Child,
    pid: u32,
    sample: ColdSample,
}

/// One cold start's figures.
#[derive(Clone, Copy)]
struct ColdSample {
    init: Duration,
    first_response: Duration,
    first_invocation: Duration,
    cpu: Duration,
    connections: u64,
}

fn check(subject: &Subject, answer: &runtime_api::Answer) -> Result<(), String> {
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    let status = body["statusCode"].as_u64().unwrap_or(0);
    if answer.is_error || status != u64::from(subject.expect_status) {
        let got = String::from_utf8_lossy(&answer.body);
        return Err(format!("{}: expected {}, got {got}", subject.binary, subject.expect_status));
    }
    Ok(())
}

/// Sends event `index` and waits for the answer; returns when it was sent and the answer.
async fn invoke(
    api: &mut RuntimeApi,
    subject: &Subject,
    index: usize,
) -> Result<(Instant, runtime_api::Answer), String> {
    let event = serde_json::to_vec(&(subject.event)(index)).unwrap_or_default();
    let sent = Instant::now();
    api.invoke(format!("bench-{index}"), event).await;
    let answer = tokio::time::timeout(Duration::from_secs(30), api.answers.recv())
        .await
        .ok()
        .flatten()
        .ok_or_else(|| format!("{}: no answer within 30 s", subject.binary))?;
    check(subject, &answer)?;
    Ok((sent, answer))
}

/// Starts the binary as Lambda would and gives it its first event.
async fn cold_start(
    options: &Options,
    subject: &Subject,
    table: &str,
    relay: &CountingRelay,
    index: usize,
) -> Result<Cold, String> {
    let binary = options.bin_dir.join(subject.binary);
    let mut api = RuntimeApi::start().await.map_err(|e| format!("runtime API: {e}"))?;
    let verbose = std::env::var_os("BENCH_VERBOSE").is_some();
    tokio::time::sleep(SETTLE_BEFORE_START).await;
    let connections_before = relay.connections();
    let started = Instant::now();
    let child = tokio::process::Command::new(&binary)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", subject.binary)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "bench")
        .env(
            "AWS_LAMBDA_INITIALIZATION_TYPE",
            if options.provisioned_idle.is_some() { "provisioned-concurrency" } else { "on-demand" },
        )
        // DynamoDB Local keeps tables per access key and region: the setup's own.
        .env("AWS_REGION", std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()))
        .env("AWS_ACCESS_KEY_ID", std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_default())
        .env("AWS_SECRET_ACCESS_KEY", std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_default())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(relay.client_env.iter().map(|(name, value)| (name, value)))
        .env("TABLE_NAME", table)
        .env("EVENT_TYPES", EVENT_TYPES)
        .env("MAX_ENDPOINTS_PER_APP", "1000000")
        // test-ping runs a thousand times a minute here; the per-app limit would answer 429.
        .env("MANUAL_SENDS_PER_MINUTE", "4000000000")
        .env("WEBHOOK_ALLOW_PRIVATE_CIDRS", "127.0.0.0/8")
        .stdout(Stdio::null())
        .stderr(if verbose { Stdio::inherit() } else { Stdio::null() })
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("spawn {}: {e}", binary.display()))?;
    let pid = child.id().ok_or("the function exited at once")?;
    let first_poll =
        next_poll(&mut api).await.ok_or_else(|| format!("{}: no /next poll within 30 s", subject.binary))?;
    if let Some(idle) = options.provisioned_idle {
        // Lambda freezes an environment that polls with no event waiting: nothing runs until thawed.
        signal(pid, "-STOP")?;
        tokio::time::sleep(idle).await;
        signal(pid, "-CONT")?;
    }
    let (sent, answer) = invoke(&mut api, subject, index).await?;
    // Read while the process waits for its next event, so that nothing more is charged to it.
    let sample = ColdSample {
        init: first_poll - started,
        first_response: answer.at - started,
        first_invocation: answer.at - sent,
        cpu: process_cpu(pid),
        connections: relay.connections() - connections_before,
    };
    Ok(Cold { api, child, pid, sample })
}

fn median<T: Ord + Copy + Default>(mut values: Vec<T>) -> T {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// One more cold start (its figures and `colds` give the medians), then `warm` invocations of that
/// process; events are numbered from `first_event`.
async fn measure(
    options: &Options,
    subject: &Subject,
    table: &str,
    relay: &CountingRelay,
    mut colds: Vec<ColdSample>,
    warm: usize,
    first_event: usize,
) -> Result<Figures, String> {
    let binary = options.bin_dir.join(subject.binary);
    if !binary.exists() {
        return Err(format!("{} is not built (scripts/bench builds it)", binary.display()));
    }
    let mut cold = cold_start(options, subject, table, relay, first_event).await?;
    colds.push(cold.sample);
    let cold_runs = colds.len();
    let requests_before = relay.count();
    let mut latencies = Vec::with_capacity(warm);
    let mut rss_early_kb = 0;
    for i in 1..=warm {
        next_poll(&mut cold.api).await.ok_or("no poll")?;
        let (sent, answer) = invoke(&mut cold.api, subject, first_event + i).await?;
        latencies.push(answer.at - sent);
        if i == warm.min(200) {
            rss_early_kb = proc_status_kb(cold.pid, "VmRSS:");
        }
    }
    let requests = relay.count() - requests_before;
    let rss_end_kb = proc_status_kb(cold.pid, "VmRSS:");
    let peak_rss_kb = proc_status_kb(cold.pid, "VmHWM:");
    let _ = cold.child.kill().await;
    latencies.sort();
    let at =
        |q: f64| latencies[((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1).min(latencies.len() - 1)];
    Ok(Figures {
        name: subject.binary.to_owned(),
        init: median(colds.iter().map(|c| c.init).collect()),
        first_response: median(colds.iter().map(|c| c.first_response).collect()),
        first_invocation: median(colds.iter().map(|c| c.first_invocation).collect()),
        cold_cpu: median(colds.iter().map(|c| c.cpu).collect()),
        cold_connections: median(colds.iter().map(|c| c.connections).collect()),
        p50: at(0.50),
        p99: at(0.99),
        rss_early_kb,
        rss_end_kb,
        peak_rss_kb,
        zipped_bytes: zipped_size(&binary)?,
        arm64_zipped_bytes: match &options.arm64_dir {
            Some(dir) if dir.join(subject.binary).join("bootstrap").exists() => {
                Some(zipped_size(&dir.join(subject.binary).join("bootstrap"))?)
            }
            _ => None,
        },
        dynamodb_per_invocation: requests as f64 / warm as f64,
        warm,
        cold_runs,
    })
}

async fn next_poll(api: &mut RuntimeApi) -> Option<Instant> {
    tokio::time::timeout(Duration::from_secs(30), api.polls.recv()).await.ok().flatten()
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name").map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned()))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let kernel = std::process::Command::new("uname")
        .args(["-srm"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, {kernel}")
}

fn report(options: &Options, results: &[(Figures, Option<u32>)]) -> String {
    let floor = results.iter().find(|(f, _)| f.name == "floor-dynamodb").map(|(f, _)| f);
    let mut out = String::new();
    out.push_str("# Benchmarks\n\n");
    out.push_str(&format!(
        "Measured {} on {} with `scripts/bench{}` ({} binaries in `{}`), each function under the minimal \
         Lambda Runtime API in `tools/bench` against DynamoDB Local on loopback{}: the median of {} cold starts, \
         then {} warm invocations of the last process. \
         Times are wall-clock on this machine, not on Lambda; DynamoDB Local answers in about a millisecond, \
         where the real service takes a few.\n\n",
        shared::time::rfc3339_millis(shared::time::now_millis()),
        machine(),
        if options.quick { " --quick" } else { "" },
        if options.quick { "debug" } else { "release" },
        options.bin_dir.display(),
        conditions(options),
        results.first().map(|(f, _)| f.cold_runs).unwrap_or(0),
        results.first().map(|(f, _)| f.warm).unwrap_or(0),
    ));
    out.push_str("| binary | init | cold first response | first invocation | cold CPU | DynamoDB connections (cold) | warm p50 | warm p99 | RSS after 200 → end (peak) | zipped (host) | zipped (arm64) | DynamoDB requests / call |\n");
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (f, fewest) in results {
        let dynamodb = match fewest {
            Some(n) => format!("{:.2} (fewest: {n})", f.dynamodb_per_invocation),
            None => format!("{:.2}", f.dynamodb_per_invocation),
        };
        out.push_str(&format!(
            "| {} | {:.1} ms | {:.1} ms | {:.2} ms | {:.1} ms | {} | {:.2} ms | {:.2} ms | {:.1} → {:.1} MB ({:.1}) | {:.2} MB | {} | {} |\n",
            f.name,
            ms(f.init),
            ms(f.first_response),
            ms(f.first_invocation),
            ms(f.cold_cpu),
            f.cold_connections,
            ms(f.p50),
            ms(f.p99),
            f.rss_early_kb as f64 / 1024.0,
            f.rss_end_kb as f64 / 1024.0,
            f.peak_rss_kb as f64 / 1024.0,
            f.zipped_bytes as f64 / 1_000_000.0,
            f.arm64_zipped_bytes.map(|b| format!("{:.2} MB", b as f64 / 1_000_000.0)).unwrap_or_else(|| "–".into()),
            dynamodb,
        ));
    }
    if let Some(floor) = floor {
        out.push_str("\n## Against the targets\n\n");
        out.push_str("Floor: `floor-dynamodb` (the same client, one GetItem per event). Targets: init ≤ 1.2× the floor's, cold first response ≤ 1.5×, zipped ≤ 2.5 MB, peak RSS ≤ 12 MB, the fewest DynamoDB requests.\n\n");
        out.push_str("The zipped size judged is the arm64 `bootstrap` Lambda receives when it was built (`cargo lambda build --release --arm64`), else the host binary's.\n\n");
        out.push_str("| binary | init / floor | first response / floor | cold CPU / floor (no target) | zipped ≤ 2.5 MB | peak RSS ≤ 12 MB | fewest requests |\n|---|---|---|---|---|---|---|\n");
        for (f, fewest) in results.iter().filter(|(f, _)| !f.name.starts_with("floor-")) {
            let zipped = f.arm64_zipped_bytes.unwrap_or(f.zipped_bytes);
            let init_ratio = ms(f.init) / ms(floor.init);
            let first_ratio = ms(f.first_response) / ms(floor.first_response);
            let mark = |ok: bool| if ok { "✅" } else { "❌" };
            out.push_str(&format!(
                "| {} | {:.2}× {} | {:.2}× {} | {:.2}× | {:.2} MB {} | {:.1} MB {} | {} |\n",
                f.name,
                init_ratio,
                mark(init_ratio <= 1.2),
                first_ratio,
                mark(first_ratio <= 1.5),
                ms(f.cold_cpu) / ms(floor.cold_cpu),
                zipped as f64 / 1_000_000.0,
                mark(zipped <= 2_500_000),
                f.peak_rss_kb as f64 / 1024.0,
                mark(f.peak_rss_kb <= 12 * 1024),
                match fewest {
                    Some(n) => mark((f.dynamodb_per_invocation - f64::from(*n)).abs() < 0.01).to_owned(),
                    None => "–".into(),
                }
            ));
        }
    }
    out
}
