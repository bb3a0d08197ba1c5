//! Which events an export holds, and their lines with their proof.
//!
//! A customer's export is every event of every case opened for that customer (from
//! its `CaseOpened` on) and the customer's own events (its entries in the customer
//! directory, on the configuration stream): the unified record of who contacted
//! the desk and what it answered. `--from`/`--to` narrow any selection to a range of
//! this log's positions or of times, both inclusive.
//!
//! An event that an import wrote carries, in this store's `EventsImported` events,
//! its position, version and hashes in the log it came from: it is exported with
//! those, so that a re-export of an imported store gives the lines it was imported
//! from. Every other event is exported with this log's own.

use std::collections::{HashMap, HashSet};
use ulid::Ulid;

use super::provenance::{ImportEvent, ImportedFrom, IMPORTS_STREAM};
use super::{parse_link, sealed_link, ExportedEvent};
use crate::config::{ConfigEvent, CONFIG_STREAM};
use crate::domain::{CaseEvent, CaseId, Timestamp};
use crate::store::chain::{Link, GENESIS};
use crate::store::{EventStore, RecordedEvent, StoreError};

/// One end of a range: a position of this log, or a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    Position(u64),
    Time(Timestamp),
}

impl std::str::FromStr for Bound {
    type Err = String;

    /// A position (digits) or an RFC 3339 time.
    fn from_str(s: &str) -> Result<Self, String> {
        if let Ok(p) = s.parse::<u64>() {
            return Ok(Bound::Position(p));
        }
        Timestamp::parse_rfc3339(s)
            .map(Bound::Time)
            .map_err(|e| format!("neither a position nor an RFC 3339 time ({e})"))
    }
}

/// What to export; every field narrows the selection, none selects the whole log.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Only this case's events.
    pub case: Option<CaseId>,
    /// Only this customer's cases and own events.
    pub customer: Option<String>,
    /// Only events at or after this position or time.
    pub from: Option<Bound>,
    /// Only events at or before this position or time.
    pub to: Option<Bound>,
}

impl Selection {
    fn in_range(&self, r: &RecordedEvent) -> bool {
        let after = match self.from {
            Some(Bound::Position(p)) => r.position >= p,
            Some(Bound::Time(t)) => r.metadata.occurred_at >= t,
            None => true,
        };
        let before = match self.to {
            Some(Bound::Position(p)) => r.position <= p,
            Some(Bound::Time(t)) => r.metadata.occurred_at <= t,
            None => true,
        };
        after && before
    }
}

/// Tracks a customer's cases as the log is walked in order.
#[derive(Default)]
struct CustomerRecord {
    cases: HashSet<String>,
}

impl CustomerRecord {
    /// Whether `r` belongs to the record of `customer`.
    fn holds(&mut self, customer: &str, r: &RecordedEvent) -> bool {
        if self.cases.contains(&r.stream) {
            return true;
        }
        if r.stream == CONFIG_STREAM {
            return match ConfigEvent::decode(&r.event_type, r.schema_version, &r.payload) {
                Ok(ConfigEvent::CustomerSaved(c)) => c.id == customer,
                Ok(ConfigEvent::CustomerRemoved(c)) => c.id == customer,
                Ok(ConfigEvent::CustomerForgotten(c)) => c.id == customer,
                _ => false,
            };
        }
        if CaseId::from_stream(&r.stream).is_some() && r.version == 1 {
            if let Ok(CaseEvent::Opened(o)) =
                CaseEvent::decode(&r.event_type, r.schema_version, &r.payload)
            {
                if o.customer.id == customer {
                    self.cases.insert(r.stream.clone());
                    return true;
                }
            }
        }
        false
    }
}

/// The source coordinates of every event this store imported, by event id.
async fn provenance(store: &dyn EventStore) -> Result<HashMap<Ulid, ImportedFrom>, StoreError> {
    let mut out = HashMap::new();
    for r in store.read_stream(IMPORTS_STREAM, 1, usize::MAX).await? {
        if let Ok(ImportEvent::EventsImported(e)) =
            ImportEvent::decode(&r.event_type, r.schema_version, &r.payload)
        {
            out.extend(e.events.into_iter().map(|f| (f.id, f)));
        }
    }
    Ok(out)
}

/// The link stored with the event at `position`, if it has one.
async fn link_at(store: &dyn EventStore, position: u64) -> Result<Option<Link>, StoreError> {
    if position == 0 {
        return Ok(None);
    }
    match store.link_at(position).await {
        Ok(head) => Ok(head.hash),
        Err(StoreError::Unavailable(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes the selected events, in log order, with `each`; returns how many. Events
/// this store holds with a link are exported with it and the link before it.
pub async fn export(
    store: &dyn EventStore,
    selection: &Selection,
    mut each: impl FnMut(ExportedEvent) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    let imported = provenance(store).await?;
    let mut customer = CustomerRecord::default();
    let case_stream = selection.case.map(|c| c.stream());
    // The link of the last exported event and its position, to spare a lookup when
    // the next one follows it.
    let mut last: Option<(u64, Option<Link>)> = None;
    let mut written = 0;
    let mut from = 1;
    loop {
        let page = store.read_all(from, 4096).await?;
        let Some(end) = page.last() else { break };
        from = end.position + 1;
        for r in page {
            let selected = match (&case_stream, &selection.customer) {
                (Some(stream), _) if *stream != r.stream => false,
                (_, Some(id)) => customer.holds(id, &r),
                _ => true,
            };
            if !selected || !selection.in_range(&r) {
                continue;
            }
            let hash = link_at(store, r.position).await?;
            let line = match hash {
                None => ExportedEvent::from_record(&r)?,
                Some(hash) => {
                    let previous = match last {
                        Some((p, link)) if p + 1 == r.position => link,
                        _ => link_at(store, r.position - 1).await?,
                    }
                    .unwrap_or(GENESIS);
                    match imported.get(&r.id).and_then(|f| source_line(&r, f)) {
                        Some(line) => line?,
                        None => ExportedEvent::with_proof(&r, &previous, &hash)?,
                    }
                }
            };
            last = Some((r.position, hash));
            each(line)?;
            written += 1;
        }
    }
    Ok(written)
}

/// `r` as the source log held it, if the recorded provenance proves it: its source
/// position and version, sealed after the source's previous link, give the source's
/// hash.
fn source_line(r: &RecordedEvent, from: &ImportedFrom) -> Option<anyhow::Result<ExportedEvent>> {
    let previous = parse_link(from.previous_hash.as_deref()?)?;
    let hash = parse_link(from.hash.as_deref()?)?;
    let source = RecordedEvent {
        position: from.position,
        version: from.version,
        ..r.clone()
    };
    (sealed_link(&source, &previous) == hash)
        .then(|| ExportedEvent::with_proof(&source, &previous, &hash))
}
