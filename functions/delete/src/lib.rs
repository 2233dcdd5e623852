//! `DELETE /apps/{appId}/webhooks/{webhookId}`: removes the endpoint and frees its URL and quota slot.

use shared::http::routes;
use shared::lambda_http::{Body, Request, Response};
use shared::{App, Reply};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    app.respond(&routes::DELETE_WEBHOOK, req, |call| async move {
        app.store.delete_endpoint(&call.app_id, call.webhook(), &call.key).await?;
        Ok(Reply::no_content())
    })
    .await
}
