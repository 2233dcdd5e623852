//! `POST /apps/{appId}/webhooks/{webhookId}/recover` `{"since", "until"?}`: answers 202 with the
//! window, normalised, and leaves the work to the recover worker (contract, "Recover"): every event
//! of the window whose latest attempt to this endpoint failed is re-sent as a manual attempt, in the
//! background; the attempts appear in the endpoint's history. Works on an inactive endpoint too.
//! One call counts once in the app's manual-send limit (429 `rate_limited`), checked after the body
//! and concurrently with the endpoint's existence (404). The work goes to the recover queue (one
//! SendMessage); a failure to queue it is 503, and a retry of the call is harmless (a second
//! recover over the same window sends nothing twice).

use shared::http::routes;
use shared::lambda_http::{Body, Request, Response};
use shared::model::RecoveryWindow;
use shared::queue::{RecoveryTask, Task};
use shared::time::now_millis;
use shared::{ApiError, App, Reply};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    app.respond(&routes::RECOVER_WEBHOOK, req, |call| async move {
        let window = RecoveryWindow::from_body(&call.body, now_millis())?;
        app.with_manual_send(&call, app.store.get_endpoint(&call.app_id, call.webhook(), &call.key)).await?;
        let task = RecoveryTask {
            app_id: call.app_id.clone(),
            webhook_id: call.webhook(),
            since_ms: window.since_ms,
            until_ms: window.until_ms,
            after: None,
            resent: 0,
        };
        app.recover_queue()
            .await?
            .send(&Task::Recover(task), 0)
            .await
            .map_err(|e| ApiError::service_unavailable().with_detail(format!("recover queue: {e}")))?;
        Reply::data(202, &window)
    })
    .await
}
