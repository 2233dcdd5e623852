//! The deliver worker, fed by the delivery queue (first attempts) and the retry queue (contract,
//! "Events and delivery"). For one task: read the event, the endpoint and the attempt state (one
//! BatchGetItem); claim the attempt (one conditional UpdateItem, so a duplicate task does nothing);
//! sign and send; on a failure with attempts left, send the next task to the retry queue; write
//! the record and the new state (one BatchWriteItem).
//!
//! Faults: the next task is sent before the record is written, so a crash in between repeats this
//! attempt (under the same record id, which overwrites rather than adds) instead of losing the
//! retry. A claim is held until the invocation's deadline: after it, a redelivered task takes it
//! over. Retries stop when the endpoint is deleted or inactive, and when the event has expired.
//!
//! Operations (contract, "Events and delivery"): an endpoint with a `rateLimit` takes a place in
//! its per-second allowance before the claim, and over it the task waits on the retry queue (same
//! attempt: not a failure, no step of the schedule used). The failing clock moves with the outcome
//! (a write only when it starts, stops or disables the endpoint: `shared::health`), after the
//! record. Fairness: a first attempt from the fan-out to an endpoint whose clock has run 30 s or
//! more is moved to the retry queue unsent, so a dead endpoint's new events stop holding the fresh
//! lane's bounded concurrency.

use shared::delivery::schedule::random_jitter;
use shared::delivery::{self, AttemptOf, Message};
use shared::health::{clock_change, ClockChange};
use shared::model::{DeliveryStatus, Trigger};
use shared::queue::consumer::WorkError;
use shared::queue::worker::Worker;
use shared::queue::{delay_seconds, DeliveryTask, Task};
use shared::store::{AttemptClaim, AttemptKey, AttemptState};
use shared::time::{now_millis, rfc3339_millis};
use shared::uuid::Uuid;

/// A task due within this much is made now rather than hopping again (SQS delays are whole seconds).
const DUE_TOLERANCE_MS: u64 = 1000;
/// How long an endpoint's failing clock must have run before its first attempts leave the fresh lane
/// for the retry lane: long enough that one passing failure does not put an app's fresh events
/// behind other apps' retries, short enough that a dead endpoint holds the fresh lane briefly.
const SLOW_LANE_AFTER_MS: u64 = 30_000;
/// The claim's length when the invocation gave no usable deadline: the deliver function's timeout.
const DEFAULT_LEASE_MS: u64 = 30_000;

/// Handles one task. `deadline_ms` is the invocation's deadline (Unix ms), which bounds the claim.
/// Errors (the message comes back after the visibility timeout): `storage: …`, `queue: …`, a
/// queue URL not set, the previous attempt still being recorded, a corrupt stored secret.
pub async fn handle(worker: &Worker, task: Task, deadline_ms: u64) -> Result<(), WorkError> {
    let Task::Deliver(task) = task else {
        return Err(WorkError("not a delivery task: the deliver worker takes `deliver` tasks only".into()));
    };
    let now = now_millis();
    if let Some(due) = task.due_at_ms.filter(|due| *due > now + DUE_TOLERANCE_MS) {
        // Longer than one SQS delay: hop again, carrying the due time.
        let retry_queue = worker.retry_queue()?;
        retry_queue.send(&Task::Deliver(task.clone()), delay_seconds(due, now)).await?;
        return Ok(());
    }
    let key = AttemptKey { app_id: &task.app_id, event_id: task.event_id, webhook_id: task.webhook_id };
    let inputs = worker.store.attempt_inputs(key).await?;
    let (Some(event), Some(endpoint)) = (inputs.event, inputs.endpoint) else {
        return Ok(()); // The event expired or the endpoint was deleted: nothing more to send.
    };
    if !endpoint.active {
        return Ok(()); // Made inactive: retries stop, and do not resume on re-enabling.
    }
    let claim = AttemptState::claim_for(inputs.state.as_ref(), task.attempt, now);
    let record_id = match claim {
        AttemptClaim::Fresh => Uuid::now_v7(),
        AttemptClaim::TakeOver { record_id, .. } => record_id,
        AttemptClaim::Done => return Ok(()),
        AttemptClaim::NotYet => return Err(WorkError("the previous attempt is still being recorded".into())),
    };
    let store = &worker.store;
    let fresh_from_fan_out = task.attempt == 1 && task.due_at_ms.is_none();
    let failing_for_ms = endpoint.failing_since_ms.map(|since| now.saturating_sub(since));
    if fresh_from_fan_out && failing_for_ms.is_some_and(|ms| ms >= SLOW_LANE_AFTER_MS) {
        // An endpoint failing for a while: its new event waits its turn on the retry lane (fairness).
        worker.retry_queue()?.send(&Task::Deliver(DeliveryTask { due_at_ms: Some(now), ..task }), 0).await?;
        return Ok(());
    }
    if let Some(per_second) = endpoint.rate_limit {
        if let Some(wait) = store.take_delivery_slot(&task.app_id, task.webhook_id, per_second, now).await? {
            let due = now + wait * 1000;
            worker.retry_queue()?.send(&Task::Deliver(DeliveryTask { due_at_ms: Some(due), ..task }), wait).await?;
            return Ok(());
        }
    }
    let target = endpoint.target;
    // Lambda stops the invocation at its deadline, so after it no one else holds this claim.
    let lease_until = if deadline_ms > now { deadline_ms } else { now + DEFAULT_LEASE_MS };
    if !store.claim_attempt(key, task.attempt, claim, record_id, lease_until).await? {
        return Ok(()); // Another worker claimed it first.
    }
    let attempted_at = now_millis();
    let of = AttemptOf { record_id, number: task.attempt, trigger: task.trigger };
    let sent = delivery::deliver(worker.deliverer()?, &target, &Message::event(&event), of, attempted_at)
        .await
        .map_err(|e| WorkError(format!("endpoint {}: {e}", task.webhook_id)))?;
    let mut record = sent.record;
    if record.status == DeliveryStatus::Failed && task.trigger == Trigger::Scheduled {
        if let Some(wait) = worker.schedule.delay_after(task.attempt, random_jitter(), sent.retry_after) {
            // `nextAttemptAt` counts from the end of the attempt (contract, "Fine points").
            let due = attempted_at + record.duration_ms + u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
            let retry_queue = worker.retry_queue()?;
            retry_queue.send(&Task::Deliver(task.next(due)), delay_seconds(due, now_millis())).await?;
            record.next_attempt_at = Some(rfc3339_millis(due));
        }
    }
    store.record_attempt(key, &record, task.attempt, matches!(claim, AttemptClaim::TakeOver { .. })).await?;
    // The clock after the record: a fault here loses only this change of the clock (the next
    // attempt makes it again, so a disable is delayed, never a record lost).
    let succeeded = record.status == DeliveryStatus::Succeeded;
    let spent = !succeeded && task.trigger == Trigger::Scheduled && record.next_attempt_at.is_none();
    let disable_after_ms = u64::from(worker.config.disable_after_seconds) * 1000;
    let change =
        clock_change(endpoint.failing_since_ms, succeeded, attempted_at, now_millis(), spent, disable_after_ms);
    if store.move_failing_clock(&task.app_id, task.webhook_id, change).await? {
        let since = match change {
            ClockChange::Disable { since_ms } => since_ms.unwrap_or(attempted_at),
            _ => attempted_at,
        };
        eprintln!(
            "deliver: endpoint {} of app {} disabled (failing since {}; event {}'s schedule spent)",
            task.webhook_id,
            task.app_id,
            rfc3339_millis(since),
            task.event_id
        );
    }
    Ok(())
}
