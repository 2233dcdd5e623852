//! `GET /apps/{appId}/event-types`: the deployment's event catalogue (`EVENT_TYPES`), sorted, so a
//! UI can offer a picker (`["customer.created", "invoice.paid", …]`). Scope `webhooks:read`; the
//! caller's key is its only read.

use shared::http::routes;
use shared::lambda_http::{Body, Request, Response};
use shared::{App, Reply};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    app.respond(&routes::EVENT_TYPES, req, |_call| async move { Reply::data(200, &app.config.events.names()) }).await
}
