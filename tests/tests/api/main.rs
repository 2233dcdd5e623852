//! The functions end to end on DynamoDB Local. One test binary (modules below) keeps link time down.

mod auth;
mod deliveries;
mod endpoints;
mod engine;
mod events;
mod fixtures;
mod hardening;
mod idempotency;
mod limits;
mod operations;
mod pagination;
mod round_trips;
mod routing;
mod template;
