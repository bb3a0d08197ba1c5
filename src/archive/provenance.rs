//! Where imported events came from: the `EventsImported` event an import of a hashed
//! export appends after the events it writes, naming for each of them its position,
//! stream version, hash and previous hash in the source log. It is an event like any
//! other (in the stream [`IMPORTS_STREAM`], covered by this store's own hash chain),
//! so the proof an export carried cannot be changed later without `verify` noticing.

use serde::{Deserialize, Serialize};
use ulid::Ulid;

/// The stream of import provenance events.
pub const IMPORTS_STREAM: &str = "imports";

/// Entries per `EventsImported` event, so that a large import does not write one
/// huge record.
pub const ENTRIES_PER_EVENT: usize = 1000;

/// One imported event's coordinates and proof in the source log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportedFrom {
    /// The event's id (kept by the import).
    pub id: Ulid,
    /// Its global position in the source log.
    pub position: u64,
    /// Its version in its stream in the source log.
    pub version: u64,
    /// Its link in the source's hash chain (hex), `None` for an event the source
    /// stored without one (written by an earlier build).
    pub hash: Option<String>,
    /// The link of the source event before it (hex).
    pub previous_hash: Option<String>,
}

/// Events of an import, in the order written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventsImported {
    pub events: Vec<ImportedFrom>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportEvent {
    EventsImported(EventsImported),
}

crate::event_registry! {
    ImportEvent {
        EventsImported = "EventsImported" v 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_import_event() -> Vec<ImportEvent> {
        vec![ImportEvent::EventsImported(EventsImported {
            events: vec![
                ImportedFrom {
                    id: "01JGZ8Y2A7Q4T5V6W7X8Y9Z0AB".parse().unwrap(),
                    position: 61,
                    version: 1,
                    hash: Some("ab".repeat(32)),
                    previous_hash: Some("00".repeat(32)),
                },
                ImportedFrom {
                    id: "01JGZ8Y3K0M6W7X8Y9Z0ABCDEF".parse().unwrap(),
                    position: 3,
                    version: 2,
                    hash: None,
                    previous_hash: None,
                },
            ],
        })]
    }

    /// FROZEN: `import_events_v1.txt` holds `type \t version \t payload hex \t JSON`
    /// of [`every_import_event`] as the first build with these types wrote them: the
    /// bytes and the JSON must keep decoding to the same values, and be written unchanged.
    #[test]
    fn import_events_keep_their_bytes_and_json() {
        crate::events::frozen::check(
            "import_events_v1.txt",
            &every_import_event(),
            ImportEvent::TYPES.len(),
            |e| (e.event_type(), e.schema_version(), e.encode(), e.to_json()),
            ImportEvent::decode,
            ImportEvent::from_json,
        );
    }
}
