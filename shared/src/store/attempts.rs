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
use super::endpoints::webhook_sk;
use super::error::{build_error, is_conditional_failure, sdk_error};
use super::events::{event_from_item, expired, EVENT_PREFIX};
use super::secrets::target_from_item;
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
    })
}

/// What one attempt needs, read in one request: the event (`None` once expired or absent), the
/// endpoint as a target with its `active` flag (`None` once deleted) and the attempt state.
#[derive(Debug, Clone)]
pub struct AttemptInputs {
    pub event: Option<Event>,
    pub endpoint: Option<(DeliveryTarget, bool)>,
    pub state: Option<AttemptState>,
}

impl Store {
    /// The event, the endpoint and the attempt state in one consistent BatchGetItem.
    /// Errors: `Unavailable`, `Other` (a corrupt item).
    pub async fn attempt_inputs(&self, key: AttemptKey<'_>) -> Result<AttemptInputs, StoreError> {
        let keys = vec![
            key_of(app_pk(key.app_id), format!("{EVENT_PREFIX}{}", key.event_id)),
            key_of(app_pk(key.app_id), webhook_sk(key.webhook_id)),
            state_key(key),
        ];
        let found = self.settle_with(&KeyGuard::internal(), keys, None, "BatchGetItem attempt").await?;
        let mut found = found.into_iter();
        let (event, endpoint, state) = (found.next().flatten(), found.next().flatten(), found.next().flatten());
        let now = now_millis();
        let event = event.filter(|item| !expired(item, now / 1000)).map(|item| event_from_item(&item)).transpose()?;
        let endpoint = endpoint
            .map(|item| {
                let active = matches!(item.get("active"), Some(AttributeValue::Bool(true)));
                Ok::<_, StoreError>((target_from_item(key.webhook_id, &item, now)?, active))
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
                let ours = AttemptState { attempt: number, status: AttemptStatus::Sending, lease_until_ms, record_id };
                Ok(held.as_ref() == Some(&ours))
            }
            Err(e) => Err(sdk_error("UpdateItem claim attempt", e)),
        }
    }

    /// Writes the record of a claimed attempt and what became of it: the record under the
    /// endpoint's history (whole and by status) and the state (`attempt`, `status`, `recordId`,
    /// `nextAttemptAt`), in one BatchWriteItem of plain puts. No transaction: each put is
    /// idempotent (a repeated attempt rewrites the same record id), and no other writer touches
    /// the state meanwhile (the next attempt's claim waits for this state; a take-over waits for
    /// this invocation's deadline). Errors: `Unavailable` (keys left unprocessed), `Other`.
    /// `repeated`: this attempt was taken over from a crashed run, which may have written its
    /// record under the other status already; that copy is deleted in the same batch.
    pub async fn record_attempt(
        &self,
        key: AttemptKey<'_>,
        delivery: &Delivery,
        repeated: bool,
    ) -> Result<(), StoreError> {
        let status = match delivery.status {
            DeliveryStatus::Succeeded => AttemptStatus::Succeeded,
            DeliveryStatus::Failed => AttemptStatus::Failed,
        };
        let mut state = state_key(key);
        state.insert("appId".into(), s(key.app_id));
        state.insert("attempt".into(), n(delivery.attempt));
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
        AttemptState { attempt, status, lease_until_ms, record_id: Uuid::nil() }
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
