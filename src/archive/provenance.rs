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
    use std::path::Path;

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

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// FROZEN: `import_events_v1.txt` holds `type \t version \t payload hex \t JSON`
    /// of [`every_import_event`] as the first build with these types wrote them: the
    /// bytes and the JSON must keep decoding to the same values, and be written unchanged.
    #[test]
    fn import_events_keep_their_bytes_and_json() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import_events_v1.txt");
        let events = every_import_event();
        if std::env::var_os("SWARMDESK_WRITE_FIXTURES").is_some() {
            let lines: Vec<String> = events
                .iter()
                .map(|e| {
                    format!(
                        "{}\t{}\t{}\t{}",
                        e.event_type(),
                        e.schema_version(),
                        hex(&e.encode()),
                        e.to_json()
                    )
                })
                .collect();
            std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), ImportEvent::TYPES.len());
        for (line, expected) in lines.iter().zip(&events) {
            let f: Vec<&str> = line.splitn(4, '\t').collect();
            assert_eq!(f.len(), 4, "malformed fixture line `{line}`");
            let version: u16 = f[1].parse().unwrap();
            let bytes: Vec<u8> = (0..f[2].len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&f[2][i..i + 2], 16).unwrap())
                .collect();
            let decoded = ImportEvent::decode(f[0], version, &bytes)
                .unwrap_or_else(|e| panic!("`{}` is no longer readable: {e}", f[0]));
            assert_eq!(&decoded, expected);
            assert_eq!(hex(&decoded.encode()), f[2], "{} bytes changed", f[0]);
            let json: serde_json::Value = serde_json::from_str(f[3]).unwrap();
            assert_eq!(
                ImportEvent::from_json(f[0], version, json).ok().as_ref(),
                Some(expected)
            );
        }
    }
}
