//! The fan-out worker, fed by the table's stream (the outbox; contract, "Fan-out"): for each event
//! inserted, one Query of the app's endpoints, and one delivery task per endpoint that is active and
//! subscribed to the event's type, sent to the delivery queue in batches of 10.
//!
//! An accepted event is never lost or half fanned out: any failure (the Query, a send) fails this
//! record, and Lambda retries the stream from it; the tasks already sent are then sent again, and
//! the deliver worker's attempt state drops the duplicates.

use shared::aws_lambda_events::event::dynamodb::EventRecord;
use shared::queue::consumer::WorkError;
use shared::queue::worker::Worker;
use shared::queue::{DeliveryTask, Task};
use shared::store::published_event;

/// Fans out one stream record. Errors (retried from this record): `storage: …`, `queue: …`,
/// `DELIVERY_QUEUE_URL is not set`.
pub async fn handle(worker: &Worker, record: EventRecord) -> Result<(), WorkError> {
    let Some(event) = published_event(&record) else {
        return Ok(());
    };
    let queue = worker.queue(&worker.delivery_queue, "DELIVERY_QUEUE_URL")?;
    let endpoints = worker.store.subscribed_endpoints(&event.app_id, &event.event_type).await?;
    let tasks: Vec<Task> = endpoints
        .into_iter()
        .map(|webhook_id| Task::Deliver(DeliveryTask::first(&event.app_id, event.event_id, webhook_id)))
        .collect();
    queue.send_all(&tasks).await?;
    Ok(())
}
