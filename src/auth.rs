//! Authentication: bearer tokens to principals.
//!
//! Tokens are 256 random bits, shown once when created and kept only as a SHA-256
//! hash (a fast hash is right here: the input has full entropy, so there is nothing
//! to brute-force). A token's id is a prefix of its hash, safe to show and log.
//! Issued and revoked tokens are events in the log (`tokens` stream); the registry is
//! their fold, plus the bootstrap and demo tokens configured at start. The fold
//! follows the live feed ([`TokenRegistry::apply_at`]), so a token issued or revoked
//! on any node sharing the log is accepted or refused here too. A token
//! authenticates a [`Principal`]: the caller every command and read is decided for.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use tokio::sync::watch;

use crate::domain::access::AccessEvent;
use crate::domain::{Actor, Tier, Timestamp};
use crate::store::in_order::InOrder;

/// The authenticated caller of a request or WebSocket connection. The server
/// derives it from the token; a client can never choose it.
#[derive(Clone, Debug)]
pub struct Principal {
    pub actor: Actor,
    /// The tiers an agent or lead works in.
    pub tiers: Vec<crate::domain::Tier>,
    /// The token it authenticated with (none for in-process callers).
    pub token_id: Option<String>,
}

impl Principal {
    /// An in-process caller with a role and no token (demo loader, tests).
    pub fn internal(actor: Actor) -> Self {
        Principal {
            actor,
            tiers: Vec::new(),
            token_id: None,
        }
    }
}

/// A token's hash.
pub type TokenHash = [u8; 32];

pub fn hash_token(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

/// `bytes` as lowercase hex digits, written into one string (every request's token id
/// is made with it).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(2 * bytes.len());
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn unhex(s: &str) -> Option<TokenHash> {
    let mut out = [0u8; 32];
    if s.len() != 64 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The public id of a token: the first 12 hex digits of its hash.
pub fn token_id(hash: &TokenHash) -> String {
    hex(&hash[..6])
}

/// A new random token, `sd_` and 64 hex digits.
pub fn generate_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("sd_{}", hex(&bytes)))
}

/// The token of an `Authorization` value of the form `Bearer <token>`, else `None`.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    let well_formed = scheme.eq_ignore_ascii_case("bearer")
        && !token.is_empty()
        && !token.contains(|c: char| c.is_whitespace() || c.is_control());
    well_formed.then_some(token)
}

/// What a token grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub actor: Actor,
    pub tiers: Vec<Tier>,
    pub expires_at: Option<Timestamp>,
}

/// A token as listed to admins (never the token itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    pub token_id: String,
    pub grant: Grant,
}

/// The tokens the server accepts.
pub struct TokenRegistry {
    tokens: RwLock<HashMap<TokenHash, Grant>>,
    /// Bumped on every revocation, so open connections can re-check their token.
    revocations: watch::Sender<u64>,
    /// Where the fold stands in the `tokens` stream; held while an event is applied,
    /// so events from the start-up read and the live feed apply once, in order.
    folded: Mutex<InOrder<AccessEvent>>,
}

impl Default for TokenRegistry {
    fn default() -> Self {
        TokenRegistry {
            tokens: RwLock::default(),
            revocations: watch::channel(0).0,
            folded: Mutex::default(),
        }
    }
}

