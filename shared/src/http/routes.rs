//! Every route of the HTTP API in one table: path shape, methods, scope, body rule and the name of
//! the function (its directory under `functions/`) that serves it. The fallback's `Allow`, the
//! local API's routing and the tests all read this table, so a new route is one entry here.

use percent_encoding::percent_decode_str;

use super::auth::Scope;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRule {
    /// The route reads no body; whatever is sent is ignored.
    Ignored,
    /// An empty body is `{}`; a non-empty one must be a JSON object.
    Optional,
    /// The body must be a JSON object.
    Required,
}

/// What a route is: the function serving it, its path, methods, scope and body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The function's directory under `functions/` (and its name in the local API).
    pub name: &'static str,
    pub path: PathShape,
    pub methods: &'static [&'static str],
    pub scope: Scope,
    pub body: BodyRule,
}

const fn route(
    name: &'static str,
    path: PathShape,
    methods: &'static [&'static str],
    scope: Scope,
    body: BodyRule,
) -> Route {
    Route { name, path, methods, scope, body }
}

use BodyRule::{Ignored, Optional, Required};
use PathShape::{Webhook, WebhookAction, Webhooks};
use Scope::{Read, Write};

pub const CREATE_WEBHOOK: Route = route("create", Webhooks, &["POST"], Write, Required);
pub const LIST_WEBHOOKS: Route = route("list", Webhooks, &["GET"], Read, Ignored);
pub const GET_WEBHOOK: Route = route("get", Webhook, &["GET"], Read, Ignored);
pub const UPDATE_WEBHOOK: Route = route("update", Webhook, &["PUT", "PATCH"], Write, Required);
pub const DELETE_WEBHOOK: Route = route("delete", Webhook, &["DELETE"], Write, Ignored);
pub const ROTATE_SECRET: Route = route("rotate", WebhookAction("rotate-secret"), &["POST"], Write, Optional);
pub const TEST_PING: Route = route("test-ping", WebhookAction("test-ping"), &["POST"], Write, Optional);
pub const LIST_DELIVERIES: Route = route("deliveries", WebhookAction("deliveries"), &["GET"], Read, Ignored);

/// Every route of the contract (section "Routes").
pub const ROUTES: [Route; 8] = [
    CREATE_WEBHOOK,
    LIST_WEBHOOKS,
    GET_WEBHOOK,
    UPDATE_WEBHOOK,
    DELETE_WEBHOOK,
    ROTATE_SECRET,
    TEST_PING,
    LIST_DELIVERIES,
];

/// The order methods are listed in an `Allow` header.
const METHOD_ORDER: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// The route API Gateway invokes for `method path`, if any (else `$default`: the fallback).
pub fn route_for(method: &str, path: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.methods.contains(&method) && r.path.match_path(path).is_some())
}

/// Every distinct path shape with the methods it answers, in `Allow` order.
pub fn path_shapes() -> Vec<(PathShape, Vec<&'static str>)> {
    let mut shapes: Vec<(PathShape, Vec<&'static str>)> = Vec::new();
    for r in &ROUTES {
        match shapes.iter_mut().find(|(shape, _)| *shape == r.path) {
            Some((_, methods)) => methods.extend(r.methods),
            None => shapes.push((r.path, r.methods.to_vec())),
        }
    }
    for (_, methods) in &mut shapes {
        methods.sort_by_key(|m| METHOD_ORDER.iter().position(|o| o == m));
    }
    shapes
}

/// For a path of the contract, its ids and the methods it answers (`Allow`); `None` elsewhere.
pub fn known_path(path: &str) -> Option<(PathIds, Vec<&'static str>)> {
    path_shapes().into_iter().find_map(|(shape, methods)| shape.match_path(path).map(|ids| (ids, methods)))
}
