//! Every route of the HTTP API in one table: path shape, methods, scope, body rule and the name of
//! the function (its directory under `functions/`) that serves it. The fallback's `Allow`, the
//! local API's routing and the tests all read this table, so a new route is one entry here.

use percent_encoding::percent_decode_str;

use super::auth::Scope;
use crate::validate::{MAX_BODY_BYTES, MAX_EVENT_BODY_BYTES};

/// The shapes of the contract's paths, after an optional stage prefix: a collection of an app
/// (`webhooks`, `events`), one item of it, or an action on an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathShape {
    /// `/apps/{appId}/{collection}`
    Collection(&'static str),
    /// `/apps/{appId}/{collection}/{id}`
    Item(&'static str),
    /// `/apps/{appId}/{collection}/{id}/{action}`
    ItemAction(&'static str, &'static str),
}

/// `/apps/{appId}/webhooks`
pub const WEBHOOKS: PathShape = PathShape::Collection("webhooks");
/// `/apps/{appId}/webhooks/{webhookId}`
pub const WEBHOOK: PathShape = PathShape::Item("webhooks");
/// `/apps/{appId}/events`
pub const EVENTS: PathShape = PathShape::Collection("events");
/// `/apps/{appId}/events/{eventId}`
pub const EVENT: PathShape = PathShape::Item("events");
/// `/apps/{appId}/event-types`
pub const EVENT_TYPE_LIST: PathShape = PathShape::Collection("event-types");

/// The ids a path carries, still unchecked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathIds {
    pub app_id: String,
    /// The item's id (`webhookId`, `eventId`) on item paths.
    pub item_id: Option<String>,
}

impl PathShape {
    fn literals(self) -> Vec<Option<&'static str>> {
        match self {
            PathShape::Collection(c) => vec![Some("apps"), None, Some(c)],
            PathShape::Item(c) => vec![Some("apps"), None, Some(c), None],
            PathShape::ItemAction(c, action) => vec![Some("apps"), None, Some(c), None, Some(action)],
        }
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
        literals_match.then(|| PathIds { app_id: tail[1].clone(), item_id: tail.get(3).cloned() })
    }

    /// The URL path (without stage) this shape has in the template.
    pub fn template_path(self) -> String {
        let id = |collection: &str| if collection == "events" { "{eventId}" } else { "{webhookId}" };
        match self {
            PathShape::Collection(c) => format!("/apps/{{appId}}/{c}"),
            PathShape::Item(c) => format!("/apps/{{appId}}/{c}/{}", id(c)),
            PathShape::ItemAction(c, action) => format!("/apps/{{appId}}/{c}/{}/{action}", id(c)),
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

/// What a route is: the function serving it, its path, methods, scope, body and body limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The function's directory under `functions/` (and its name in the local API).
    pub name: &'static str,
    pub path: PathShape,
    pub methods: &'static [&'static str],
    pub scope: Scope,
    pub body: BodyRule,
    /// The largest body accepted, in bytes (413 above).
    pub max_body_bytes: usize,
}

const fn route(
    name: &'static str,
    path: PathShape,
    methods: &'static [&'static str],
    scope: Scope,
    body: BodyRule,
) -> Route {
    Route { name, path, methods, scope, body, max_body_bytes: MAX_BODY_BYTES }
}

use BodyRule::{Ignored, Optional, Required};
use PathShape::ItemAction;
use Scope::{Publish, Read, Write};

pub const CREATE_WEBHOOK: Route = route("create", WEBHOOKS, &["POST"], Write, Required);
pub const LIST_WEBHOOKS: Route = route("list", WEBHOOKS, &["GET"], Read, Ignored);
pub const GET_WEBHOOK: Route = route("get", WEBHOOK, &["GET"], Read, Ignored);
pub const UPDATE_WEBHOOK: Route = route("update", WEBHOOK, &["PUT", "PATCH"], Write, Required);
pub const DELETE_WEBHOOK: Route = route("delete", WEBHOOK, &["DELETE"], Write, Ignored);
pub const ROTATE_SECRET: Route = route("rotate", ItemAction("webhooks", "rotate-secret"), &["POST"], Write, Optional);
pub const TEST_PING: Route = route("test-ping", ItemAction("webhooks", "test-ping"), &["POST"], Write, Optional);
pub const LIST_DELIVERIES: Route = route("deliveries", ItemAction("webhooks", "deliveries"), &["GET"], Read, Ignored);
pub const PUBLISH_EVENT: Route =
    Route { max_body_bytes: MAX_EVENT_BODY_BYTES, ..route("publish-event", EVENTS, &["POST"], Publish, Required) };
pub const LIST_EVENTS: Route = route("list-events", EVENTS, &["GET"], Read, Ignored);
pub const GET_EVENT: Route = route("get-event", EVENT, &["GET"], Read, Ignored);
pub const EVENT_TYPES: Route = route("event-types", EVENT_TYPE_LIST, &["GET"], Read, Ignored);
pub const RESEND_EVENT: Route = route("resend", ItemAction("events", "resend"), &["POST"], Write, Required);
pub const RECOVER_WEBHOOK: Route = route("recover", ItemAction("webhooks", "recover"), &["POST"], Write, Required);

/// Every route of the contract (sections "Routes" and "Events and delivery").
pub const ROUTES: [Route; 14] = [
    CREATE_WEBHOOK,
    LIST_WEBHOOKS,
    GET_WEBHOOK,
    UPDATE_WEBHOOK,
    DELETE_WEBHOOK,
    ROTATE_SECRET,
    TEST_PING,
    LIST_DELIVERIES,
    PUBLISH_EVENT,
    LIST_EVENTS,
    GET_EVENT,
    EVENT_TYPES,
    RESEND_EVENT,
    RECOVER_WEBHOOK,
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
