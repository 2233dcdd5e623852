//! Endpoint items, their URL uniqueness markers and the per-app counter. Every change that
//! touches more than one of them is one transaction, so duplicates and the quota hold under races.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, ReturnValue, TransactWriteItem, Update};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{app_pk, get_s, is_conditional_failure, key_of, s, sdk_error, Item, Store};
use crate::cursor::ListId;
use crate::error::ApiError;
use crate::model::{CreatedEndpoint, Endpoint, EndpointPatch, NewEndpoint};
use crate::secrets::{new_signing_secret, random_bytes};
use crate::time::{now_millis, rfc3339_millis};

/// One page of a list, newest first.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

const WEBHOOK_PREFIX: &str = "WEBHOOK#";
const QUOTA_SK: &str = "QUOTA";
/// Optimistic writes that lose a race re-read and try again this many times.
const MAX_ATTEMPTS: usize = 4;

pub(super) fn webhook_sk(id: Uuid) -> String {
    format!("{WEBHOOK_PREFIX}{id}")
}

fn url_marker_sk(uniqueness_key: &str) -> String {
    format!("URL#{uniqueness_key}")
}

/// Attributes the API may show; the secret is never read by these routes.
const PUBLIC_ATTRIBUTES: [&str; 9] =
    ["id", "url", "urlKey", "events", "description", "active", "metadata", "createdAt", "updatedAt"];

fn public_projection() -> (String, HashMap<String, String>) {
    let names: HashMap<String, String> = PUBLIC_ATTRIBUTES.iter().map(|a| (format!("#{a}"), a.to_string())).collect();
    let expression = PUBLIC_ATTRIBUTES.iter().map(|a| format!("#{a}")).collect::<Vec<_>>().join(", ");
    (expression, names)
}

fn endpoint_from_item(item: &Item) -> Result<Endpoint, ApiError> {
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
        description: item.get("description").and_then(|v| v.as_s().ok().cloned()),
        active: matches!(item.get("active"), Some(AttributeValue::Bool(true))),
        metadata,
        created_at: get_s(item, "createdAt")?,
        updated_at: get_s(item, "updatedAt")?,
    })
}

fn events_value(events: &[String]) -> AttributeValue {
    AttributeValue::L(events.iter().cloned().map(AttributeValue::S).collect())
}

fn metadata_value(metadata: &Map<String, Value>) -> AttributeValue {
    AttributeValue::M(metadata.iter().filter_map(|(k, v)| v.as_str().map(|text| (k.clone(), s(text)))).collect())
}

pub(super) fn build_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal().with_detail(format!("request build: {e}"))
}

/// What a transaction that did not commit ran into.
enum TxRejected {
    /// `failed[i]` is true when item i's condition did not hold.
    Conditions(Vec<bool>),
}

