//! Endpoint items, their URL uniqueness markers and the per-app counter. Every change that
//! touches more than one of them is one transaction, so duplicates and the quota hold under races.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, ReturnValue, TransactWriteItem, Update};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::error::{build_error, is_conditional_failure, sdk_error};
use super::write::{optimistic, ConditionalUpdate, Step};
use super::{app_pk, get_s, key_of, opt_s, s, Completion, Conflict, Item, KeyGuard, Page, Store, StoreError};
use crate::cursor::ListId;
use crate::health::ClockChange;
use crate::model::{CreatedEndpoint, DisabledReason, Endpoint, EndpointPatch, NewEndpoint};
use crate::time::{now_millis, rfc3339_millis};

const WEBHOOK_PREFIX: &str = "WEBHOOK#";
const QUOTA_SK: &str = "QUOTA";
/// The endpoint item's change counter (N; absent on items written before it existed).
const VERSION: &str = "version";
/// Optimistic writes that lose a race re-read and try again this many times.
const MAX_ATTEMPTS: usize = 4;

pub(super) fn webhook_sk(id: Uuid) -> String {
    format!("{WEBHOOK_PREFIX}{id}")
}

fn url_marker_sk(uniqueness_key: &str) -> String {
    format!("URL#{uniqueness_key}")
}

// ---- The endpoint item: one mapping, both ways. ----

/// Attributes of the endpoint item that the API may show, in the order of `Endpoint`, plus
/// `urlKey` (the marker's key). The projection of every public read is built from this list, so
/// the secret is never read by those routes.
const PUBLIC_ATTRIBUTES: [&str; 11] = [
    "id",
    "url",
    "urlKey",
    "events",
    "description",
    "active",
    "disabledReason",
    "rateLimit",
    "metadata",
    "createdAt",
    "updatedAt",
];
/// When the endpoint's failing clock started (N, Unix ms; absent while it is not running):
/// internal, never shown (contract, "Auto-disable").
pub(super) const FAILING_SINCE: &str = "failingSince";

fn public_projection() -> (String, HashMap<String, String>) {
    let names: HashMap<String, String> = PUBLIC_ATTRIBUTES.iter().map(|a| (format!("#{a}"), a.to_string())).collect();
    let expression = PUBLIC_ATTRIBUTES.iter().map(|a| format!("#{a}")).collect::<Vec<_>>().join(", ");
    (expression, names)
}

fn events_value(events: &[String]) -> AttributeValue {
    AttributeValue::L(events.iter().cloned().map(AttributeValue::S).collect())
}

fn metadata_value(metadata: &Map<String, Value>) -> AttributeValue {
    AttributeValue::M(metadata.iter().filter_map(|(k, v)| v.as_str().map(|text| (k.clone(), s(text)))).collect())
}

/// The public attributes of `endpoint` (and its URL's uniqueness key), as stored.
fn endpoint_attributes(endpoint: &Endpoint, url_key: &str) -> Vec<(&'static str, AttributeValue)> {
    let mut attributes = vec![
        ("id", s(&endpoint.id)),
        ("url", s(&endpoint.url)),
        ("urlKey", s(url_key)),
        ("events", events_value(&endpoint.events)),
        ("active", AttributeValue::Bool(endpoint.active)),
        ("metadata", metadata_value(&endpoint.metadata)),
        ("createdAt", s(&endpoint.created_at)),
        ("updatedAt", s(&endpoint.updated_at)),
    ];
    if let Some(d) = &endpoint.description {
        attributes.push(("description", s(d)));
    }
    if let Some(reason) = endpoint.disabled_reason {
        attributes.push(("disabledReason", s(reason.as_str())));
    }
    if let Some(limit) = endpoint.rate_limit {
        attributes.push(("rateLimit", super::n(limit)));
    }
    attributes
}

