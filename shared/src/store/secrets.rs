//! Signing secrets on the endpoint item: `secret` (the current one) and `retiredSecrets`, a list of
//! `{secret, expiresAt}` (Unix milliseconds) still signing during their grace period.

use aws_sdk_dynamodb::types::AttributeValue;
use uuid::Uuid;

use super::endpoints::webhook_sk;
use std::collections::HashMap;

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};

use super::error::{build_error, is_conditional_failure, sdk_error};
use super::write::{optimistic, Step};
use super::{app_pk, get_s, key_of, n, s, Completion, Conflict, Item, KeyGuard, Store, StoreError};
use crate::model::{DeliveryTarget, Rotation, MAX_RETIRED_SECRETS};
use crate::time::now_millis;

/// Rotations racing: a loser re-reads and applies its rotation on top, up to this many times, after
/// a short random pause so that racers spread out.
const MAX_ATTEMPTS: usize = 8;
/// The rotation: the fresh secret in, the retired list replaced…
const ROTATE: &str = "SET secret = :fresh, retiredSecrets = :retired";
/// …only if the secret is still the one read.
const UNCHANGED: &str = "secret = :current";

#[derive(Debug, Clone, PartialEq)]
struct Retired {
    secret: String,
    expires_at_ms: u64,
}

fn retired_from_item(item: &Item) -> Vec<Retired> {
    let Some(AttributeValue::L(list)) = item.get("retiredSecrets") else { return Vec::new() };
    list.iter()
        .filter_map(|v| v.as_m().ok())
        .filter_map(|m| {
            let secret = m.get("secret")?.as_s().ok()?.clone();
            let expires_at_ms = m.get("expiresAt")?.as_n().ok()?.parse().ok()?;
            Some(Retired { secret, expires_at_ms })
        })
        .collect()
}

fn retired_value(retired: &[Retired]) -> AttributeValue {
    AttributeValue::L(
        retired
            .iter()
            .map(|r| {
                AttributeValue::M([("secret".into(), s(&r.secret)), ("expiresAt".into(), n(r.expires_at_ms))].into())
            })
            .collect(),
    )
}

/// The retired list after retiring `current` for `grace` seconds at `now`: expired entries
/// dropped; `Err` when more than the limit would be unexpired.
fn retire(current: &str, mut retired: Vec<Retired>, rotation: Rotation, now_ms: u64) -> Result<Vec<Retired>, Conflict> {
    retired.retain(|r| r.expires_at_ms > now_ms);
    if rotation.grace_period_seconds > 0 {
        retired
            .push(Retired { secret: current.to_owned(), expires_at_ms: now_ms + rotation.grace_period_seconds * 1000 });
    }
    if retired.len() > MAX_RETIRED_SECRETS {
        return Err(Conflict::RetiredSecrets { max: MAX_RETIRED_SECRETS });
    }
    Ok(retired)
}

/// The endpoint item as a delivery target at `now_ms`: its URL, the current secret first, then the
/// retired ones still in their grace period (an expired one never signs again).
pub(super) fn target_from_item(id: Uuid, item: &Item, now_ms: u64) -> Result<DeliveryTarget, StoreError> {
    let mut secrets = vec![get_s(item, "secret")?];
    secrets.extend(retired_from_item(item).into_iter().filter(|r| r.expires_at_ms > now_ms).map(|r| r.secret));
    Ok(DeliveryTarget { webhook_id: id, url: get_s(item, "url")?, secrets })
}

impl Store {
    /// The endpoint's URL and every secret that signs now.
    /// `NotFound` if the endpoint does not exist, `KeyRejected` if the guarded key is no longer valid.
    pub async fn delivery_target(
        &self,
        app_id: &str,
        id: Uuid,
        guard: &KeyGuard,
    ) -> Result<DeliveryTarget, StoreError> {
        let item = self.endpoint_item_guarded(app_id, id, guard).await?;
        target_from_item(id, &item, now_millis())
    }

