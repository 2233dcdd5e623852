//! The HTTP side: the route table (`routes`), what a request carries (`request`), the
//! `Idempotency-Key` protocol (`idempotency`), the envelope (`envelope`), API keys (`auth`), the
//! Lambda entry point (`runtime`), and the one mapping of storage and delivery errors onto the
//! contract's answers (`errors`). `App::checked` runs the contract's check order:
//! authenticate (401) → the key's app against the path (404) → scope (403) → path ids (404) →
//! method (405) → Idempotency-Key (POST) → body (415, 413, 400) → the route's work → envelope.

pub mod auth;
pub mod envelope;
mod errors;
pub mod idempotency;
pub mod request;
pub mod routes;
pub mod runtime;

use std::future::Future;
use std::sync::{Arc, OnceLock};

use lambda_http::http::HeaderMap;
use lambda_http::{Body, Request, Response};

use crate::config::Config;
use crate::delivery::{Deliverer, Timeouts};
use crate::error::ApiError;
use crate::store::{dynamodb_client, KeyGuard, Store};
use crate::validate::{is_valid_app_id, parse_webhook_id};
use auth::{KeyCache, Principal, KEY_CACHE_TTL};
use envelope::Reply;
use idempotency::{Claimed, NextAction};
use request::{idempotency_key, parse_body, query_pairs, request_id, Call};
use routes::Route;

/// Everything a function builds once per container.
pub struct App {
    pub config: Config,
    pub store: Store,
    keys: KeyCache,
    /// The outbound client, built by the first route that sends (only test-ping does).
    deliverer: OnceLock<Deliverer>,
    delivery_timeouts: Timeouts,
}

impl App {
    pub fn new(config: Config, client: aws_sdk_dynamodb::Client) -> App {
        let store = Store::new(client, config.table_name.clone());
        App {
            config,
            store,
            keys: KeyCache::new(KEY_CACHE_TTL),
            deliverer: OnceLock::new(),
            delivery_timeouts: Timeouts::CONTRACT,
        }
    }

    /// Replaces the delivery timeouts (tests of slow receivers).
    pub fn with_delivery_timeouts(mut self, timeouts: Timeouts) -> App {
        self.delivery_timeouts = timeouts;
        self
    }

    /// The container's outbound client; a bad `WEBHOOK_EXTRA_CA_FILE` is a 500 with the reason logged.
    pub fn deliverer(&self) -> Result<&Deliverer, ApiError> {
        if let Some(deliverer) = self.deliverer.get() {
            return Ok(deliverer);
        }
        let built =
            Deliverer::new(&self.config, self.delivery_timeouts).map_err(|e| ApiError::internal().with_detail(e))?;
        Ok(self.deliverer.get_or_init(|| built))
    }

    /// Replaces the key cache's lifetime (tests of revocation and expiry).
    pub fn with_key_cache_ttl(mut self, ttl: std::time::Duration) -> App {
        self.keys = KeyCache::new(ttl);
        self
    }

    /// `Config::from_env` and a DynamoDB client; `Err` names what is misconfigured.
    pub async fn from_env() -> Result<App, String> {
        let config = Config::from_env()?;
        Ok(App::new(config, dynamodb_client().await?))
    }