fn endpoint_from_item(item: &Item) -> Result<Endpoint, StoreError> {
    let events = match item.get("events") {
        Some(AttributeValue::L(list)) => list.iter().filter_map(|v| v.as_s().ok().cloned()).collect(),
        _ => Vec::new(),
    };
    let metadata = match item.get("metadata") {
        Some(AttributeValue::M(map)) => {
            map.iter().filter_map(|(k, v)| v.as_s().ok().map(|text| (k.clone(), Value::String(text.clone())))).collect()
        }
        _ => Map::new(),
    };
    Ok(Endpoint {
        id: get_s(item, "id")?,
        url: get_s(item, "url")?,
        events,
        description: opt_s(item, "description"),
        active: matches!(item.get("active"), Some(AttributeValue::Bool(true))),
        disabled_reason: opt_s(item, "disabledReason").as_deref().and_then(DisabledReason::parse),
        rate_limit: rate_limit_of(item),
        metadata,
        created_at: get_s(item, "createdAt")?,
        updated_at: get_s(item, "updatedAt")?,
    })
}

/// The stored `rateLimit` (N), `None` when absent or not a number in range.
pub(super) fn rate_limit_of(item: &Item) -> Option<u32> {
    item.get("rateLimit").and_then(|v| v.as_n().ok()).and_then(|n| n.parse::<u32>().ok()).filter(|n| *n > 0)
}

/// `SET`/`REMOVE` for the fields a patch carries, plus `updatedAt`, with the same encodings as
/// `endpoint_attributes`.
fn update_expression(
    patch: &EndpointPatch,
    now: &str,
) -> (String, HashMap<String, String>, HashMap<String, AttributeValue>) {
    let mut changes: Vec<(&str, Option<AttributeValue>)> = vec![("updatedAt", Some(s(now)))];
    if let Some(url) = &patch.url {
        changes.push(("url", Some(s(&url.url))));
        changes.push(("urlKey", Some(s(url.uniqueness_key()))));
    }
    if let Some(events) = &patch.events {
        changes.push(("events", Some(events_value(events))));
    }
    if let Some(description) = &patch.description {
        changes.push(("description", description.as_deref().map(s)));
    }
    if let Some(active) = patch.active {
        changes.push(("active", Some(AttributeValue::Bool(active))));
        // Pausing by hand is `manual` (also over `failing`); re-enabling clears the reason and
        // restarts the failing clock (contract, "Auto-disable").
        changes.push(("disabledReason", (!active).then(|| s(DisabledReason::Manual.as_str()))));
        if active {
            changes.push((FAILING_SINCE, None));
        }
    }
    if let Some(rate_limit) = patch.rate_limit {
        changes.push(("rateLimit", rate_limit.map(super::n)));
    }
    if let Some(metadata) = &patch.metadata {
        changes.push(("metadata", Some(metadata_value(metadata))));
    }
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    let (mut sets, mut removes) = (Vec::new(), Vec::new());
    for (name, value) in changes {
        names.insert(format!("#{name}"), name.to_owned());
        match value {
            Some(value) => {
                values.insert(format!(":{name}"), value);
                sets.push(format!("#{name} = :{name}"));
            }
            None => removes.push(format!("#{name}")),
        }
    }
    let mut expression = format!("SET {}", sets.join(", "));
    if !removes.is_empty() {
        expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
    }
    // Every change moves the version, which guards URL changes (a millisecond `updatedAt` cannot
    // tell two changes in the same millisecond apart).
    names.insert("#version".into(), VERSION.into());
    values.insert(":one".into(), super::n(1));
    expression.push_str(" ADD #version :one");
    (expression, names, values)
}

