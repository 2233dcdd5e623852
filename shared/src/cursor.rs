//! Opaque page cursors: the last id of a page plus a MAC over that id and the list it belongs to
//! (app, endpoint list or one endpoint's deliveries, filter). A cursor altered by one character,
//! forged, or carried to another list fails the MAC and is `invalid_cursor`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

/// A cursor that is not from this list: corrupted, forged, or carried from another list
/// (contract, "Pagination": 400 `invalid_cursor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidCursor;

const MAC_LEN: usize = 16;

/// Which list a cursor belongs to; every part is bound into the MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListId<'a> {
    Endpoints { app_id: &'a str },
    Deliveries { app_id: &'a str, webhook_id: Uuid, status: Option<&'a str> },
    Events { app_id: &'a str, event_type: Option<&'a str> },
}

impl ListId<'_> {
    fn binding(&self) -> String {
        match self {
            ListId::Endpoints { app_id } => format!("endpoints\n{app_id}"),
            ListId::Deliveries { app_id, webhook_id, status } => {
                format!("deliveries\n{app_id}\n{webhook_id}\n{}", status.unwrap_or("*"))
            }
            ListId::Events { app_id, event_type } => format!("events\n{app_id}\n{}", event_type.unwrap_or("*")),
        }
    }
}

/// The per-deployment MAC key (kept in the table, loaded once per container).
#[derive(Clone)]
pub struct CursorKey([u8; 32]);

impl CursorKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        CursorKey(bytes)
    }

    fn mac(&self, list: ListId<'_>, last_id: Uuid) -> [u8; MAC_LEN] {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        mac.update(list.binding().as_bytes());
        mac.update(b"\n");
        mac.update(last_id.as_bytes());
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }

    pub fn encode(&self, list: ListId<'_>, last_id: Uuid) -> String {
        let mut bytes = Vec::with_capacity(16 + MAC_LEN);
        bytes.extend_from_slice(last_id.as_bytes());
        bytes.extend_from_slice(&self.mac(list, last_id));
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn decode(&self, list: ListId<'_>, cursor: &str) -> Result<Uuid, InvalidCursor> {
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| InvalidCursor)?;
        // Reject non-canonical spellings (unused trailing bits) so each cursor has one form.
        if bytes.len() != 16 + MAC_LEN || URL_SAFE_NO_PAD.encode(&bytes) != cursor {
            return Err(InvalidCursor);
        }
        let (id, tag) = bytes.split_at(16);
        let id = Uuid::from_slice(id).map_err(|_| InvalidCursor)?;
        let expected = self.mac(list, id);
        // Constant-time comparison: the tag must not be guessable byte by byte.
        let diff = expected.iter().zip(tag).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff != 0 {
            return Err(InvalidCursor);
        }
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CursorKey {
        CursorKey::new([7u8; 32])
    }

    const APP: ListId<'static> = ListId::Endpoints { app_id: "app-a" };

    #[test]
    fn round_trips_on_its_own_list() {
        let id = Uuid::now_v7();
        let cursor = key().encode(APP, id);
        assert_eq!(key().decode(APP, &cursor).unwrap(), id);
    }

    #[test]
    fn every_single_character_change_is_rejected() {
        let cursor = key().encode(APP, Uuid::now_v7());
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for (i, original) in cursor.char_indices() {
            for replacement in alphabet.chars().filter(|c| *c != original) {
                let mut altered = cursor.clone();
                altered.replace_range(i..i + 1, &replacement.to_string());
                assert!(key().decode(APP, &altered).is_err(), "accepted {altered}");
            }
        }
    }

    #[test]
    fn rejects_other_lists_other_keys_forgeries_and_junk() {
        let id = Uuid::now_v7();
        let webhook_id = Uuid::now_v7();
        let cursor = key().encode(APP, id);
        assert!(key().decode(ListId::Endpoints { app_id: "app-b" }, &cursor).is_err());
        let deliveries = ListId::Deliveries { app_id: "app-a", webhook_id, status: None };
        assert!(key().decode(deliveries, &cursor).is_err());
        let d_cursor = key().encode(deliveries, id);
        let other_hook = ListId::Deliveries { app_id: "app-a", webhook_id: Uuid::now_v7(), status: None };
        assert!(key().decode(other_hook, &d_cursor).is_err());
        let filtered = ListId::Deliveries { app_id: "app-a", webhook_id, status: Some("failed") };
        assert!(key().decode(filtered, &d_cursor).is_err());
        assert!(CursorKey::new([8u8; 32]).decode(APP, &cursor).is_err());
        let forged = URL_SAFE_NO_PAD.encode([id.as_bytes().as_slice(), &[0u8; MAC_LEN]].concat());
        assert!(key().decode(APP, &forged).is_err());
        for junk in ["", "abc", "====", &format!("{cursor}A"), &cursor[1..]] {
            assert!(key().decode(APP, junk).is_err(), "{junk}");
        }
    }
}
