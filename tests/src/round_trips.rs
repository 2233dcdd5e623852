//! Records every DynamoDB call (each attempt, by operation name) a container makes, so that tests
//! can state how many round trips a request costs.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};

#[derive(Debug, Clone, Default)]
pub struct CallLog(Arc<Mutex<Vec<String>>>);

impl CallLog {
    /// The operations since the last `take`, in order (`GetItem`, `TransactWriteItems`, ...).
    pub fn take(&self) -> Vec<String> {
        self.0.lock().map(|mut calls| std::mem::take(&mut *calls)).unwrap_or_default()
    }

    /// A client like `base` that logs here.
    pub fn client(&self, base: &aws_sdk_dynamodb::Client) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(base.config().to_builder().interceptor(self.clone()).build())
    }
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        // DynamoDB's JSON protocol names the operation in `X-Amz-Target: DynamoDB_20120810.GetItem`.
        let target = context.request().headers().get("x-amz-target").unwrap_or_default();
        let operation = target.rsplit('.').next().unwrap_or_default().to_owned();
        if let Ok(mut calls) = self.0.lock() {
            calls.push(operation);
        }
        Ok(())
    }
}
