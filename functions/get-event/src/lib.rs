//! `GET /apps/{appId}/events/{eventId}`: one event with its `data`.

use shared::http::routes;
use shared::lambda_http::{Body, Request, Response};
use shared::{App, Reply};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    app.respond(&routes::GET_EVENT, req, |call| async move {
        let event = app.store.get_event(&call.app_id, call.event(), &call.key).await?;
        Reply::data(200, &event)
    })
    .await
}
