//! `GET /apps/{appId}/events`: one page of the app's events, newest first, without `data`;
//! `?type=` keeps one catalogued type.

use shared::http::routes;
use shared::lambda_http::{Body, Request, Response};
use shared::model::event_type_filter;
use shared::{App, Reply};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    app.respond(&routes::LIST_EVENTS, req, |call| async move {
        let event_type = event_type_filter(call.query("type"), &app.config)?;
        let (limit, cursor) = call.page_request()?;
        let page = app.store.list_events(&call.app_id, event_type.as_deref(), limit, cursor, &call.key).await?;
        Reply::page(&page)
    })
    .await
}