    /// Replaces the current secret; one conditional write on the secret read, so two racing
    /// rotations both land (one after the other) and neither loses a secret.
    /// Makes `fresh` the current secret, retiring the current one for the rotation's grace period;
    /// one conditional write on the secret read (with `completion`, the idempotent answer, in the
    /// same transaction), so two racing rotations both land and neither loses a secret.
    /// Errors: `NotFound`, `Conflict(RetiredSecrets)`, `Conflict(IdempotencyLost)`, `Unavailable`.
    pub async fn rotate_secret(
        &self,
        app_id: &str,
        id: Uuid,
        rotation: Rotation,
        fresh: &str,
        completion: Option<&Completion>,
        guard: &KeyGuard,
    ) -> Result<(), StoreError> {
        optimistic("rotate secret", MAX_ATTEMPTS, || async {
            let item = self.endpoint_item_guarded(app_id, id, guard).await?;
            let current = get_s(&item, "secret")?;
            let retired =
                retire(&current, retired_from_item(&item), rotation, now_millis()).map_err(StoreError::Conflict)?;
            let key = key_of(app_pk(app_id), webhook_sk(id));
            let values = HashMap::from([
                (":fresh".to_owned(), s(fresh)),
                (":retired".to_owned(), retired_value(&retired)),
                (":current".to_owned(), s(&current)),
            ]);
            let Some(completion) = completion else {
                let result = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(key))
                    .update_expression(ROTATE)
                    .condition_expression(UNCHANGED)
                    .set_expression_attribute_values(Some(values))
                    .send()
                    .await;
                return match result {
                    Ok(_) => Ok(Step::Done(())),
                    // Rotated (or deleted) since the read: read again.
                    Err(e) if is_conditional_failure(&e) => Ok(Step::Retry),
                    Err(e) => Err(sdk_error("UpdateItem rotate secret", e)),
                };
            };
            let update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key))
                .update_expression(ROTATE)
                .condition_expression(UNCHANGED)
                .set_expression_attribute_values(Some(values));
            let items = vec![
                TransactWriteItem::builder().update(update.build().map_err(build_error)?).build(),
                self.completion_item(completion)?,
            ];
            match self.transact(items, "rotate secret").await? {
                Ok(()) => Ok(Step::Done(())),
                Err(rejected) if rejected.at(1) => Err(StoreError::Conflict(Conflict::IdempotencyLost)),
                Err(_) => Ok(Step::Retry),
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retired(secret: &str, expires_at_ms: u64) -> Retired {
        Retired { secret: secret.into(), expires_at_ms }
    }

    #[test]
    fn without_grace_the_current_secret_stops_at_once_and_older_ones_keep_their_expiry() {
        let now = 1_000_000;
        let list = retire("cur", vec![retired("a", now + 5), retired("b", now)], Rotation::default(), now).unwrap();
        assert_eq!(list, vec![retired("a", now + 5)], "expired `b` dropped, `cur` not kept");
        let with_grace = retire("cur", list, Rotation { grace_period_seconds: 60 }, now).unwrap();
        assert_eq!(with_grace, vec![retired("a", now + 5), retired("cur", now + 60_000)]);
    }

    #[test]
    fn at_most_ten_unexpired_retired_secrets_counting_the_one_being_retired() {
        let now = 1_000_000;
        let nine: Vec<Retired> = (0..9).map(|i| retired(&format!("s{i}"), now + 1000)).collect();
        let grace = Rotation { grace_period_seconds: 1 };
        let ten = retire("cur", nine.clone(), grace, now).unwrap();
        assert_eq!(ten.len(), 10);
        assert_eq!(retire("next", ten.clone(), grace, now).unwrap_err(), Conflict::RetiredSecrets { max: 10 });
        assert_eq!(retire("next", ten.clone(), Rotation::default(), now).unwrap().len(), 10, "no grace: allowed");
        assert_eq!(retire("next", ten, grace, now + 1000).unwrap().len(), 1, "after expiry: only the new one");
    }
}
