//! `GET /apps/{appId}/webhooks/{webhookId}/deliveries`: one page of the endpoint's deliveries,
//! newest first, optionally only `?status=succeeded|failed`.

use shared::http::routes;
use shared::lambda_http::{Body, Request, Response};
use shared::model::DeliveryStatus;
use shared::{App, Reply};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    app.respond(&routes::LIST_DELIVERIES, req, |call| async move {
        let status = call.query("status").map(DeliveryStatus::from_query).transpose()?;
        let (limit, cursor) = call.page_request()?;
        let page = app.store.list_deliveries(&call.app_id, call.webhook(), status, limit, cursor, &call.key).await?;
        Reply::page(&page)
    })
    .await
}
