//! The state of one event's attempts to one endpoint: `APP#{appId}#WEBHOOK#{webhookId}` /
//! `ATTEMPTS#{eventId}`, in the endpoint's own partition beside its history (so recovering an
//! endpoint's failed events is one Query by event id, which is time-ordered). It makes a duplicate
//! task a no-op: an attempt is claimed with a conditional write before it is sent, and its record
//! and the new state are written together after.
//!
//! `attempt` is the number of the attempt last claimed, `status` what became of it (`sending`
//! while claimed, then `succeeded` or `failed`), `leaseUntil` (Unix ms) when a claim left by a
//! crashed worker may be taken over, `recordId` the delivery record that attempt writes (taken
//! over with the claim, so a re-run overwrites the same record instead of adding another).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};
use uuid::Uuid;

use super::deliveries::{record_puts, status_copy_key};
use super::endpoints::{rate_limit_of, webhook_sk, FAILING_SINCE};
use super::error::{build_error, is_conditional_failure, sdk_error};
use super::events::{event_from_item, expired, EVENT_PREFIX};
use super::secrets::target_from_item;
use super::write::ConditionalUpdate;
use super::{app_pk, endpoint_pk, get_n, get_s, key_of, n, s, Item, KeyGuard, Store, StoreError};
use crate::model::{Delivery, DeliveryStatus, DeliveryTarget, Event};
use crate::time::now_millis;

/// The sort-key prefix of attempt-state items.
pub const ATTEMPT_PREFIX: &str = "ATTEMPTS#";
/// Attempt state lives as long as the event it is about.
const STATE_TTL_SECONDS: u64 = super::events::EVENT_TTL_SECONDS;

/// Which event to which endpoint, of which app: the key of an attempt state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptKey<'a> {
    pub app_id: &'a str,
    pub event_id: Uuid,
    pub webhook_id: Uuid,
}

fn state_key(key: AttemptKey<'_>) -> Item {
    key_of(endpoint_pk(key.app_id, key.webhook_id), format!("{ATTEMPT_PREFIX}{}", key.event_id))
}

/// What became of the attempt last claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptStatus {
    Sending,
    Succeeded,
    Failed,
}

impl AttemptStatus {
    fn as_str(self) -> &'static str {
        match self {
            AttemptStatus::Sending => "sending",
            AttemptStatus::Succeeded => "succeeded",
            AttemptStatus::Failed => "failed",
        }
    }
}

/// The stored state of an event's attempts to an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptState {
    pub attempt: u32,
    pub status: AttemptStatus,
    pub lease_until_ms: u64,
    pub record_id: Uuid,
    /// The claim (while `sending`) is a recover's manual attempt, not a scheduled one.
    pub recovering: bool,
}

/// What a task for attempt `n` may do, given the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptClaim {
    /// Claim attempt `n` afresh, with a new record id.
    Fresh,
    /// Take over attempt `n` from a claim whose lease ran out (a crashed worker), keeping its
    /// record id and asking that the lease is still the one read.
    TakeOver { record_id: Uuid, lease_until_ms: u64 },
    /// Nothing to do: this attempt (or a later one) was made or is being made, or the event was
    /// delivered. A duplicate task ends here.
    Done,
    /// The previous attempt is still being recorded: try this task again later.
    NotYet,
}

impl AttemptState {
    /// The rule for a task of attempt `n` at `now_ms` (see `AttemptClaim`).
    pub fn claim_for(state: Option<&AttemptState>, n: u32, now_ms: u64) -> AttemptClaim {
        let Some(state) = state else { return AttemptClaim::Fresh };
        match state.status {
            AttemptStatus::Succeeded => AttemptClaim::Done,
            _ if state.attempt > n => AttemptClaim::Done,
            AttemptStatus::Sending if state.attempt == n => {
                if state.lease_until_ms < now_ms {
                    AttemptClaim::TakeOver { record_id: state.record_id, lease_until_ms: state.lease_until_ms }
                } else {
                    AttemptClaim::Done
                }
            }
            // The previous attempt's claim ran out without a record (its task lost or dead-lettered):
            // its next task exists only because its send was made, so this one may go on.
            AttemptStatus::Sending if state.lease_until_ms < now_ms => AttemptClaim::Fresh,
            AttemptStatus::Sending => AttemptClaim::NotYet,
            AttemptStatus::Failed if state.attempt == n => AttemptClaim::Done,
            AttemptStatus::Failed => AttemptClaim::Fresh,
        }
    }
}

