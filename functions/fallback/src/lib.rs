//! API Gateway's `$default` route: whatever no contract route matched. A contract path with another
//! method is 405 with `Allow`; anything else is 404. Both come after authentication, as every
//! answer does.

use shared::http::request::request_id;
use shared::http::{error_reply, routes};
use shared::lambda_http::{Body, Request, Response};
use shared::validate::{is_valid_app_id, parse_webhook_id};
use shared::{ApiError, App};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let request_id = request_id(&req);
    let err = match app.authenticate(req.headers()).await {
        Err(err) => err,
        // A key the cache vouched for is confirmed first: a revoked key is 401 here too.
        Ok((principal, key)) => match app.settle_key(&key).await {
            Err(err) => err,
            Ok(()) => unrouted_error(&principal.app_id, req.method().as_str(), req.uri().path()),
        },
    };
    error_reply(&err, &request_id).into_response()
}

fn unrouted_error(key_app_id: &str, method: &str, path: &str) -> ApiError {
    let Some((ids, methods)) = routes::known_path(path) else {
        return ApiError::not_found();
    };
    let ids_valid = ids.app_id == key_app_id
        && is_valid_app_id(&ids.app_id)
        && ids.webhook_id.as_deref().is_none_or(|id| parse_webhook_id(id).is_some());
    if ids_valid && !methods.contains(&method) {
        return ApiError::method_not_allowed(&methods.join(", "));
    }
    ApiError::not_found()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_paths_with_other_methods_are_405_with_their_methods() {
        let e = unrouted_error("acme", "DELETE", "/apps/acme/webhooks");
        assert_eq!((e.status, e.headers[0].1.as_str()), (405, "GET, POST"));
        let id = shared::uuid::Uuid::now_v7();
        let e = unrouted_error("acme", "POST", &format!("/apps/acme/webhooks/{id}"));
        assert_eq!((e.status, e.headers[0].1.as_str()), (405, "GET, PUT, PATCH, DELETE"));
        let e = unrouted_error("acme", "GET", &format!("/apps/acme/webhooks/{id}/rotate-secret"));
        assert_eq!((e.status, e.headers[0].1.as_str()), (405, "POST"));
    }

    #[test]
    fn everything_else_is_404() {
        assert_eq!(unrouted_error("acme", "GET", "/").status, 404);
        assert_eq!(unrouted_error("acme", "GET", "/apps/acme/hooks").status, 404);
        assert_eq!(unrouted_error("acme", "DELETE", "/apps/other/webhooks").status, 404, "another app");
        assert_eq!(unrouted_error("acme", "POST", "/apps/acme/webhooks/not-a-uuid").status, 404, "bad id");
    }
}
