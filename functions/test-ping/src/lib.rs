//! `POST /apps/{appId}/webhooks/{webhookId}/test-ping`: sends a signed `webhook.test` event now and
//! answers with the delivery record (200 whether or not the receiver accepted it). Counted in the
//! app's manual-send limit (429 `rate_limited` past it), checked after the body and before the
//! endpoint is looked up; the two run concurrently.

use shared::delivery::{self, AttemptOf, Message};
use shared::http::routes;
use shared::lambda_http::{Body, Request, Response};
use shared::model::Trigger;
use shared::store::StoreError;
use shared::time::now_millis;
use shared::uuid::Uuid;
use shared::validate::reject_unknown_fields;
use shared::{ApiError, App, Reply};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    app.respond(&routes::TEST_PING, req, |call| async move {
        reject_unknown_fields(&call.body, &[])?;
        let per_minute = app.config.manual_sends_per_minute;
        let (allowance, target) = shared::tokio::join!(
            app.store.take_manual_send(&call.app_id, per_minute, now_millis(), &call.key),
            app.store.delivery_target(&call.app_id, call.webhook(), &call.key),
        );
        // The key's verdict first (401, 403, 404 before 429).
        if let Err(refused @ StoreError::KeyRejected(_)) = target {
            return Err(refused.into());
        }
        if let Some(retry_after) = allowance? {
            return Err(ApiError::rate_limited(per_minute, retry_after));
        }
        let target = target?;
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
