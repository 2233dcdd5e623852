//! The test harness: a fresh table on DynamoDB Local per test, keys issued through the key tool's
//! own code, requests built from the `events/` fixtures, and a router that sends each request to
//! the function API Gateway would invoke for it.

pub mod engine;
pub mod faults;
pub mod outage;
pub mod receiver;
pub mod round_trips;
pub mod template;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{json, Value};
use shared::config::Config;
use shared::lambda_http::{Body, Request, Response};

use shared::store::{dynamodb_client, Store};
use shared::App;

pub use serde_json;
pub use shared;

/// The event catalogue every test app is configured with.
pub const EVENT_TYPES: &str = "invoice.paid,invoice.failed,customer.created,customer.deleted,ping";

pub use webhook_keys::{FIXTURE_APP, FIXTURE_EVENT_ID, FIXTURE_KEY, FIXTURE_WEBHOOK_ID};

fn require_local_dynamodb() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok_and(|v| !v.is_empty()),
        "AWS_ENDPOINT_URL_DYNAMODB must point at DynamoDB Local: run the tests with scripts/test"
    );
}

/// A unique table name per test, so that tests run in parallel without seeing each other.
fn fresh_table_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "webhooks-test-{}-{}-{}",
        std::process::id(),
        shared::time::now_millis(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// One test's world: a new table, and the environment its functions read.
pub struct World {
    pub table: String,
    pub client: aws_sdk_dynamodb::Client,
    pub vars: HashMap<String, String>,
}

impl World {
    pub async fn new() -> World {
        World::with_vars(&[]).await
    }

    /// A world whose functions also see `vars` (over the defaults).
    pub async fn with_vars(vars: &[(&str, &str)]) -> World {
        require_local_dynamodb();
        let client = dynamodb_client().await.expect("DynamoDB client");
        let table = fresh_table_name();
        webhook_keys::create_table(&client, &table).await.expect("create the test table");
        let mut env: HashMap<String, String> = HashMap::new();
        env.insert("TABLE_NAME".into(), table.clone());
        env.insert("EVENT_TYPES".into(), EVENT_TYPES.into());
        for (k, v) in vars {
            env.insert((*k).into(), (*v).into());
        }
        World { table, client, vars: env }
    }

    pub fn config(&self) -> Config {
        Config::from_lookup(|name| self.vars.get(name).cloned()).expect("test config")
    }

    /// A function container: what `main` builds once at cold start.
    pub fn container(&self) -> App {
        App::new(self.config(), self.client.clone())
    }

    pub fn store(&self) -> Store {
        Store::new(self.client.clone(), &self.table)
    }

    /// Issues a key through the key tool's code.
    pub async fn key(&self, app_id: &str, scopes: &[&str]) -> String {
        let scopes = scopes.iter().map(|s| s.to_string()).collect();
        webhook_keys::issue_key(&self.store(), app_id, scopes).await.expect("issue key").key
    }

    /// Stores the fixtures' published key for their app, as `scripts/dev` does.
    pub async fn install_fixture_key(&self) {
        webhook_keys::install_fixture_key(&self.store()).await.expect("install fixture key");
    }
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// An API Gateway HTTP API (payload 2.0) event, starting from a file in `events/`.
#[derive(Clone)]
pub struct Req {
    pub event: Value,
}

impl Req {
    pub fn fixture(name: &str) -> Req {
        let path = repo_root().join("events").join(format!("{name}.json"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        Req { event: serde_json::from_str(&text).expect("fixture is JSON") }
    }

    /// `method path`, built on the list fixture, with no key and no body.
    pub fn new(method: &str, path: &str) -> Req {
        Req::fixture("list").without_header("authorization").path(path).method(method)
    }

    pub fn method(mut self, method: &str) -> Req {
        self.event["requestContext"]["http"]["method"] = json!(method);
        self
    }

    /// Sets the path; a `?query` part becomes the raw query string.
    pub fn path(mut self, path: &str) -> Req {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        self.event["rawPath"] = json!(path);
        self.event["requestContext"]["http"]["path"] = json!(path);
        self.event["rawQueryString"] = json!(query);
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.event["headers"][name.to_ascii_lowercase()] = json!(value);
        self
    }

    pub fn without_header(mut self, name: &str) -> Req {
        if let Some(headers) = self.event["headers"].as_object_mut() {
            headers.remove(&name.to_ascii_lowercase());
        }
        self
    }

    pub fn key(self, key: &str) -> Req {
        self.header("authorization", &format!("Bearer {key}"))
    }

    pub fn json(self, body: Value) -> Req {
        self.raw_body(&body.to_string()).header("content-type", "application/json")
    }

    pub fn raw_body(mut self, body: &str) -> Req {
        self.event["body"] = json!(body);
        self.event["isBase64Encoded"] = json!(false);
        self
    }

    pub fn rest_method(&self) -> String {
        self.event["requestContext"]["http"]["method"].as_str().unwrap_or_default().to_owned()
    }

    pub fn raw_path(&self) -> String {
        self.event["rawPath"].as_str().unwrap_or_default().to_owned()
    }

    /// The request lambda_http hands a handler for this event.
    pub fn build(&self) -> Request {
        shared::lambda_http::request::from_str(&self.event.to_string()).expect("a valid API Gateway event")
    }
}

/// A response, read.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub raw: String,
    pub body: Value,
}

impl Answer {
    pub fn from_response(res: Response<Body>) -> Answer {
        let status = res.status().as_u16();
        let headers = res
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        let raw = String::from_utf8_lossy(res.body().as_ref()).into_owned();
        let body = if raw.is_empty() { Value::Null } else { serde_json::from_str(&raw).expect("every body is JSON") };
        Answer { status, headers, raw, body }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("<no error code>")
    }

    pub fn error_field(&self) -> Option<&str> {
        self.body["error"]["field"].as_str()
    }

    /// Asserts an error answer in the contract's envelope.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!((self.status, self.error_code()), (status, code), "body: {}", self.raw);
        assert_eq!(self.body["success"], json!(false));
        assert_eq!(self.header("content-type"), Some("application/json"));
        let error = self.body["error"].as_object().expect("error object");
        assert!(
            error.keys().all(|k| ["code", "message", "field", "requestId"].contains(&k.as_str())),
            "extra keys: {error:?}"
        );
        assert!(error["message"].as_str().is_some_and(|m| m.ends_with('.')), "message is a sentence: {error:?}");
        assert!(error.contains_key("requestId"));
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) {
        assert_eq!(self.status, status, "body: {}", self.raw);
    }
}

/// Sends a request to the function its route names (as API Gateway would), in `container`.
pub async fn send(container: &App, req: &Req) -> Answer {
    Answer::from_response(local_api::invoke(container, req.build()).await)
}

/// A container and a key with every scope for one app: the common starting point.
pub struct Client {
    pub app: App,
    pub app_id: String,
    pub key: String,
}

impl Client {
    pub async fn new(world: &World, app_id: &str) -> Client {
        Client { app: world.container(), app_id: app_id.into(), key: world.key(app_id, &["webhooks:manage"]).await }
    }

    pub fn collection(&self) -> String {
        format!("/apps/{}/webhooks", self.app_id)
    }

    pub fn item(&self, id: &str) -> String {
        format!("/apps/{}/webhooks/{id}", self.app_id)
    }

    pub async fn send(&self, req: Req) -> Answer {
        send(&self.app, &req.key(&self.key)).await
    }

    pub async fn create(&self, body: Value) -> Answer {
        self.send(Req::new("POST", &self.collection()).json(body)).await
    }

    /// Creates an endpoint for `url` and returns its id.
    pub async fn create_ok(&self, url: &str) -> String {
        let answer = self.create(json!({"url": url, "events": ["invoice.paid"]})).await;
        answer.assert_status(201);
        answer.data()["id"].as_str().expect("id").to_owned()
    }

    pub async fn get(&self, id: &str) -> Answer {
        self.send(Req::new("GET", &self.item(id))).await
    }

    pub async fn list(&self, query: &str) -> Answer {
        self.send(Req::new("GET", &format!("{}{query}", self.collection()))).await
    }
}
