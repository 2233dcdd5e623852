//! Records every DynamoDB call (each attempt) a container makes, so that tests can state how many
//! round trips a request costs and which IAM actions a function needs.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_types::config_bag::{Storable, StoreReplace};

/// Which logged call an attempt in flight is (kept in the attempt's own config bag).
#[derive(Debug, Clone)]
struct CallIndex(usize);

impl Storable for CallIndex {
    type Storer = StoreReplace<Self>;
}

#[derive(Debug, Clone, Default)]
struct Calls {
    operations: Vec<String>,
    /// When each call was sent and when its answer came back.
    spans: Vec<(Instant, Option<Instant>)>,
    /// IAM actions: the operation's own, or for `TransactWriteItems` those of its items.
    actions: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct CallLog(Arc<Mutex<Calls>>);

impl CallLog {
    /// The operations since the last `take`, in order (`GetItem`, `TransactWriteItems`, ...).
    pub fn take(&self) -> Vec<String> {
        self.take_with_trips().0
    }

    /// The operations since the last take, and how many round trips they cost one after another:
    /// calls in flight at the same time share one (a call that starts before every earlier one
    /// has answered adds none).
    pub fn take_with_trips(&self) -> (Vec<String>, usize) {
        let Ok(mut calls) = self.0.lock() else { return (Vec::new(), 0) };
        let spans = std::mem::take(&mut calls.spans);
        (std::mem::take(&mut calls.operations), sequential_trips(&spans))
    }

    /// Every IAM action the logged calls needed so far (`dynamodb:GetItem`, ...), sorted, unique.
    pub fn iam_actions(&self) -> Vec<String> {
        let mut actions = self.0.lock().map(|calls| calls.actions.clone()).unwrap_or_default();
        actions.sort();
        actions.dedup();
        actions
    }

    /// A client like `base` that logs here.
    pub fn client(&self, base: &aws_sdk_dynamodb::Client) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(base.config().to_builder().interceptor(self.clone()).build())
    }
}

/// The DynamoDB operation a request calls: its JSON protocol names it in
/// `X-Amz-Target: DynamoDB_20120810.GetItem`.
pub fn operation_of<'a>(context: &'a BeforeTransmitInterceptorContextRef<'_>) -> &'a str {
    let target = context.request().headers().get("x-amz-target").unwrap_or_default();
    target.rsplit('.').next().unwrap_or_default()
}

/// Round trips one after another: a call starting after every earlier call answered begins a new one.
fn sequential_trips(spans: &[(Instant, Option<Instant>)]) -> usize {
    let mut sorted: Vec<(Instant, Instant)> = spans.iter().map(|(s, e)| (*s, e.unwrap_or(*s))).collect();
    sorted.sort();
    let mut trips = 0;
    let mut answered_by: Option<Instant> = None;
    for (start, end) in sorted {
        match answered_by {
            Some(frontier) if start < frontier => answered_by = Some(frontier.max(end)),
            _ => {
                trips += 1;
                answered_by = Some(end);
            }
        }
    }
    trips
}

/// `TransactWriteItems` needs the permission of each kind of item it carries.
fn transaction_item_actions(body: &[u8]) -> Vec<String> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else { return Vec::new() };
    let items = value["TransactItems"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .filter_map(|item| item.as_object()?.keys().next().cloned())
        .map(|kind| match kind.as_str() {
            "ConditionCheck" => "dynamodb:ConditionCheckItem".to_owned(),
            other => format!("dynamodb:{other}Item"),
        })
        .collect()
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let request = context.request();
        let operation = operation_of(context).to_owned();
        // IAM authorises a transaction by the actions of its items, not by an action of its own.
        let actions = match operation.as_str() {
            "TransactWriteItems" => transaction_item_actions(request.body().bytes().unwrap_or_default()),
            _ => vec![format!("dynamodb:{operation}")],
        };
        if let Ok(mut calls) = self.0.lock() {
            calls.operations.push(operation);
            calls.actions.extend(actions);
            calls.spans.push((Instant::now(), None));
            cfg.interceptor_state().store_put(CallIndex(calls.spans.len() - 1));
        }
        Ok(())
    }

    fn read_before_deserialization(
        &self,
        _context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if let (Some(CallIndex(i)), Ok(mut calls)) = (cfg.load::<CallIndex>().cloned(), self.0.lock()) {
            if let Some(span) = calls.spans.get_mut(i) {
                span.1 = Some(Instant::now());
            }
        }
        Ok(())
    }
}
