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
    let Some(walk) = pages(log, from, to)? else {
        return Ok(());
    };
    for kv in walk {
        let (_, value) = kv?;
        if !visit_page(&value, from, to, &mut visit)? {
            return Ok(());
        }
    }
    Ok(())
}

/// A scan longer than this many positions reads ahead on a second thread
/// ([`scan_ahead`]).
pub(super) const READ_AHEAD_AFTER: u64 = 10_000;

/// Pages one hand-over between the threads of [`scan_ahead`] carries.
const READ_AHEAD_PAGES: usize = 64;

/// [`scan`], with sled's walk of the tree on a thread of its own: it hands the pages
/// over in batches (at most four batches ahead) while this thread visits their
/// records. A long replay then waits for whichever of the two is slower rather than
/// for both one after the other. The pages are sled's own reference-counted buffers,
/// not copies.
pub(super) fn scan_ahead(
    log: &sled::Tree,
    from: u64,
    to: u64,
    mut visit: impl FnMut(&[u8]) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    let Some(walk) = pages(log, from, to)? else {
        return Ok(());
    };
    let (pages, ahead) = std::sync::mpsc::sync_channel::<Result<Vec<sled::IVec>, StoreError>>(4);
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut batch = Vec::with_capacity(READ_AHEAD_PAGES);
            for kv in walk {
                match kv {
                    Ok((_, value)) => batch.push(value),
                    Err(e) => {
                        let _ = pages.send(Err(e.into()));
                        return;
                    }
                }
                // A send fails once the visitor has stopped: then so does the walk.
                if batch.len() == READ_AHEAD_PAGES
                    && pages
                        .send(Ok(std::mem::replace(
                            &mut batch,
                            Vec::with_capacity(READ_AHEAD_PAGES),
                        )))
                        .is_err()
                {
                    return;
                }
            }
            if !batch.is_empty() {
                let _ = pages.send(Ok(batch));
            }
        });
        for batch in ahead {
            for value in batch? {
                if !visit_page(&value, from, to, &mut visit)? {
                    return Ok(());
                }
            }
        }
        Ok(())
    })
}

/// The pages holding positions `from` to `to`, from the page holding `from` (which
/// starts at or before it); `None` if `from` is past `to`.
fn pages(log: &sled::Tree, from: u64, to: u64) -> Result<Option<sled::Iter>, StoreError> {
    if from > to {
        return Ok(None);
    }
    let start = match log.range(keys::event(0)..=keys::event(from)).next_back() {
        Some(kv) => keys::u64_suffix(&kv?.0),
        None => from,
    };
    Ok(Some(log.range(keys::event(start)..=keys::event(to))))
}

/// Visits the records of one page from `from` to `to`; `false` once the scan is
/// over (past `to`, or `visit` said stop).
fn visit_page(
    value: &[u8],
    from: u64,
    to: u64,
    visit: &mut impl FnMut(&[u8]) -> Result<bool, StoreError>,
) -> Result<bool, StoreError> {
    for record in page::records(value) {
        let record = record?;
        let position = page::position_of(record)?;
        if position < from {
            continue;
        }
        if position > to || !visit(record)? {
            return Ok(false);
        }
    }
    Ok(true)
}
