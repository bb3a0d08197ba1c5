//! Opening sled: setting aside unfinished start-up snapshots, applying the fence and
//! reading back the head and the pending stream index.

use super::*;

/// Where [`set_aside_unfinished_snapshots`] moves sled snapshots that were being written
/// when a process stopped.
pub const SET_ASIDE_DIR: &str = "unfinished-snapshots";

/// Moves sled's unfinished start-up snapshots (`snap.<lsn>.generating`) out of its way.
///
/// sled 0.34.7 writes a snapshot of its page table at every open after writes, first to
/// `snap.<lsn>.generating`, then renames it. A process killed while writing leaves the
/// `.generating` file behind, and the next open reads it (it sorts after the finished
/// ones) and fails with "Read corrupted data". A snapshot only speeds up recovery: without
/// it sled rebuilds the page table from its log, so the unfinished file is moved into
/// [`SET_ASIDE_DIR`] (kept for inspection, not deleted) and the open goes on.
pub fn set_aside_unfinished_snapshots(dir: &Path) -> Result<Vec<std::path::PathBuf>, StoreError> {
    let io = |e: std::io::Error| StoreError::Io(format!("{}: {e}", dir.display()));
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(e)),
    };
    let mut moved = Vec::new();
    for entry in entries {
        let path = entry.map_err(io)?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !(name.starts_with("snap.") && name.ends_with(".generating")) {
            continue;
        }
        let aside = dir.join(SET_ASIDE_DIR);
        std::fs::create_dir_all(&aside).map_err(io)?;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let target = aside.join(format!("{name}.{stamp}"));
        std::fs::rename(&path, &target).map_err(io)?;
        warn!(
            snapshot = %path.display(),
            moved_to = %target.display(),
            "set aside an unfinished sled snapshot (a process stopped while writing it); sled rebuilds it from its log"
        );
        moved.push(target);
    }
    Ok(moved)
}

/// How long an open waits for a lock on the data directory to be released. sled's
/// background threads finish an earlier open of the same directory in this process
/// (a demo loaded, a store dropped and reopened) a moment after its last handle is
/// dropped, and hold its `flock` until then; another process holding it is reported
/// as [`StoreError::InUse`] once this has passed.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Opens sled in `dir`, waiting up to [`LOCK_WAIT`] for its lock.
pub(super) fn open_sled(dir: &Path, options: &SledOptions) -> Result<sled::Db, StoreError> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        let opened = sled::Config::new()
            .path(dir)
            .cache_capacity(options.cache_bytes)
            .mode(sled::Mode::HighThroughput)
            .open();
        match opened {
            Ok(db) => return Ok(db),
            // sled reports its `flock` failing as an `Other` error in words.
            Err(sled::Error::Io(io)) if io.to_string().contains("could not acquire lock") => {
                if std::time::Instant::now() >= deadline {
                    return Err(StoreError::InUse(dir.display().to_string()));
                }
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            Err(other) => return Err(other.into()),
        }
    }
}

/// Opens sled in `dir`, applies the fence (`fence`, or the one on disk), and reads
/// back the head and the pending index.
pub(super) fn open_shared(
    dir: &Path,
    options: &SledOptions,
    common: &Arc<Common>,
    fence: Option<u64>,
) -> Result<(Shared, u64), StoreError> {
    set_aside_unfinished_snapshots(dir)?;
    let db = open_sled(dir, options)?;
    let log = db.open_tree("log")?;
    let snapshots = db.open_tree("snapshots")?;
    let (mut fence_file, on_disk) = open_fence(dir)?;
    let fence = fence.unwrap_or(on_disk);
    if fence != NO_FENCE {
        roll_back_after(&log, fence)?;
        db.flush()?;
        if let Ok(f) = std::fs::File::open(dir.join("db")) {
            f.sync_data()
                .map_err(|e| StoreError::Io(format!("fdatasync: {e}")))?;
        }
    }
    let head = last_position(&log)?;
    let indexed = match log.get(keys::INDEXED)? {
        Some(v) => keys::u64_suffix(&v),
        None => {
            // A new log, or one written by a build that indexed every event as it
            // wrote it: either way the index is complete.
            log.insert(keys::INDEXED, &head.to_be_bytes())?;
            db.flush()?;
            head
        }
    };
    if on_disk != NO_FENCE {
        // Only once the roll-back is durable.
        write_fence_value(&mut fence_file, NO_FENCE)
            .map_err(|e| StoreError::Io(format!("clearing the fence: {e}")))?;
    }
    *lock(&common.fence) = Some(fence_file);
    let mut pending = Pending::default();
    scan(&log, indexed + 1, head, |record| {
        let e = EventRef::decode(record)?;
        pending.push(e.stream, e.version, e.position)?;
        Ok(true)
    })?;
    // The idempotency keys carried in pages the index does not cover yet (a group is
    // wholly before or after `x`; the page before is read too, in case).
    let before = log
        .range(keys::event(0)..=keys::event(indexed))
        .next_back()
        .into_iter();
    for kv in
        before.chain(log.range(keys::event(indexed.saturating_add(1))..=keys::event(u64::MAX)))
    {
        let (at, value) = kv?;
        match page::carried_keys(&value) {
            Ok(carried) => {
                for (key, value) in carried {
                    pending.add_key(key, value);
                }
            }
            // The page's records are checked by the integrity check; its keys are lost
            // (a retry of its requests would write them again).
            Err(e) => {
                warn!(page = keys::u64_suffix(&at), error = %e, "idempotency keys unreadable")
            }
        }
    }
    let data_file =
        if options.sync_data {
            Some(std::fs::File::open(dir.join("db")).map_err(|e| {
                StoreError::Io(format!("cannot open the data file to sync it: {e}"))
            })?)
        } else {
            None
        };
    let shared = Shared {
        data_file,
        db,
        log,
        snapshots,
        common: common.clone(),
        pending: Mutex::new(pending),
        staging: AtomicBool::new(false),
        in_flight: AtomicUsize::new(0),
        fenced: AtomicBool::new(false),
        generation: common.failures.load(Ordering::Acquire),
    };
    Ok((shared, head))
}

/// The position of the last stored event (0 for an empty log).
pub(super) fn last_position(log: &sled::Tree) -> Result<u64, StoreError> {
    match log.scan_prefix([keys::EVENT]).next_back() {
        Some(kv) => match page::records(&kv?.1).last() {
            Some(record) => page::position_of(record?),
            None => Err(StoreError::Corrupt("empty page".into())),
        },
        None => Ok(0),
    }
}
