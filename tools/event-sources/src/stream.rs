//! A DynamoDB stream event-source mapping, as Lambda runs one with `ReportBatchItemFailures`, no
//! record age limit and unlimited retries: each shard is read in order from its start (a child only
//! after its parent is finished); records that do not match the filter are passed over (counted as
//! processed, as Lambda does); a batch is invoked and, when the function reports a failed sequence
//! number (or fails outright), the shard is read again from that record after a pause, so nothing
//! after it is skipped and nothing before it is sent twice.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::filter::matches;
use crate::Function;

/// DynamoDB Local's stream API, spoken directly (JSON over HTTP, `X-Amz-Target`): its
/// `GetRecords` answer is already the record shape Lambda puts in an `aws:dynamodb` event. DynamoDB
/// Local keeps one database per access key and region, which it reads from the `Authorization`
/// header's credential scope; it checks no signature, so none is computed.
#[derive(Clone)]
pub struct StreamsApi {
    /// `host:port` of DynamoDB Local.
    address: String,
    credential: String,
}

impl StreamsApi {
    /// The API at `endpoint` (`http://host:port`), for `access_key_id` in `region`.
    pub fn new(endpoint: &str, access_key_id: &str, region: &str) -> Result<StreamsApi, String> {
        let address = endpoint
            .strip_prefix("http://")
            .ok_or_else(|| format!("{endpoint}: the local stream API is plain http://"))?
            .trim_end_matches('/')
            .to_owned();
        Ok(StreamsApi { address, credential: format!("{access_key_id}/20200101/{region}/dynamodb/aws4_request") })
    }

    /// One call of `operation` (`DescribeStream`, `GetShardIterator`, `GetRecords`) with `body`.
    pub async fn call(&self, operation: &str, body: &Value) -> Result<Value, String> {
        let body = body.to_string();
        let request = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-amz-json-1.0\r\n\
             X-Amz-Target: DynamoDBStreams_20120810.{operation}\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential={}, SignedHeaders=host, Signature=0\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.address,
            self.credential,
            body.len()
        );
        let mut stream = TcpStream::connect(&self.address)
            .await
            .map_err(|e| format!("{operation}: connect {}: {e}", self.address))?;
        stream.write_all(request.as_bytes()).await.map_err(|e| format!("{operation}: {e}"))?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.map_err(|e| format!("{operation}: {e}"))?;
        let split =
            answer.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| format!("{operation}: no HTTP answer"))?;
        let head = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
        let mut payload = answer[split + 4..].to_vec();
        if head.contains("transfer-encoding: chunked") {
            payload = unchunk(&payload);
        }
        let status_ok = head.starts_with("http/1.1 200");
        let value: Value = serde_json::from_slice(&repair_empty_maps(&payload))
            .map_err(|e| format!("{operation}: the answer is not JSON ({e})"))?;
        if !status_ok {
            return Err(format!("{operation}: {value}"));
        }
        Ok(value)
    }
}

/// A chunked HTTP body, joined.
fn unchunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&body[..line_end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&body[start..(start + size).min(body.len())]);
        body = &body[(start + size + 2).min(body.len())..];
    }
    out
}

/// DynamoDB Local writes an empty map attribute in a stream record as `{}` instead of
/// `{"M":{}}` (AWS writes `{"M":{}}`), which no decoder of attribute values accepts. `"name":{}`
/// becomes `"name":{"M":{}}` wherever the quote closes a JSON key (not inside a string, where the
/// quote would be escaped).
fn repair_empty_maps(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i..].starts_with(b"\":{}") && (i == 0 || body[i - 1] != b'\\') {
            out.extend_from_slice(b"\":{\"M\":{}}");
            i += 4;
        } else {
            out.push(body[i]);
            i += 1;
        }
    }
    out
}

#[derive(Default)]
struct Shard {
    parent: Option<String>,
    iterator: Option<String>,
    finished: bool,
    /// After a failure: read again from this sequence number.
    retry_from: Option<String>,
    /// The last record handled (or passed over by the filter): where a fresh iterator starts
    /// when the one held is refused (expired, or trimmed under it), as Lambda's poller does.
    checkpoint: Option<String>,
}

