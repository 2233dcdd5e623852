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
use std::sync::Arc;

use lambda_http::{Body, Request, Response};

use crate::config::Config;
use crate::delivery::{Deliverer, LazyDeliverer, Timeouts};
use crate::error::ApiError;
use crate::queue::Queue;
use crate::store::{dynamodb_client, KeyGuard, KeyRejection, Store, StoreError};
use crate::validate::{is_valid_app_id, parse_webhook_id};
use auth::presented_key_hash;
use envelope::Reply;
use idempotency::{Claimed, NextAction};
use request::{idempotency_key, parse_body, query_pairs, request_id, Call};
use routes::{PathIds, Route};

/// Everything a function builds once per container.
pub struct App {
    pub config: Config,
    pub store: Store,
    /// The outbound client, built by the first route that sends (test-ping, resend).
    deliverer: LazyDeliverer,
    /// The recover queue, built by the first recover (the only route that sends to SQS).
    recover_queue: tokio::sync::OnceCell<Queue>,
}

impl App {
    pub fn new(config: Config, client: aws_sdk_dynamodb::Client) -> App {
        let store = Store::new(client, config.table_name.clone());
        App { config, store, deliverer: LazyDeliverer::new(Timeouts::CONTRACT), recover_queue: Default::default() }
    }

    /// The recover queue (`RECOVER_QUEUE_URL`), its SQS client built on first use. Unset is a 500
    /// with the reason logged (a deployment fault, not the caller's).
    pub async fn recover_queue(&self) -> Result<&Queue, ApiError> {
        let url =
            self.config.recover_queue_url.as_ref().ok_or_else(|| {
                ApiError::internal().with_detail("RECOVER_QUEUE_URL is not set for the recover function")
            })?;
        self.recover_queue
            .get_or_try_init(|| async {
                let sdk = crate::aws::sdk_config().await.map_err(|e| ApiError::internal().with_detail(e))?;
                Ok(Queue::new(aws_sdk_sqs::Client::new(&sdk), url.clone()))
            })
            .await
    }

    /// Replaces the delivery timeouts (tests of slow receivers).
    pub fn with_delivery_timeouts(mut self, timeouts: Timeouts) -> App {
        self.deliverer = LazyDeliverer::new(timeouts);
        self
    }

    /// The container's outbound client; a bad `WEBHOOK_EXTRA_CA_FILE` is a 500 with the reason logged.
    pub fn deliverer(&self) -> Result<&Deliverer, ApiError> {
        self.deliverer.get(&self.config).map_err(|e| ApiError::internal().with_detail(e))
    }

    /// `Config::from_env` and a DynamoDB client; `Err` names what is misconfigured.
    pub async fn from_env() -> Result<App, String> {
        let config = Config::from_env()?;
        Ok(App::new(config, dynamodb_client().await?))
    }

    /// The key's verdict, settling it now if nothing in the request did (an answer given before any
    /// read: a 400, a 405): 401 `invalid_key`, 404 `not_found` (another app's key) or 403
    /// `insufficient_permissions` (naming `scope`) outrank every other answer.
    pub async fn settle_key(&self, key: &KeyGuard, scope: &str) -> Result<(), ApiError> {
        let verdict = match key.verdict() {
            Some(verdict) => verdict,
            None => match self.store.confirm_key(key).await {
                Ok(()) => Ok(()),
                Err(StoreError::KeyRejected(why)) => Err(why),
                Err(other) => return Err(other.into()),
            },
        };
        match verdict {
            Ok(()) => Ok(()),
            Err(KeyRejection::Invalid) => Err(ApiError::invalid_key()),
            Err(KeyRejection::OtherApp) => Err(ApiError::not_found()),
            Err(KeyRejection::MissingScope) => Err(ApiError::insufficient_permissions(scope)),
        }
    }