impl Store {
    /// Creates the endpoint minted as `created` (from `new`), its URL marker and its quota slot in one
    /// transaction, with `completion` (the idempotent answer) when there is one.
    /// Errors: `Conflict(DuplicateUrl)`, `Conflict(EndpointQuota)`, `Conflict(IdempotencyLost)`,
    /// `Unavailable`, `Other`.
    pub async fn create_endpoint(
        &self,
        app_id: &str,
        new: &NewEndpoint,
        created: &CreatedEndpoint,
        max_endpoints: u32,
        completion: Option<&Completion>,
        guard: &KeyGuard,
    ) -> Result<(), StoreError> {
        let endpoint = &created.endpoint;
        let id = Uuid::parse_str(&endpoint.id).map_err(|_| StoreError::Other("minted id is not a UUID".into()))?;
        let pk = app_pk(app_id);
        let url_key = new.url.uniqueness_key();
        let mut item = key_of(pk.clone(), webhook_sk(id));
        item.extend(endpoint_attributes(endpoint, &url_key).into_iter().map(|(k, v)| (k.to_owned(), v)));
        item.insert("secret".into(), s(&created.secret));
        let mut marker = key_of(pk, url_marker_sk(&url_key));
        marker.insert("webhookId".into(), s(id.to_string()));

        let mut items =
            vec![self.put_new(item)?, self.put_new(marker)?, self.counter_change(app_id, 1, Some(max_endpoints))?];
        // The key's check first among the optional items, so its index is known.
        let key_check = self.key_check(guard)?.map(|check| {
            items.push(check);
            items.len() - 1
        });
        let completion_at = match completion {
            Some(completion) => {
                items.push(self.completion_item(completion)?);
                Some(items.len() - 1)
            }
            None => None,
        };
        let outcome = self.transact(items, "create endpoint").await?;
        if let Some(i) = key_check {
            self.key_check_done(guard, outcome.as_ref().err().is_some_and(|rejected| rejected.at(i))).await?;
        }
        match outcome {
            Ok(()) => Ok(()),
            Err(rejected) if rejected.at(1) => Err(StoreError::Conflict(Conflict::DuplicateUrl)),
            Err(rejected) if rejected.at(2) => {
                Err(StoreError::Conflict(Conflict::EndpointQuota { max: max_endpoints }))
            }
            Err(rejected) if completion_at.is_some_and(|i| rejected.at(i)) => {
                Err(StoreError::Conflict(Conflict::IdempotencyLost))
            }
            Err(_) => Err(StoreError::Other("create endpoint: id collision".into())),
        }
    }

