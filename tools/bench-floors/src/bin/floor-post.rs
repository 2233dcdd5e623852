//! The least an SQS-fed Lambda that sends webhooks can do: for each message, one HTTPS POST with
//! hyper and rustls (a fresh connection each time, as the deliver worker makes, since it resolves
//! and vets the address per send), reading the answer. No DynamoDB, no signing, no record: the
//! floor the deliver worker's cost per delivery is compared with.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use lambda_runtime::{service_fn, LambdaEvent};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

async fn post(tls: &TlsConnector, address: &str, body: &[u8]) -> Result<u16, String> {
    let tcp = tokio::net::TcpStream::connect(address).await.map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    let name = ServerName::try_from("127.0.0.1").map_err(|e| e.to_string())?;
    let stream = tls.connect(name, tcp).await.map_err(|e| e.to_string())?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    let driver = tokio::spawn(connection);
    let request = hyper::Request::post("/floor")
        .header("host", address)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::copy_from_slice(body)))
        .map_err(|e| e.to_string())?;
    let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let _ = response.into_body().collect().await;
    driver.abort();
    Ok(status)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    // `host:port` of the receiver, and the PEM of the CA that signed its certificate.
    let address: &'static str = Box::leak(std::env::var("FLOOR_RECEIVER")?.into_boxed_str());
    let pem = std::fs::read(std::env::var("WEBHOOK_EXTRA_CA_FILE")?)?;
    let mut roots = RootCertStore::empty();
    for cert in rustls_pemfile_certs(&pem) {
        roots.add(cert)?;
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tls: &'static TlsConnector = Box::leak(Box::new(TlsConnector::from(Arc::new(config))));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let mut response = SqsBatchResponse::default();
        for message in event.payload.records {
            let body = message.body.unwrap_or_default();
            if !matches!(post(tls, address, body.as_bytes()).await, Ok(200..=299)) {
                response.add_failure(message.message_id.unwrap_or_default());
            }
        }
        Ok::<_, lambda_runtime::Error>(response)
    }))
    .await
}

/// The DER certificates of a PEM file (rustls' own PEM reader).
fn rustls_pemfile_certs(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem).filter_map(Result::ok).collect()
}