fn state_from_item(item: &Item) -> Result<AttemptState, StoreError> {
    let status = match get_s(item, "status")?.as_str() {
        "sending" => AttemptStatus::Sending,
        "succeeded" => AttemptStatus::Succeeded,
        _ => AttemptStatus::Failed,
    };
    Ok(AttemptState {
        attempt: u32::try_from(get_n(item, "attempt")?).unwrap_or(u32::MAX),
        status,
        lease_until_ms: get_n(item, "leaseUntil")?,
        record_id: Uuid::parse_str(&get_s(item, "recordId")?)
            .map_err(|_| StoreError::Other("attempt state: recordId is not a UUID".into()))?,
        recovering: matches!(item.get("recovering"), Some(AttributeValue::Bool(true))),
    })
}

/// The endpoint as an attempt needs it: where and how to sign, its subscriptions, whether it is
/// `active`, its failing clock (Unix ms, contract "Auto-disable") and its `rateLimit` (deliveries
/// per second).
#[derive(Debug, Clone)]
pub struct AttemptEndpoint {
    pub target: DeliveryTarget,
    pub events: Vec<String>,
    pub active: bool,
    pub failing_since_ms: Option<u64>,
    pub rate_limit: Option<u32>,
}

/// What one attempt needs, read in one request: the event (`None` once expired or absent), the
/// endpoint (`None` once deleted) and the attempt state.
#[derive(Debug, Clone)]
pub struct AttemptInputs {
    pub event: Option<Event>,
    pub endpoint: Option<AttemptEndpoint>,
    pub state: Option<AttemptState>,
}

/// The lowest and highest attempt-state sort keys of events created in `[since_ms, until_ms]`:
/// UUIDv7 ids begin with their creation time in milliseconds (RFC 9562, section 5.7), so the
/// window is one key range. The range is widened by a second on each side, because an event's id
/// and its `createdAt` are taken a moment apart; the caller applies the exact window to `createdAt`.
pub fn attempt_window(since_ms: u64, until_ms: u64) -> (String, String) {
    let id = |ms: u64, fill: &str| {
        let ms = ms & 0xffff_ffff_ffff;
        format!("{ATTEMPT_PREFIX}{:08x}-{:04x}-{fill}", ms >> 16, ms & 0xffff)
    };
    (id(since_ms.saturating_sub(1000), "0000-0000-000000000000"), id(until_ms + 1000, "ffff-ffff-ffffffffffff"))
}

/// One page of an endpoint's events that a recover may re-send: their ids and attempt states.
#[derive(Debug, Clone, Default)]
pub struct RecoveryPage {
    pub candidates: Vec<(Uuid, AttemptState)>,
    /// The last event id read, when more may follow: the next page starts after it.
    pub next_after: Option<Uuid>,
}

impl AttemptState {
    /// Whether a recover re-sends this event (contract, "Recover"): its latest attempt failed, or
    /// an earlier recover claimed it and never recorded its send (the claim ran out). Delivered
    /// events and attempts being made are left alone, and so is a scheduled claim that ran out: its
    /// own task comes back (SQS redelivery) and takes it over, which keeps the schedule going.
    pub fn needs_recovery(&self, now_ms: u64) -> bool {
        match self.status {
            AttemptStatus::Failed => true,
            AttemptStatus::Sending => self.recovering && self.lease_until_ms < now_ms,
            AttemptStatus::Succeeded => false,
        }
    }
}

impl Store {
    /// The event, the endpoint and the attempt state in one consistent BatchGetItem, for a worker.
    /// Errors: `Unavailable`, `Other` (a corrupt item).
    pub async fn attempt_inputs(&self, key: AttemptKey<'_>) -> Result<AttemptInputs, StoreError> {
        self.attempt_inputs_guarded(key, &KeyGuard::internal()).await
    }

