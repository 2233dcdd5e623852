//! `GET /apps/{appId}/webhooks`: one page of the app's endpoints, newest first.

use shared::lambda_http::{Body, Request, Response};
use shared::{App, BodyRule, PathShape, Reply, Route, Scope};

pub const ROUTE: Route =
    Route { path: PathShape::Webhooks, methods: &["GET"], scope: Scope::Read, body: BodyRule::Ignored };

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    app.respond(&ROUTE, req, |call| async move {
        let (limit, cursor) = call.page_request()?;
        let page = app.store.list_endpoints(&call.app_id, limit, cursor).await?;
        Reply::page(&page)
    })
    .await
}
