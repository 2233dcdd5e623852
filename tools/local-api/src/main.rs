//! `local-api`: the whole service on 127.0.0.1 over the table `TABLE_NAME` (DynamoDB Local via
//! `AWS_ENDPOINT_URL_DYNAMODB`). Creates the table if needed, issues a key for app `acme`, and
//! installs the `events/` fixtures' published key. With `AWS_ENDPOINT_URL_SQS` (moto's server) it
//! also runs the delivery engine (the workers fed as Lambda's mappings would feed them) and a
//! receiver on `https://127.0.0.1:{PORT+1}/` that prints what it is sent, trusted by the
//! deliveries through a CA made for this run. For development only: it listens on loopback.

use std::net::SocketAddr;

use local_api::http::{
    api_gateway_event, bad_header_response, read_request, to_lambda_request, write_response, write_status, Rejected,
};
use shared::config::Config;
use shared::App;
use tokio::net::TcpListener;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), String> {
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let app_id = std::env::var("LOCAL_APP_ID").unwrap_or_else(|_| "acme".into());
    let engine_wanted = std::env::var("AWS_ENDPOINT_URL_SQS").is_ok_and(|v| !v.is_empty());
    // The local receiver's CA, trusted by deliveries, and loopback allowed (development settings).
    let ca = loopback_ca::LoopbackCa::new();
    let local_vars = |name: &str| match (name, std::env::var(name).ok().filter(|v| !v.is_empty())) {
        (_, Some(set)) => Some(set),
        ("WEBHOOK_ALLOW_PRIVATE_CIDRS", None) => Some("127.0.0.0/8".to_owned()),
        ("WEBHOOK_EXTRA_CA_FILE", None) => Some(ca.pem_path().to_owned()),
        (_, None) => None,
    };
    let mut config = Config::from_lookup(local_vars)?;
    let sdk = shared::aws::sdk_config().await?;
    let dynamodb = shared::store::dynamodb_client().await?;
    webhook_keys::create_table(&dynamodb, &config.table_name).await?;
    let _engine = if engine_wanted {
        let engine =
            event_sources::Engine::start(config.clone(), &sdk, local_vars, event_sources::Settings::default()).await?;
        // The recover route sends to the engine's recover queue.
        config.recover_queue_url = Some(engine.queues.recover.clone());
        let receiver_port = port.wrapping_add(1);
        local_api::receiver::start(&ca, receiver_port).await?;
        println!(
            "engine: stream -> fan-out -> {} -> deliver (retries via {}; recover via {})",
            engine.queues.delivery, engine.queues.retry, engine.queues.recover
        );
        println!(
            "receiver on https://127.0.0.1:{receiver_port}/ (register it as an endpoint URL; it prints each delivery)"
        );
        Some(engine)
    } else {
        eprintln!("AWS_ENDPOINT_URL_SQS is not set: the API runs without the delivery engine");
        None
    };
    let app: &'static App = Box::leak(Box::new(App::new(config, dynamodb)));
    let scopes = vec!["webhooks:manage".into(), "events:publish".into()];
    let key = webhook_keys::issue_key(&app.store, &app_id, scopes).await?;
    // Already there on a restart over the same table: fine.
    let _ = webhook_keys::install_fixture_key(&app.store).await;

    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = TcpListener::bind(addr).await.map_err(|e| format!("bind {addr}: {e}"))?;
    println!("API on http://{addr}  (table {})", app.store.table());
    println!("key for app `{app_id}` (webhooks:manage, events:publish): {}", key.key);
    // One line to paste into another terminal: the README's examples and the key tool use these.
    // The AWS credentials are printed only when they are the scripts' dummy ones.
    let mut exports =
        vec![format!("API=http://{addr}"), format!("KEY={}", key.key), format!("TABLE_NAME={}", app.store.table())];
    for name in ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SQS", "AWS_REGION"] {
        if let Ok(value) = std::env::var(name) {
            exports.push(format!("{name}={value}"));
        }
    }
    let dummy = |name: &str| std::env::var(name).is_ok_and(|v| v == "local");
    if dummy("AWS_ACCESS_KEY_ID") && dummy("AWS_SECRET_ACCESS_KEY") {
        exports.push("AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local".to_owned());
    }
    println!("export {}", exports.join(" "));
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
