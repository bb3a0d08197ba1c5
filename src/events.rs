//! Every event family the log holds (cases, access, configuration), seen together:
//! the JSON form of any stored payload, for exports and the API's `payload` field,
//! and back, for imports.

use crate::config::ConfigEvent;
use crate::domain::access::AccessEvent;
use crate::domain::{CaseEvent, CodecError};

/// The payload of any known event type as JSON.
pub fn payload_json(
    event_type: &str,
    version: u16,
    payload: &[u8],
) -> Result<serde_json::Value, CodecError> {
    match CaseEvent::decode(event_type, version, payload) {
        Err(CodecError::UnknownType(..)) => {}
        other => return other.map(|e| e.to_json()),
    }
    match AccessEvent::decode(event_type, version, payload) {
        Err(CodecError::UnknownType(..)) => {}
        other => return other.map(|e| e.to_json()),
    }
    ConfigEvent::decode(event_type, version, payload).map(|e| e.to_json())
}

/// Encodes any known event type from its JSON payload, returning the type, schema
/// version and binary payload this build writes.
pub fn payload_from_json(
    event_type: &str,
    version: u16,
    payload: serde_json::Value,
) -> Result<(&'static str, u16, Vec<u8>), CodecError> {
    match CaseEvent::from_json(event_type, version, payload.clone()) {
        Err(CodecError::UnknownType(..)) => {}
        other => return other.map(|e| (e.event_type(), e.schema_version(), e.encode())),
    }
    match AccessEvent::from_json(event_type, version, payload.clone()) {
        Err(CodecError::UnknownType(..)) => {}
        other => return other.map(|e| (e.event_type(), e.schema_version(), e.encode())),
    }
    ConfigEvent::from_json(event_type, version, payload)
        .map(|e| (e.event_type(), e.schema_version(), e.encode()))
}
