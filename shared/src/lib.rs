//! Everything the route functions share: the endpoint model, every input rule, storage over the
//! one DynamoDB table, API-key auth, idempotency, and the request pipeline with its envelope.

pub mod auth;
pub mod config;
pub mod cursor;
pub mod delivery;
pub mod envelope;
pub mod error;
pub mod model;
pub mod net_policy;
pub mod outbound;
pub mod pipeline;
pub mod secrets;
pub mod signing;
pub mod store;
pub mod time;
pub mod trust;
pub mod validate;

pub use auth::Scope;
pub use envelope::Reply;
pub use error::ApiError;
pub use pipeline::{run, App, BodyRule, Call, PathShape, Route};

// Re-exported so route crates need no direct dependency of their own.
pub use lambda_http;
pub use tokio;
pub use uuid;