    /// `ADD endpointCount :delta`, bounded by the quota when growing.
    fn counter_change(&self, app_id: &str, delta: i64, max: Option<u32>) -> Result<TransactWriteItem, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_of(app_pk(app_id), QUOTA_SK)))
            .update_expression("ADD endpointCount :delta")
            .expression_attribute_values(":delta", super::n(delta));
        if let Some(max) = max {
            update = update
                .condition_expression("attribute_not_exists(endpointCount) OR endpointCount < :max")
                .expression_attribute_values(":max", super::n(max));
        }
        Ok(TransactWriteItem::builder().update(update.build().map_err(build_error)?).build())
    }

    /// The endpoint as the API shows it (no secret is read), with the caller's key in the same
    /// request. `NotFound` if absent, `KeyRejected` if the key may not see it.
    pub async fn get_endpoint(&self, app_id: &str, id: Uuid, guard: &KeyGuard) -> Result<Endpoint, StoreError> {
        let key = key_of(app_pk(app_id), webhook_sk(id));
        endpoint_from_item(&self.get_guarded(guard, key, Some(public_projection()), "GetItem endpoint").await?)
    }

    /// The stored endpoint item (secrets included), with the caller's key in the same request.
    pub(crate) async fn endpoint_item_guarded(
        &self,
        app_id: &str,
        id: Uuid,
        guard: &KeyGuard,
    ) -> Result<Item, StoreError> {
        self.get_guarded(guard, key_of(app_pk(app_id), webhook_sk(id)), None, "GetItem endpoint").await
    }

    /// The app's active endpoints with their subscriptions (`events`): who may receive the app's
    /// events now (`model::subscribes` decides per type). One consistent Query of the app's endpoint
    /// items (at most the quota, so one page in practice), reading only `id`, `events` and
    /// `active`; never a scan. Errors: `Unavailable`, `Other`.
    pub async fn active_subscriptions(&self, app_id: &str) -> Result<Vec<(Uuid, Vec<String>)>, StoreError> {
        let mut ids = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(app_pk(app_id)))
                .expression_attribute_values(":prefix", s(WEBHOOK_PREFIX))
                .projection_expression("id, events, active")
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("Query endpoints to fan out", e))?;
            for item in out.items.unwrap_or_default() {
                let active = matches!(item.get("active"), Some(AttributeValue::Bool(true)));
                let events: Vec<String> = match item.get("events") {
                    Some(AttributeValue::L(list)) => list.iter().filter_map(|v| v.as_s().ok().cloned()).collect(),
                    _ => Vec::new(),
                };
                if active {
                    // A corrupt item is passed over (and logged) rather than failing the fan-out,
                    // which would hold back every later event on the stream's shard.
                    match get_s(&item, "id").ok().and_then(|id| Uuid::parse_str(&id).ok()) {
                        Some(id) => ids.push((id, events)),
                        None => eprintln!(
                            "{{\"level\":\"error\",\"msg\":\"endpoint item without a UUID id passed over\",\"app\":{app_id:?}}}"
                        ),
                    }
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(ids);
            }
        }
    }

    /// The endpoint's public attributes, read consistently.
    async fn public_endpoint(&self, app_id: &str, id: Uuid) -> Result<Endpoint, StoreError> {
        let (projection, names) = public_projection();
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_of(app_pk(app_id), webhook_sk(id))))
            .consistent_read(true)
            .projection_expression(projection)
            .set_expression_attribute_names(Some(names))
            .send()
            .await
            .map_err(|e| sdk_error("GetItem endpoint", e))?;
        endpoint_from_item(&out.item.ok_or(StoreError::NotFound)?)
    }

    /// One page of the app's endpoints, newest first. `InvalidCursor` for a cursor of another list.
    pub async fn list_endpoints(
        &self,
        app_id: &str,
        limit: u32,
        cursor: Option<&str>,
        guard: &KeyGuard,
    ) -> Result<Page<Endpoint>, StoreError> {
        let pager = self.pager(ListId::Endpoints { app_id }, cursor, guard).await?;
        let (projection, mut names) = public_projection();
        names.insert("#pk".into(), "pk".into());
        names.insert("#sk".into(), "sk".into());
        let pk = app_pk(app_id);
        let query = |start: Option<Item>, limit: i32| {
            let request = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_values(":pk", s(&pk))
                .expression_attribute_values(":prefix", s(WEBHOOK_PREFIX))
                .set_expression_attribute_names(Some(names.clone()))
                .projection_expression(projection.clone())
                .scan_index_forward(false)
                .consistent_read(true)
                .limit(limit)
                .set_exclusive_start_key(start)
                .send();
            async { request.await.map_err(|e| sdk_error("Query endpoints", e)) }
        };
        let decode = |item: &Item| {
            let endpoint = endpoint_from_item(item)?;
            let id = Uuid::parse_str(&endpoint.id).map_err(|_| StoreError::Other("stored id is not a UUID".into()))?;
            Ok((id, endpoint))
        };
        let start_key = |id: Uuid| key_of(pk.clone(), webhook_sk(id));
        Ok(self.collect_page(pager, limit, guard, start_key, query, decode).await?.0)
    }

    /// Applies `patch`. A URL change moves the URL marker in the same transaction (`Conflict(DuplicateUrl)`
    /// when another endpoint has it). `NotFound` if absent.
    pub async fn update_endpoint(
        &self,
        app_id: &str,
        id: Uuid,
        patch: &EndpointPatch,
        guard: &KeyGuard,
    ) -> Result<Endpoint, StoreError> {
        let Some(new_url) = &patch.url else {
            return self.update_fields(app_id, id, patch, guard).await;
        };
        let new_key = new_url.uniqueness_key();
        optimistic("update endpoint", MAX_ATTEMPTS, || async {
            let current = self.endpoint_item_guarded(app_id, id, guard).await?;
            let old_key = get_s(&current, "urlKey")?;
            if old_key == new_key {
                // Same URL up to normalisation: the marker stays; only the spelling changes.
                let guard = HashMap::from([(":expectedUrlKey".to_owned(), s(&old_key))]);
                return match self.update_in_place(app_id, id, patch, "urlKey = :expectedUrlKey", guard).await {
                    Err(StoreError::NotFound) => Ok(Step::Retry),
                    other => other.map(Step::Done),
                };
            }
            let now = rfc3339_millis(now_millis());
            let (update, names, mut values) = update_expression(patch, &now);
            // `attribute_exists(pk)` too: an update of a deleted item would create a partial one.
            let guard = match current.get(VERSION) {
                Some(seen) => {
                    values.insert(":seenVersion".into(), seen.clone());
                    "attribute_exists(pk) AND #version = :seenVersion"
                }
                None => "attribute_exists(pk) AND attribute_not_exists(#version)",
            };
            let pk = app_pk(app_id);
            let this = s(id.to_string());
            let mut marker = key_of(pk.clone(), url_marker_sk(&new_key));
            marker.insert("webhookId".into(), this.clone());
            let items = vec![
                TransactWriteItem::builder()
                    .update(
                        Update::builder()
                            .table_name(&self.table)
                            .set_key(Some(key_of(pk.clone(), webhook_sk(id))))
                            .update_expression(update)
                            .condition_expression(guard)
                            .set_expression_attribute_names(Some(names))
                            .set_expression_attribute_values(Some(values))
                            .build()
                            .map_err(build_error)?,
                    )
                    .build(),
                // The old marker goes only if it is still this endpoint's.
                self.delete_item(
                    key_of(pk.clone(), url_marker_sk(&old_key)),
                    Some(("attribute_not_exists(pk) OR webhookId = :this", ":this", this.clone())),
                )?,
                self.put_marker(marker, this)?,
            ];
            match self.transact(items, "update endpoint url").await? {
                Ok(()) => Ok(Step::Done(patch.apply(endpoint_from_item(&current)?, &now))),
                // Changed (by a racing identical change, say) or deleted since we read it: read again.
                Err(rejected) if rejected.at(0) || rejected.at(1) => Ok(Step::Retry),
                Err(_) => Err(StoreError::Conflict(Conflict::DuplicateUrl)),
            }
        })
        .await
    }

    /// An update that changes no URL: the update and a check of the key in one transaction, with the
    /// endpoint read alongside (the answer is the patch applied to what was read, before or after
    /// the update alike); one UpdateItem when the key is already settled.
    async fn update_fields(
        &self,
        app_id: &str,
        id: Uuid,
        patch: &EndpointPatch,
        guard: &KeyGuard,
    ) -> Result<Endpoint, StoreError> {
        let Some(key_check) = self.key_check(guard)? else {
            return self.update_in_place(app_id, id, patch, "attribute_exists(pk)", HashMap::new()).await;
        };
        let now = rfc3339_millis(now_millis());
        let (update, names, values) = update_expression(patch, &now);
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_of(app_pk(app_id), webhook_sk(id))))
            .update_expression(update)
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(build_error)?;
        let items = vec![TransactWriteItem::builder().update(update).build(), key_check];
        let (written, read) = tokio::join!(self.transact(items, "update endpoint"), self.public_endpoint(app_id, id));
        let written = written?;
        self.key_check_done(guard, written.as_ref().err().is_some_and(|rejected| rejected.at(1))).await?;
        match written {
            Ok(()) => Ok(patch.apply(read?, &now)),
            Err(_) => Err(StoreError::NotFound),
        }
    }

    async fn update_in_place(
        &self,
        app_id: &str,
        id: Uuid,
        patch: &EndpointPatch,
        condition: &str,
        extra_values: HashMap<String, AttributeValue>,
    ) -> Result<Endpoint, StoreError> {
        let now = rfc3339_millis(now_millis());
        let (update, names, mut values) = update_expression(patch, &now);
        values.extend(extra_values);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(app_pk(app_id), webhook_sk(id))))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => endpoint_from_item(&out.attributes.unwrap_or_default()),
            Err(e) if is_conditional_failure(&e) => Err(StoreError::NotFound),
            Err(e) => Err(sdk_error("UpdateItem endpoint", e)),
        }
    }

    /// Writes `change` to the endpoint's failing clock (contract, "Auto-disable"): one conditional
    /// UpdateItem, none for `Keep`. Each is conditioned so that a race is harmless: `Start` only if
    /// no clock runs, `Stop` only if one does, `Disable` only while the endpoint is active and its
    /// clock is still the one read (a success or a re-enable in between wins). Never creates a
    /// deleted endpoint. `Ok(true)` when this call disabled the endpoint. Errors: `Unavailable`, `Other`.
    pub async fn move_failing_clock(&self, app_id: &str, id: Uuid, change: ClockChange) -> Result<bool, StoreError> {
        let mut values = HashMap::new();
        let (update, condition) = match change {
            ClockChange::Keep => return Ok(false),
            ClockChange::Start { at_ms } => {
                values.insert(":at".to_owned(), super::n(at_ms));
                ("SET #since = :at", "attribute_exists(pk) AND attribute_not_exists(#since)")
            }
            ClockChange::Stop => ("REMOVE #since", "attribute_exists(#since)"),
            ClockChange::Disable { since_ms } => {
                values.insert(":true".to_owned(), AttributeValue::Bool(true));
                values.insert(":false".to_owned(), AttributeValue::Bool(false));
                values.insert(":failing".to_owned(), s(DisabledReason::Failing.as_str()));
                values.insert(":now".to_owned(), s(rfc3339_millis(now_millis())));
                let update = "SET active = :false, disabledReason = :failing, updatedAt = :now REMOVE #since";
                match since_ms {
                    Some(since) => {
                        values.insert(":since".to_owned(), super::n(since));
                        (update, "active = :true AND #since = :since")
                    }
                    None => (update, "active = :true AND attribute_not_exists(#since)"),
                }
            }
        };
        let key = key_of(app_pk(app_id), webhook_sk(id));
        let names = [("#since", FAILING_SINCE)];
        let change_made = ConditionalUpdate { key, update, condition, names: &names, values };
        // A condition that fails: someone else moved the clock first, or the endpoint is gone.
        let applied = self.update_if(change_made, "UpdateItem failing clock").await?;
        Ok(applied && matches!(change, ClockChange::Disable { .. }))
    }

    /// Deletes the endpoint, frees its URL marker and its quota slot in one transaction. `NotFound`
    /// if absent.
    pub async fn delete_endpoint(&self, app_id: &str, id: Uuid, guard: &KeyGuard) -> Result<(), StoreError> {
        let pk = app_pk(app_id);
        optimistic("delete endpoint", MAX_ATTEMPTS, || async {
            let current = self.endpoint_item_guarded(app_id, id, guard).await?;
            let url_key = get_s(&current, "urlKey")?;
            let guard = ("urlKey = :urlKey", ":urlKey", s(&url_key));
            let items = vec![
                self.delete_item(key_of(pk.clone(), webhook_sk(id)), Some(guard))?,
                self.delete_item(
                    key_of(pk.clone(), url_marker_sk(&url_key)),
                    Some(("attribute_not_exists(pk) OR webhookId = :this", ":this", s(id.to_string()))),
                )?,
                self.counter_change(app_id, -1, None)?,
            ];
            match self.transact(items, "delete endpoint").await? {
                Ok(()) => Ok(Step::Done(())),
                // Its URL changed or it was deleted since we read it: read again (404 if gone).
                Err(_) => Ok(Step::Retry),
            }
        })
        .await
    }

    /// A transaction item writing a URL marker unless another endpoint's marker holds the URL (a
    /// marker already naming `this` endpoint is taken over).
    fn put_marker(&self, marker: Item, this: AttributeValue) -> Result<TransactWriteItem, StoreError> {
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(&self.table)
            .set_item(Some(marker))
            .condition_expression("attribute_not_exists(pk) OR webhookId = :this")
            .expression_attribute_values(":this", this)
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// A transaction item deleting `key`, if `condition` (expression, value name, value) holds.
    fn delete_item(
        &self,
        key: Item,
        condition: Option<(&str, &str, AttributeValue)>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut delete = Delete::builder().table_name(&self.table).set_key(Some(key));
        if let Some((expression, name, value)) = condition {
            delete = delete.condition_expression(expression).expression_attribute_values(name, value);
        }
        Ok(TransactWriteItem::builder().delete(delete.build().map_err(build_error)?).build())
    }
}
