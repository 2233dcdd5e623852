//! The recover worker, fed by the recover queue (`POST /apps/{appId}/webhooks/{webhookId}/recover`;
//! contract, "Recover"). It pages through the endpoint's attempt states in the window (one Query
//! of the endpoint's own partition per page, by event id, which is time-ordered; never a scan) and
//! re-sends, as a manual attempt, each event whose latest attempt failed. For one event: read the
//! event, the endpoint and the state (one BatchGetItem); claim the state if it is still the failed
//! one read (one conditional UpdateItem: a second recover over the same window, or a success in
//! between, makes it a no-op); sign and send; move the failing clock if the outcome changes it;
//! write the record and the state (one BatchWriteItem). Manual attempts are never retried; the
//! endpoint's `rateLimit` does not apply to them (contract, "Fine points").
//!
//! Long windows: before its deadline leaves too little time for another page, the worker sends
//! the rest of the work (the last event id looked at, the count so far) back to the recover queue
//! and finishes. A crash re-runs the task from where it was sent: events already re-sent are no
//! longer failed, so they are skipped.

use shared::delivery::{self, AttemptOf, Message};
use shared::futures_util;
use shared::health::clock_change;
use shared::model::{DeliveryStatus, Trigger};
use shared::queue::consumer::WorkError;
use shared::queue::worker::Worker;
use shared::queue::{RecoveryTask, Task};
use shared::store::AttemptKey;
use shared::time::{now_millis, parse_rfc3339_millis, rfc3339_millis};
use shared::uuid::Uuid;

/// Attempt states read per page (DynamoDB applies the limit before the status filter, so a window
/// of mostly delivered events reads many states to find a few failed ones).
const PAGE: i32 = 200;
/// Events of a page re-sent at once.
const CONCURRENCY: usize = 5;
/// Time a round of sends needs at most: one send's whole-request bound (10 s) and room to record it.
const ROUND_BUDGET_MS: u64 = 15_000;
/// The claim's length when the invocation gave no usable deadline: the recover function's timeout.
const DEFAULT_LEASE_MS: u64 = 60_000;

/// Handles one recover task until the window is done or the deadline (Unix ms) nears.
/// Errors (the message comes back after the visibility timeout; what was re-sent stays re-sent):
/// `storage: …`, `queue: …`, a queue URL not set, a corrupt stored secret.
pub async fn handle(worker: &Worker, task: Task, deadline_ms: u64) -> Result<(), WorkError> {
    let Task::Recover(mut task) = task else {
        return Err(WorkError("not a recover task: the recover worker takes `recover` tasks only".into()));
    };
    let lease_until = if deadline_ms > now_millis() { deadline_ms } else { now_millis() + DEFAULT_LEASE_MS };
    // Every invocation moves `after` on at least once (a page read, or a round sent) before it may
    // hand on, so a short timeout or a long run of delivered events still makes progress.
    let mut progressed = false;
    let near_deadline = || deadline_ms > 0 && now_millis() + ROUND_BUDGET_MS > deadline_ms;
    loop {
        if progressed && near_deadline() {
            worker.recover_queue()?.send(&Task::Recover(task), 0).await?;
            return Ok(());
        }
        let page = worker
            .store
            .recovery_page(&task.app_id, task.webhook_id, task.since_ms, task.until_ms, task.after, PAGE)
            .await?;
        let candidates: Vec<Uuid> = page.candidates.iter().map(|(event_id, _)| *event_id).collect();
        for round in candidates.chunks(CONCURRENCY) {
            if progressed && near_deadline() {
                // Hand the rest on rather than be stopped mid-round: `after` is the last event done.
                worker.recover_queue()?.send(&Task::Recover(task), 0).await?;
                return Ok(());
            }
            let sends = round.iter().map(|event_id| recover_one(worker, &task, *event_id, lease_until));
            for outcome in futures_util::future::join_all(sends).await {
                task.resent += u64::from(outcome?);
            }
            task.after = round.last().copied().or(task.after);
            progressed = true;
        }
        match page.next_after {
            Some(after) => {
                task.after = Some(after);
                progressed = true;
            }
            None => {
                eprintln!(
                    "recover: endpoint {} of app {}: {} event(s) re-sent from {} to {}",
                    task.webhook_id,
                    task.app_id,
                    task.resent,
                    rfc3339_millis(task.since_ms),
                    rfc3339_millis(task.until_ms)
                );
                return Ok(());
            }
        }
    }
}

/// Re-sends one event if its latest attempt still failed; `Ok(true)` when a manual attempt was made.
async fn recover_one(
    worker: &Worker,
    task: &RecoveryTask,
    event_id: Uuid,
    lease_until: u64,
) -> Result<bool, WorkError> {
    let key = AttemptKey { app_id: &task.app_id, event_id, webhook_id: task.webhook_id };
    let store = &worker.store;
    let inputs = store.attempt_inputs(key).await?;
    let (Some(event), Some(endpoint), Some(state)) = (inputs.event, inputs.endpoint, inputs.state) else {
        return Ok(false); // Expired, deleted, or never sent here.
    };
    // The window is by `createdAt`, exactly (the key range around it is a little wider).
    let created = parse_rfc3339_millis(&event.created_at).unwrap_or(0);
    if created < task.since_ms || created > task.until_ms || !state.needs_recovery(now_millis()) {
        return Ok(false);
    }
    let record_id = Uuid::now_v7();
    if !store.claim_recovery(key, &state, record_id, lease_until).await? {
        return Ok(false); // Delivered, re-sent or being sent since it was read.
    }
    let attempted_at = now_millis();
    let of = AttemptOf { record_id, number: 1, trigger: Trigger::Manual };
    let sent = delivery::deliver(worker.deliverer()?, &endpoint.target, &Message::event(&event), of, attempted_at)
        .await
        .map_err(|e| WorkError(format!("endpoint {}: {e}", task.webhook_id)))?;
    store.record_attempt(key, &sent.record, state.attempt, false).await?;
    let succeeded = sent.record.status == DeliveryStatus::Succeeded;
    let disable_after_ms = u64::from(worker.config.disable_after_seconds) * 1000;
    // A manual send moves the clock like any attempt; it has no schedule to spend, so it never disables.
    let change =
        clock_change(endpoint.failing_since_ms, succeeded, attempted_at, now_millis(), false, disable_after_ms);
    // After the record: a fault here loses only this change of the clock, which the next attempt
    // makes again (a delay, never a lost record).
    store.move_failing_clock(&task.app_id, task.webhook_id, change).await?;
    Ok(true)
}
