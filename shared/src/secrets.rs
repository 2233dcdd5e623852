//! Random material from the OS CSPRNG: signing secrets and API keys.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256};

pub use getrandom::Error as RandomError;

/// `N` bytes from the OS CSPRNG; fails only when the OS has none to give.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)?;
    Ok(bytes)
}

/// `whsec_` + standard base64 of 32 random bytes (contract, "Secrets and signatures"; Standard Webhooks).
pub fn new_signing_secret() -> Result<String, RandomError> {
    Ok(format!("whsec_{}", STANDARD.encode(random_bytes::<32>()?)))
}

/// `whk_` + 43 base64url characters (32 random bytes; contract, "Authentication and tenancy").
pub fn new_api_key() -> Result<String, RandomError> {
    Ok(format!("whk_{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()?)))
}

/// The key item's id: lower-case hex SHA-256 of the whole key string.
pub fn api_key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_keys_have_the_contract_shapes_and_differ() {
        let secret = new_signing_secret().unwrap();
        let raw = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
        assert_eq!(raw.len(), 32);
        assert_ne!(secret, new_signing_secret().unwrap());
        let key = new_api_key().unwrap();
        let body = key.strip_prefix("whk_").unwrap();
        assert_eq!(body.len(), 43);
        assert!(body.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn key_hash_is_lower_hex_sha256_of_the_whole_key() {
        assert_eq!(api_key_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
