//! Which certificate authorities the two outbound TLS clients trust. Both lists are compiled in:
//! reading and parsing the system bundle (~150 certificates, read twice where a distribution keeps
//! them as one file and as a directory) was most of a cold start's init, and a list in the binary
//! does not depend on the image it runs on.
//!
//! - DynamoDB: Amazon Trust Services' roots, the CAs AWS issues its endpoints' certificates from
//!   (Amazon Root CA 1–4 and Starfield Services Root CA G2), so no other CA can vouch for the
//!   endpoint; plus `DYNAMODB_EXTRA_CA_FILE` (a TLS proxy in front of DynamoDB Local, as the
//!   benchmark runs).
//! - Deliveries: Mozilla's root program (webpki-roots), the list public receivers' certificates
//!   chain to and the one the system bundle is derived from; plus `WEBHOOK_EXTRA_CA_FILE` (a private
//!   CA in development and tests).

use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::RootCertStore;

/// Amazon Root CA 1–4 and Starfield Services Root Certificate Authority - G2, as published at
/// https://www.amazontrust.com/repository/ (SHA-256 fingerprints checked against it: 8ECDE688…,
/// 1BA5B2AA…, 18CE6CFE…, E35D2841…, 568D6905…).
pub const AMAZON_TRUST_SERVICES_ROOTS_PEM: &[u8] = include_bytes!("../certs/amazon-trust-services-roots.pem");

/// The roots for webhook receivers.
pub fn public_web_roots() -> RootCertStore {
    RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() }
}

/// Extra roots from the PEM file a variable names, every certificate checked to be usable as a
/// root (so a bad file is an error here, not a failure later).
pub struct ExtraRoots {
    pub pem: Vec<u8>,
    pub certs: Vec<CertificateDer<'static>>,
}

impl ExtraRoots {
    /// `variable` names the setting in errors.
    pub fn read(variable: &str, path: &str) -> Result<ExtraRoots, String> {
        let fail = |e: &dyn std::fmt::Display| format!("{variable} {path}: {e}");
        let pem = std::fs::read(path).map_err(|e| fail(&e))?;
        let certs = CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>().map_err(|e| fail(&e))?;
        if certs.is_empty() {
            return Err(fail(&"no certificate in it"));
        }
        let mut check = RootCertStore::empty();
        for cert in &certs {
            check.add(cert.clone()).map_err(|e| fail(&e))?;
        }
        Ok(ExtraRoots { pem, certs })
    }

    /// The file `variable` names, if it is set and not blank.
    pub fn from_env(variable: &str) -> Result<Option<ExtraRoots>, String> {
        match std::env::var(variable) {
            Ok(path) if !path.trim().is_empty() => ExtraRoots::read(variable, &path).map(Some),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_amazon_roots_are_the_five_trust_services_roots() {
        let certs: Vec<_> = CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES_ROOTS_PEM).collect();
        assert_eq!(certs.len(), 5);
        let mut store = RootCertStore::empty();
        let (valid, invalid) = store.add_parsable_certificates(certs.into_iter().map(Result::unwrap));
        assert_eq!((valid, invalid), (5, 0));
        let subjects: Vec<String> =
            store.roots.iter().map(|anchor| String::from_utf8_lossy(anchor.subject.as_ref()).into_owned()).collect();
        for name in ["Amazon Root CA 1", "Amazon Root CA 4", "Starfield Services Root Certificate Authority - G2"] {
            assert!(subjects.iter().any(|s| s.contains(name)), "{name} missing");
        }
    }

    #[test]
    fn the_public_web_roots_are_mozillas_list() {
        let roots = public_web_roots();
        assert!(roots.len() > 100, "{} roots", roots.len());
        let subjects = roots.roots.iter().map(|a| String::from_utf8_lossy(a.subject.as_ref()).into_owned());
        assert!(subjects.clone().any(|s| s.contains("ISRG Root X1")), "Let's Encrypt's root missing");
    }

    #[test]
    fn a_bad_extra_roots_file_is_an_error_naming_the_variable() {
        let dir = std::env::temp_dir().join(format!("trust-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let garbage = dir.join("garbage.pem");
        std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap();
        for path in [empty.to_str().unwrap(), garbage.to_str().unwrap(), "/nonexistent/ca.pem"] {
            let err = ExtraRoots::read("DYNAMODB_EXTRA_CA_FILE", path).err().unwrap();
            assert!(err.starts_with(&format!("DYNAMODB_EXTRA_CA_FILE {path}: ")), "{err}");
        }
        let good = dir.join("good.pem");
        std::fs::write(&good, AMAZON_TRUST_SERVICES_ROOTS_PEM).unwrap();
        assert_eq!(ExtraRoots::read("X", good.to_str().unwrap()).unwrap().certs.len(), 5);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
