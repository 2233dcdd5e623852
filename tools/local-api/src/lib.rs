//! API Gateway's part, for local runs and tests: pick the function a request's route names and
//! invoke its handler. Routes come from shared's route table (`shared::http::routes::ROUTES`), so
//! they are declared once; this file only names each function's handler.

pub mod http;
pub mod receiver;

use shared::http::routes::route_for;
use shared::lambda_http::{Body, Request, Response};
use shared::App;

/// The function API Gateway invokes for `method path`: the route whose path and method match,
/// else `$default`'s fallback.
pub fn function_for(method: &str, path: &str) -> &'static str {
    route_for(method, path).map_or("fallback", |route| route.name)
}

/// Runs the request through the function its route names, inside `container`.
pub async fn invoke(container: &App, req: Request) -> Response<Body> {
    match function_for(req.method().as_str(), req.uri().path()) {
        "create" => create_webhook::handle(container, req).await,
        "list" => list_webhooks::handle(container, req).await,
        "get" => get_webhook::handle(container, req).await,
        "update" => update_webhook::handle(container, req).await,
        "delete" => delete_webhook::handle(container, req).await,
        "rotate" => rotate_secret::handle(container, req).await,
        "test-ping" => test_ping::handle(container, req).await,
        "deliveries" => list_deliveries::handle(container, req).await,
        "publish-event" => publish_event::handle(container, req).await,
        "list-events" => list_events::handle(container, req).await,
        "event-types" => event_types::handle(container, req).await,
        "get-event" => get_event::handle(container, req).await,
        "resend" => resend_event::handle(container, req).await,
        "recover" => recover_webhook::handle(container, req).await,
        _ => fallback::handle(container, req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_like_the_template() {
        let id = "0193a5b0-7c2e-7d3f-8a4b-5c6d7e8f9a0b";
        assert_eq!(function_for("POST", "/apps/acme/webhooks"), "create");
        assert_eq!(function_for("GET", "/apps/acme/webhooks"), "list");
        assert_eq!(function_for("GET", &format!("/apps/acme/webhooks/{id}")), "get");
        assert_eq!(function_for("PUT", &format!("/apps/acme/webhooks/{id}")), "update");
        assert_eq!(function_for("PATCH", &format!("/apps/acme/webhooks/{id}")), "update");
        assert_eq!(function_for("DELETE", &format!("/apps/acme/webhooks/{id}")), "delete");
        assert_eq!(function_for("POST", &format!("/apps/acme/webhooks/{id}/rotate-secret")), "rotate");
        assert_eq!(function_for("POST", &format!("/apps/acme/webhooks/{id}/test-ping")), "test-ping");
        assert_eq!(function_for("GET", &format!("/apps/acme/webhooks/{id}/deliveries")), "deliveries");
        assert_eq!(function_for("POST", &format!("/apps/acme/webhooks/{id}/recover")), "recover");
        assert_eq!(function_for("POST", &format!("/apps/acme/events/{id}/resend")), "resend");
        assert_eq!(function_for("GET", &format!("/apps/acme/webhooks/{id}/test-ping")), "fallback");
        assert_eq!(function_for("DELETE", "/apps/acme/webhooks"), "fallback");
        assert_eq!(function_for("GET", "/apps/acme"), "fallback");
        assert_eq!(function_for("GET", "/prod/apps/acme/webhooks"), "list", "a named stage prefix");
    }
}