    /// Counts one manual send of the call's app (contract, "Limits and failures":
    /// `MANUAL_SENDS_PER_MINUTE`) while `read` (the route's first read, guarded by the call's key)
    /// runs, and answers in the contract's order: the key's verdict (401, 404, 403) first, then 429
    /// `rate_limited` with `Retry-After`, then the read's own answer (404 when absent).
    pub async fn with_manual_send<T>(
        &self,
        call: &Call,
        read: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, ApiError> {
        let per_minute = self.config.manual_sends_per_minute;
        let (allowance, read) = tokio::join!(
            self.store.take_manual_send(&call.app_id, per_minute, crate::time::now_millis(), &call.key),
            read,
        );
        if let Err(refused @ StoreError::KeyRejected(_)) = read {
            return Err(refused.into());
        }
        if let Some(retry_after) = allowance? {
            return Err(ApiError::rate_limited(per_minute, retry_after));
        }
        Ok(read?)
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

    /// The key, then the checks and the work. The key is settled beside the work (its first read, or
    /// its transaction) and its verdict outranks any other answer, so the contract's order holds:
    /// 401, 404 (another app), 403, then the path ids, method, body, and stored state.
    async fn checked<F, Fut>(&self, route: &Route, req: &Request, request_id: &str, work: F) -> Result<Reply, ApiError>
    where
        F: FnOnce(Call) -> Fut,
        Fut: Future<Output = Result<Reply, ApiError>>,
    {
        let hash = presented_key_hash(req.headers())?;
        let ids = route.path.match_path(req.uri().path());
        // The key must be of the path's app as written; a path app that breaks the pattern is
        // refused after that (404), so another app's key learns nothing from it either.
        let app_id = ids.as_ref().map(|ids| ids.app_id.as_str());
        let key = Arc::new(KeyGuard::new(hash, app_id, route.scope.granted_by()));
        let result = self.checked_as(route, req, request_id, ids.clone(), Arc::clone(&key), work).await;
        self.settle_key(&key, route.scope.name()).await?;
        result
    }

    /// The contract's check order after the key, then the work, inside the idempotency protocol on
    /// POST.
    async fn checked_as<F, Fut>(
        &self,
        route: &Route,
        req: &Request,
        request_id: &str,
        ids: Option<PathIds>,
        key: Arc<KeyGuard>,
        work: F,
    ) -> Result<Reply, ApiError>
    where
        F: FnOnce(Call) -> Fut,
        Fut: Future<Output = Result<Reply, ApiError>>,
    {
        let ids = ids.filter(|ids| is_valid_app_id(&ids.app_id)).ok_or_else(ApiError::not_found)?;
        let item_id = ids.item_id.as_deref().map(|raw| parse_webhook_id(raw).ok_or_else(ApiError::not_found));
        let item_id = item_id.transpose()?;
        let method = req.method().as_str();
        if !route.methods.contains(&method) {
            return Err(ApiError::method_not_allowed(&route.methods.join(", ")));
        }
        let idempotency_key = if method == "POST" { idempotency_key(req.headers())? } else { None };
        let app_id = ids.app_id;
        let run = |idempotency: Option<Claimed>| async {
            let call = Call {
                key: Arc::clone(&key),
                body: parse_body(route.body, route.max_body_bytes, req.headers(), req.body().as_ref())?,
                query: query_pairs(req),
                request_id: request_id.to_owned(),
                item_id,
                app_id: app_id.clone(),
                idempotency,
            };
            work(call).await
        };
        let Some(idempotency_key) = idempotency_key else {
            return run(None).await;
        };
        // The claim and the key's confirmation in one round trip; the key's verdict comes first
        // (`checked` answers it), and a claim made for a refused key is given up.
        let (claim, confirmed) =
            tokio::join!(idempotency::begin(&self.store, &app_id, idempotency_key, req), self.store.confirm_key(&key));
        if let Err(refused) = confirmed {
            if let Ok(NextAction::Run(claimed)) = &claim {
                idempotency::abandon(&self.store, claimed).await;
            }
            return Err(refused.into());
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
