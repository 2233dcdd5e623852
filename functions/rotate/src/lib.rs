//! `POST /apps/{appId}/webhooks/{webhookId}/rotate-secret`: a new signing secret, returned only here;
//! the old one keeps signing for `gracePeriodSeconds` (default 0).

use shared::http::routes;
use shared::lambda_http::{Body, Request, Response};
use shared::model::{RotatedSecret, Rotation};
use shared::secrets::new_signing_secret;
use shared::{ApiError, App, Reply};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    app.respond(&routes::ROTATE_SECRET, req, |call| async move {
        let rotation = Rotation::from_body(&call.body)?;
        let rotated = RotatedSecret { secret: new_signing_secret().map_err(ApiError::from)? };
        let reply = Reply::secret(200, &rotated)?;
        let completion = call.completion(&reply);
        app.store
            .rotate_secret(&call.app_id, call.webhook(), rotation, &rotated.secret, completion.as_ref(), &call.key)
            .await?;
        Ok(reply)
    })
    .await
}
