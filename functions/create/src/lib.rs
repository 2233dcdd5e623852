//! `POST /apps/{appId}/webhooks`: registers an endpoint and shows its signing secret once.

use shared::http::routes;
use shared::lambda_http::{Body, Request, Response};
use shared::model::NewEndpoint;
use shared::{App, Reply};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    app.respond(&routes::CREATE_WEBHOOK, req, |call| async move {
        let new = NewEndpoint::from_body(&call.body, &app.config).await?;
        let created = app.store.create_endpoint(&call.app_id, &new, app.config.max_endpoints_per_app).await?;
        Reply::secret(201, &created)
    })
    .await
}
