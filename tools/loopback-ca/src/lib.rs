//! A certificate authority generated per use and a server certificate for 127.0.0.1 signed by it.
//! Whoever connects trusts the CA through its PEM file (`WEBHOOK_EXTRA_CA_FILE` for deliveries,
//! `SSL_CERT_FILE` for the AWS SDK).

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
pub use tokio_rustls::TlsAcceptor;

/// A certificate authority and a server certificate for 127.0.0.1, signed by it.
pub struct LoopbackCa {
    /// The CA certificate as PEM, for `WEBHOOK_EXTRA_CA_FILE`.
    pub pem_file: PathBuf,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: Vec<u8>,
}

impl LoopbackCa {
    pub fn new() -> LoopbackCa {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "webhook loopback CA");
        let ca_key = KeyPair::generate().expect("CA key");
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);
        let mut server_params = CertificateParams::new(Vec::<String>::new()).expect("server params");
        server_params.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        server_params.distinguished_name.push(DnType::CommonName, "127.0.0.1");
        let server_key = KeyPair::generate().expect("server key");
        let server_cert = server_params.signed_by(&server_key, &issuer).expect("server certificate");

        static NEXT: AtomicU32 = AtomicU32::new(0);
        let pem_file = std::env::temp_dir().join(format!(
            "webhook-loopback-ca-{}-{}.pem",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&pem_file, ca_cert.pem()).expect("write CA file");
        LoopbackCa { pem_file, server_chain: vec![server_cert.der().clone()], server_key: server_key.serialize_der() }
    }

    /// Serves the 127.0.0.1 certificate.
    pub fn acceptor(&self) -> TlsAcceptor {
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone()));
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(self.server_chain.clone(), key)
            .expect("server TLS config");
        TlsAcceptor::from(Arc::new(config))
    }

    pub fn pem_path(&self) -> &str {
        self.pem_file.to_str().expect("UTF-8 temp path")
    }
}

impl Default for LoopbackCa {
    fn default() -> Self {
        LoopbackCa::new()
    }
}
