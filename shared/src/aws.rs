//! The AWS SDK configuration every client is built from, once per container: rustls+ring HTTPS
//! trusting Amazon's roots (see `trust`), short timeouts and few retries, because a caller waiting
//! on an API Gateway request (or a batch waiting on one message) is better served by a quick
//! failure than a long stall. The SDK's own variables point a client elsewhere:
//! `AWS_ENDPOINT_URL_DYNAMODB` (DynamoDB Local), `AWS_ENDPOINT_URL_SQS` (moto's SQS server).

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

use crate::trust::{ExtraRoots, AMAZON_TRUST_SERVICES_ROOTS_PEM};

/// The shared SDK configuration. The only error is an unreadable `DYNAMODB_EXTRA_CA_FILE` (extra
/// roots for a TLS-fronted local service), named in the message.
pub async fn sdk_config() -> Result<SdkConfig, String> {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider, TlsContext, TrustStore};
    let mut trust = TrustStore::empty().with_native_roots(false).with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS_PEM);
    if let Some(extra) = ExtraRoots::from_env("DYNAMODB_EXTRA_CA_FILE")? {
        trust = trust.with_pem_certificate(extra.pem);
    }
    let tls = TlsContext::builder().with_trust_store(trust).build().map_err(|e| format!("AWS TLS: {e}"))?;
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls)
        .build_https();
    Ok(aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(20))
                .with_max_backoff(Duration::from_millis(500)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(3))
                .operation_timeout(Duration::from_secs(7))
                .build(),
        )
        .load()
        .await)
}
