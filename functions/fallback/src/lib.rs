//! API Gateway's `$default` route: whatever no contract route matched. A contract path with another
//! method is 405 with `Allow`; anything else is 404. Both come after the key is settled (401 first;
//! a path of another app is 404, whatever the method), as every answer does.

use shared::http::auth::presented_key_hash;
use shared::http::request::request_id;
use shared::http::{error_reply, routes};
use shared::lambda_http::{Body, Request, Response};
use shared::store::KeyGuard;
use shared::validate::{is_valid_app_id, parse_webhook_id};
use shared::{ApiError, App};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let request_id = request_id(&req);
    let err = match unrouted(app, &req).await {
        Ok(err) | Err(err) => err,
    };
    error_reply(&err, &request_id).into_response()
}

/// The answer for a request no route took: `Err` when the key decides it.
async fn unrouted(app: &App, req: &Request) -> Result<ApiError, ApiError> {
    let hash = presented_key_hash(req.headers())?;
    let path = req.uri().path();
    let known = routes::known_path(path);
    let app_id = known.as_ref().map(|(ids, _)| ids.app_id.as_str());
    // Being told a path's methods needs no scope, only a valid key of that app.
    app.settle_key(&KeyGuard::new(hash, app_id, &[]), "").await?;
    Ok(unrouted_error(req.method().as_str(), path))
}

/// For a caller whose key may act on the path's app: 405 with `Allow` on a known path with valid
/// ids, 404 for everything else.
fn unrouted_error(method: &str, path: &str) -> ApiError {
    let Some((ids, methods)) = routes::known_path(path) else {
        return ApiError::not_found();
    };
    let ids_valid =
        is_valid_app_id(&ids.app_id) && ids.item_id.as_deref().is_none_or(|id| parse_webhook_id(id).is_some());
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
        let e = unrouted_error("DELETE", "/apps/acme/webhooks");
        assert_eq!((e.status, e.headers[0].1.as_str()), (405, "GET, POST"));
        let id = shared::uuid::Uuid::now_v7();
        let e = unrouted_error("POST", &format!("/apps/acme/webhooks/{id}"));
        assert_eq!((e.status, e.headers[0].1.as_str()), (405, "GET, PUT, PATCH, DELETE"));
        let e = unrouted_error("GET", &format!("/apps/acme/webhooks/{id}/rotate-secret"));
        assert_eq!((e.status, e.headers[0].1.as_str()), (405, "POST"));
    }

    #[test]
    fn everything_else_is_404() {
        // (A path of another app is 404 before this: the key's verdict, tests/tests/api/routing.rs.)
        assert_eq!(unrouted_error("GET", "/").status, 404);
        assert_eq!(unrouted_error("GET", "/apps/acme/hooks").status, 404);
        assert_eq!(unrouted_error("DELETE", "/apps/-acme/webhooks").status, 404, "bad app id");
        assert_eq!(unrouted_error("POST", "/apps/acme/webhooks/not-a-uuid").status, 404, "bad id");
    }
}
