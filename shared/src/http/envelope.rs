//! The contract's response envelope: `{"success": true, "data": …}` or
//! `{"success": false, "error": {code, message, field?, requestId}}`, always `application/json`.

use lambda_http::{Body, Response};
use serde::Serialize;

use crate::error::ApiError;
use crate::store::Page;

/// A finished answer: status, headers and the exact body bytes (kept as-is for idempotent replay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

#[derive(Serialize)]
struct Success<'a, T> {
    success: bool,
    data: &'a T,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PageEnvelope<'a, T> {
    success: bool,
    data: &'a [T],
    next_cursor: &'a Option<String>,
}

#[derive(Serialize)]
struct Failure<'a> {
    success: bool,
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    request_id: &'a str,
}

const JSON: &str = "application/json";

fn json_reply(status: u16, body: String) -> Reply {
    Reply { status, headers: vec![("content-type".into(), JSON.into())], body: Some(body) }
}

fn serialize(value: &impl Serialize) -> Result<String, ApiError> {
    serde_json::to_string(value).map_err(|e| ApiError::internal().with_detail(format!("serialize: {e}")))
}

impl Reply {
    pub fn data<T: Serialize>(status: u16, data: &T) -> Result<Reply, ApiError> {
        Ok(json_reply(status, serialize(&Success { success: true, data })?))
    }

    pub fn page<T: Serialize>(page: &Page<T>) -> Result<Reply, ApiError> {
        let envelope = PageEnvelope { success: true, data: &page.items, next_cursor: &page.next_cursor };
        Ok(json_reply(200, serialize(&envelope)?))
    }

    /// An answer that carries a secret (create, rotate-secret): `Cache-Control: no-store`, so no
    /// cache between the caller and us keeps it.
    pub fn secret<T: Serialize>(status: u16, data: &T) -> Result<Reply, ApiError> {
        Ok(Reply::data(status, data)?.with_header("cache-control", "no-store"))
    }

    pub fn no_content() -> Reply {
        Reply { status: 204, headers: Vec::new(), body: None }
    }

    pub fn error(err: &ApiError, request_id: &str) -> Reply {
        let failure = Failure {
            success: false,
            error: ErrorBody { code: err.code, message: &err.message, field: err.field.as_deref(), request_id },
        };
        // Serializing plain strings cannot fail; the literal is a last resort that still parses.
        let body = serde_json::to_string(&failure).unwrap_or_else(|_| {
            r#"{"success":false,"error":{"code":"internal_error","message":"internal error","requestId":""}}"#.into()
        });
        let mut reply = json_reply(err.status, body);
        reply.headers.extend(err.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())));
        reply
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn into_response(self) -> Response<Body> {
        let mut builder = Response::builder().status(self.status);
        for (name, value) in &self.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let body = self.body.map(Body::Text).unwrap_or(Body::Empty);
        builder.body(body).unwrap_or_else(|_| {
            let mut fallback = Response::new(Body::Empty);
            *fallback.status_mut() = lambda_http::http::StatusCode::INTERNAL_SERVER_ERROR;
            fallback
        })
    }
}
