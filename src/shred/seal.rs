//! A personal field sealed as text: [`SEALED_PREFIX`], the base64 customer id, `:`,
//! the base64 id of the customer's data key, `:`, then base64 of a random 12-byte
//! nonce and the ChaCha20-Poly1305 ciphertext of the field (associated data: the
//! customer id and the key id, so that a sealed field cannot be moved to another
//! customer). A sealed field stays a string, so an event's schema does not change,
//! and it names its customer (an id the log holds in clear anyway), so it opens
//! wherever it is found without knowing which case it came from. A field without the
//! prefix (written before sealing, or never personal) opens as itself.

use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadInPlace, Payload};
use chacha20poly1305::Nonce;
use std::borrow::Cow;

use super::keys::{DataKey, KeyStore, ID_BYTES, NONCE_BYTES};
use super::ShredError;

/// Bytes of the Poly1305 tag after the ciphertext.
const TAG_BYTES: usize = 16;

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

/// `text` sealed with the customer's data key, encrypted in place in the buffer that
/// then holds the nonce, the ciphertext and the tag, written out in one string.
pub fn seal(key: &DataKey, customer: &str, text: &str) -> Result<String, ShredError> {
    let mut body = Vec::with_capacity(NONCE_BYTES + text.len() + TAG_BYTES);
    body.resize(NONCE_BYTES, 0);
    getrandom::fill(&mut body).map_err(|e| ShredError::Io(format!("no randomness: {e}")))?;
    body.extend_from_slice(text.as_bytes());
    let (nonce, msg) = body.split_at_mut(NONCE_BYTES);
    let tag = key
        .cipher()
        .encrypt_in_place_detached(Nonce::from_slice(nonce), &aad(customer, &key.id), msg)
        .map_err(|_| ShredError::Io("cannot seal a field".into()))?;
    body.extend_from_slice(&tag);
    let b64_len = |n: usize| n.div_ceil(3) * 4;
    let mut out = String::with_capacity(
        SEALED_PREFIX.len() + b64_len(customer.len()) + b64_len(ID_BYTES) + b64_len(body.len()) + 2,
    );
    out.push_str(SEALED_PREFIX);
    b64().encode_string(customer, &mut out);
    out.push(':');
    b64().encode_string(key.id, &mut out);
    out.push(':');
    b64().encode_string(&body, &mut out);
    Ok(out)
}

/// Whether `text` is a sealed field.
pub fn is_sealed(text: &str) -> bool {
    text.starts_with(SEALED_PREFIX)
}

/// A sealed field taken apart.
pub struct Sealed {
    pub customer: String,
    pub key_id: [u8; ID_BYTES],
    /// The nonce, then the ciphertext.
    body: Vec<u8>,
}

impl Sealed {
    /// `text` taken apart: `None` if it is not sealed, an error if it is malformed.
    pub fn parse(text: &str) -> Option<Result<Sealed, ShredError>> {
        let rest = text.strip_prefix(SEALED_PREFIX)?;
        let damaged = || ShredError::Damaged;
        let parse = || {
            let mut parts = rest.splitn(3, ':');
            let mut next = || {
                parts
                    .next()
                    .and_then(|p| b64().decode(p).ok())
                    .ok_or_else(damaged)
            };
            let customer = String::from_utf8(next()?).map_err(|_| damaged())?;
            let key_id = next()?.try_into().map_err(|_| damaged())?;
            let body = next()?;
            if body.len() < NONCE_BYTES {
                return Err(damaged());
            }
            Ok(Sealed {
                customer,
                key_id,
                body,
            })
        };
        Some(parse())
    }

    /// The field in clear with `key` (the customer's current key, if any): [`ERASED`]
    /// when there is none or it is another key (the sealing key was destroyed).
    pub fn open(&self, key: Option<&DataKey>) -> Result<String, ShredError> {
        let Some(key) = key.filter(|k| k.id == self.key_id) else {
            return Ok(ERASED.into());
        };
        let (nonce, sealed) = self.body.split_at(NONCE_BYTES);
        let clear = key
            .cipher()
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad(&self.customer, &self.key_id),
                },
            )
            .map_err(|_| ShredError::Damaged)?;
        String::from_utf8(clear).map_err(|_| ShredError::Damaged)
    }
}

/// The field `text` in clear: itself if not sealed; [`ERASED`] if the key it was
/// sealed with is gone (destroyed, or replaced by a new one). A sealed field that is
/// malformed, or does not open with its customer's key of the same id, is an error
/// (a damaged or forged field).
pub fn open<'t>(keys: &KeyStore, text: &'t str) -> Result<Cow<'t, str>, ShredError> {
    let Some(sealed) = Sealed::parse(text) else {
        return Ok(Cow::Borrowed(text));
    };
    let sealed = sealed?;
    let key = keys.get(&sealed.customer)?;
    sealed.open(key.as_ref()).map(Cow::Owned)
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
        assert_eq!(open(&keys, &sealed).unwrap(), "Hank Scorpio, +1 555 0100");
        // The layout fields written before are read by: the customer, the key's id,
        // then the nonce, the ciphertext and the tag, and the string is exactly that.
        let parts: Vec<&str> = sealed
            .strip_prefix(SEALED_PREFIX)
            .unwrap()
            .split(':')
            .collect();
        let body = b64().decode(parts[2]).unwrap();
        assert_eq!(b64().decode(parts[0]).unwrap(), b"globex");
        assert_eq!(b64().decode(parts[1]).unwrap(), key.id);
        assert_eq!(
            body.len(),
            NONCE_BYTES + "Hank Scorpio, +1 555 0100".len() + TAG_BYTES
        );
        let clear = key
            .cipher()
            .decrypt(
                Nonce::from_slice(&body[..NONCE_BYTES]),
                Payload {
                    msg: &body[NONCE_BYTES..],
                    aad: &aad("globex", &key.id),
                },
            )
            .unwrap();
        assert_eq!(clear, b"Hank Scorpio, +1 555 0100");
        // Fields never sealed read as they are.
        assert_eq!(open(&keys, "plain").unwrap(), "plain");
        // Sealed for one customer, it does not open as another's.
        let other = keys.get_or_create("initech").unwrap();
        let moved = Sealed::parse(&sealed).unwrap().unwrap();
        assert_eq!(moved.open(Some(&other)).unwrap(), ERASED);
        keys.destroy("globex").unwrap();
        assert_eq!(open(&keys, &sealed).unwrap(), ERASED);
        // A new key for the customer does not bring the old fields back.
        keys.get_or_create("globex").unwrap();
        assert_eq!(open(&keys, &sealed).unwrap(), ERASED);
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
        assert!(open(&keys, &changed).is_err());
        assert!(open(&keys, "sealed:v1:garbage").is_err());
        // Another customer's name on the field: the associated data no longer matches.
        keys.get_or_create("initech").unwrap();
        let (_, rest) = sealed.split_at(SEALED_PREFIX.len());
        let (_, tail) = rest.split_once(':').unwrap();
        let forged = format!("{SEALED_PREFIX}{}:{tail}", b64().encode("initech"));
        assert!(open(&keys, &forged).is_ok_and(|t| t == ERASED));
    }
}
