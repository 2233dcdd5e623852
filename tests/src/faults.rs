//! Fault injection at the SDK's edge: an interceptor that replaces DynamoDB's answer to chosen
//! operations with an error DynamoDB really sends (throttling, a cancelled transaction, a
//! conflict), so that tests see how each is answered without waiting for DynamoDB to misbehave.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{Storable, StoreReplace};

/// Set while the attempt in flight is one whose answer is replaced.
#[derive(Debug, Clone)]
struct Replacing;

impl Storable for Replacing {
    type Storer = StoreReplace<Self>;
}

/// Answers `operation` (`TransactWriteItems`, `UpdateItem`, ...) with `body` (a DynamoDB JSON error)
/// and status 400, `times` times, then lets DynamoDB's real answers through. The request itself
/// reaches DynamoDB: only its answer is lost, as when a connection drops after the write.
#[derive(Debug, Clone)]
pub struct Fault {
    operation: &'static str,
    status: u16,
    body: String,
    remaining: Arc<AtomicUsize>,
    seen: Arc<AtomicUsize>,
}

impl Fault {
    pub fn new(operation: &'static str, error_type: &str, extra: &str, times: usize) -> Fault {
        let body = format!(
            r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{error_type}","message":"injected by the test"{extra}}}"#
        );
        Fault {
            operation,
            status: 400,
            body,
            remaining: Arc::new(AtomicUsize::new(times)),
            seen: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Answers `operation` with exactly `body` and `status`, `times` times: a successful answer that
    /// is not the real one (say, a BatchGetItem that left every key unprocessed).
    pub fn raw(operation: &'static str, status: u16, body: String, times: usize) -> Fault {
        Fault { status, body, ..Fault::new(operation, "", "", times) }
    }

    /// The same fault answered with `status` (a 500 is one the SDK retries).
    pub fn with_status(mut self, status: u16) -> Fault {
        self.status = status;
        self
    }

    /// A `TransactionCanceledException` whose items were cancelled for `reasons` (`ThrottlingError`, …).
    pub fn cancelled(reasons: &[&str], times: usize) -> Fault {
        let list: Vec<String> = reasons.iter().map(|r| format!(r#"{{"Code":"{r}"}}"#)).collect();
        let extra = format!(r#","CancellationReasons":[{}]"#, list.join(","));
        Fault::new("TransactWriteItems", "TransactionCanceledException", &extra, times)
    }

    /// How many answers were replaced so far.
    pub fn injected(&self) -> usize {
        self.seen.load(Ordering::SeqCst)
    }

    /// A client like `base` whose answers this fault replaces.
    pub fn client(&self, base: &aws_sdk_dynamodb::Client) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(base.config().to_builder().interceptor(self.clone()).build())
    }
}

impl Intercept for Fault {
    fn name(&self) -> &'static str {
        "Fault"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let ours = crate::round_trips::operation_of(context) == self.operation
            && self.remaining.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        if ours {
            cfg.interceptor_state().store_put(Replacing);
        } else {
            cfg.interceptor_state().unset::<Replacing>();
        }
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if cfg.load::<Replacing>().is_some() {
            self.seen.fetch_add(1, Ordering::SeqCst);
            let response = context.response_mut();
            *response.status_mut() = StatusCode::try_from(self.status)?;
            *response.body_mut() = SdkBody::from(self.body.clone());
        }
        Ok(())
    }
}
