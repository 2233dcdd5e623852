//! What a request carries, read once: the call a route's work receives (ids, body, query), the
//! body checks in the contract's order, the request id, the `Idempotency-Key` header and the
//! request's fingerprint for idempotency.

use lambda_http::http::HeaderMap;
use lambda_http::{Request, RequestExt};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::envelope::Reply;
use super::idempotency::Claimed;
use super::routes::BodyRule;
use crate::error::ApiError;
use crate::store::{Completion, KeyGuard};
use crate::validate;
use std::sync::Arc;

/// A request that passed every check before the route's own work.
#[derive(Debug)]
pub struct Call {
    pub app_id: String,
    /// The path's item id (`webhookId` or `eventId`), already checked.
    pub item_id: Option<Uuid>,
    pub body: Map<String, Value>,
    pub request_id: String,
    /// The caller's key: pass it to every store call, which confirms it alongside the work.
    pub key: Arc<KeyGuard>,
    pub(super) query: Vec<(String, String)>,
    /// The `Idempotency-Key` claim this request holds (POST with the header).
    pub(super) idempotency: Option<Claimed>,
}

impl Call {
    /// The path's webhook id (routes under `/webhooks/{webhookId}` always have one).
    pub fn webhook(&self) -> Uuid {
        self.item_id.unwrap_or_default()
    }

    /// The path's event id (routes under `/events/{eventId}` always have one).
    pub fn event(&self) -> Uuid {
        self.item_id.unwrap_or_default()
    }

    /// The first value of a query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The answer to store inside the work's own transaction when this request holds an
    /// `Idempotency-Key` (contract, "Idempotency"): pass it to the store write that commits the work.
    pub fn completion(&self, reply: &Reply) -> Option<Completion> {
        self.idempotency.as_ref().map(|claimed| claimed.completion(reply))
    }

    /// `?limit=` (1–100, default 20) and `?cursor=`.
    pub fn page_request(&self) -> Result<(u32, Option<&str>), ApiError> {
        Ok((validate::page_limit(self.query("limit"))?, self.query("cursor")))
    }
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

pub(super) fn query_pairs(req: &Request) -> Vec<(String, String)> {
    req.uri().query().map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
}

/// `Idempotency-Key`: absent, or 1–255 printable ASCII characters (400 `invalid_field` otherwise).
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    headers.get("idempotency-key").map(|value| validate::idempotency_key(value.as_bytes())).transpose()
}

/// What makes two requests "the same" for idempotency: method, path and body bytes (hex SHA-256).
pub(super) fn fingerprint(req: &Request) -> String {
    let mut digest = Sha256::new();
    digest.update(req.method().as_str());
    digest.update(b"\n");
    digest.update(req.uri().path());
    digest.update(b"\n");
    digest.update(req.body().as_ref());
    hex::encode(digest.finalize())
}

/// The body checks in the contract's order: 415, 413 (over `max_bytes`), then 400 `invalid_json`.
pub fn parse_body(
    rule: BodyRule,
    max_bytes: usize,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Map<String, Value>, ApiError> {
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
    if body.len() > max_bytes {
        return Err(ApiError::payload_too_large(max_bytes));
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
