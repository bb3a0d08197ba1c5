//! Crypto-shredding, the right to erasure (GDPR Art. 17) without breaking the log or
//! its hash chain: a customer's personal fields are stored encrypted with that
//! customer's own data key, kept outside the log, so that destroying the key
//! (`forgetCustomer`, [`crate::app::Desk::forget_customer`]) erases them everywhere
//! the log was copied, while every event, hash and link stays as it was.
//!
//! - [`keys`]: the key store: one data key per customer, each wrapped (encrypted) by
//!   the master key, one file per key in `DATA/keys/` with the embedded store (a
//!   destroyed key's file is overwritten before it is removed), one row per key in
//!   the log's database with PostgreSQL ([`pg_keys`], a destroyed key's row deleted). The master key comes from `SWARMDESK_MASTER_KEY`
//!   (base64 of 32 bytes), or a file named by `SWARMDESK_MASTER_KEY_FILE`; without
//!   either, a development key is made once in `DATA/keys/master.key` (which protects
//!   nothing from whoever can read the data directory).
//! - [`seal`]: a personal field sealed as text (a stable prefix, the customer id, the
//!   key's id and the ciphertext), and opened back, or [`ERASED`] once its key is gone.
//! - [`vault`]: the key store with the master key in use: seals a customer's field,
//!   opens any sealed field, forgets a customer (destroys their key).
//! - [`follow`]: on PostgreSQL, drops from memory the key of a customer another node
//!   forgot, as the `CustomerForgotten` event arrives on the live feed.
//! - [`personal`]: which fields are personal, sealed before events reach the log
//!   (the command service) and opened where they are read (the API's answers,
//!   exports, searches, reports).
//!
//! ChaCha20-Poly1305 (RustCrypto) does the encryption; keys and nonces are random
//! (`getrandom`). Nothing here is hand-written cryptography.

pub mod follow;
pub mod keys;
pub mod personal;
pub mod pg_keys;
pub mod seal;
pub mod vault;

pub use keys::{KeyStore, MasterKey, MasterSource};
pub use seal::{open, seal, ERASED};
pub use vault::{Vault, UNREADABLE};

/// What can go wrong with keys.
#[derive(Debug, thiserror::Error)]
pub enum ShredError {
    #[error("the master key: {0}")]
    MasterKey(String),
    #[error("the key store: {0}")]
    Io(String),
    /// A wrapped key does not open with the master key in use (another master key,
    /// or a damaged key file).
    #[error("the data key of `{0}` does not open with this master key")]
    Unwrap(String),
    /// A sealed field is malformed or was changed.
    #[error("a sealed field is damaged")]
    Damaged,
}
