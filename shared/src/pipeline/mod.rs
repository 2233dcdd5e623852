//! The request pipeline every route runs through, in the contract's check order:
//! authenticate (401) → the key's app against the path (404) → scope (403) → path ids (404) →
//! method (405) → Idempotency-Key (POST) → body (415, 413, 400) → the route's work → envelope.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use lambda_http::http::HeaderMap;
use lambda_http::{Body, Request, RequestExt, Response};
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::{KeyCache, Principal, Scope, KEY_CACHE_TTL};
use crate::config::Config;
use crate::envelope::Reply;
use crate::error::ApiError;
use crate::outbound::{Deliverer, CONNECT_TIMEOUT, TOTAL_TIMEOUT};
use crate::store::{dynamodb_client, Claim, Store, StoredResponse};
use crate::time::now_millis;
use crate::validate::hex;

pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const DEFAULT_PAGE_LIMIT: u32 = 20;
pub const MAX_PAGE_LIMIT: u32 = 100;
/// How long a claim is held when the invocation carries no deadline (outside Lambda).
const DEFAULT_CLAIM_MILLIS: u64 = 60_000;

/// The shapes of the contract's paths, after an optional stage prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathShape {
    /// `/apps/{appId}/webhooks`
    Webhooks,
    /// `/apps/{appId}/webhooks/{webhookId}`
    Webhook,
    /// `/apps/{appId}/webhooks/{webhookId}/{action}`
    WebhookAction(&'static str),
}

/// Every path of the contract and the methods it answers: the single source for routing answers
/// (405 `Allow`) and for the template consistency test.
pub const KNOWN_PATHS: [(PathShape, &[&str]); 5] = [
    (PathShape::Webhooks, &["GET", "POST"]),
    (PathShape::Webhook, &["GET", "PUT", "PATCH", "DELETE"]),
    (PathShape::WebhookAction("rotate-secret"), &["POST"]),
    (PathShape::WebhookAction("test-ping"), &["POST"]),
    (PathShape::WebhookAction("deliveries"), &["GET"]),
];

/// The ids a path carries, still unchecked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathIds {
    pub app_id: String,
    pub webhook_id: Option<String>,
}

impl PathShape {
    fn literals(self) -> Vec<Option<&'static str>> {
        let mut parts = vec![Some("apps"), None, Some("webhooks")];
        match self {
            PathShape::Webhooks => {}
            PathShape::Webhook => parts.push(None),
            PathShape::WebhookAction(action) => parts.extend([None, Some(action)]),
        }
        parts
    }

    /// Matches the end of `path` (a stage name may precede it) and returns the ids it holds.
    pub fn match_path(self, path: &str) -> Option<PathIds> {
        let segments: Vec<String> = path
            .strip_prefix('/')?
            .split('/')
            .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect();
        let pattern = self.literals();
        let stage_len = segments.len().checked_sub(pattern.len())?;
        if stage_len > 1 {
            return None;
        }
        let tail = &segments[stage_len..];
        let literals_match = pattern.iter().zip(tail).all(|(p, s)| p.is_none_or(|lit| lit == s));
        literals_match.then(|| PathIds { app_id: tail[1].clone(), webhook_id: tail.get(3).cloned() })
    }

    /// The URL path (without stage) this shape has in the template.
    pub fn template_path(self) -> String {
        match self {
            PathShape::Webhooks => "/apps/{appId}/webhooks".into(),
            PathShape::Webhook => "/apps/{appId}/webhooks/{webhookId}".into(),
            PathShape::WebhookAction(action) => {
                format!("/apps/{{appId}}/webhooks/{{webhookId}}/{action}")
            }
        }
    }
}

/// The contract's `appId` pattern: 1–64 of `[A-Za-z0-9_-]`, starting with a letter or digit.
pub fn is_valid_app_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    (1..=64).contains(&bytes.len())
        && bytes[0].is_ascii_alphanumeric()
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
}

/// A `webhookId`: a hyphenated version-7 UUID (either case).
pub fn parse_webhook_id(id: &str) -> Option<Uuid> {
    if id.len() != 36 {
        return None;
    }
    Uuid::try_parse(id).ok().filter(|u| u.get_version_num() == 7)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRule {
    /// The route reads no body; whatever is sent is ignored.
    Ignored,
    /// An empty body is `{}`; a non-empty one must be a JSON object.
    Optional,
    /// The body must be a JSON object.
    Required,
}

/// What a route is: its path, methods, scope and body.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub path: PathShape,
    pub methods: &'static [&'static str],
    pub scope: Scope,
    pub body: BodyRule,
}

/// A request that passed every check before the route's own work.
#[derive(Debug)]
pub struct Call {
    pub app_id: String,
    pub webhook_id: Option<Uuid>,
    pub body: Map<String, Value>,
    pub request_id: String,
    query: Vec<(String, String)>,
}

impl Call {
    /// The path's webhook id (routes under `/webhooks/{webhookId}` always have one).
    pub fn webhook(&self) -> Uuid {
        self.webhook_id.unwrap_or_default()
    }