    /// `attempt_inputs` for a route: the caller's key is settled in the same request (nothing read
    /// is answered unless the key may see it). Errors: `KeyRejected`, `Unavailable`, `Other`.
    pub async fn attempt_inputs_guarded(
        &self,
        key: AttemptKey<'_>,
        guard: &KeyGuard,
    ) -> Result<AttemptInputs, StoreError> {
        let keys = vec![
            key_of(app_pk(key.app_id), format!("{EVENT_PREFIX}{}", key.event_id)),
            key_of(app_pk(key.app_id), webhook_sk(key.webhook_id)),
            state_key(key),
        ];
        let found = self.settle_with(guard, keys, None, "BatchGetItem attempt").await?;
        let mut found = found.into_iter();
        let (event, endpoint, state) = (found.next().flatten(), found.next().flatten(), found.next().flatten());
        let now = now_millis();
        let event = event.filter(|item| !expired(item, now / 1000)).map(|item| event_from_item(&item)).transpose()?;
        let endpoint = endpoint
            .map(|item| {
                Ok::<_, StoreError>(AttemptEndpoint {
                    target: target_from_item(key.webhook_id, &item, now)?,
                    events: match item.get("events") {
                        Some(AttributeValue::L(list)) => list.iter().filter_map(|v| v.as_s().ok().cloned()).collect(),
                        _ => Vec::new(),
                    },
                    active: matches!(item.get("active"), Some(AttributeValue::Bool(true))),
                    failing_since_ms: item.get(FAILING_SINCE).and_then(|v| v.as_n().ok()?.parse().ok()),
                    rate_limit: rate_limit_of(&item),
                })
            })
            .transpose()?;
        let state = state.map(|item| state_from_item(&item)).transpose()?;
        Ok(AttemptInputs { event, endpoint, state })
    }