impl Store {
    /// Runs a transaction, retrying what DynamoDB reports as a conflict with another transaction.
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        operation: &str,
    ) -> Result<Result<(), TxRejected>, ApiError> {
        for attempt in 1..=MAX_ATTEMPTS {
            let result = self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await;
            let err = match result {
                Ok(_) => return Ok(Ok(())),
                Err(err) => err,
            };
            let reasons: Vec<String> = match &err {
                SdkError::ServiceError(ctx) => match ctx.err() {
                    TransactWriteItemsError::TransactionCanceledException(e) => {
                        e.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None").to_owned()).collect()
                    }
                    _ => return Err(sdk_error(operation, err)),
                },
                _ => return Err(sdk_error(operation, err)),
            };
            let failed: Vec<bool> = reasons.iter().map(|c| c == "ConditionalCheckFailed").collect();
            if failed.iter().any(|f| *f) {
                return Ok(Err(TxRejected::Conditions(failed)));
            }
            let retryable = reasons
                .iter()
                .any(|c| c == "TransactionConflict" || super::is_transient_code(c) || c == "ThrottlingError");
            if !retryable || attempt == MAX_ATTEMPTS {
                let base = if retryable { ApiError::service_unavailable() } else { ApiError::internal() };
                return Err(base.with_detail(format!("{operation}: transaction cancelled: {reasons:?}")));
            }
            let jitter = u64::from(random_bytes::<1>()?[0]) % 40;
            tokio::time::sleep(Duration::from_millis(10 + 20 * attempt as u64 + jitter)).await;
        }
        Err(ApiError::internal().with_detail(format!("{operation}: retries exhausted")))
    }

    pub async fn create_endpoint(
        &self,
        app_id: &str,
        new: &NewEndpoint,
        max_endpoints: u32,
    ) -> Result<CreatedEndpoint, ApiError> {
        let id = Uuid::now_v7();
        let now = rfc3339_millis(now_millis());
        let secret = new_signing_secret()?;
        let pk = app_pk(app_id);
        let url_key = new.url.uniqueness_key();

        let mut item = key_of(pk.clone(), webhook_sk(id));
        item.insert("id".into(), s(id.to_string()));
        item.insert("url".into(), s(&new.url.url));
        item.insert("urlKey".into(), s(&url_key));
        item.insert("events".into(), events_value(&new.events));
        if let Some(d) = &new.description {
            item.insert("description".into(), s(d));
        }
        item.insert("active".into(), AttributeValue::Bool(new.active));
        item.insert("metadata".into(), metadata_value(&new.metadata));
        item.insert("createdAt".into(), s(&now));
        item.insert("updatedAt".into(), s(&now));
        item.insert("secret".into(), s(&secret));

        let mut marker = key_of(pk.clone(), url_marker_sk(&url_key));
        marker.insert("webhookId".into(), s(id.to_string()));

        let items =
            vec![self.put_new(item)?, self.put_new(marker)?, self.counter_change(app_id, 1, Some(max_endpoints))?];
        match self.transact(items, "create endpoint").await? {
            Ok(()) => {}
            Err(TxRejected::Conditions(failed)) if failed.get(1) == Some(&true) => {
                return Err(ApiError::duplicate_webhook())
            }
            Err(TxRejected::Conditions(failed)) if failed.get(2) == Some(&true) => {
                return Err(ApiError::quota_exceeded(format!(
                    "This app already has the maximum of {max_endpoints} webhook endpoints; delete one first."
                )))
            }
            Err(TxRejected::Conditions(_)) => {
                return Err(ApiError::internal().with_detail("create endpoint: id collision"))
            }
        }
        let endpoint = Endpoint {
            id: id.to_string(),
            url: new.url.url.clone(),
            events: new.events.clone(),
            description: new.description.clone(),
            active: new.active,
            metadata: new.metadata.clone(),
            created_at: now.clone(),
            updated_at: now,
        };
        Ok(CreatedEndpoint { endpoint, secret })
    }

    /// A transaction item writing `item`, which must not exist yet.
    fn put_new(&self, item: Item) -> Result<TransactWriteItem, ApiError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// `ADD endpointCount :delta`, bounded by the quota when growing.
    fn counter_change(&self, app_id: &str, delta: i64, max: Option<u32>) -> Result<TransactWriteItem, ApiError> {
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

    /// The stored endpoint item, secrets included, for routes that need them.
    pub(crate) async fn endpoint_item(&self, app_id: &str, id: Uuid) -> Result<Item, ApiError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_of(app_pk(app_id), webhook_sk(id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem endpoint", e))?;
        out.item.ok_or_else(ApiError::not_found)
    }

    pub async fn get_endpoint(&self, app_id: &str, id: Uuid) -> Result<Endpoint, ApiError> {
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
        endpoint_from_item(&out.item.ok_or_else(ApiError::not_found)?)
    }

    pub async fn list_endpoints(
        &self,
        app_id: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Endpoint>, ApiError> {
        let list = ListId::Endpoints { app_id };
        let key = self.cursor_key().await?;
        let start = cursor.map(|c| key.decode(list, c)).transpose()?;
        let (projection, mut names) = public_projection();
        names.insert("#pk".into(), "pk".into());
        names.insert("#sk".into(), "sk".into());
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_values(":pk", s(app_pk(app_id)))
            .expression_attribute_values(":prefix", s(WEBHOOK_PREFIX))
            .set_expression_attribute_names(Some(names))
            .projection_expression(projection)
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(limit as i32)
            .set_exclusive_start_key(start.map(|id| key_of(app_pk(app_id), webhook_sk(id))))
            .send()
            .await
            .map_err(|e| sdk_error("Query endpoints", e))?;
        let items = out.items().iter().map(endpoint_from_item).collect::<Result<Vec<_>, _>>()?;
        let next_cursor = match (out.last_evaluated_key.is_some(), items.last()) {
            (true, Some(last)) => {
                let id = Uuid::parse_str(&last.id)
                    .map_err(|_| ApiError::internal().with_detail("stored id is not a UUID"))?;
                Some(key.encode(list, id))
            }
            _ => None,
        };
        Ok(Page { items, next_cursor })
    }

    pub async fn update_endpoint(&self, app_id: &str, id: Uuid, patch: &EndpointPatch) -> Result<Endpoint, ApiError> {
        let Some(new_url) = &patch.url else {
            return self.update_in_place(app_id, id, patch, "attribute_exists(pk)", HashMap::new()).await;
        };
        let new_key = new_url.uniqueness_key();
        for _ in 0..MAX_ATTEMPTS {
            let current = self.endpoint_item(app_id, id).await?;
            let old_key = get_s(&current, "urlKey")?;
            if old_key == new_key {
                // Same URL up to normalisation: the marker stays; only the spelling changes.
                let guard = HashMap::from([(":expectedUrlKey".to_owned(), s(&old_key))]);
                match self.update_in_place(app_id, id, patch, "urlKey = :expectedUrlKey", guard).await {
                    Err(e) if e.code == "not_found" => continue,
                    other => return other,
                }
            }
            let seen = get_s(&current, "updatedAt")?;
            let now = rfc3339_millis(now_millis());
            let (update, names, mut values) = update_expression(patch, &new_key, &now);
            values.insert(":seenUpdatedAt".into(), s(&seen));
            let pk = app_pk(app_id);
            let mut marker = key_of(pk.clone(), url_marker_sk(&new_key));
            marker.insert("webhookId".into(), s(id.to_string()));
            let items = vec![
                TransactWriteItem::builder()
                    .update(
                        Update::builder()
                            .table_name(&self.table)
                            .set_key(Some(key_of(pk.clone(), webhook_sk(id))))
                            .update_expression(update)
                            .condition_expression("#updatedAt = :seenUpdatedAt")
                            .set_expression_attribute_names(Some(names))
                            .set_expression_attribute_values(Some(values))
                            .build()
                            .map_err(build_error)?,
                    )
                    .build(),
                TransactWriteItem::builder()
                    .delete(
                        Delete::builder()
                            .table_name(&self.table)
                            .set_key(Some(key_of(pk.clone(), url_marker_sk(&old_key))))
                            .build()
                            .map_err(build_error)?,
                    )
                    .build(),
                self.put_new(marker)?,
            ];
            match self.transact(items, "update endpoint url").await? {
                Ok(()) => return apply_patch(endpoint_from_item(&current)?, patch, &now),
                Err(TxRejected::Conditions(failed)) if failed.get(2) == Some(&true) => {
                    return Err(ApiError::duplicate_webhook())
                }
                // Changed or deleted since we read it: read again.
                Err(TxRejected::Conditions(_)) => continue,
            }
        }
        Err(ApiError::service_unavailable().with_detail("update endpoint: too many concurrent changes"))
    }

    async fn update_in_place(
        &self,
        app_id: &str,
        id: Uuid,
        patch: &EndpointPatch,
        condition: &str,
        extra_values: HashMap<String, AttributeValue>,
    ) -> Result<Endpoint, ApiError> {
        let now = rfc3339_millis(now_millis());
        let url_key = patch.url.as_ref().map(|u| u.uniqueness_key()).unwrap_or_default();
        let (update, names, mut values) = update_expression(patch, &url_key, &now);
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
            Err(e) if is_conditional_failure(&e) => Err(ApiError::not_found()),
            Err(e) => Err(sdk_error("UpdateItem endpoint", e)),
        }
    }

    pub async fn delete_endpoint(&self, app_id: &str, id: Uuid) -> Result<(), ApiError> {
        let pk = app_pk(app_id);
        for _ in 0..MAX_ATTEMPTS {
            let current = self.endpoint_item(app_id, id).await?;
            let url_key = get_s(&current, "urlKey")?;
            let items = vec![
                TransactWriteItem::builder()
                    .delete(
                        Delete::builder()
                            .table_name(&self.table)
                            .set_key(Some(key_of(pk.clone(), webhook_sk(id))))
                            .condition_expression("urlKey = :urlKey")
                            .expression_attribute_values(":urlKey", s(&url_key))
                            .build()
                            .map_err(build_error)?,
                    )
                    .build(),
                TransactWriteItem::builder()
                    .delete(
                        Delete::builder()
                            .table_name(&self.table)
                            .set_key(Some(key_of(pk.clone(), url_marker_sk(&url_key))))
                            .build()
                            .map_err(build_error)?,
                    )
                    .build(),
                self.counter_change(app_id, -1, None)?,
            ];
            match self.transact(items, "delete endpoint").await? {
                Ok(()) => return Ok(()),
                // Its URL changed or it was deleted since we read it: read again (404 if gone).
                Err(TxRejected::Conditions(_)) => continue,
            }
        }
        Err(ApiError::service_unavailable().with_detail("delete endpoint: too many concurrent changes"))
    }
}

/// `SET`/`REMOVE` for the fields a patch carries, plus `updatedAt`.
fn update_expression(
    patch: &EndpointPatch,
    url_key: &str,
    now: &str,
) -> (String, HashMap<String, String>, HashMap<String, AttributeValue>) {
    let mut names = HashMap::from([("#updatedAt".to_owned(), "updatedAt".to_owned())]);
    let mut values = HashMap::from([(":updatedAt".to_owned(), s(now))]);
    let mut sets = vec!["#updatedAt = :updatedAt".to_owned()];
    let mut removes = Vec::new();
    let mut set = |name: &str, value: AttributeValue| {
        names.insert(format!("#{name}"), name.to_owned());
        values.insert(format!(":{name}"), value);
        sets.push(format!("#{name} = :{name}"));
    };
    if let Some(url) = &patch.url {
        set("url", s(&url.url));
        set("urlKey", s(url_key));
    }
    if let Some(events) = &patch.events {
        set("events", events_value(events));
    }
    match &patch.description {
        Some(Some(d)) => set("description", s(d)),
        Some(None) => removes.push("#description"),
        None => {}
    }
    if let Some(active) = patch.active {
        set("active", AttributeValue::Bool(active));
    }
    if let Some(metadata) = &patch.metadata {
        set("metadata", metadata_value(metadata));
    }
    let mut expression = format!("SET {}", sets.join(", "));
    if !removes.is_empty() {
        names.insert("#description".into(), "description".into());
        expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
    }
    (expression, names, values)
}

fn apply_patch(mut endpoint: Endpoint, patch: &EndpointPatch, now: &str) -> Result<Endpoint, ApiError> {
    if let Some(url) = &patch.url {
        endpoint.url = url.url.clone();
    }
    if let Some(events) = &patch.events {
        endpoint.events = events.clone();
    }
    if let Some(description) = &patch.description {
        endpoint.description = description.clone();
    }
    if let Some(active) = patch.active {
        endpoint.active = active;
    }
    if let Some(metadata) = &patch.metadata {
        endpoint.metadata = metadata.clone();
    }
    endpoint.updated_at = now.to_owned();
    Ok(endpoint)
}