    /// The first value of a query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// `?limit=` (1–100, default 20) and `?cursor=`.
    pub fn page_request(&self) -> Result<(u32, Option<&str>), ApiError> {
        let limit = match self.query("limit") {
            None => DEFAULT_PAGE_LIMIT,
            Some(raw) => raw.parse::<u32>().ok().filter(|l| (1..=MAX_PAGE_LIMIT).contains(l)).ok_or_else(|| {
                ApiError::invalid_field("limit", format!("`limit` must be a whole number from 1 to {MAX_PAGE_LIMIT}."))
            })?,
        };
        Ok((limit, self.query("cursor")))
    }
}

/// Everything a function builds once per container.
pub struct App {
    pub config: Config,
    pub store: Store,
    keys: KeyCache,
    /// The outbound client, built by the first route that sends (only test-ping does).
    deliverer: OnceLock<Deliverer>,
    delivery_timeouts: (Duration, Duration),
}

impl App {
    pub fn new(config: Config, client: aws_sdk_dynamodb::Client) -> App {
        let store = Store::new(client, config.table_name.clone());
        App {
            config,
            store,
            keys: KeyCache::new(KEY_CACHE_TTL),
            deliverer: OnceLock::new(),
            delivery_timeouts: (CONNECT_TIMEOUT, TOTAL_TIMEOUT),
        }
    }

    /// Replaces the delivery timeouts (tests of slow receivers).
    pub fn with_delivery_timeouts(mut self, connect: Duration, total: Duration) -> App {
        self.delivery_timeouts = (connect, total);
        self
    }

    /// The container's outbound client; a bad `WEBHOOK_EXTRA_CA_FILE` is a 500 with the reason logged.
    pub fn deliverer(&self) -> Result<&Deliverer, ApiError> {
        if let Some(deliverer) = self.deliverer.get() {
            return Ok(deliverer);
        }
        let mut built = Deliverer::new(&self.config).map_err(|e| ApiError::internal().with_detail(e))?;
        (built.connect_timeout, built.total_timeout) = self.delivery_timeouts;
        Ok(self.deliverer.get_or_init(|| built))
    }

    /// Replaces the key cache's lifetime (tests of revocation and expiry).
    pub fn with_key_cache_ttl(mut self, ttl: std::time::Duration) -> App {
        self.keys = KeyCache::new(ttl);
        self
    }

    pub async fn from_env() -> Result<App, String> {
        let config = Config::from_env()?;
        Ok(App::new(config, dynamodb_client().await?))
    }

    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, ApiError> {
        self.keys.authenticate(&self.store, headers).await
    }

    /// Runs `work` behind every check of `route` and answers in the envelope.
    pub async fn respond<F, Fut>(&self, route: &Route, req: Request, work: F) -> Response<Body>
    where
        F: FnOnce(Call) -> Fut,
        Fut: Future<Output = Result<Reply, ApiError>>,
    {
        let request_id = request_id(&req);
        let reply = match self.checked(route, &req, &request_id, work).await {
            Ok(reply) => reply,
            Err(err) => error_reply(&err, &request_id),
        };
        reply.into_response()
    }

    async fn checked<F, Fut>(&self, route: &Route, req: &Request, request_id: &str, work: F) -> Result<Reply, ApiError>
    where
        F: FnOnce(Call) -> Fut,
        Fut: Future<Output = Result<Reply, ApiError>>,
    {
        let principal = self.authenticate(req.headers()).await?;
        let ids = route.path.match_path(req.uri().path()).ok_or_else(ApiError::not_found)?;
        if ids.app_id != principal.app_id {
            return Err(ApiError::not_found());
        }
        if !principal.allows(route.scope) {
            return Err(ApiError::insufficient_permissions(route.scope.name()));
        }
        let webhook_id = match &ids.webhook_id {
            Some(raw) => Some(parse_webhook_id(raw).ok_or_else(ApiError::not_found)?),
            None => None,
        };
        let method = req.method().as_str();
        if !route.methods.contains(&method) {
            return Err(ApiError::method_not_allowed(&route.methods.join(", ")));
        }
        let app_id = ids.app_id;
        let run = |app_id: String| async {
            let call = Call {
                body: parse_body(route.body, req.headers(), req.body().as_ref())?,
                query: query_pairs(req),
                request_id: request_id.to_owned(),
                webhook_id,
                app_id,
            };
            work(call).await
        };
        if method != "POST" {
            return run(app_id).await;
        }
        let Some(idempotency_key) = idempotency_key(req.headers())? else {
            return run(app_id).await;
        };
        let fingerprint = request_fingerprint(req);
        let now = now_millis();
        let deadline = req.lambda_context_ref().map(|c| c.deadline).filter(|d| *d > now);
        let locked_until = deadline.unwrap_or(now + DEFAULT_CLAIM_MILLIS);
        let token =
            match self.store.claim_idempotency(&app_id, idempotency_key, &fingerprint, now, locked_until).await? {
                Claim::Acquired { token } => token,
                Claim::Replay(stored) => {
                    return Ok(Reply { status: stored.status, headers: stored.headers, body: Some(stored.body) }
                        .with_header("idempotent-replayed", "true"))
                }
                Claim::InProgress => {
                    return Err(ApiError::new(
                        409,
                        "idempotency_in_progress",
                        "A request with this Idempotency-Key is still running; retry shortly.",
                    )
                    .with_field("Idempotency-Key"))
                }
                Claim::Mismatch => {
                    return Err(ApiError::new(
                        422,
                        "idempotency_key_reused",
                        "This Idempotency-Key was used for a different request; use a new key.",
                    )
                    .with_field("Idempotency-Key"))
                }
            };
        let reply = run(app_id.clone()).await.unwrap_or_else(|err| error_reply(&err, request_id));
        if reply.status >= 500 {
            // A failed attempt must not stick: release so that a retry runs again.
            if let Err(e) = self.store.release_idempotency(&app_id, idempotency_key, &token).await {
                log_error(request_id, &e);
            }
        } else {
            let stored = StoredResponse {
                status: reply.status,
                headers: reply.headers.clone(),
                body: reply.body.clone().unwrap_or_default(),
            };
            self.store.complete_idempotency(&app_id, idempotency_key, &token, &stored).await?;
        }
        Ok(reply)
    }
}

