//! `POST /apps/{appId}/events`: accepts an event for delivery to every subscribed endpoint of the
//! app and answers 202 with it. The event is one DynamoDB commit (the table's stream carries it to
//! the fan-out); scope `events:publish`.

use shared::http::routes;
use shared::lambda_http::{Body, Request, Response};
use shared::model::{Event, NewEvent};
use shared::time::now_millis;
use shared::{App, Reply};

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    app.respond(&routes::PUBLISH_EVENT, req, |call| async move {
        let new = NewEvent::from_body(&call.body, &app.config)?;
        let event = Event::mint(new, now_millis());
        let reply = Reply::data(202, &event)?;
        app.store.put_event(&call.app_id, &event, call.completion(&reply).as_ref(), &call.key).await?;
        Ok(reply)
    })
    .await
}
