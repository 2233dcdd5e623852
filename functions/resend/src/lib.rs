//! `POST /apps/{appId}/events/{eventId}/resend` `{"webhookId"}`: one manual attempt of the event to
//! the endpoint now (also an inactive one), answered with its delivery record like test-ping (200
//! whether or not the receiver accepted it; contract, "Resend"). Never retried; counted in the
//! app's manual-send limit (429 `rate_limited`), checked after the body and concurrently with the
//! one read of event, endpoint and attempt state. 404 when the event or the endpoint does not
//! exist; 400 `invalid_field` (`webhookId`) when the endpoint does not subscribe to the type.
//! A success ends the event's pending retries to the endpoint; the attempt moves its failing clock.

use shared::delivery::{self, AttemptOf, Message};
use shared::health::clock_change;
use shared::http::routes;
use shared::lambda_http::{Body, Request, Response};
use shared::model::{resend_target, subscribes, DeliveryStatus, Trigger};
use shared::store::AttemptKey;
use shared::time::now_millis;
use shared::uuid::Uuid;
use shared::{ApiError, App, Reply};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    app.respond(&routes::RESEND_EVENT, req, |call| async move {
        let webhook_id = resend_target(&call.body)?;
        let key = AttemptKey { app_id: &call.app_id, event_id: call.event(), webhook_id };
        let inputs = app.with_manual_send(&call, app.store.attempt_inputs_guarded(key, &call.key)).await?;
        let (Some(event), Some(endpoint)) = (inputs.event, inputs.endpoint) else {
            return Err(ApiError::not_found());
        };
        if !subscribes(&endpoint.events, &event.event_type) {
            return Err(ApiError::invalid_field(
                "webhookId",
                format!(
                    "This endpoint does not subscribe to `{}` events; add the type to its `events` first.",
                    event.event_type
                ),
            ));
        }
        let (id, attempted_at) = (Uuid::now_v7(), now_millis());
        let of = AttemptOf { record_id: id, number: 1, trigger: Trigger::Manual };
        let sent =
            delivery::deliver(app.deliverer()?, &endpoint.target, &Message::event(&event), of, attempted_at).await?;
        let delivery = sent.record;
        let succeeded = delivery.status == DeliveryStatus::Succeeded;
        let disable_after_ms = u64::from(app.config.disable_after_seconds) * 1000;
        // A manual send moves the clock like any attempt, and never disables (it spends no schedule).
        let change =
            clock_change(endpoint.failing_since_ms, succeeded, attempted_at, now_millis(), false, disable_after_ms);
        let reply = Reply::data(200, &delivery)?;
        let completion = call.completion(&reply);
        let (clock, state, record) = shared::tokio::join!(
            app.store.move_failing_clock(&call.app_id, webhook_id, change),
            app.store.settle_manual_attempt(key, &delivery),
            app.store.record_delivery(&call.app_id, webhook_id, &delivery, completion.as_ref()),
        );
        clock?;
        state?;
        record?;
        Ok(reply)
    })
    .await
}
