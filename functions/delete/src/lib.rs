//! `DELETE /apps/{appId}/webhooks/{webhookId}`: removes the endpoint and frees its URL and quota slot.

use shared::lambda_http::{Body, Request, Response};
use shared::{App, BodyRule, PathShape, Reply, Route, Scope};

pub const ROUTE: Route =
    Route { path: PathShape::Webhook, methods: &["DELETE"], scope: Scope::Write, body: BodyRule::Ignored };

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    app.respond(&ROUTE, req, |call| async move {
        app.store.delete_endpoint(&call.app_id, call.webhook()).await?;
        Ok(Reply::no_content())
    })
    .await
}
