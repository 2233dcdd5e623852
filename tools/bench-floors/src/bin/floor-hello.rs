//! The least a Rust Lambda behind API Gateway can be: lambda_http answering a constant.

use lambda_http::{Body, Request, Response};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::run(lambda_http::service_fn(|_req: Request| async {
        Ok::<_, std::convert::Infallible>(Response::new(Body::from("{\"hello\":\"world\"}")))
    }))
    .await
}
