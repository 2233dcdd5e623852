//! `GET /apps/{appId}/webhooks/{webhookId}`: one endpoint, without its secret.

use shared::lambda_http::{Body, Request, Response};
use shared::{App, BodyRule, PathShape, Reply, Route, Scope};

pub const ROUTE: Route =
    Route { path: PathShape::Webhook, methods: &["GET"], scope: Scope::Read, body: BodyRule::Ignored };

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    app.respond(&ROUTE, req, |call| async move {
        let endpoint = app.store.get_endpoint(&call.app_id, call.webhook()).await?;
        Reply::data(200, &endpoint)
    })
    .await
}