/// A table's stream and the function it feeds.
pub struct StreamSource {
    api: StreamsApi,
    stream_arn: String,
    region: String,
    filter: Value,
    batch_size: i32,
    function_timeout: Duration,
    shards: HashMap<String, Shard>,
}

impl StreamSource {
    pub fn new(
        api: StreamsApi,
        stream_arn: &str,
        region: &str,
        filter: &str,
        function_timeout: Duration,
    ) -> Result<StreamSource, String> {
        Ok(StreamSource {
            api,
            stream_arn: stream_arn.to_owned(),
            region: region.to_owned(),
            filter: serde_json::from_str(filter).map_err(|e| format!("filter pattern: {e}"))?,
            batch_size: 100,
            function_timeout,
            shards: HashMap::new(),
        })
    }

    /// Learns new shards, then reads (and invokes on) each readable one once. Answers how many
    /// records matched the filter and were handed to the function.
    pub async fn poll_once(&mut self, function: &Function) -> Result<usize, String> {
        self.discover().await?;
        let readable: Vec<String> = self
            .shards
            .iter()
            .filter(|(_, s)| !s.finished)
            .filter(|(_, s)| s.parent.as_ref().is_none_or(|p| self.shards.get(p).is_none_or(|p| p.finished)))
            .map(|(id, _)| id.clone())
            .collect();
        let mut handed = 0;
        for shard_id in readable {
            handed += self.read_shard(&shard_id, function).await?;
        }
        Ok(handed)
    }

    async fn discover(&mut self) -> Result<(), String> {
        let mut start: Option<String> = None;
        loop {
            let mut body = json!({ "StreamArn": self.stream_arn });
            if let Some(start) = &start {
                body["ExclusiveStartShardId"] = json!(start);
            }
            let out = self.api.call("DescribeStream", &body).await?;
            let description = &out["StreamDescription"];
            for shard in description["Shards"].as_array().into_iter().flatten() {
                let Some(id) = shard["ShardId"].as_str() else { continue };
                let parent = shard["ParentShardId"].as_str().map(str::to_owned);
                self.shards.entry(id.to_owned()).or_insert_with(|| Shard { parent, ..Shard::default() });
            }
            start = description["LastEvaluatedShardId"].as_str().map(str::to_owned);
            if start.is_none() {
                return Ok(());
            }
        }
    }

    /// An iterator at `at` (`AT_SEQUENCE_NUMBER`), else after `after` (`AFTER_SEQUENCE_NUMBER`),
    /// else at the shard's start (`TRIM_HORIZON`).
    async fn iterator(&self, shard_id: &str, at: Option<&str>, after: Option<&str>) -> Result<Option<String>, String> {
        let mut body =
            json!({ "StreamArn": self.stream_arn, "ShardId": shard_id, "ShardIteratorType": "TRIM_HORIZON" });
        if let Some(sequence) = at {
            body["ShardIteratorType"] = json!("AT_SEQUENCE_NUMBER");
            body["SequenceNumber"] = json!(sequence);
        } else if let Some(sequence) = after {
            body["ShardIteratorType"] = json!("AFTER_SEQUENCE_NUMBER");
            body["SequenceNumber"] = json!(sequence);
        }
        let out = self.api.call("GetShardIterator", &body).await?;
        Ok(out["ShardIterator"].as_str().map(str::to_owned))
    }

