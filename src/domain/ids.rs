//! Identifiers, timestamps and actors: small value types every layer shares.

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use super::error::DomainError;

/// A case's identity: a ULID, so ids sort by creation time and need no coordination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CaseId(pub ulid::Ulid);

impl CaseId {
    /// The prefix of a case's stream name in the log.
    pub const STREAM_PREFIX: &'static str = "case-";

    /// The name of this case's event stream.
    pub fn stream(&self) -> String {
        format!("{}{}", Self::STREAM_PREFIX, self.0)
    }

    /// The case a stream name belongs to, if it is a case stream.
    pub fn from_stream(stream: &str) -> Option<CaseId> {
        stream
            .strip_prefix(Self::STREAM_PREFIX)
            .and_then(|s| s.parse().ok())
            .map(CaseId)
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for CaseId {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(CaseId).map_err(|_| {
            DomainError::Invalid(format!("`{s}` is not a case id (a 26-character ULID)"))
        })
    }
}

/// An agent's (or any user's) stable id, e.g. `alice` or `alice@example.com`. Up to
/// 24 bytes are held inline (encoded as a string, as before).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AgentId(CompactString);

impl AgentId {
    pub const MAX_LEN: usize = 64;

    /// Accepts 1..=64 characters of letters, digits and `. _ - @ +`.
    pub fn new(id: impl Into<String>) -> Result<Self, DomainError> {
        let id = id.into();
        let ok_char = |c: char| c.is_ascii_alphanumeric() || "._-@+".contains(c);
        if id.is_empty() || id.len() > Self::MAX_LEN || !id.chars().all(ok_char) {
            return Err(DomainError::Invalid(format!(
                "`{id}` is not a valid user id (1-{} characters: letters, digits, . _ - @ +)",
                Self::MAX_LEN
            )));
        }
        Ok(AgentId(id.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Microseconds since the Unix epoch, UTC. A plain integer keeps events compact and
/// comparisons exact. Binary formats (postcard: the log, snapshots) store the integer;
/// human-readable ones (JSON exports and payloads) write RFC 3339, as the API does,
/// and read either form, so exports of earlier builds (integers) still import.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(pub i64);

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&self.to_rfc3339())
        } else {
            serializer.serialize_newtype_struct("Timestamp", &self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Micros;
        impl serde::de::Visitor<'_> for Micros {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 time or microseconds since the Unix epoch")
            }
            fn visit_i64<E: serde::de::Error>(self, us: i64) -> Result<Timestamp, E> {
                Ok(Timestamp(us))
            }
            fn visit_u64<E: serde::de::Error>(self, us: u64) -> Result<Timestamp, E> {
                i64::try_from(us)
                    .map(Timestamp)
                    .map_err(|_| E::custom(format!("{us} microseconds is out of range")))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Timestamp, E> {
                Timestamp::parse_rfc3339(s).map_err(E::custom)
            }
        }
        if deserializer.is_human_readable() {
            deserializer.deserialize_any(Micros)
        } else {
            // A newtype is its inner value to postcard: the stored bytes are unchanged.
            i64::deserialize(deserializer).map(Timestamp)
        }
    }
}

impl Timestamp {
    pub fn from_unix_micros(us: i64) -> Self {
        Timestamp(us)
    }

    pub fn unix_micros(self) -> i64 {
        self.0
    }

    pub fn plus_secs(self, secs: i64) -> Self {
        Timestamp(self.0 + secs * 1_000_000)
    }

    /// The wall clock now. Only the edges call this; `decide` gets time in its context.
    pub fn now() -> Self {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(d.as_micros() as i64)
    }

    /// RFC 3339 with microseconds, e.g. `2026-11-23T10:00:00.000001Z`. RFC 3339
    /// years have four digits: an instant outside 0000-9999 is clamped to the first
    /// or last one there is, so the output is always RFC 3339.
    pub fn to_rfc3339(self) -> String {
        use time::macros::datetime;
        let nanos = self.0 as i128 * 1000;
        let first = datetime!(0000-01-01 00:00:00 UTC);
        let last = datetime!(9999-12-31 23:59:59.999999 UTC);
        let t = match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
            Ok(t) => t.clamp(first, last),
            Err(_) if self.0 < 0 => first,
            Err(_) => last,
        };
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| "9999-12-31T23:59:59.999999Z".into())
    }

    pub fn parse_rfc3339(s: &str) -> Result<Self, DomainError> {
        let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map_err(|e| DomainError::Invalid(format!("`{s}` is not an RFC 3339 time: {e}")))?;
        Ok(Timestamp((t.unix_timestamp_nanos() / 1000) as i64))
    }
}

/// What kind of user acted. The server derives it from the authenticated token; a
/// client can never choose it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    #[serde(alias = "Admin")]
    Admin,
    #[serde(alias = "Lead")]
    Lead,
    #[serde(alias = "Agent")]
    Agent,
    #[serde(alias = "Auditor")]
    Auditor,
    #[serde(alias = "Customer")]
    Customer,
    /// The server itself (routing, SLA timers, imports).
    #[serde(alias = "System")]
    System,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Lead => "lead",
            Role::Agent => "agent",
            Role::Auditor => "auditor",
            Role::Customer => "customer",
            Role::System => "system",
        }
    }
}

impl FromStr for Role {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "admin" => Role::Admin,
            "lead" => Role::Lead,
            "agent" => Role::Agent,
            "auditor" => Role::Auditor,
            "customer" => Role::Customer,
            "system" => Role::System,
            _ => return Err(DomainError::Invalid(format!("unknown role `{s}`"))),
        })
    }
}

/// Who performed a command; recorded on every event.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    pub id: AgentId,
    pub role: Role,
}

impl Actor {
    pub fn new(id: &str, role: Role) -> Result<Self, DomainError> {
        Ok(Actor {
            id: AgentId::new(id)?,
            role,
        })
    }

    /// The server acting on its own behalf.
    pub fn system() -> Self {
        Actor {
            id: AgentId("system".into()),
            role: Role::System,
        }
    }
}
