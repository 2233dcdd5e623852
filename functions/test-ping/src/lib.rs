//! `POST /apps/{appId}/webhooks/{webhookId}/test-ping`: sends a signed `webhook.test` event now and
//! answers with the delivery record (200 whether or not the receiver accepted it). Counted in the
//! app's manual-send limit (429 `rate_limited` past it), checked after the body and before the
//! endpoint is looked up; the two run concurrently.

use shared::delivery::{self, AttemptOf, Message};
use shared::http::routes;
use shared::lambda_http::{Body, Request, Response};
use shared::model::Trigger;
use shared::time::now_millis;
use shared::uuid::Uuid;
use shared::validate::reject_unknown_fields;
use shared::{App, Reply};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    app.respond(&routes::TEST_PING, req, |call| async move {
        reject_unknown_fields(&call.body, &[])?;
        let target =
            app.with_manual_send(&call, app.store.delivery_target(&call.app_id, call.webhook(), &call.key)).await?;
        let (id, now) = (Uuid::now_v7(), now_millis());
        let ping = Message::test_ping(id, &call.app_id, call.webhook(), now);
        let sent =
            delivery::deliver(app.deliverer()?, &target, &ping, AttemptOf::single(id, Trigger::Test), now).await?;
        let delivery = sent.record;
        let reply = Reply::data(200, &delivery)?;
        app.store.record_delivery(&call.app_id, call.webhook(), &delivery, call.completion(&reply).as_ref()).await?;
        Ok(reply)
    })
    .await
}
