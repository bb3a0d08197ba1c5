//! Exports and imports of the log, for disputes and audits.
//!
//! An export is NDJSON, one [`ExportedEvent`] per line, self-describing. Exported
//! from a data directory, every line also carries the record's stored payload bytes
//! and its proof in the log's hash chain: its `hash` (the record's link) and the
//! `previousHash` it was sealed after, so that anyone can recompute the hash from the
//! line alone, and consecutive positions must link.
//!
//! - [`export`]: which events an export holds (all, one case, one customer's, a
//!   range of positions or times) and their lines.
//! - [`import`]: checks a file (every hash recomputed, consecutive records linked)
//!   and writes it, all or nothing.
//! - [`provenance`]: the event that keeps each imported record's source position,
//!   version and hashes, so that the imported store exports the same proof again.

pub mod export;
pub mod import;
pub mod provenance;

pub use export::{export, Bound, Selection};
pub use import::{import, ImportReport};

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::domain::{Actor, Timestamp};
use crate::events::{payload_from_json, payload_json};
use crate::store::chain::{self, Link};
use crate::store::envelope::LINK_BYTES;
use crate::store::{Metadata, RecordedEvent};

/// One exported event: self-describing JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedEvent {
    pub position: u64,
    pub id: String,
    pub stream: String,
    pub version: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub schema_version: u16,
    pub occurred_at: String,
    pub actor: Actor,
    pub correlation_id: String,
    pub causation_id: Option<String>,
    pub payload: serde_json::Value,
    /// The stored payload (base64), exactly the bytes the hash covers; `payload` is
    /// its JSON form. Only on lines exported with a hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_bytes: Option<String>,
    /// The link the record was sealed after (hex; 64 zeros for the chain's first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_hash: Option<String>,
    /// The record's link in the source log's hash chain (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// `payload` with the customer's sealed personal fields opened (the erased
    /// marker once the customer was forgotten): only on lines whose payload holds
    /// sealed fields and that were exported with the data directory's keys. Not
    /// covered by the hash, and ignored by imports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened: Option<serde_json::Value>,
}

impl ExportedEvent {
    /// The event without its proof (the API's form of it).
    pub fn from_record(r: &RecordedEvent) -> anyhow::Result<Self> {
        let payload = payload_json(&r.event_type, r.schema_version, &r.payload)?;
        Ok(ExportedEvent {
            position: r.position,
            id: r.id.to_string(),
            stream: r.stream.clone(),
            version: r.version,
            event_type: r.event_type.clone(),
            schema_version: r.schema_version,
            occurred_at: r.metadata.occurred_at.to_rfc3339(),
            actor: r.metadata.actor.clone(),
            correlation_id: r.metadata.correlation_id.to_string(),
            causation_id: r.metadata.causation_id.map(|c| c.to_string()),
            payload,
            payload_bytes: None,
            previous_hash: None,
            hash: None,
            opened: None,
        })
    }

    /// Adds [`ExportedEvent::opened`] when the payload holds sealed fields.
    pub fn open_personal(&mut self, vault: &crate::shred::Vault) {
        let mut opened = self.payload.clone();
        crate::shred::personal::open_json(vault, &mut opened);
        if opened != self.payload {
            self.opened = Some(opened);
        }
    }

    /// The event with its stored bytes and its proof: the link it was sealed after
    /// and its own.
    pub fn with_proof(r: &RecordedEvent, previous: &Link, hash: &Link) -> anyhow::Result<Self> {
        let mut e = Self::from_record(r)?;
        e.payload_bytes = Some(base64::engine::general_purpose::STANDARD.encode(&r.payload));
        e.previous_hash = Some(chain::hex(previous));
        e.hash = Some(chain::hex(hash));
        Ok(e)
    }

    /// The recorded event: with `payloadBytes`, those bytes verbatim (after checking
    /// that `payload` is their JSON form); without, `payload` encoded as this build
    /// writes it.
    pub fn into_record(self) -> anyhow::Result<RecordedEvent> {
        let (event_type, schema_version, payload) = match self.payload_bytes {
            Some(b64) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.as_bytes())
                    .map_err(|e| anyhow::anyhow!("payloadBytes is not base64 ({e})"))?;
                let json = payload_json(&self.event_type, self.schema_version, &bytes)?;
                if json != self.payload {
                    anyhow::bail!(
                        "the payload is not what its payloadBytes hold (the payload was changed)"
                    );
                }
                (self.event_type, self.schema_version, bytes)
            }
            None => {
                let (t, v, p) =
                    payload_from_json(&self.event_type, self.schema_version, self.payload)?;
                (t.to_string(), v, p)
            }
        };
        Ok(RecordedEvent {
            position: self.position,
            id: self.id.parse()?,
            stream: self.stream,
            version: self.version,
            event_type,
            schema_version,
            metadata: Metadata {
                actor: self.actor,
                occurred_at: Timestamp::parse_rfc3339(&self.occurred_at)?,
                correlation_id: self.correlation_id.parse()?,
                causation_id: self.causation_id.map(|c| c.parse()).transpose()?,
            },
            payload,
        })
    }
}

/// The link `r` gets when sealed after `previous` at its own position and version.
pub fn sealed_link(r: &RecordedEvent, previous: &Link) -> Link {
    let bytes = r.to_bytes();
    chain::link(previous, &bytes[..bytes.len() - LINK_BYTES])
}

/// A link from its hex form.
pub fn parse_link(hex: &str) -> Option<Link> {
    if hex.len() != 2 * LINK_BYTES || !hex.is_ascii() {
        return None;
    }
    let mut link = [0u8; LINK_BYTES];
    for (i, b) in link.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(link)
}