    async fn read_shard(&mut self, shard_id: &str, function: &Function) -> Result<usize, String> {
        let (iterator, retry_from, checkpoint) = {
            let shard = &self.shards[shard_id];
            (shard.iterator.clone(), shard.retry_from.clone(), shard.checkpoint.clone())
        };
        let iterator = match (iterator, retry_from) {
            (_, Some(sequence)) => self.iterator(shard_id, Some(&sequence), None).await?,
            (Some(iterator), None) => Some(iterator),
            (None, None) => self.iterator(shard_id, None, checkpoint.as_deref()).await?,
        };
        let Some(iterator) = iterator else {
            self.finish(shard_id);
            return Ok(0);
        };
        let out =
            match self.api.call("GetRecords", &json!({ "ShardIterator": iterator, "Limit": self.batch_size })).await {
                Ok(out) => out,
                Err(refused) => {
                    // An iterator refused (expired or trimmed): the next read starts from the checkpoint.
                    if let Some(shard) = self.shards.get_mut(shard_id) {
                        shard.iterator = None;
                    }
                    return Err(refused);
                }
            };
        let next = out["NextShardIterator"].as_str().map(str::to_owned);
        let last_read = out["Records"]
            .as_array()
            .and_then(|records| records.last())
            .and_then(|r| r["dynamodb"]["SequenceNumber"].as_str())
            .map(str::to_owned);
        let wanted: Vec<Value> = out["Records"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|record| {
                // What Lambda adds to a stream record: the source's ARN and region.
                let mut record = record.clone();
                record["eventSourceARN"] = json!(self.stream_arn);
                record["awsRegion"] = json!(self.region);
                record
            })
            .filter(|r| matches(&self.filter, r))
            .collect();
        let handed = wanted.len();
        if !wanted.is_empty() {
            let first = wanted[0]["dynamodb"]["SequenceNumber"].as_str().map(str::to_owned);
            let event = json!({ "Records": wanted });
            let deadline = shared::time::now_millis() + u64::try_from(self.function_timeout.as_millis()).unwrap_or(0);
            let failed_at = match tokio::time::timeout(self.function_timeout, function(event, deadline)).await {
                Ok(Ok(response)) => first_failure(&response),
                Ok(Err(_)) | Err(_) => Some(first.clone()),
            };
            if let Some(at) = failed_at {
                // Read again from the failed record (or the batch's first) after a pause.
                let shard = self.shards.get_mut(shard_id).ok_or("shard vanished")?;
                shard.retry_from = at.or(first);
                shard.iterator = None;
                tokio::time::sleep(Duration::from_millis(500)).await;
                return Ok(handed);
            }
        }
        let shard = self.shards.get_mut(shard_id).ok_or("shard vanished")?;
        shard.retry_from = None;
        if last_read.is_some() {
            shard.checkpoint = last_read;
        }
        match next {
            Some(next) => shard.iterator = Some(next),
            None => self.finish(shard_id),
        }
        Ok(handed)
    }

    fn finish(&mut self, shard_id: &str) {
        if let Some(shard) = self.shards.get_mut(shard_id) {
            shard.finished = true;
            shard.iterator = None;
        }
    }
}

/// The lowest failed sequence number in a function's answer: `None` when none failed,
/// `Some(None)` when the answer is malformed (the whole batch is retried).
fn first_failure(response: &Value) -> Option<Option<String>> {
    match response.get("batchItemFailures") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) if items.is_empty() => None,
        Some(Value::Array(items)) => {
            // Sequence numbers are decimal strings of up to 40 digits, compared as numbers.
            let sequences: Option<Vec<&str>> = items
                .iter()
                .map(|i| {
                    i.get("itemIdentifier")?.as_str().filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                })
                .collect();
            let lowest = sequences.and_then(|s| {
                s.into_iter().min_by(|a, b| {
                    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
                    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
                })
            });
            Some(lowest.map(str::to_owned))
        }
        Some(_) => Some(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_failed_sequence_number_is_kept_as_written() {
        let failures = |ids: &[&str]| json!({"batchItemFailures": ids.iter().map(|i| json!({"itemIdentifier": i})).collect::<Vec<_>>()});
        assert_eq!(first_failure(&json!({})), None);
        assert_eq!(first_failure(&json!({"batchItemFailures": []})), None);
        assert_eq!(
            first_failure(&failures(&["000000000000000000329", "000000000000000000030"])),
            Some(Some("000000000000000000030".into()))
        );
        assert_eq!(first_failure(&failures(&["", "000000000000000000030"])), Some(None), "malformed: the whole batch");
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(unchunk(b"4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n"), b"Wikipedia");
    }

    #[test]
    fn empty_maps_are_repaired_only_outside_strings() {
        let body = br#"{"NewImage":{"metadata":{},"data":{"S":"{\"a\":{}}"},"m":{"M":{"x":{}}}}}"#;
        let repaired = String::from_utf8(repair_empty_maps(body)).unwrap();
        assert_eq!(
            repaired,
            r#"{"NewImage":{"metadata":{"M":{}},"data":{"S":"{\"a\":{}}"},"m":{"M":{"x":{"M":{}}}}}}"#
        );
    }
}
