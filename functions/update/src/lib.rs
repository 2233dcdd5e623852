//! `PUT` and `PATCH /apps/{appId}/webhooks/{webhookId}`: changes the fields sent, nothing else.

use shared::http::routes;
use shared::lambda_http::{Body, Request, Response};
use shared::model::EndpointPatch;
use shared::{App, Reply};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    app.respond(&routes::UPDATE_WEBHOOK, req, |call| async move {
        let patch = EndpointPatch::from_body(&call.body, &app.config).await?;
        let endpoint = app.store.update_endpoint(&call.app_id, call.webhook(), &patch, &call.key).await?;
        Reply::data(200, &endpoint)
    })
    .await
}