    /// Claims attempt `number` as `claim` allows (`Fresh` with `record_id`, or a `TakeOver`), holding it
    /// until `lease_until_ms`. `Ok(false)` when another worker claimed it first (a duplicate task).
    /// Errors: `Unavailable`, `Other`.
    pub async fn claim_attempt(
        &self,
        key: AttemptKey<'_>,
        number: u32,
        claim: AttemptClaim,
        record_id: Uuid,
        lease_until_ms: u64,
    ) -> Result<bool, StoreError> {
        let mut values = HashMap::from([
            (":n".to_owned(), n(number)),
            (":sending".to_owned(), s(AttemptStatus::Sending.as_str())),
            (":lease".to_owned(), n(lease_until_ms)),
        ]);
        let names = HashMap::from([("#status".to_owned(), "status".to_owned())]);
        let (update, condition) = match claim {
            AttemptClaim::Fresh => {
                values.insert(":succeeded".into(), s(AttemptStatus::Succeeded.as_str()));
                values.insert(":now".into(), n(now_millis()));
                values.insert(":record".into(), s(record_id.to_string()));
                values.insert(":app".into(), s(key.app_id));
                values.insert(":expires".into(), n(now_millis() / 1000 + STATE_TTL_SECONDS));
                (
                    "SET attempt = :n, #status = :sending, leaseUntil = :lease, recordId = :record, appId = :app, expiresAt = :expires",
                    // An earlier attempt, not delivered, and not held (a recorded attempt holds nothing).
                    "attribute_not_exists(pk) OR (attempt < :n AND #status <> :succeeded AND leaseUntil < :now)",
                )
            }
            AttemptClaim::TakeOver { lease_until_ms: old, .. } => {
                values.insert(":old".into(), n(old));
                ("SET leaseUntil = :lease", "attempt = :n AND #status = :sending AND leaseUntil = :old")
            }
            AttemptClaim::Done | AttemptClaim::NotYet => return Ok(false),
        };
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(state_key(key)))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            // The SDK may have retried a claim whose first try was applied but whose answer was
            // lost: then the state already holds this very claim, which is ours.
            Err(e) if is_conditional_failure(&e) => {
                let out = self
                    .client()
                    .get_item()
                    .table_name(self.table())
                    .set_key(Some(state_key(key)))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|e| sdk_error("GetItem attempt state", e))?;
                let held = out.item.map(|item| state_from_item(&item)).transpose()?;
                let ours = AttemptState {
                    attempt: number,
                    status: AttemptStatus::Sending,
                    lease_until_ms,
                    record_id,
                    recovering: false,
                };
                match held {
                    Some(held) if held == ours => Ok(true),
                    // A recover (or an earlier attempt) claimed it between our read and our claim:
                    // this attempt is still due, so the task must come back, not end here.
                    Some(held) if held.status == AttemptStatus::Sending && held.attempt < number => {
                        Err(StoreError::Unavailable("an earlier attempt or a recover holds this event".into()))
                    }
                    _ => Ok(false),
                }
            }
            Err(e) => Err(sdk_error("UpdateItem claim attempt", e)),
        }
    }

    /// Claims an event's state for a recover's manual attempt, if it is still what was read (`seen`,
    /// which `needs_recovery`): the same record id and a failed status (or a claim that ran out).
    /// Holds it until `lease_until_ms` under `record_id`, keeping the attempt number, so a scheduled
    /// retry waits meanwhile and a second recover finds it taken. `Ok(false)`: delivered, re-sent or
    /// claimed since. Errors: `Unavailable`, `Other`.
    pub async fn claim_recovery(
        &self,
        key: AttemptKey<'_>,
        seen: &AttemptState,
        record_id: Uuid,
        lease_until_ms: u64,
    ) -> Result<bool, StoreError> {
        let values = HashMap::from([
            (":seen".to_owned(), s(seen.record_id.to_string())),
            (":failed".to_owned(), s(AttemptStatus::Failed.as_str())),
            (":sending".to_owned(), s(AttemptStatus::Sending.as_str())),
            (":now".to_owned(), n(now_millis())),
            (":record".to_owned(), s(record_id.to_string())),
            (":lease".to_owned(), n(lease_until_ms)),
            (":true".to_owned(), AttributeValue::Bool(true)),
        ]);
        let change = ConditionalUpdate {
            key: state_key(key),
            update: "SET #status = :sending, recordId = :record, leaseUntil = :lease, recovering = :true",
            condition: "recordId = :seen AND (#status = :failed OR \
                        (#status = :sending AND leaseUntil < :now AND recovering = :true))",
            names: &[("#status", "status")],
            values,
        };
        self.update_if(change, "UpdateItem claim recovery").await
    }

    /// Settles what a resend's manual attempt (made without a claim) did to the event's state: its
    /// status and record become the latest, so a success ends the pending retries (contract,
    /// "Fine points") and a failure makes the event one a recover re-sends. The attempt number
    /// stays (0 when the event never reached this endpoint before). Skipped, `Ok(false)`, while a
    /// scheduled or recover attempt holds the state: that attempt's own record settles it.
    /// Errors: `Unavailable`, `Other`.
    pub async fn settle_manual_attempt(&self, key: AttemptKey<'_>, delivery: &Delivery) -> Result<bool, StoreError> {
        let status = match delivery.status {
            DeliveryStatus::Succeeded => AttemptStatus::Succeeded,
            DeliveryStatus::Failed => AttemptStatus::Failed,
        };
        let values = HashMap::from([
            (":status".to_owned(), s(status.as_str())),
            (":sending".to_owned(), s(AttemptStatus::Sending.as_str())),
            (":now".to_owned(), n(now_millis())),
            (":record".to_owned(), s(&delivery.id)),
            (":zero".to_owned(), n(0)),
            (":at".to_owned(), s(&delivery.attempted_at)),
            (":app".to_owned(), s(key.app_id)),
            (":expires".to_owned(), n(now_millis() / 1000 + STATE_TTL_SECONDS)),
            (":true".to_owned(), AttributeValue::Bool(true)),
        ]);
        let change = ConditionalUpdate {
            key: state_key(key),
            update: "SET #status = :status, recordId = :record, leaseUntil = :zero, attemptedAt = :at, appId = :app, \
                 attempt = if_not_exists(attempt, :zero), expiresAt = if_not_exists(expiresAt, :expires) \
                 REMOVE nextAttemptAt, recovering",
            // Not while an attempt is being made: a scheduled claim that ran out is its own task's to
            // take over (settling it here would end its schedule); a recover's that ran out is free.
            condition: "attribute_not_exists(pk) OR #status <> :sending OR (leaseUntil < :now AND recovering = :true)",
            names: &[("#status", "status")],
            values,
        };
        self.update_if(change, "UpdateItem settle manual attempt").await
    }

    /// One page (at most `limit` states read) of the endpoint's events created in the window
    /// `[since_ms, until_ms]` (by id, see `attempt_window`) whose latest attempt failed or was never
    /// recorded, after `after` (exclusive) when continuing. One Query of the endpoint's partition,
    /// consistent, filtered by status; never a scan. Errors: `Unavailable`, `Other`.
    pub async fn recovery_page(
        &self,
        app_id: &str,
        webhook_id: Uuid,
        since_ms: u64,
        until_ms: u64,
        after: Option<Uuid>,
        limit: i32,
    ) -> Result<RecoveryPage, StoreError> {
        let (low, high) = attempt_window(since_ms, until_ms);
        let pk = endpoint_pk(app_id, webhook_id);
        let values = HashMap::from([
            (":pk".to_owned(), s(&pk)),
            (":low".to_owned(), s(low)),
            (":high".to_owned(), s(high)),
            (":succeeded".to_owned(), s(AttemptStatus::Succeeded.as_str())),
        ]);
        let start = after.map(|id| key_of(pk.clone(), format!("{ATTEMPT_PREFIX}{id}")));
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
            .filter_expression("#status <> :succeeded")
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values))
            .set_exclusive_start_key(start)
            .consistent_read(true)
            .limit(limit)
            .send()
            .await
            .map_err(|e| sdk_error("Query recovery", e))?;
        let mut candidates = Vec::new();
        for item in out.items.unwrap_or_default() {
            let sk = get_s(&item, "sk")?;
            let Some(event_id) = sk.strip_prefix(ATTEMPT_PREFIX).and_then(|id| Uuid::parse_str(id).ok()) else {
                continue;
            };
            candidates.push((event_id, state_from_item(&item)?));
        }
        let next_after = out
            .last_evaluated_key
            .and_then(|key| get_s(&key, "sk").ok())
            .and_then(|sk| sk.strip_prefix(ATTEMPT_PREFIX).and_then(|id| Uuid::parse_str(id).ok()));
        Ok(RecoveryPage { candidates, next_after })
    }

    /// Writes the record of a claimed attempt and what became of it: the record under the
    /// endpoint's history (whole and by status) and the state (`attempt`, `status`, `recordId`,
    /// `nextAttemptAt`), in one BatchWriteItem of plain puts. No transaction: each put is
    /// idempotent (a repeated attempt rewrites the same record id), and no other writer touches
    /// the state meanwhile (the next attempt's claim waits for this state; a take-over waits for
    /// this invocation's deadline). Errors: `Unavailable` (keys left unprocessed), `Other`.
    /// `repeated`: this attempt was taken over from a crashed run, which may have written its
    /// record under the other status already; that copy is deleted in the same batch.
    ///
    /// `claimed` is the attempt number the state keeps: the record's own for a scheduled attempt,
    /// the last scheduled one for a recover's manual attempt (whose record says 1).
    pub async fn record_attempt(
        &self,
        key: AttemptKey<'_>,
        delivery: &Delivery,
        claimed: u32,
        repeated: bool,
    ) -> Result<(), StoreError> {
        let status = match delivery.status {
            DeliveryStatus::Succeeded => AttemptStatus::Succeeded,
            DeliveryStatus::Failed => AttemptStatus::Failed,
        };
        let mut state = state_key(key);
        state.insert("appId".into(), s(key.app_id));
        state.insert("attempt".into(), n(claimed));
        state.insert("status".into(), s(status.as_str()));
        state.insert("recordId".into(), s(&delivery.id));
        state.insert("leaseUntil".into(), n(0));
        state.insert("attemptedAt".into(), s(&delivery.attempted_at));
        if let Some(next) = &delivery.next_attempt_at {
            state.insert("nextAttemptAt".into(), s(next));
        }
        state.insert("expiresAt".into(), n(now_millis() / 1000 + STATE_TTL_SECONDS));
        let [record, by_status] = record_puts(key.app_id, key.webhook_id, delivery);
        let mut pending: Vec<WriteRequest> = Vec::with_capacity(3);
        for item in [record, by_status, state] {
            let put = PutRequest::builder().set_item(Some(item)).build().map_err(build_error)?;
            pending.push(WriteRequest::builder().put_request(put).build());
        }
        if repeated {
            let other = match delivery.status {
                DeliveryStatus::Succeeded => DeliveryStatus::Failed,
                DeliveryStatus::Failed => DeliveryStatus::Succeeded,
            };
            let stale = status_copy_key(key.app_id, key.webhook_id, other, &delivery.id);
            let delete = DeleteRequest::builder().set_key(Some(stale)).build().map_err(build_error)?;
            pending.push(WriteRequest::builder().delete_request(delete).build());
        }
        for attempt in 0..4u64 {
            let out = self
                .client()
                .batch_write_item()
                .request_items(self.table(), pending)
                .send()
                .await
                .map_err(|e| sdk_error("BatchWriteItem attempt", e))?;
            pending = out.unprocessed_items.unwrap_or_default().remove(self.table()).unwrap_or_default();
            if pending.is_empty() {
                return Ok(());
            }
            // DynamoDB left writes unprocessed (throttling): a short pause, then those again.
            super::write::jitter(10 + 20 * attempt, 40).await?;
        }
        Err(StoreError::Unavailable("BatchWriteItem attempt: writes left unprocessed".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(attempt: u32, status: AttemptStatus, lease_until_ms: u64) -> AttemptState {
        AttemptState { attempt, status, lease_until_ms, record_id: Uuid::nil(), recovering: false }
    }

    #[test]
    fn a_recover_window_is_one_key_range_around_uuidv7_times() {
        let at = 1_764_000_000_000u64;
        let inside =
            Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, at / 1000, (at % 1000) as u32 * 1_000_000));
        let before = Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, (at - 5000) / 1000, 0));
        let after = Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, (at + 5000) / 1000, 0));
        let (low, high) = attempt_window(at - 100, at + 100);
        let sk = |id: Uuid| format!("{ATTEMPT_PREFIX}{id}");
        assert!(low < sk(inside) && sk(inside) < high, "{low} {} {high}", sk(inside));
        assert!(sk(before) < low && sk(after) > high);
    }

    #[test]
    fn recover_resends_only_what_failed_last() {
        use AttemptStatus::*;
        assert!(state(3, Failed, 0).needs_recovery(100));
        assert!(!state(3, Succeeded, 0).needs_recovery(100));
        assert!(!state(3, Sending, 200).needs_recovery(100), "being sent now");
        assert!(!state(3, Sending, 50).needs_recovery(100), "a scheduled claim that ran out is its own task's");
        let recover_left = AttemptState { recovering: true, ..state(3, Sending, 50) };
        assert!(recover_left.needs_recovery(100), "claimed by a recover that never recorded it");
    }

    #[test]
    fn a_task_claims_only_the_attempt_that_is_due() {
        use AttemptStatus::*;
        let claim = AttemptState::claim_for;
        assert_eq!(claim(None, 1, 100), AttemptClaim::Fresh);
        // A duplicate of an attempt made, being made, or of a delivered event does nothing.
        assert_eq!(claim(Some(&state(1, Failed, 0)), 1, 100), AttemptClaim::Done);
        assert_eq!(claim(Some(&state(1, Sending, 200)), 1, 100), AttemptClaim::Done);
        assert_eq!(claim(Some(&state(1, Succeeded, 0)), 2, 100), AttemptClaim::Done);
        assert_eq!(claim(Some(&state(3, Failed, 0)), 2, 100), AttemptClaim::Done);
        // The next attempt after a failure is claimed afresh.
        assert_eq!(claim(Some(&state(1, Failed, 0)), 2, 100), AttemptClaim::Fresh);
        // A claim whose lease ran out (a crashed worker) is taken over with its record id.
        assert_eq!(
            claim(Some(&state(2, Sending, 99)), 2, 100),
            AttemptClaim::TakeOver { record_id: Uuid::nil(), lease_until_ms: 99 }
        );
        // The previous attempt is still being recorded: not yet; once its claim ran out, go on.
        assert_eq!(claim(Some(&state(1, Sending, 200)), 2, 100), AttemptClaim::NotYet);
        assert_eq!(claim(Some(&state(1, Sending, 50)), 2, 100), AttemptClaim::Fresh);
    }
}
