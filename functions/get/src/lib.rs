//! `GET /apps/{appId}/webhooks/{webhookId}`: one endpoint, without its secret.

use shared::http::routes;
use shared::lambda_http::{Body, Request, Response};
use shared::{App, Reply};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    app.respond(&routes::GET_WEBHOOK, req, |call| async move {
        let endpoint = app.store.get_endpoint(&call.app_id, call.webhook(), &call.key).await?;
        Reply::data(200, &endpoint)
    })
    .await
}
