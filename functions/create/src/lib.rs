//! `POST /apps/{appId}/webhooks`: registers an endpoint and shows its signing secret once.

use shared::http::routes;
use shared::lambda_http::{Body, Request, Response};
use shared::model::{CreatedEndpoint, NewEndpoint};
use shared::time::now_millis;
use shared::{ApiError, App, Reply};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    app.respond(&routes::CREATE_WEBHOOK, req, |call| async move {
        let new = NewEndpoint::from_body(&call.body, &app.config).await?;
        let created = CreatedEndpoint::mint(&new, now_millis()).map_err(ApiError::from)?;
        let reply = Reply::secret(201, &created)?;
        let max = app.config.max_endpoints_per_app;
        let completion = call.completion(&reply);
        app.store.create_endpoint(&call.app_id, &new, &created, max, completion.as_ref(), &call.key).await?;
        Ok(reply)
    })
    .await
}
