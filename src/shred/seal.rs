//! A personal field sealed as text: [`SEALED_PREFIX`], the base64 id of the customer's
//! data key, `:`, then base64 of a random 12-byte nonce and the ChaCha20-Poly1305
//! ciphertext of the field (associated data: the customer id and the key id, so that
//! a sealed field cannot be moved to another customer). A sealed field stays a
//! string, so an event's schema does not change; a field without the prefix (written
//! before sealing, or never personal) opens as itself.

use base64::Engine;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::Nonce;
use std::borrow::Cow;

use super::keys::{DataKey, KeyStore, ID_BYTES, NONCE_BYTES};
use super::ShredError;

/// What a sealed field starts with.
pub const SEALED_PREFIX: &str = "sealed:v1:";

/// What a sealed field reads as once its customer's key is destroyed: stable, for
/// people and programs alike.
pub const ERASED: &str = "[erased]";

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD_NO_PAD
}

fn aad(customer: &str, key_id: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(customer.len() + 1 + key_id.len());
    aad.extend_from_slice(customer.as_bytes());
    aad.push(0);
    aad.extend_from_slice(key_id);
    aad
}

/// `text` sealed with the customer's data key.
pub fn seal(key: &DataKey, customer: &str, text: &str) -> Result<String, ShredError> {
    let mut nonce = [0u8; NONCE_BYTES];
    getrandom::fill(&mut nonce).map_err(|e| ShredError::Io(format!("no randomness: {e}")))?;
    let sealed = key
        .cipher()
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: text.as_bytes(),
                aad: &aad(customer, &key.id),
            },
        )
        .map_err(|_| ShredError::Io("cannot seal a field".into()))?;
    let mut body = nonce.to_vec();
    body.extend_from_slice(&sealed);
    Ok(format!(
        "{SEALED_PREFIX}{}:{}",
        b64().encode(key.id),
        b64().encode(body)
    ))
}

/// Whether `text` is a sealed field.
pub fn is_sealed(text: &str) -> bool {
    text.starts_with(SEALED_PREFIX)
}

/// The field `text` of `customer` in clear: itself if not sealed; [`ERASED`] if the
/// key it was sealed with is gone (destroyed, or replaced by a new one). A sealed
/// field that is malformed, or does not open with the customer's current key of the
/// same id, is an error (a damaged or forged field, or another master key).
pub fn open<'t>(
    keys: &KeyStore,
    customer: &str,
    text: &'t str,
) -> Result<Cow<'t, str>, ShredError> {
    let Some(rest) = text.strip_prefix(SEALED_PREFIX) else {
        return Ok(Cow::Borrowed(text));
    };
    let damaged = || ShredError::Unwrap(customer.into());
    let (id, body) = rest.split_once(':').ok_or_else(damaged)?;
    let id = b64().decode(id).map_err(|_| damaged())?;
    let body = b64().decode(body).map_err(|_| damaged())?;
    if id.len() != ID_BYTES || body.len() < NONCE_BYTES {
        return Err(damaged());
    }
    let key = match keys.get(customer)? {
        Some(key) if key.id[..] == id[..] => key,
        _ => return Ok(Cow::Borrowed(ERASED)),
    };
    let (nonce, sealed) = body.split_at(NONCE_BYTES);
    let clear = key
        .cipher()
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: &aad(customer, &id),
            },
        )
        .map_err(|_| damaged())?;
    String::from_utf8(clear)
        .map(Cow::Owned)
        .map_err(|_| damaged())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shred::MasterKey;

    fn store() -> (tempfile::TempDir, KeyStore) {
        let dir = tempfile::tempdir().unwrap();
        let (master, _) = MasterKey::load(dir.path(), |_: &str| None).unwrap();
        let keys = KeyStore::open(dir.path(), master).unwrap();
        (dir, keys)
    }

    #[test]
    fn a_sealed_field_opens_until_its_key_is_destroyed() {
        let (dir, keys) = store();
        let key = keys.get_or_create("globex").unwrap();
        let sealed = seal(&key, "globex", "Hank Scorpio, +1 555 0100").unwrap();
        assert!(
            is_sealed(&sealed) && !sealed.contains("Scorpio"),
            "{sealed}"
        );
        assert_ne!(
            sealed,
            seal(&key, "globex", "Hank Scorpio, +1 555 0100").unwrap()
        );
        assert_eq!(
            open(&keys, "globex", &sealed).unwrap(),
            "Hank Scorpio, +1 555 0100"
        );
        // Fields never sealed read as they are.
        assert_eq!(open(&keys, "globex", "plain").unwrap(), "plain");
        // Sealed for one customer, it does not open as another's.
        keys.get_or_create("initech").unwrap();
        assert_eq!(open(&keys, "initech", &sealed).unwrap(), ERASED);
        keys.destroy("globex").unwrap();
        assert_eq!(open(&keys, "globex", &sealed).unwrap(), ERASED);
        // A new key for the customer does not bring the old fields back.
        keys.get_or_create("globex").unwrap();
        assert_eq!(open(&keys, "globex", &sealed).unwrap(), ERASED);
        drop(dir);
    }

    #[test]
    fn a_changed_sealed_field_is_refused() {
        let (_dir, keys) = store();
        let key = keys.get_or_create("globex").unwrap();
        let sealed = seal(&key, "globex", "a message body").unwrap();
        let mut changed = sealed.clone().into_bytes();
        let last = changed.len() - 2;
        changed[last] = if changed[last] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(changed).unwrap();
        assert!(open(&keys, "globex", &changed).is_err());
        assert!(open(&keys, "globex", "sealed:v1:garbage").is_err());
    }
}
