//! The hash chain on disk (see [`crate::store::chain`]): the last link, read at each
//! open so that the writer continues the chain; the log head; and `verify`, of the
//! open store (up to the durable head) or of a data directory no process holds.

use super::*;
use crate::store::chain::{Verifier, GENESIS};
use crate::store::envelope::link_of;

/// The link of the last stored record; [`GENESIS`] if the log is empty or its last
/// record has none (written by an earlier build: the chain starts after it).
pub(super) fn last_link(log: &sled::Tree) -> Result<Link, StoreError> {
    let Some(kv) = log.scan_prefix([keys::EVENT]).next_back() else {
        return Ok(GENESIS);
    };
    let (_, value) = kv?;
    match page::records(&value).last() {
        Some(record) => Ok(link_of(record?)?.map_or(GENESIS, |(_, link)| *link)),
        None => Ok(GENESIS),
    }
}

/// The event at `position` (the head, for the log head): position, link and time.
pub(super) fn link_at(log: &sled::Tree, position: u64) -> Result<LogHead, StoreError> {
    let mut found = LogHead {
        position: 0,
        hash: None,
        occurred_at: None,
    };
    if position == 0 {
        return Ok(found);
    }
    scan(log, position, position, |record| {
        let e = EventRef::decode(record)?;
        found = LogHead {
            position: e.position,
            hash: link_of(record)?.map(|(_, link)| *link),
            occurred_at: Some(e.occurred_at),
        };
        Ok(false)
    })?;
    Ok(found)
}

/// Feeds `verifier` the records of at most `pages` pages from the page keyed
/// `from_key` on, stopping after position `to`. Returns the key to go on from, or
/// `None` once everything up to `to` was read (or the log broke).
fn walk(
    log: &sled::Tree,
    from_key: u64,
    to: u64,
    pages: usize,
    verifier: &mut Verifier,
) -> Result<Option<u64>, StoreError> {
    let mut last_key = None;
    for kv in log
        .range(keys::event(from_key)..=keys::event(u64::MAX))
        .take(pages)
    {
        let (k, value) = kv?;
        let key = keys::u64_suffix(&k);
        last_key = Some(key);
        for record in page::records(&value) {
            if verifier.next_position() > to {
                return Ok(None);
            }
            match record {
                Ok(record) => {
                    if !verifier.record(record) {
                        return Ok(None);
                    }
                }
                Err(e) => {
                    verifier.fail(format!(
                        "the log page stored at key {key} cannot be read ({e})"
                    ));
                    return Ok(None);
                }
            }
        }
    }
    Ok(last_key
        .map(|k| k + 1)
        .filter(|_| verifier.next_position() <= to))
}

/// Pages verified per hold of the read lock, so that a reopen after a failed write
/// need not wait for the whole walk.
const CHUNK: usize = 256;

/// Verifies the open store's log up to its durable head.
pub(super) fn verify_open(core: &Core) -> Result<VerifyReport, StoreError> {
    let head = core.common.head.load(Ordering::Acquire);
    let started = std::time::Instant::now();
    let mut verifier = Verifier::default();
    let mut next_key = Some(0);
    while let Some(from) = next_key {
        let guard = core.current.blocking_read();
        if lock(&core.common.status).closed {
            return Err(StoreError::Closed);
        }
        let Some(shared) = guard.as_ref() else {
            return Err(failed_error());
        };
        next_key = walk(&shared.log, from, head, CHUNK, &mut verifier)?;
    }
    if !verifier.is_broken() && verifier.next_position() <= head {
        verifier.fail(format!(
            "the event is missing: the stored log ends before the head, position {head}"
        ));
    }
    let report = verifier.finish();
    info!(
        events = report.events,
        ok = report.is_ok(),
        seconds = started.elapsed().as_secs_f64(),
        "log verified"
    );
    Ok(report)
}

/// Verifies the log in the data directory `dir`, which no process may hold (sled
/// locks it: after a few seconds of waiting this answers [`StoreError::InUse`]).
/// Nothing is rolled back or repaired; events after a full-disk fence (never
/// acknowledged, removed by the next open) are not verified.
pub fn verify_dir(dir: &Path) -> Result<VerifyReport, StoreError> {
    if !dir.join("db").is_file() {
        return Err(StoreError::Io(format!(
            "{} holds no swarmdesk data (no `db` file)",
            dir.display()
        )));
    }
    let options = SledOptions {
        cache_bytes: 64 * 1024 * 1024,
        ..SledOptions::default()
    };
    let db = open::open_sled(dir, &options)?;
    let log = db.open_tree("log")?;
    let to = match std::fs::read(dir.join(FENCE_FILE)) {
        Ok(bytes) => <[u8; 8]>::try_from(bytes.as_slice()).map_or(u64::MAX, u64::from_be_bytes),
        Err(_) => u64::MAX,
    };
    let mut verifier = Verifier::default();
    let mut next_key = Some(0);
    while let Some(from) = next_key {
        next_key = walk(&log, from, to, CHUNK, &mut verifier)?;
    }
    Ok(verifier.finish())
}
