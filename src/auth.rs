//! Authentication: bearer tokens to principals.
//!
//! Tokens are 256 random bits, shown once when created and kept only as a SHA-256
//! hash (a fast hash is right here: the input has full entropy, so there is nothing
//! to brute-force). A token's id is a prefix of its hash, safe to show and log.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::RwLock;

use crate::api::Principal;
use crate::domain::{Actor, Timestamp};

/// A token's hash.
pub type TokenHash = [u8; 32];

pub fn hash_token(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

/// The public id of a token: the first 12 hex digits of its hash.
pub fn token_id(hash: &TokenHash) -> String {
    hash[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random token, `sd_` and 64 hex digits.
pub fn generate_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!(
        "sd_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// What a token grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub actor: Actor,
    pub expires_at: Option<Timestamp>,
}

/// The tokens the server accepts.
#[derive(Default)]
pub struct TokenRegistry {
    tokens: RwLock<HashMap<TokenHash, Grant>>,
}

impl TokenRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&self, token: &str, grant: Grant) {
        self.tokens
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(hash_token(token), grant);
    }

    /// The principal for an `Authorization` header value, if it holds a valid token.
    pub fn authenticate(&self, header: Option<&str>, now: Timestamp) -> Option<Principal> {
        let token = header?.trim().strip_prefix("Bearer ")?.trim();
        let tokens = self.tokens.read().unwrap_or_else(|p| p.into_inner());
        let grant = tokens.get(&hash_token(token))?;
        if grant.expires_at.is_some_and(|t| t <= now) {
            return None;
        }
        Some(Principal {
            actor: grant.actor.clone(),
        })
    }
}
