//! The fan-out worker, fed by the table's stream (the outbox; contract, "Fan-out"): for each event
//! inserted, one delivery task per endpoint of its app that is active and subscribed to its type,
//! sent to the delivery queue. The work is batched across the stream batch: one Query of endpoints
//! per app (not per event), and the tasks of all its events sent 10 to a `SendMessageBatch`, several
//! batches at once.
//!
//! An accepted event is never lost or half fanned out: a failure (a Query, a send) stops the batch
//! at the first record whose tasks are not all sent, and Lambda retries the stream from it; tasks
//! sent again are dropped by the deliver worker's attempt state.

use std::collections::HashMap;

use shared::aws_lambda_events::event::dynamodb::EventRecord;
use shared::model::subscribes;
use shared::queue::consumer::{StreamFailure, WorkError};
use shared::queue::worker::Worker;
use shared::queue::{DeliveryTask, Task};
use shared::store::published_event;
use shared::uuid::Uuid;

/// Fans out a stream batch, records in order. On failure, the first record not done, with why:
/// `storage: …`, `queue: …`, `DELIVERY_QUEUE_URL is not set`.
pub async fn handle(worker: &Worker, records: Vec<EventRecord>) -> Result<(), StreamFailure> {
    let Some(first) = records.first() else { return Ok(()) };
    let queue = worker.delivery_queue().map_err(|why| StreamFailure::at(first, why))?;
    let mut subscriptions: HashMap<String, Vec<(Uuid, Vec<String>)>> = HashMap::new();
    // (index of the record, its task), in record order.
    let mut planned: Vec<(usize, Task)> = Vec::new();
    let mut stopped: Option<StreamFailure> = None;
    for (index, record) in records.iter().enumerate() {
        let Some(event) = published_event(record) else { continue };
        if !subscriptions.contains_key(&event.app_id) {
            match worker.store.active_subscriptions(&event.app_id).await {
                Ok(found) => subscriptions.insert(event.app_id.clone(), found),
                Err(e) => {
                    stopped = Some(StreamFailure::at(record, WorkError::from(e)));
                    break;
                }
            };
        }
        let endpoints = subscriptions.get(&event.app_id).map(Vec::as_slice).unwrap_or_default();
        for (webhook_id, events) in endpoints {
            if subscribes(events, &event.event_type) {
                planned.push((index, Task::Deliver(DeliveryTask::first(&event.app_id, event.event_id, *webhook_id))));
            }
        }
    }
    let tasks: Vec<Task> = planned.iter().map(|(_, task)| task.clone()).collect();
    if let Err((first_unsent, e)) = queue.send_all(&tasks).await {
        // Every task before the first unsent one went out; its record and the rest are retried.
        return Err(StreamFailure::at(&records[planned[first_unsent].0], WorkError::from(e.clone())));
    }
    stopped.map_or(Ok(()), Err)
}
