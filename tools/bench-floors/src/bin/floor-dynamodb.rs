//! The least a Rust Lambda over DynamoDB can do: the functions' own client, built the same way
//! once per container, and one GetItem per event. It does not open the connection during init.

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{Body, Request, Response};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let table = std::env::var("TABLE_NAME")?;
    let client: &'static aws_sdk_dynamodb::Client = Box::leak(Box::new(shared::store::dynamodb_client().await?));
    let table: &'static str = Box::leak(table.into_boxed_str());
    lambda_http::run(lambda_http::service_fn(move |_req: Request| async move {
        let found = client
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S("FLOOR".into()))
            .key("sk", AttributeValue::S("FLOOR".into()))
            .send()
            .await
            .map(|out| out.item.is_some());
        let (status, body) = match found {
            Ok(found) => (200, format!("{{\"found\":{found}}}")),
            Err(e) => {
                eprintln!("GetItem: {}", aws_sdk_dynamodb::error::DisplayErrorContext(&e));
                (503, "{}".to_owned())
            }
        };
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status.try_into().unwrap_or_default();
        Ok::<_, std::convert::Infallible>(response)
    }))
    .await
}