/// Renders an error, logging what went wrong inside (never the request's headers or body).
pub fn error_reply(err: &ApiError, request_id: &str) -> Reply {
    if err.status >= 500 || err.detail.is_some() {
        log_error(request_id, err);
    }
    Reply::error(err, request_id)
}

fn log_error(request_id: &str, err: &ApiError) {
    let line = serde_json::json!({
        "level": if err.status >= 500 { "error" } else { "warn" },
        "requestId": request_id,
        "status": err.status,
        "code": err.code,
        "detail": err.detail,
    });
    eprintln!("{line}");
}

/// The Lambda request id (the API Gateway one outside Lambda, as in `sam local` fixtures).
pub fn request_id(req: &Request) -> String {
    if let Some(ctx) = req.lambda_context_ref() {
        if !ctx.request_id.is_empty() {
            return ctx.request_id.clone();
        }
    }
    match req.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

fn query_pairs(req: &Request) -> Vec<(String, String)> {
    req.uri().query().map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
}

/// `Idempotency-Key`: absent, or 1–255 printable ASCII characters.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > 255 || !bytes.iter().all(|b| (0x20..=0x7e).contains(b)) {
        return Err(ApiError::invalid_field(
            "Idempotency-Key",
            "`Idempotency-Key` must be 1 to 255 printable ASCII characters.",
        ));
    }
    Ok(value.to_str().ok())
}

/// What makes two requests "the same" for idempotency: method, path and body bytes.
fn request_fingerprint(req: &Request) -> String {
    let mut digest = Sha256::new();
    digest.update(req.method().as_str());
    digest.update(b"\n");
    digest.update(req.uri().path());
    digest.update(b"\n");
    digest.update(req.body().as_ref());
    hex(&digest.finalize())
}

/// The body checks in the contract's order: 415, 413, then 400 `invalid_json`.
pub fn parse_body(rule: BodyRule, headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if rule == BodyRule::Ignored || (body.is_empty() && rule == BodyRule::Optional) {
        return Ok(Map::new());
    }
    if !body.is_empty() {
        let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
        let media_type = content_type.split(';').next().unwrap_or("").trim();
        if !media_type.eq_ignore_ascii_case("application/json") {
            return Err(ApiError::unsupported_media_type());
        }
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::payload_too_large(MAX_BODY_BYTES));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid_json("The request body is empty; send a JSON object."));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::invalid_json("The request body must be a JSON object.")),
        Err(e) => Err(ApiError::invalid_json(format!("The request body is not valid JSON ({e})."))),
    }
}

/// The Lambda entry point of every function: builds the clients once, opens the DynamoDB
/// connection when that helps (`warm_up_in_init`), then serves events.
pub async fn run<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static App, Request) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let app: &'static App = Box::leak(Box::new(App::from_env().await?));
    if warm_up_in_init(std::env::var("AWS_LAMBDA_INITIALIZATION_TYPE").ok().as_deref()) {
        app.store.warm_up().await;
    }
    lambda_http::run(lambda_http::service_fn(move |req: Request| async move {
        Ok::<_, std::convert::Infallible>(handler(app, req).await)
    }))
    .await
}

/// Whether init opens the DynamoDB connection before asking for the first event: only when Lambda
/// initialises the environment ahead of the requests it will serve (provisioned concurrency), where
/// init is on no one's path and the first request then finds the connection open. On an on-demand
/// cold start the request that caused it is already waiting: opening the connection first costs it
/// a round trip (awaited) or a second handshake (spawned), and the environment is frozen once it
/// polls, so nothing opens in the background. Each way is measured in docs/benchmarks.md.
pub fn warm_up_in_init(initialization_type: Option<&str>) -> bool {
    initialization_type == Some("provisioned-concurrency")
}

#[cfg(test)]
mod tests;