    /// The principal behind the request's key and its guard: 401 `invalid_key` without a valid one.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<(Principal, KeyGuard), ApiError> {
        self.keys.authenticate(&self.store, headers).await
    }

    /// Settles a key the cache vouched for when nothing in the request confirmed it (an answer
    /// given before any read: a 400, a 405): a revoked key is 401 whatever else was wrong.
    pub async fn settle_key(&self, key: &KeyGuard) -> Result<(), ApiError> {
        if !key.is_settled() {
            self.store.confirm_key(key).await?;
        }
        Ok(())
    }

    /// Runs `work` behind every check of `route` and answers in the envelope.
    pub async fn respond<F, Fut>(&self, route: &Route, req: Request, work: F) -> Response<Body>
    where
        F: FnOnce(Call) -> Fut,
        Fut: Future<Output = Result<Reply, ApiError>>,
    {
        let request_id = request_id(&req);
        // On the heap: a route's future holds several SDK futures at once (the key's confirmation
        // beside the work's first read), too large for a small thread stack in unoptimised builds.
        let reply = match Box::pin(self.checked(route, &req, &request_id, work)).await {
            Ok(reply) => reply,
            Err(err) => error_reply(&err, &request_id),
        };
        reply.into_response()
    }

    /// Authentication, then the checks and the work; the key's verdict comes before any other answer.
    async fn checked<F, Fut>(&self, route: &Route, req: &Request, request_id: &str, work: F) -> Result<Reply, ApiError>
    where
        F: FnOnce(Call) -> Fut,
        Fut: Future<Output = Result<Reply, ApiError>>,
    {
        let (principal, key) = self.authenticate(req.headers()).await?;
        let key = Arc::new(key);
        let result = self.checked_as(route, req, request_id, principal, Arc::clone(&key), work).await;
        self.settle_key(&key).await?;
        result
    }

    /// The contract's check order after authentication, then the work, inside the idempotency
    /// protocol on POST.
    async fn checked_as<F, Fut>(
        &self,
        route: &Route,
        req: &Request,
        request_id: &str,
        principal: Principal,
        key: Arc<KeyGuard>,
        work: F,
    ) -> Result<Reply, ApiError>
    where
        F: FnOnce(Call) -> Fut,
        Fut: Future<Output = Result<Reply, ApiError>>,
    {
        let ids = route.path.match_path(req.uri().path()).ok_or_else(ApiError::not_found)?;
        // A key's own appId that breaks the pattern (a dashboard may write one) reaches nothing.
        if ids.app_id != principal.app_id || !is_valid_app_id(&ids.app_id) {
            return Err(ApiError::not_found());
        }
        if !principal.allows(route.scope) {
            return Err(ApiError::insufficient_permissions(route.scope.name()));
        }
        let webhook_id = ids.webhook_id.as_deref().map(|raw| parse_webhook_id(raw).ok_or_else(ApiError::not_found));
        let webhook_id = webhook_id.transpose()?;
        let method = req.method().as_str();
        if !route.methods.contains(&method) {
            return Err(ApiError::method_not_allowed(&route.methods.join(", ")));
        }
        let idempotency_key = if method == "POST" { idempotency_key(req.headers())? } else { None };
        let app_id = ids.app_id;
        let run = |idempotency: Option<Claimed>| async {
            let call = Call {
                key: Arc::clone(&key),
                body: parse_body(route.body, req.headers(), req.body().as_ref())?,
                query: query_pairs(req),
                request_id: request_id.to_owned(),
                webhook_id,
                app_id: app_id.clone(),
                idempotency,
            };
            work(call).await
        };
        let Some(idempotency_key) = idempotency_key else {
            return run(None).await;
        };
        // The claim and the key's confirmation in one round trip; the key's verdict comes first.
        let (claim, confirmed) =
            tokio::join!(idempotency::begin(&self.store, &app_id, idempotency_key, req), self.store.confirm_key(&key));
        if let Err(rejected) = confirmed {
            if let Ok(NextAction::Run(claimed)) = &claim {
                idempotency::abandon(&self.store, claimed).await;
            }
            return Err(rejected.into());
        }
        let claimed = match claim? {
            NextAction::Replay(reply) => return Ok(reply),
            NextAction::Run(claimed) => claimed,
        };
        let reply = run(Some(claimed.clone())).await.unwrap_or_else(|err| error_reply(&err, request_id));
        match idempotency::finish(&self.store, &claimed, &reply).await {
            Ok(()) => Ok(reply),
            // The first answer stands; the claim lapses with the invocation.
            Err(e) if reply.status >= 500 => {
                log_error(request_id, &e);
                Ok(reply)
            }
            Err(e) => Err(e),
        }
    }
}

/// Renders an error, logging what went wrong inside (never the request's headers or body).
pub fn error_reply(err: &ApiError, request_id: &str) -> Reply {
    if err.status >= 500 || err.detail.is_some() {
        log_error(request_id, err);
    }
    Reply::error(err, request_id)
}

/// One JSON log line: request id, status, code and the internal detail; nothing of the request.
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

#[cfg(test)]
mod tests;
