//! `GET /apps/{appId}/webhooks`: one page of the app's endpoints, newest first.

use shared::http::routes;
use shared::lambda_http::{Body, Request, Response};
use shared::{App, Reply};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    app.respond(&routes::LIST_WEBHOOKS, req, |call| async move {
        let (limit, cursor) = call.page_request()?;
        let page = app.store.list_endpoints(&call.app_id, limit, cursor, &call.key).await?;
        Reply::page(&page)
    })
    .await
}
