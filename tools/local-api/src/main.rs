//! `local-api`: the whole HTTP API on 127.0.0.1 over the table `TABLE_NAME` (DynamoDB Local via
//! `AWS_ENDPOINT_URL_DYNAMODB`). Creates the table if needed, issues a key for app `acme`, and
//! installs the `events/` fixtures' published key. For development only: it listens on loopback.

use std::net::SocketAddr;

use local_api::http::{
    api_gateway_event, bad_header_response, read_request, to_lambda_request, write_response, write_status, Rejected,
};
use shared::App;
use tokio::net::TcpListener;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), String> {
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let app_id = std::env::var("LOCAL_APP_ID").unwrap_or_else(|_| "acme".into());
    let app: &'static App = Box::leak(Box::new(App::from_env().await?));
    webhook_keys::create_table(app.store.client(), app.store.table()).await?;
    let scopes = vec!["webhooks:manage".into(), "events:publish".into()];
    let key = webhook_keys::issue_key(&app.store, &app_id, scopes).await?;
    // Already there on a restart over the same table: fine.
    let _ = webhook_keys::install_fixture_key(&app.store).await;

    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = TcpListener::bind(addr).await.map_err(|e| format!("bind {addr}: {e}"))?;
    println!("API on http://{addr}  (table {})", app.store.table());
    println!("key for app `{app_id}` (webhooks:manage, events:publish): {}", key.key);
    println!("try: curl -s http://{addr}/apps/{app_id}/webhooks -H 'Authorization: Bearer {}'", key.key);
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let request_id = shared::uuid::Uuid::now_v7().to_string();
            let raw = match read_request(&mut stream).await {
                Ok(raw) => raw,
                Err(Rejected::Status(status)) => return write_status(&mut stream, status).await,
                Err(Rejected::Header(name)) => {
                    return write_response(&mut stream, bad_header_response(&name, &request_id)).await
                }
            };
            let event = api_gateway_event(&raw, &request_id);
            let response = match to_lambda_request(&event) {
                Ok(req) => local_api::invoke(app, req).await,
                Err(_) => return write_status(&mut stream, 400).await,
            };
            eprintln!(
                "{} {} -> {}",
                raw.method,
                raw.target.split('?').next().unwrap_or(""),
                response.status().as_u16()
            );
            write_response(&mut stream, response).await
        });
    }
}
