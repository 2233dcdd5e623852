//! The Lambda entry point of every route function: clients built once per container, then one
//! handler call per event.

use std::future::Future;

use lambda_http::{Body, Request, Response};

use super::App;

/// Builds the container's `App` once, opens the DynamoDB connection when that helps
/// (`warm_up_in_init`), then serves events. Errors only when the configuration is unusable.
pub async fn run<F, Fut>(handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static App, Request) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let app: &'static App = Box::leak(Box::new(App::from_env().await?));
    if warm_up_in_init(std::env::var("AWS_LAMBDA_INITIALIZATION_TYPE").ok().as_deref()) {
        app.store.warm_up().await;
    }
    lambda_http::run(lambda_http::service_fn(move |req: Request| async move {
        Ok::<_, std::convert::Infallible>(handler(app, req).await)
    }))
    .await
}

/// Whether init opens the DynamoDB connection before asking for the first event: only when Lambda
/// initialises the environment ahead of the requests it will serve (provisioned concurrency), where
/// init is on no one's path and the first request then finds the connection open. On an on-demand
/// cold start the request that caused it is already waiting: opening the connection first costs it
/// a round trip (awaited) or a second handshake (spawned), and the environment is frozen once it
/// polls, so nothing opens in the background. Each way is measured in docs/benchmarks.md.
pub fn warm_up_in_init(initialization_type: Option<&str>) -> bool {
    initialization_type == Some("provisioned-concurrency")
}
