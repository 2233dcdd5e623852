//! `POST /apps/{appId}/webhooks/{webhookId}/test-ping`: sends a signed `webhook.test` event now and
//! answers with the delivery record (200 whether or not the receiver accepted it).

use shared::delivery::send_test_ping;
use shared::lambda_http::{Body, Request, Response};
use shared::validate::reject_unknown_fields;
use shared::{App, BodyRule, PathShape, Reply, Route, Scope};

pub const ROUTE: Route = Route {
    path: PathShape::WebhookAction("test-ping"),
    methods: &["POST"],
    scope: Scope::Write,
    body: BodyRule::Optional,
};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    app.respond(&ROUTE, req, |call| async move {
        reject_unknown_fields(&call.body, &[])?;
        let target = app.store.delivery_target(&call.app_id, call.webhook()).await?;
        let delivery = send_test_ping(app.deliverer()?, &target, &call.app_id, call.webhook()).await?;
        app.store.record_delivery(&call.app_id, call.webhook(), &delivery).await?;
        Reply::data(200, &delivery)
    })
    .await
}
