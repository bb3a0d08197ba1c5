//! Importing an export: every line is checked before anything is written, and a
//! file that fails a check writes nothing.
//!
//! Checks, line by line: the line parses; with `payloadBytes`, its `payload` is
//! their JSON form; with a `hash`, SHA-256 of its `previousHash` and the record the
//! line describes (at its source position and version) is that hash; a line whose
//! position follows the previous line's has that line's hash as its `previousHash`;
//! once a line carried a hash, every later one does; positions increase. A subset
//! (one customer, a range) cannot prove that no line was left out: only that each
//! line is the source's event at that position (compare a hash with the source's
//! `logHead(position:)`), and that consecutive positions are consecutive there.
//!
//! Where the events go: a file without hashes (from `export --url`, or an earlier
//! build) is written verbatim: its positions and versions must continue this log.
//! A file with hashes is appended after this log's head in the file's order, each
//! case stream keeping its versions (they must continue the store's), other streams'
//! events (a customer's directory entries) following the store's own; then
//! `EventsImported` events record each event's source position, version and hashes
//! (see [`provenance`](super::provenance)), unless the file continues this log's
//! chain exactly, position for position, so that this store's own links are the
//! source's.

use std::collections::HashMap;
use std::io::BufRead;
use ulid::Ulid;

use super::provenance::{
    EventsImported, ImportEvent, ImportedFrom, ENTRIES_PER_EVENT, IMPORTS_STREAM,
};
use super::{parse_link, sealed_link, ExportedEvent};
use crate::domain::{Actor, CaseId, Timestamp};
use crate::store::chain::{Link, GENESIS};
use crate::store::{EventStore, Metadata, RecordedEvent, StoreError};

/// What an import wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportReport {
    /// Events of the file written.
    pub imported: u64,
    /// Of them, how many carried a hash that was recomputed and matched.
    pub verified: u64,
    /// Whether the events were written at other positions (or versions) than the
    /// file's, with `EventsImported` events keeping the file's.
    pub relocated: bool,
}

/// One checked line.
struct Checked {
    record: RecordedEvent,
    hash: Option<Link>,
    previous: Option<Link>,
}

/// Reads and checks every line; the first failing line stops it with a message
/// naming that line.
fn check(reader: impl BufRead) -> anyhow::Result<Vec<Checked>> {
    let mut out: Vec<Checked> = Vec::new();
    // The last line read: its number, position and hash.
    let mut last: Option<(usize, u64, Option<Link>)> = None;
    let mut first_hashed: Option<usize> = None;
    for (n, line) in reader.lines().enumerate() {
        let n = n + 1;
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let refuse = |why: String| anyhow::anyhow!("line {n}: {why}; nothing was imported");
        let e: ExportedEvent = serde_json::from_str(&line).map_err(|e| refuse(e.to_string()))?;
        let hash = e
            .hash
            .as_deref()
            .map(|h| parse_link(h).ok_or_else(|| refuse(format!("`{h}` is not a hash"))))
            .transpose()?;
        let previous = e
            .previous_hash
            .as_deref()
            .map(|h| parse_link(h).ok_or_else(|| refuse(format!("`{h}` is not a hash"))))
            .transpose()?;
        let record = e.into_record().map_err(|e| refuse(e.to_string()))?;
        if let Some((m, p, _)) = last {
            if record.position <= p {
                return Err(refuse(format!(
                    "position {} does not come after position {p} of line {m} (an export is in \
                     log order)",
                    record.position
                )));
            }
        }
        match (hash, previous) {
            (Some(hash), Some(previous)) => {
                if sealed_link(&record, &previous) != hash {
                    return Err(refuse(
                        "the hash does not match the event's content and its previous hash \
                         (the line was changed)"
                            .into(),
                    ));
                }
                if let Some((m, p, Some(before))) = last {
                    if p + 1 == record.position && before != previous {
                        return Err(refuse(format!(
                            "its previous hash is not the hash of line {m}, the event before it \
                             (a line was changed, or lines of different logs were mixed)"
                        )));
                    }
                }
                first_hashed.get_or_insert(n);
            }
            (None, None) => {
                if let Some(m) = first_hashed {
                    return Err(refuse(format!(
                        "the line carries no hash, but line {m} did (a hash was removed)"
                    )));
                }
            }
            _ => {
                return Err(refuse(
                    "a line needs both `hash` and `previousHash`, or neither".into(),
                ))
            }
        }
        last = Some((n, record.position, hash));
        out.push(Checked {
            record,
            hash,
            previous,
        });
    }
    Ok(out)
}

/// Checks the export `reader` holds and writes it to `store`, all or nothing; `at` is
/// the time of the `EventsImported` events.
pub async fn import(
    store: &dyn EventStore,
    reader: impl BufRead,
    at: Timestamp,
) -> anyhow::Result<ImportReport> {
    let lines = check(reader)?;
    let verified = lines.iter().filter(|l| l.hash.is_some()).count() as u64;
    let imported = lines.len() as u64;
    let refused = |e: StoreError| match e {
        StoreError::InvalidImport(why) => {
            anyhow::anyhow!("the file does not fit this log: {why}; nothing was imported")
        }
        other => other.into(),
    };
    if verified == 0 {
        let records = lines.into_iter().map(|l| l.record).collect();
        store.import(records).await.map_err(refused)?;
        return Ok(ImportReport {
            imported,
            verified,
            relocated: false,
        });
    }
    let head = store.head();
    let own_link = if head == 0 {
        GENESIS
    } else {
        store.link_at(head).await?.hash.unwrap_or(GENESIS)
    };
    // The file continues this log's chain exactly: written as it is, this store's
    // links are the file's hashes.
    let continues = lines.iter().enumerate().all(|(i, l)| {
        l.record.position == head + 1 + i as u64 && (i > 0 || l.previous == Some(own_link))
    });
    let mut versions: HashMap<String, u64> = HashMap::new();
    let mut records = Vec::with_capacity(lines.len() + 1);
    let mut sources = Vec::new();
    for (i, l) in lines.into_iter().enumerate() {
        let mut r = l.record;
        let from = ImportedFrom {
            id: r.id,
            position: r.position,
            version: r.version,
            hash: l.hash.as_ref().map(crate::store::chain::hex),
            previous_hash: l.previous.as_ref().map(crate::store::chain::hex),
        };
        r.position = head + 1 + i as u64;
        if CaseId::from_stream(&r.stream).is_none() && !continues {
            let next = match versions.get(&r.stream) {
                Some(v) => v + 1,
                None => store.stream_version(&r.stream).await? + 1,
            };
            r.version = next;
        }
        versions.insert(r.stream.clone(), r.version);
        sources.push(from);
        records.push(r);
    }
    if !continues {
        let mut version = store.stream_version(IMPORTS_STREAM).await?;
        let correlation = Ulid::new();
        for chunk in sources.chunks(ENTRIES_PER_EVENT) {
            version += 1;
            let event = ImportEvent::EventsImported(EventsImported {
                events: chunk.to_vec(),
            });
            records.push(RecordedEvent {
                position: head + 1 + records.len() as u64,
                id: Ulid::new(),
                stream: IMPORTS_STREAM.into(),
                version,
                event_type: event.event_type().into(),
                schema_version: event.schema_version(),
                metadata: Metadata {
                    actor: Actor::system(),
                    occurred_at: at,
                    correlation_id: correlation,
                    causation_id: None,
                },
                payload: event.encode(),
            });
        }
    }
    store.import(records).await.map_err(refused)?;
    Ok(ImportReport {
        imported,
        verified,
        relocated: !continues,
    })
}
