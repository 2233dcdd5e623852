//! Standard Webhooks signatures: `webhook-signature: v1,<base64(HMAC-SHA256(key, "{id}.{ts}.{body}"))>`,
//! one space-separated entry per valid secret. The key is the base64 part of `whsec_…`, decoded.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A stored signing secret that is not `whsec_` + base64: the item is corrupt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidSecret;

/// The three headers of a signed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub webhook_id: String,
    pub webhook_timestamp: String,
    pub webhook_signature: String,
}

fn secret_key(secret: &str) -> Result<Vec<u8>, InvalidSecret> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    STANDARD.decode(encoded).map_err(|_| InvalidSecret)
}

/// One `v1,` signature.
pub fn sign(secret: &str, id: &str, timestamp: u64, body: &[u8]) -> Result<String, InvalidSecret> {
    let key = secret_key(secret)?;
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).map_err(|_| InvalidSecret)?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

/// The headers for `body`, signed with every secret in `secrets` (current first).
pub fn signed_headers(
    secrets: &[String],
    id: &str,
    timestamp: u64,
    body: &[u8],
) -> Result<SignedHeaders, InvalidSecret> {
    let signatures = secrets.iter().map(|s| sign(s, id, timestamp, body)).collect::<Result<Vec<_>, _>>()?;
    Ok(SignedHeaders {
        webhook_id: id.to_owned(),
        webhook_timestamp: timestamp.to_string(),
        webhook_signature: signatures.join(" "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::{HeaderMap, HeaderValue};

    const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const VECTOR_TIMESTAMP: u64 = 1614265330;
    const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;

    #[test]
    fn reproduces_the_standard_webhooks_test_vector() {
        let signature = sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY).unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        // The prefix is optional, as in the reference libraries.
        let bare = VECTOR_SECRET.trim_start_matches("whsec_");
        assert_eq!(sign(bare, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY).unwrap(), signature);
        assert_ne!(sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, br#"{"test": 2432232315}"#).unwrap(), signature);
    }

    fn headers(signed: &SignedHeaders) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert("webhook-id", HeaderValue::from_str(&signed.webhook_id).unwrap());
        map.insert("webhook-timestamp", HeaderValue::from_str(&signed.webhook_timestamp).unwrap());
        map.insert("webhook-signature", HeaderValue::from_str(&signed.webhook_signature).unwrap());
        map
    }

    #[test]
    fn the_official_library_verifies_each_secret_of_a_multi_signature_header() {
        let old = crate::secrets::new_signing_secret().unwrap();
        let new = crate::secrets::new_signing_secret().unwrap();
        let now = crate::time::now_millis() / 1000;
        let body = br#"{"type":"webhook.test"}"#;
        let signed =
            signed_headers(&[new.clone(), old.clone()], "0193a5b0-7c2e-7d3f-8a4b-5c6d7e8f9a0b", now, body).unwrap();
        assert_eq!(signed.webhook_signature.split(' ').count(), 2);
        for secret in [&new, &old] {
            let verifier = standardwebhooks::Webhook::new(secret).unwrap();
            verifier.verify(body, &headers(&signed)).expect("accepted unmodified");
            assert!(verifier.verify(b"{}", &headers(&signed)).is_err(), "another body fails");
        }
        let stranger = standardwebhooks::Webhook::new(&crate::secrets::new_signing_secret().unwrap()).unwrap();
        assert!(stranger.verify(body, &headers(&signed)).is_err(), "another secret fails");
    }
}
