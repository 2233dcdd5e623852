//! A deliberately small HTTP/1.1 front end (one request per connection, `Content-Length` bodies)
//! that turns each request into the API Gateway HTTP API event the functions receive in AWS.

use base64::Engine;
use serde_json::{json, Map, Value};
use shared::lambda_http::{Body, Request, Response};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MAX_HEAD_BYTES: usize = 16 * 1024;
/// API Gateway's own payload limit.
const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// A parsed request line and headers, plus the body.
pub struct RawRequest {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why a request was not read.
#[derive(Debug, PartialEq, Eq)]
pub enum Rejected {
    /// Malformed HTTP: answered with this bare status, as API Gateway answers such requests itself.
    Status(u16),
    /// A header value with control characters, which no HTTP header may carry.
    Header(String),
}

impl From<u16> for Rejected {
    fn from(status: u16) -> Self {
        Rejected::Status(status)
    }
}

/// Reads one request.
pub async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Result<RawRequest, Rejected> {
    let mut buf = Vec::with_capacity(4096);
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err(Rejected::Status(431));
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.map_err(|_| Rejected::Status(400))?;
        if n == 0 {
            return Err(Rejected::Status(400));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    // Header values are bytes; a non-UTF-8 one reaches the handler with replacement characters,
    // which its own rules then refuse, as they would the bytes API Gateway passes through.
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let (method, target) = match (request_line.next(), request_line.next()) {
        (Some(m), Some(t)) if !m.is_empty() && t.starts_with('/') => (m.to_owned(), t.to_owned()),
        _ => return Err(Rejected::Status(400)),
    };
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(Rejected::Status(400))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    if let Some((name, _)) = headers.iter().find(|(_, v)| v.chars().any(|c| c.is_ascii_control() && c != '\t')) {
        return Err(Rejected::Header(name.clone()));
    }
    if headers.iter().any(|(n, _)| n == "transfer-encoding") {
        return Err(Rejected::Status(411));
    }
    let length = match headers.iter().find(|(n, _)| n == "content-length") {
        Some((_, v)) => v.parse::<usize>().map_err(|_| Rejected::Status(400))?,
        None => 0,
    };
    if length > MAX_BODY_BYTES {
        return Err(Rejected::Status(413));
    }
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = vec![0u8; (length - body.len()).min(64 * 1024)];
        let n = stream.read(&mut chunk).await.map_err(|_| Rejected::Status(400))?;
        if n == 0 {
            return Err(Rejected::Status(400));
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Ok(RawRequest { method, target, headers, body })
}

/// The payload-2.0 event API Gateway would send for this request.
pub fn api_gateway_event(raw: &RawRequest, request_id: &str) -> Value {
    let (path, query) = raw.target.split_once('?').unwrap_or((&raw.target, ""));
    let mut headers = Map::new();
    for (name, value) in &raw.headers {
        // API Gateway joins repeated headers with commas.
        let joined = match headers.get(name).and_then(Value::as_str) {
            Some(existing) => format!("{existing},{value}"),
            None => value.clone(),
        };
        headers.insert(name.clone(), Value::String(joined));
    }
    let now = shared::time::now_millis();
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000", "apiId": "local", "domainName": "localhost", "domainPrefix": "localhost",
            "http": {"method": raw.method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                     "userAgent": raw.headers.iter().find(|(n, _)| n == "user-agent").map(|(_, v)| v.as_str()).unwrap_or("")},
            "requestId": request_id, "routeKey": "$default", "stage": "$default",
            "time": shared::time::rfc3339_millis(now), "timeEpoch": now,
        },
        "isBase64Encoded": false,
    });
    if !raw.body.is_empty() {
        event["body"] = match std::str::from_utf8(&raw.body) {
            Ok(text) => Value::String(text.to_owned()),
            Err(_) => {
                event["isBase64Encoded"] = json!(true);
                Value::String(base64::engine::general_purpose::STANDARD.encode(&raw.body))
            }
        };
    }
    event
}

pub fn to_lambda_request(event: &Value) -> Result<Request, String> {
    shared::lambda_http::request::from_str(&event.to_string()).map_err(|e| e.to_string())
}

pub async fn write_response(stream: &mut TcpStream, response: Response<Body>) -> std::io::Result<()> {
    let (parts, body) = response.into_parts();
    let body: &[u8] = body.as_ref();
    let mut out = format!("HTTP/1.1 {} {}\r\n", parts.status.as_u16(), parts.status.canonical_reason().unwrap_or(""));
    for (name, value) in &parts.headers {
        out.push_str(&format!("{}: {}\r\n", name, value.to_str().unwrap_or_default()));
    }
    out.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", body.len()));
    stream.write_all(out.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await
}

/// A header no handler could be given, answered in the envelope with the header named.
pub fn bad_header_response(name: &str, request_id: &str) -> Response<Body> {
    let err = shared::ApiError::invalid_field(name, format!("The `{name}` header contains control characters."));
    shared::Reply::error(&err, request_id).into_response()
}

pub async fn write_status(stream: &mut TcpStream, status: u16) -> std::io::Result<()> {
    let out = format!("HTTP/1.1 {status} \r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    stream.write_all(out.as_bytes()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> RawRequest {
        RawRequest {
            method: method.into(),
            target: target.into(),
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: body.to_vec(),
        }
    }

    #[test]
    fn requests_become_the_event_api_gateway_would_send() {
        let r = raw(
            "PATCH",
            "/apps/acme/webhooks?limit=5&cursor=abc",
            &[("x-api-key", "k"), ("accept", "a"), ("accept", "b")],
            b"{\"a\":1}",
        );
        let req = to_lambda_request(&api_gateway_event(&r, "req-1")).unwrap();
        assert_eq!(req.method().as_str(), "PATCH");
        assert_eq!(req.uri().path(), "/apps/acme/webhooks");
        assert_eq!(req.uri().query(), Some("limit=5&cursor=abc"));
        assert_eq!(req.headers()["accept"], "a,b", "repeated headers joined");
        assert_eq!(req.body().as_ref(), b"{\"a\":1}");
        assert_eq!(shared::http::request::request_id(&req), "req-1");
    }

    #[test]
    fn binary_bodies_travel_base64_encoded() {
        let event = api_gateway_event(&raw("POST", "/x", &[], &[0xff, 0x00, 0xfe]), "r");
        assert_eq!(event["isBase64Encoded"], json!(true));
        assert_eq!(to_lambda_request(&event).unwrap().body().as_ref(), &[0xff, 0x00, 0xfe]);
    }
}
