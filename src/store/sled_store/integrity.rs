//! The integrity check: reads every page back up to the head and records which
//! streams own positions that cannot be read (they then answer `Damaged`).

use super::*;

/// Pages the integrity check reads per hold of the read lock, so that a reopen after
/// a failed write need not wait for the whole check.
pub(super) const CHECK_CHUNK: usize = 256;

/// Reads every page up to the head; records which streams own unreadable positions.
pub(super) fn check_integrity(core: &Core) -> Result<IntegrityCheck, StoreError> {
    let common = &core.common;
    let head = common.head.load(Ordering::Acquire);
    *lock(&common.integrity) = IntegrityCheck::Running { checked: 0 };
    let started = std::time::Instant::now();
    // Ranges of positions (inclusive) that cannot be read.
    let mut bad: Vec<(u64, u64)> = Vec::new();
    let mut next_key = 1u64;
    let mut done = false;
    while !done {
        let guard = core.current.blocking_read();
        if lock(&common.status).closed {
            return Err(StoreError::Closed);
        }
        let Some(shared) = guard.as_ref() else {
            return Err(failed_error());
        };
        let mut pages = shared
            .log
            .range(keys::event(next_key)..=keys::event(head))
            .peekable();
        for _ in 0..CHECK_CHUNK {
            let Some(kv) = pages.next() else {
                done = true;
                break;
            };
            let (k, value) = kv?;
            let first = keys::u64_suffix(&k);
            // The page ends where the next one starts (the last one at the head).
            let last = match pages.peek() {
                Some(Ok((next, _))) => keys::u64_suffix(next) - 1,
                _ => head,
            };
            let readable = page::records(&value).try_fold(first, |expect, record| {
                let e = EventRef::decode(record?)?;
                if e.position != expect {
                    return Err(StoreError::Corrupt(format!(
                        "position {} where {expect} belongs",
                        e.position
                    )));
                }
                Ok(expect + 1)
            });
            match readable {
                Ok(end) if end == last + 1 => {}
                Ok(_) | Err(_) => {
                    let why = readable
                        .err()
                        .map_or("records missing".to_string(), |e| e.to_string());
                    error!(first, last, error = %why, "a log page cannot be read");
                    bad.push((first, last));
                }
            }
            next_key = last + 1;
            *lock(&common.integrity) = IntegrityCheck::Running { checked: last };
        }
        if next_key > head {
            done = true;
        }
    }
    let unreadable: u64 = bad.iter().map(|(a, b)| b - a + 1).sum();
    if !bad.is_empty() {
        let guard = core.current.blocking_read();
        let Some(shared) = guard.as_ref() else {
            return Err(failed_error());
        };
        let (owners, unowned) = index::owners(&shared.log, &shared.pending, &bad)?;
        for (stream, version) in &owners {
            common.mark_damaged(stream, *version);
            error!(
                stream,
                from_version = version,
                "a stream cannot be read back; writes to it are refused"
            );
        }
        error!(
            unreadable_events = unreadable,
            damaged_streams = owners.len(),
            without_owner = unowned,
            "the log has unreadable events; writes to their streams are refused"
        );
    }
    let result = IntegrityCheck::Done {
        checked: head,
        unreadable_events: unreadable,
    };
    info!(
        checked = head,
        unreadable_events = unreadable,
        seconds = started.elapsed().as_secs_f64(),
        "log integrity checked"
    );
    *lock(&common.integrity) = result.clone();
    // Every stream is checked now: appends no longer read theirs back first.
    std::mem::take(&mut *lock(&common.verified));
    Ok(result)
}
