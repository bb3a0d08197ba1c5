//! The stored record. Every event is self-describing: type, schema version, stream,
//! stream version, global position, time, actor, correlation and causation, payload.
//!
//! On disk a record is one format byte followed by its postcard encoding. The format
//! byte lets a future layout coexist with this one; `FORMAT_V1` records must stay
//! readable forever.

use serde::{Deserialize, Serialize};
use ulid::Ulid;

use super::StoreError;
use crate::domain::{Actor, Timestamp};

/// The layout of [`RecordedEvent`] written by this build.
pub const FORMAT_V1: u8 = 1;

/// Metadata shared by the events of one command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    pub actor: Actor,
    pub occurred_at: Timestamp,
    /// Ties together everything done for one request or workflow.
    pub correlation_id: Ulid,
    /// The event or command that caused this one, if any.
    pub causation_id: Option<Ulid>,
}

/// An event to append: its type, schema version and encoded payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    pub event_type: String,
    pub schema_version: u16,
    pub payload: Vec<u8>,
}

/// An event as stored in the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// Gapless, strictly increasing across the whole log, from 1.
    pub position: u64,
    pub id: Ulid,
    pub stream: String,
    /// 1, 2, 3... within the stream.
    pub version: u64,
    pub event_type: String,
    pub schema_version: u16,
    pub metadata: Metadata,
    pub payload: Vec<u8>,
}

impl RecordedEvent {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96 + self.payload.len());
        out.push(FORMAT_V1);
        // Serializing into a Vec cannot fail for this plain struct.
        postcard::to_extend(self, out).unwrap_or_default()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StoreError> {
        match bytes.split_first() {
            Some((&FORMAT_V1, rest)) => postcard::from_bytes(rest)
                .map_err(|e| StoreError::Corrupt(format!("undecodable event record: {e}"))),
            Some((v, _)) => Err(StoreError::Corrupt(format!("unknown record format {v}"))),
            None => Err(StoreError::Corrupt("empty event record".into())),
        }
    }
}