impl TokenRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts `token` with `grant` (bootstrap and demo tokens; not in the log).
    pub fn insert(&self, token: &str, grant: Grant) -> String {
        let hash = hash_token(token);
        self.tokens
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(hash, grant);
        token_id(&hash)
    }

    /// Folds the event at `version` of the `tokens` stream: once, in stream order,
    /// whether it comes from a read of the stream or from the live feed (or both).
    pub fn apply_at(&self, version: u64, event: AccessEvent) {
        let mut folded = self.folded.lock().unwrap_or_else(|p| p.into_inner());
        for (_, e) in folded.offer(version, event) {
            self.apply(&e);
        }
    }

    /// Folds one token event.
    fn apply(&self, event: &AccessEvent) {
        let mut tokens = self.tokens.write().unwrap_or_else(|p| p.into_inner());
        match event {
            AccessEvent::TokenIssued(t) => {
                if let Some(hash) = unhex(&t.hash) {
                    let actor = Actor {
                        id: t.user.clone(),
                        role: t.role,
                    };
                    let tiers = t.tiers.iter().map(|n| Tier::new(n.clone())).collect();
                    tokens.insert(
                        hash,
                        Grant {
                            actor,
                            tiers,
                            expires_at: t.expires_at,
                        },
                    );
                }
            }
            AccessEvent::TokenRevoked(t) => {
                tokens.retain(|hash, _| token_id(hash) != t.token_id);
                drop(tokens);
                self.revocations.send_modify(|n| *n += 1);
            }
            AccessEvent::CaseViewed(_) | AccessEvent::CasesViewed(_) => {}
        }
    }

    /// The principal for an `Authorization` header value, if it holds a valid token.
    /// The value must be exactly `Bearer <token>`: the scheme in any case (RFC 9110),
    /// one space, and a token without whitespace.
    pub fn authenticate(&self, header: Option<&str>, now: Timestamp) -> Option<Principal> {
        let token = bearer_token(header?)?;
        let hash = hash_token(token);
        let tokens = self.tokens.read().unwrap_or_else(|p| p.into_inner());
        let grant = tokens.get(&hash)?;
        if grant.expires_at.is_some_and(|t| t <= now) {
            return None;
        }
        Some(Principal {
            actor: grant.actor.clone(),
            tiers: grant.tiers.clone(),
            token_id: Some(token_id(&hash)),
        })
    }

    /// Whether the token is still accepted (not revoked, not expired).
    pub fn is_active(&self, token_id: &str, now: Timestamp) -> bool {
        let tokens = self.tokens.read().unwrap_or_else(|p| p.into_inner());
        tokens
            .iter()
            .any(|(h, g)| self::token_id(h) == token_id && g.expires_at.is_none_or(|t| t > now))
    }

    /// What `user` may do according to their active tokens: the most powerful role
    /// among them (admin over lead over agent) and the union of their tiers. `None`
    /// for a user without an active token.
    pub fn grant_of(&self, user: &crate::domain::AgentId, now: Timestamp) -> Option<Principal> {
        use crate::domain::Role;
        let tokens = self.tokens.read().unwrap_or_else(|p| p.into_inner());
        let rank = |r: Role| match r {
            Role::Admin | Role::System => 4,
            Role::Auditor => 3,
            Role::Lead => 2,
            Role::Agent => 1,
            Role::Customer => 0,
        };
        let mut out: Option<Principal> = None;
        for g in tokens.values() {
            if &g.actor.id != user || g.expires_at.is_some_and(|t| t <= now) {
                continue;
            }
            let p = out.get_or_insert_with(|| Principal::internal(g.actor.clone()));
            if rank(g.actor.role) > rank(p.actor.role) {
                p.actor.role = g.actor.role;
            }
            for t in &g.tiers {
                if !p.tiers.contains(t) {
                    p.tiers.push(t.clone());
                }
            }
        }
        out
    }

    /// Every accepted token, for admins.
    pub fn list(&self) -> Vec<TokenInfo> {
        let tokens = self.tokens.read().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<TokenInfo> = tokens
            .iter()
            .map(|(h, g)| TokenInfo {
                token_id: token_id(h),
                grant: g.clone(),
            })
            .collect();
        out.sort_by(|a, b| a.token_id.cmp(&b.token_id));
        out
    }

    /// Resolves once `token_id` is no longer accepted.
    pub async fn revoked(&self, token_id: String, clock: std::sync::Arc<dyn crate::clock::Clock>) {
        let mut rx = self.revocations.subscribe();
        loop {
            if !self.is_active(&token_id, clock.now()) {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{bearer_token, hex, unhex};

    #[test]
    fn hex_is_two_lowercase_digits_a_byte_and_reads_back() {
        assert_eq!(hex(&[0x00, 0xab, 0x0f, 0xf0]), "00ab0ff0");
        let hash: [u8; 32] = std::array::from_fn(|i| (i * 37) as u8);
        assert_eq!(unhex(&hex(&hash)), Some(hash));
    }

    #[test]
    fn bearer_needs_exactly_one_space_and_a_token() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER abc"), Some("abc"));
        for bad in [
            "Bearer  abc",
            "Bearer abc ",
            " Bearer abc",
            "Bearer\tabc",
            "Bearer ",
            "Bearer",
            "Basic abc",
            "Bearerabc",
            "Bearer a b",
        ] {
            assert_eq!(bearer_token(bad), None, "{bad:?}");
        }
    }
}
