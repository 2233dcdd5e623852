//! An SQS event-source mapping: receive up to a batch, build the `aws:sqs` event Lambda would send,
//! invoke, and delete only what succeeded. With `ReportBatchItemFailures`, the ids the function
//! lists stay on the queue; an invocation that fails, times out, or answers an id that is not in the
//! batch leaves the whole batch (AWS's rule), to come back after the visibility timeout. The queue's
//! own redrive policy moves a message that keeps failing to its dead-letter queue.

use std::time::Duration;

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use serde_json::{json, Map, Value};

use crate::Function;

/// A queue and the function it feeds.
#[derive(Clone)]
pub struct SqsSource {
    pub client: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub queue_arn: String,
    pub region: String,
    pub batch_size: i32,
    /// Long-poll wait of each receive.
    pub wait: Duration,
    /// The function's timeout: the invocation's deadline, after which it is abandoned.
    pub function_timeout: Duration,
}

impl SqsSource {
    /// The source for `queue_url`, reading its ARN from the queue.
    pub async fn new(
        client: aws_sdk_sqs::Client,
        queue_url: &str,
        function_timeout: Duration,
    ) -> Result<SqsSource, String> {
        let queue_arn = crate::queue_arn(&client, queue_url).await?;
        let region = queue_arn.split(':').nth(3).unwrap_or("us-east-1").to_owned();
        Ok(SqsSource {
            client,
            queue_url: queue_url.to_owned(),
            queue_arn,
            region,
            batch_size: 10,
            wait: Duration::from_secs(1),
            function_timeout,
        })
    }

    /// One receive and, if anything came, one invocation. Answers how many messages were received.
    pub async fn poll_once(&self, function: &Function) -> Result<usize, String> {
        let received = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(self.batch_size)
            .wait_time_seconds(i32::try_from(self.wait.as_secs()).unwrap_or(1))
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| format!("ReceiveMessage: {}", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(0);
        }
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                let attributes: Map<String, Value> = m
                    .attributes
                    .iter()
                    .flatten()
                    .map(|(name, value)| (name.as_str().to_owned(), Value::String(value.clone())))
                    .collect();
                json!({
                    "messageId": m.message_id,
                    "receiptHandle": m.receipt_handle,
                    "body": m.body,
                    "attributes": attributes,
                    "messageAttributes": {},
                    "md5OfBody": m.md5_of_body,
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": self.region,
                })
            })
            .collect();
        let event = json!({ "Records": records });
        let deadline = shared::time::now_millis() + u64::try_from(self.function_timeout.as_millis()).unwrap_or(0);
        let outcome = tokio::time::timeout(self.function_timeout, function(event, deadline)).await;
        let failed: Vec<String> = match outcome {
            Ok(Ok(response)) => match failed_ids(&response) {
                Some(ids) => ids,
                None => return Ok(messages.len()), // A malformed answer: the whole batch stays.
            },
            // An error or a timeout: nothing is deleted.
            Ok(Err(_)) | Err(_) => return Ok(messages.len()),
        };
        let ids: Vec<&str> = messages.iter().filter_map(|m| m.message_id.as_deref()).collect();
        if failed.iter().any(|f| !ids.contains(&f.as_str())) {
            return Ok(messages.len()); // An id not in the batch: the whole batch failed.
        }
        let done: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .filter(|(_, m)| !failed.iter().any(|f| Some(f.as_str()) == m.message_id.as_deref()))
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle.clone()?)
                    .build()
                    .ok()
            })
            .collect();
        if !done.is_empty() {
            self.client
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(done))
                .send()
                .await
                .map_err(|e| format!("DeleteMessageBatch: {}", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
        }
        Ok(messages.len())
    }
}

/// The `batchItemFailures` ids of a function's answer (`null` or `{}` means none failed); `None`
/// when the answer is not of that shape.
fn failed_ids(response: &Value) -> Option<Vec<String>> {
    match response.get("batchItemFailures") {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.get("itemIdentifier")?.as_str().filter(|s| !s.is_empty()).map(str::to_owned))
            .collect(),
        Some(_) => None,
    }
}
