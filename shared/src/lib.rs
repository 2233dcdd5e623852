//! Everything the functions (and later the workers) share. Who may use whom (docs/architecture.md):
//! `delivery` uses neither `store` nor `http`; `store` uses neither `http` nor `delivery`; `http` is
//! the only module that knows API Gateway, the envelope and the contract's status codes.
//!
//! - `model`: the endpoint, delivery and their validated inputs;
//! - `validate`: every input rule (body, page and key limits, ids, fields);
//! - `url`: the one URL and address rule, at write time and at connect time;
//! - `store`: DynamoDB, with its own `StoreError`;
//! - `delivery`: one signed send and its record;
//! - `http`: routes, request checks, idempotency, envelope, auth, runtime start;
//! - `queue`: the task message, the SQS sender, the batch rules of the workers, the worker context;
//! - `health`: the endpoint's failing clock and when it disables the endpoint (pure);
//! - `config`, `cursor`, `secrets`, `time`, `trust`, `error`: the small shared pieces.

pub mod aws;
pub mod config;
pub mod cursor;
pub mod delivery;
pub mod error;
pub mod health;
pub mod http;
pub mod model;
pub mod queue;
pub mod secrets;
pub mod store;
pub mod time;
pub mod trust;
pub mod url;
pub mod validate;

pub use error::ApiError;
pub use http::auth::Scope;
pub use http::envelope::Reply;
pub use http::request::Call;
pub use http::routes::{BodyRule, PathShape, Route};
pub use http::runtime::run;
pub use http::App;

// Re-exported so route and worker crates need no direct dependency of their own.
pub use aws_lambda_events;
pub use futures_util;
pub use lambda_http;
pub use tokio;
pub use uuid;
