//! The delivery engine end to end: a test's table (with its stream) on DynamoDB Local, its queues
//! on moto's SQS server, the workers behind the local event-source mappings (`event-sources`), and
//! a real HTTPS receiver on loopback. What is sent is read at the receiver; what is recorded is
//! read through the API.

use std::future::Future;
use std::time::Duration;

use event_sources::{Engine, Settings, WorkerClients};
use serde_json::{json, Value};

use crate::outage::Relay;
use crate::receiver::{Behaviour, LoopbackCa, Receiver};
use crate::round_trips::CallLog;
use crate::{send, Answer, Client, Req, World};

pub use event_sources;

/// Scaled-down mappings: a 3 s function timeout and a visibility timeout just above it, so a
/// message a "crashed" invocation left comes back within seconds.
pub fn test_settings() -> Settings {
    Settings {
        function_timeout: Duration::from_secs(3),
        visibility_timeout: Duration::from_secs(4),
        max_receive_count: 5,
        delivery_concurrency: 2,
        retry_concurrency: 2,
        recover_concurrency: 1,
    }
}

/// `world`'s configuration with a recover queue on moto's server (the recover route sends there),
/// for tests that run routes without the whole engine.
pub async fn config_with_recover_queue(world: &World) -> shared::config::Config {
    require_local_sqs();
    let sdk = shared::aws::sdk_config().await.expect("SDK config");
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queues = event_sources::create_queues(&sqs, &world.table, &test_settings()).await.expect("create the queues");
    let mut config = world.config();
    config.recover_queue_url = Some(queues.recover);
    config
}

fn require_local_sqs() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL_SQS").is_ok_and(|v| !v.is_empty()),
        "AWS_ENDPOINT_URL_SQS must point at moto's server: run the tests with scripts/test"
    );
}

/// Where the worker's own clients go: straight to DynamoDB Local and moto, or through relays a
/// test can cut.
#[derive(Default)]
pub struct Through<'a> {
    pub dynamodb: Option<&'a Relay>,
    pub sqs: Option<&'a Relay>,
    /// The DynamoDB calls of the fan-out and of the deliver worker, logged apart.
    pub logs: Option<(&'a CallLog, &'a CallLog)>,
    /// The recover worker's DynamoDB calls (with the deliver worker's when not given).
    pub recover_log: Option<&'a CallLog>,
    /// The mappings' settings instead of `test_settings()` (the template's own timeouts, say).
    pub settings: Option<Settings>,
}

/// One deployment: app `acme` with a management key and a publishing key, a receiver, the engine.
pub struct Deployment {
    pub engine: Engine,
    pub client: Client,
    pub publish_key: String,
    pub receiver: Receiver,
    pub world: World,
    pub ca: LoopbackCa,
}

impl Deployment {
    /// A deployment whose receiver answers as `behaviour`, with `vars` over the defaults.
    pub async fn start(vars: &[(&str, &str)], behaviour: Behaviour) -> Deployment {
        Deployment::start_through(vars, behaviour, Through::default()).await
    }

    pub async fn start_through(vars: &[(&str, &str)], behaviour: Behaviour, through: Through<'_>) -> Deployment {
        require_local_sqs();
        let ca = LoopbackCa::new();
        let receiver = Receiver::start(&ca, behaviour).await;
        let mut all = vec![("WEBHOOK_ALLOW_PRIVATE_CIDRS", "127.0.0.0/8"), ("WEBHOOK_EXTRA_CA_FILE", ca.pem_path())];
        all.extend_from_slice(vars);
        let mut world = World::with_vars(&all).await;
        let sdk = shared::aws::sdk_config().await.expect("SDK config");
        let dynamodb = match through.dynamodb {
            Some(relay) => aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(&sdk).endpoint_url(&relay.endpoint).build(),
            ),
            None => aws_sdk_dynamodb::Client::new(&sdk),
        };
        let sqs = match through.sqs {
            Some(relay) => aws_sdk_sqs::Client::from_conf(
                aws_sdk_sqs::config::Builder::from(&sdk).endpoint_url(&relay.endpoint).build(),
            ),
            None => aws_sdk_sqs::Client::new(&sdk),
        };
        let logs = through.logs.map(|(fan_out, deliver)| (fan_out.clone(), deliver.clone()));
        let recover_log = through.recover_log.cloned();
        let clients = move |worker: &str| {
            let dynamodb = match (&logs, &recover_log) {
                (_, Some(recover)) if worker == "recover" => recover.client(&dynamodb),
                (Some((fan_out, _)), _) if worker == "fan-out" => fan_out.client(&dynamodb),
                (Some((_, deliver)), _) => deliver.client(&dynamodb),
                (None, _) => dynamodb.clone(),
            };
            WorkerClients { dynamodb, sqs: sqs.clone() }
        };
        let vars = world.vars.clone();
        let settings = through.settings.unwrap_or_else(test_settings);
        let engine = Engine::start_with(world.config(), &sdk, clients, move |name| vars.get(name).cloned(), settings)
            .await
            .expect("start the engine");
        // The recover route sends to the engine's recover queue.
        world.vars.insert("RECOVER_QUEUE_URL".into(), engine.queues.recover.clone());
        let client = Client::new(&world, "acme").await;
        let publish_key = world.key("acme", &["events:publish"]).await;
        Deployment { engine, client, publish_key, receiver, world, ca }
    }

    /// Creates an endpoint at the receiver (`path` tells endpoints apart) subscribed to `events`;
    /// answers its id and secret.
    pub async fn endpoint(&self, path: &str, events: &[&str]) -> (String, String) {
        let url = format!("https://127.0.0.1:{}{path}", self.receiver.port);
        let created = self.client.create(json!({"url": url, "events": events})).await;
        created.assert_status(201);
        (created.data()["id"].as_str().unwrap().to_owned(), created.data()["secret"].as_str().unwrap().to_owned())
    }

    /// Publishes for `acme`; answers the 202.
    pub async fn publish(&self, event_type: &str, data: Value) -> Answer {
        self.publish_as(Req::new("POST", "/apps/acme/events"), event_type, data).await
    }

    /// Publishes with `req` as the starting request (extra headers, say).
    pub async fn publish_as(&self, req: Req, event_type: &str, data: Value) -> Answer {
        let req = req.json(json!({"type": event_type, "data": data})).key(&self.publish_key);
        let answer = send(&self.client.app, &req).await;
        answer.assert_status(202);
        answer
    }

    /// The endpoint's delivery records, newest first.
    pub async fn history(&self, webhook_id: &str) -> Vec<Value> {
        let answer =
            self.client.send(Req::new("GET", &format!("{}/deliveries?limit=100", self.client.item(webhook_id)))).await;
        answer.assert_status(200);
        answer.data().as_array().cloned().unwrap_or_default()
    }

    /// Requests the receiver got at `path`.
    pub fn received_at(&self, path: &str) -> Vec<crate::receiver::Received> {
        self.receiver.received().into_iter().filter(|r| r.target == path).collect()
    }
}

/// Polls `probe` every 100 ms until it answers `Some`, for at most `within`; panics with `what`.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
