//! Reading the log: one record by position, and scans over pages up to a position
//! (readers stop at the durable head).

use super::*;

/// Calls `f` with each record of a page at or before `to`.
pub(super) fn scan_page(
    value: &[u8],
    to: u64,
    mut f: impl FnMut(u64, &[u8]),
) -> Result<(), StoreError> {
    for record in page::records(value) {
        let record = record?;
        let position = page::position_of(record)?;
        if position <= to {
            f(position, record);
        }
    }
    Ok(())
}

pub(super) fn event_at(shared: &Shared, position: u64) -> Result<RecordedEvent, StoreError> {
    let mut found = None;
    scan(&shared.log, position, position, |record| {
        found = Some(RecordedEvent::from_bytes(record)?);
        Ok(false)
    })?;
    found.ok_or_else(|| StoreError::Corrupt(format!("position {position} is indexed but missing")))
}

/// Calls `visit` with each stored record from position `from` to `to` (inclusive), in
/// order, until it returns `false`.
pub(super) fn scan(
    log: &sled::Tree,
    from: u64,
    to: u64,
    mut visit: impl FnMut(&[u8]) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    if from > to {
        return Ok(());
    }
    // The page holding `from` starts at or before it.
    let start = match log.range(keys::event(0)..=keys::event(from)).next_back() {
        Some(kv) => keys::u64_suffix(&kv?.0),
        None => from,
    };
    for kv in log.range(keys::event(start)..=keys::event(to)) {
        let (_, value) = kv?;
        for record in page::records(&value) {
            let record = record?;
            let position = page::position_of(record)?;
            if position < from {
                continue;
            }
            if position > to || !visit(record)? {
                return Ok(());
            }
        }
    }
    Ok(())
}
