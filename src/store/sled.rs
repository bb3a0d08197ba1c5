//! The sled backend (sled 0.34.7).
//!
//! # Layout
//! One tree, `log`, holds everything an append writes, so that one `apply_batch` makes
//! a whole group of appends atomic. Its key spaces, all with big-endian integers so
//! that byte order is numeric order:
//! - `e` + position(u64)                    -> a page: the encoded [`RecordedEvent`]s
//!   from that position on (module `page`; earlier builds stored one per key)
//! - `i` + idempotency key                  -> the first [`IdempotentResult`]
//! - `s` + stream + 0xFF + version(u64)     -> positions of that version and the next
//!   ones (a run; UTF-8 never holds 0xFF)
//! - `x`                                    -> the last position the `s` runs cover
//!
//! A group of appends thus writes one page per 4 KiB or so of records, plus the
//! idempotency keys it uses. The stream index (`s`, `x`) is derived from the pages and
//! written lazily, one key per stream for many events (module `index`).
//!
//! A second tree, `snapshots`, holds projection snapshots; losing it only costs a replay.
//!
//! # Group commit, pipelined
//! [`SledStore::append`] encodes the records in the caller's task (position, version
//! and id are patched in later, see [`assign`]) and sends them to the writer thread.
//! The writer takes every request waiting (up to [`MAX_BATCH`]), checks each one's
//! expected version and idempotency key against the log plus everything it staged
//! before, assigns positions, versions and ids, packs the records into pages, writes
//! the group with a single `apply_batch` and hands it to the flusher thread. The
//! flusher makes everything applied so far durable with one `flush` (fsync), then
//! advances the head, publishes the group's events and answers its requests,
//! rejections included, in order. While it flushes, the writer already stages the
//! next group; a flush due while the writer is applying a group waits (briefly) for
//! that group, so that one fsync covers both. One writer means version checks and
//! position assignment need no locks; one flush per group (or per several groups)
//! means durability costs one fsync per group, not per request.
//!
//! Readers see only what is durable: `read_all`, `replay`, `read_stream`,
//! `stream_version` and `idempotent_result` stop at the head. A rejection (e.g. a
//! version conflict) may report a version that is staged but not yet durable, so it is
//! answered after the flush too, when a retry can read that version.
//!
//! # Faults: a failed write, then resuming
//! A failed write or flush (e.g. a full disk) stops writing (fail-stop): the group it
//! belonged to, and everything staged after it, is answered with
//! [`StoreError::Unavailable`], never acknowledged, and every new write is refused with
//! the same error while [`EventStore::health`] reports [`WriteState::Refusing`]. sled
//! itself is fail-stop too (after an I/O error every sled call fails), so the store
//! resumes by reopening sled, never by writing on:
//! - The flusher is the only thread that advances the head and answers, so once it has
//!   failed a group the head is final: everything at or before it was acknowledged,
//!   everything after it was refused. It writes that position to the *fence* file
//!   ([`FENCE_FILE`], 8 bytes overwritten in place, so it needs no new disk space).
//! - A recovery thread probes the disk (writes and syncs a small file, with backoff:
//!   [`SledOptions::retry_first`] doubling up to [`SledOptions::retry_max`]). Once the
//!   probe succeeds it stops the failed writer, waits for readers to leave (they hold a
//!   read lock on the current sled handle), drops sled and opens it again from disk.
//! - Every open applies the fence: whatever the disk holds after it (a refused group
//!   may have reached the disk, wholly or partly, before the error) is removed (pages,
//!   idempotency keys, stream-index entries), flushed, and only then is the fence
//!   cleared. Head, positions, stream versions and the pending index are then derived
//!   from what is really on disk, exactly as after a restart, so positions stay
//!   gapless, no acknowledged event is lost and no refused one ever becomes readable,
//!   even if the process is killed while it refuses writes (the next start applies
//!   the fence). Readers never saw refused events (they stop at the head).
//! - If the fence itself cannot be written, that is logged as an error: a restart
//!   before writes resume could then show refused events.
//!
//! # Damaged log data
//! [`EventStore::check_integrity`] reads every page back (the server runs it in the
//! background after start). A page that does not decode makes its positions
//! unreadable; the stream index tells which streams own them. Those streams (and any
//! stream whose read fails as corrupt) are recorded as damaged: reads and writes of
//! them answer [`StoreError::Damaged`] and `health` counts them. Until the check is
//! done, a stream is read back whole before its first write, so a damaged stream the
//! check has not reached yet refuses writes too.
//!
//! sled's `generate_id` has gaps after a restart, so positions are counted here: the
//! next position is the last stored one plus one, read once at open.

mod index;
mod page;

use async_trait::async_trait;
use std::collections::HashMap;
use std::io::{Read, Seek, Write};
use std::path::Path;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{debug, error, info, info_span, warn, Instrument};

use self::index::Pending;
use self::page::Pages;
use super::envelope::assign;
use super::{
    AppendOutcome, AppendRequest, EventRef, EventStore, ExpectedVersion, IdempotentResult,
    IntegrityCheck, Metadata, NewEvent, RecordedEvent, StoreError, StoreHealth, WriteState,
};
use crate::domain::Timestamp;

/// Most requests committed together in one batch.
pub const MAX_BATCH: usize = 1024;
/// Requests waiting for the writer before senders wait (backpressure).
const QUEUE: usize = 8192;
/// Groups applied but waiting for the flusher before the writer waits.
const GROUPS_IN_FLIGHT: usize = 4;
/// Longest the flusher waits for a group the writer is applying.
const STAGING_WAIT: std::time::Duration = std::time::Duration::from_millis(2);

mod key {
    pub const EVENT: u8 = b'e';
    pub const STREAM: u8 = b's';
    pub const IDEMPOTENCY: u8 = b'i';
    pub const INDEXED: [u8; 1] = [b'x'];
    pub const STREAM_END: u8 = 0xFF;

    pub fn event(position: u64) -> [u8; 9] {
        let mut k = [EVENT; 9];
        k[1..].copy_from_slice(&position.to_be_bytes());
        k
    }

    pub fn stream(stream: &str, version: u64) -> Vec<u8> {
        let mut k = Vec::with_capacity(stream.len() + 10);
        k.push(STREAM);
        k.extend_from_slice(stream.as_bytes());
        k.push(STREAM_END);
        k.extend_from_slice(&version.to_be_bytes());
        k
    }

    pub fn idempotency(key: &str) -> Vec<u8> {
        let mut k = Vec::with_capacity(key.len() + 1);
        k.push(IDEMPOTENCY);
        k.extend_from_slice(key.as_bytes());
        k
    }

    pub fn u64_suffix(bytes: &[u8]) -> u64 {
        let mut b = [0u8; 8];
        if bytes.len() >= 8 {
            b.copy_from_slice(&bytes[bytes.len() - 8..]);
        }
        u64::from_be_bytes(b)
    }
}

/// Tunables of the sled backend.
#[derive(Clone, Debug)]
pub struct SledOptions {
    /// sled's page cache, in bytes.
    pub cache_bytes: u64,
    /// How many live events a subscriber may fall behind before it must catch up
    /// from the log.
    pub live_buffer: usize,
    /// How many events may wait in memory for the stream index on disk; also about
    /// how many events an open after a crash reads back to rebuild it.
    pub index_every: usize,
    /// After each group commit, also `fdatasync` sled's data file. sled 0.34 makes
    /// its writes stable with `sync_file_range` on Linux, which survives a crash of
    /// the process but neither flushes the disk's write cache nor file metadata, so
    /// without this an acknowledged write can be lost on power failure.
    pub sync_data: bool,
    /// After a failed write, how long the store waits before it first tries to
    /// resume; each failed try doubles the wait, up to `retry_max`.
    pub retry_first: Duration,
    pub retry_max: Duration,
}

impl Default for SledOptions {
    fn default() -> Self {
        SledOptions {
            cache_bytes: 512 * 1024 * 1024,
            live_buffer: 16 * 1024,
            index_every: 4096,
            sync_data: true,
            retry_first: Duration::from_secs(1),
            retry_max: Duration::from_secs(30),
        }
    }
}

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// An append, encoded by the caller.
struct Prepared {
    stream: String,
    expected: ExpectedVersion,
    idempotency_key: Option<String>,
    fingerprint: u64,
    /// Each event and its encoded record, position, version and id still unset.
    events: Vec<(Arc<RecordedEvent>, Vec<u8>)>,
}

impl Prepared {
    fn new(request: AppendRequest) -> Self {
        let AppendRequest {
            stream,
            expected,
            idempotency_key,
            fingerprint,
            metadata,
            events,
        } = request;
        let encode = |e: NewEvent, metadata: Metadata| {
            let record = RecordedEvent {
                position: 0,
                id: ulid::Ulid::nil(),
                stream: stream.clone(),
                version: 0,
                event_type: e.event_type,
                schema_version: e.schema_version,
                metadata,
                payload: e.payload,
            };
            let bytes = record.to_bytes();
            (Arc::new(record), bytes)
        };
        // Every event carries the metadata: clone it for all but the last.
        let mut events = events;
        let last = events.pop();
        let mut encoded: Vec<_> = events
            .into_iter()
            .map(|e| encode(e, metadata.clone()))
            .collect();
        encoded.extend(last.map(|e| encode(e, metadata)));
        Prepared {
            stream,
            expected,
            idempotency_key,
            fingerprint,
            events: encoded,
        }
    }
}

enum Job {
    Append(Prepared, Reply<AppendOutcome>),
    Import(Vec<RecordedEvent>, Reply<u64>),
}

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

/// The file holding the fence: the last acknowledged position when writes failed, or
/// `u64::MAX` when none did (see the module documentation).
pub const FENCE_FILE: &str = "refused-after";
/// Bytes the recovery probe writes and syncs before it reopens sled.
const PROBE_BYTES: usize = 1024 * 1024;
const NO_FENCE: u64 = u64::MAX;

/// State that outlives a reopen of sled.
struct Common {
    /// Position of the last durable event; readers use it to know where live begins.
    head: AtomicU64,
    live: broadcast::Sender<Arc<RecordedEvent>>,
    /// Set after a failed write or flush: the store stops taking writes (fail-stop)
    /// rather than acknowledge anything it cannot prove durable.
    failed: AtomicBool,
    /// Why writes are refused, and whether the store is closing; the recovery thread
    /// waits on `wake` for either.
    status: Mutex<Status>,
    wake: Condvar,
    /// Streams that cannot be read back, each with the first version that cannot.
    damaged: RwLock<HashMap<String, u64>>,
    integrity: Mutex<IntegrityCheck>,
    /// Until the integrity check is done, a stream is read back whole before its first
    /// write (so a damaged one refuses writes even before the check reaches it); these
    /// are the streams read so far. Emptied, and no longer used, once the check is done.
    verified: Mutex<std::collections::HashSet<String>>,
    /// The fence file, opened by the latest open.
    fence: Mutex<Option<std::fs::File>>,
}

#[derive(Default)]
struct Status {
    refusing: Option<(String, Timestamp)>,
    closed: bool,
}

impl Common {
    /// Stops writes after `e` (once), and wakes the recovery thread.
    fn fail(&self, e: &StoreError, what: &str) {
        if self.failed.swap(true, Ordering::AcqRel) {
            return;
        }
        error!(error = %e, "{what} failed; the store refuses writes until it can write again");
        let mut status = lock(&self.status);
        status.refusing = Some((e.to_string(), Timestamp::now()));
        self.wake.notify_all();
    }

    fn integrity_checked(&self) -> bool {
        matches!(*lock(&self.integrity), IntegrityCheck::Done { .. })
    }

    fn is_damaged(&self, stream: &str) -> bool {
        self.damaged.read().is_ok_and(|d| d.contains_key(stream))
    }

    fn mark_damaged(&self, stream: &str, version: u64) {
        let mut damaged = self.damaged.write().unwrap_or_else(|p| p.into_inner());
        let first = damaged.entry(stream.to_string()).or_insert(version);
        if version < *first {
            *first = version;
        }
    }

    /// Records on disk that nothing after `head` was acknowledged.
    fn write_fence(&self, head: u64) {
        let mut fence = lock(&self.fence);
        let written = match fence.as_mut() {
            Some(f) => write_fence_value(f, head),
            None => Err(std::io::Error::other("no fence file")),
        };
        match written {
            Ok(()) => warn!(
                head,
                "fence written: nothing after this position was acknowledged"
            ),
            Err(e) => error!(
                error = %e, head,
                "cannot write the fence: a restart before writes resume may show refused events"
            ),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn write_fence_value(f: &mut std::fs::File, value: u64) -> std::io::Result<()> {
    f.seek(std::io::SeekFrom::Start(0))?;
    f.write_all(&value.to_be_bytes())?;
    f.sync_data()
}

/// Opens (creating it if need be) the fence file and reads it.
fn open_fence(dir: &Path) -> Result<(std::fs::File, u64), StoreError> {
    let path = dir.join(FENCE_FILE);
    let io = |e: std::io::Error| StoreError::Io(format!("{}: {e}", path.display()));
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).map_err(io)?;
    let value = match <[u8; 8]>::try_from(bytes.as_slice()) {
        Ok(b) => u64::from_be_bytes(b),
        // New (or cut short while being created, before any write was refused).
        Err(_) => {
            write_fence_value(&mut f, NO_FENCE).map_err(io)?;
            NO_FENCE
        }
    };
    Ok((f, value))
}

/// Writes and syncs a small file in `dir`, then removes it: can the disk take writes?
fn probe(dir: &Path) -> std::io::Result<()> {
    let path = dir.join("write-probe");
    let result = (|| {
        let mut f = std::fs::File::create(&path)?;
        f.write_all(&vec![0u8; PROBE_BYTES])?;
        f.sync_all()
    })();
    let _ = std::fs::remove_file(&path);
    result
}

/// One open of sled; replaced whole when the store resumes after a failed write.
struct Shared {
    db: sled::Db,
    log: sled::Tree,
    snapshots: sled::Tree,
    common: Arc<Common>,
    /// Events in the log but not yet in the stream index on disk.
    pending: Mutex<Pending>,
    /// Set while the writer checks and applies a group.
    staging: AtomicBool,
    /// sled's data file, synced after each flush (see [`SledOptions::sync_data`]).
    data_file: Option<std::fs::File>,
}

/// The store's parts, shared with its recovery thread.
struct Core {
    dir: PathBuf,
    options: SledOptions,
    common: Arc<Common>,
    /// The current open of sled. Readers hold the read lock while they use it, so the
    /// recovery thread, holding the write lock, knows nobody else does. `None` only
    /// if reopening failed (readers then get [`StoreError::Unavailable`]).
    current: tokio::sync::RwLock<Option<Arc<Shared>>>,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

/// The embedded event store.
pub struct SledStore {
    core: Arc<Core>,
    recovery: Mutex<Option<JoinHandle<()>>>,
}

/// Opens sled in `dir`, applies the fence (`fence`, or the one on disk), and reads
/// back the head and the pending index.
fn open_shared(
    dir: &Path,
    options: &SledOptions,
    common: &Arc<Common>,
    fence: Option<u64>,
) -> Result<(Shared, u64), StoreError> {
    set_aside_unfinished_snapshots(dir)?;
    let db = sled::Config::new()
        .path(dir)
        .cache_capacity(options.cache_bytes)
        .mode(sled::Mode::HighThroughput)
        .open()
        .map_err(|e| match e {
            // sled reports its `flock` failing as an `Other` error in words.
            sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
                StoreError::InUse(dir.display().to_string())
            }
            other => other.into(),
        })?;
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
    let indexed = match log.get(key::INDEXED)? {
        Some(v) => key::u64_suffix(&v),
        None => {
            // A new log, or one written by a build that indexed every event as it
            // wrote it: either way the index is complete.
            log.insert(key::INDEXED, &head.to_be_bytes())?;
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
    };
    Ok((shared, head))
}

/// The position of the last stored event (0 for an empty log).
fn last_position(log: &sled::Tree) -> Result<u64, StoreError> {
    match log.scan_prefix([key::EVENT]).next_back() {
        Some(kv) => match page::records(&kv?.1).last() {
            Some(record) => page::position_of(record?),
            None => Err(StoreError::Corrupt("empty page".into())),
        },
        None => Ok(0),
    }
}

/// Removes everything stored after position `fence`: the events (pages), the
/// idempotency keys whose result lies after it, and the stream index's entries after
/// it. Nothing after the fence was acknowledged (see the module documentation).
fn roll_back_after(log: &sled::Tree, fence: u64) -> Result<(), StoreError> {
    let head = last_position(log)?;
    let mut batch = sled::Batch::default();
    let mut removed = 0u64;
    // A page holding the fence and later positions keeps only what is at or before it
    // (it keeps its key: its first record is at or before the fence).
    if let Some(kv) = log.range(key::event(0)..=key::event(fence)).next_back() {
        let (k, value) = kv?;
        let total = page::records(&value).count();
        let mut kept = Vec::new();
        // A page that does not decode is left as it is (the integrity check reports it).
        let decoded = scan_page(&value, fence, |position, record| {
            kept.push((position, record.to_vec()))
        });
        if decoded.is_err() {
            kept.clear();
        }
        if decoded.is_ok() && kept.len() < total {
            removed += (total - kept.len()) as u64;
            batch.remove(k.to_vec());
            let mut pages = Pages::default();
            for (position, record) in &kept {
                pages.push(&mut batch, *position, record);
            }
            pages.close(&mut batch);
        }
    }
    for kv in log.range(key::event(fence.saturating_add(1))..=key::event(u64::MAX)) {
        let (k, value) = kv?;
        removed += page::records(&value).count() as u64;
        batch.remove(&k);
    }
    for kv in log.scan_prefix([key::IDEMPOTENCY]) {
        let (k, v) = kv?;
        if let Ok(r) = postcard::from_bytes::<IdempotentResult>(&v) {
            if r.outcome.last_position > fence {
                batch.remove(&k);
            }
        }
    }
    for kv in log.scan_prefix([key::STREAM]) {
        let (k, run) = kv?;
        let keep = (0..run.len() / 8)
            .take_while(|&i| key::u64_suffix(&run[i * 8..i * 8 + 8]) <= fence)
            .count();
        if keep == 0 {
            batch.remove(&k);
        } else if keep < run.len() / 8 {
            batch.insert(&k, &run[..keep * 8]);
        }
    }
    if let Some(v) = log.get(key::INDEXED)? {
        if key::u64_suffix(&v) > fence {
            batch.insert(&key::INDEXED, &fence.to_be_bytes());
        }
    }
    log.apply_batch(batch)?;
    if head > fence || removed > 0 {
        warn!(
            fence,
            head_on_disk = head,
            removed,
            "removed refused writes that had reached the disk"
        );
    }
    Ok(())
}

/// Calls `f` with each record of a page at or before `to`.
fn scan_page(value: &[u8], to: u64, mut f: impl FnMut(u64, &[u8])) -> Result<(), StoreError> {
    for record in page::records(value) {
        let record = record?;
        let position = page::position_of(record)?;
        if position <= to {
            f(position, record);
        }
    }
    Ok(())
}

impl Core {
    /// Opens sled and starts a writer on it; on success `slot` holds the new open.
    fn install(
        &self,
        slot: &mut Option<Arc<Shared>>,
        fence: Option<u64>,
    ) -> Result<(), StoreError> {
        let (shared, head) = open_shared(&self.dir, &self.options, &self.common, fence)?;
        let shared = Arc::new(shared);
        self.common.head.store(head, Ordering::Release);
        let (tx, rx) = mpsc::channel(QUEUE);
        let writer_shared = shared.clone();
        let index_every = self.options.index_every.max(1);
        let writer = std::thread::Builder::new()
            .name("swarmdesk-writer".into())
            .spawn(move || Writer::new(writer_shared, head, index_every).run(rx))
            .map_err(|e| StoreError::Io(e.to_string()))?;
        *slot = Some(shared);
        *lock(&self.jobs) = Some(tx);
        *lock(&self.writer) = Some(writer);
        Ok(())
    }

    fn stop_writer(&self) {
        // Dropping the sender lets the writer drain what is queued, then exit.
        lock(&self.jobs).take();
        let handle = lock(&self.writer).take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }

    /// After a failed write: waits (with backoff) until the disk takes writes again,
    /// then reopens sled, rolled back to what was acknowledged. Returns when closed.
    fn recover(&self) {
        let common = &self.common;
        let mut delay = self.options.retry_first;
        loop {
            {
                let mut status = lock(&common.status);
                while !status.closed && status.refusing.is_none() {
                    status = common.wake.wait(status).unwrap_or_else(|p| p.into_inner());
                }
                let (status, _) = common
                    .wake
                    .wait_timeout_while(status, delay, |s| !s.closed)
                    .unwrap_or_else(|p| p.into_inner());
                if status.closed {
                    return;
                }
            }
            match self.resume() {
                Ok(head) => {
                    info!(head, "the store writes again");
                    delay = self.options.retry_first;
                }
                Err(e) => {
                    delay = (delay * 2).min(self.options.retry_max.max(self.options.retry_first));
                    warn!(error = %e, retry_in = ?delay, "the store still cannot write");
                }
            }
        }
    }

    /// One try at resuming writes; returns the head it resumed at.
    fn resume(&self) -> Result<u64, StoreError> {
        probe(&self.dir).map_err(|e| StoreError::Io(format!("write probe: {e}")))?;
        // The failed writer refuses what is queued, and its flusher has answered
        // everything: from here on the head is final.
        self.stop_writer();
        let head = self.common.head.load(Ordering::Acquire);
        let mut slot = self.current.blocking_write();
        // Nobody else holds this open of sled now: the writer and flusher threads
        // have ended and readers wait for the lock. Dropping it releases sled's lock.
        slot.take();
        let mut attempt = 0;
        let opened = loop {
            match self.install(&mut slot, Some(head)) {
                // sled's background threads may hold the old open for a moment.
                Err(StoreError::InUse(_)) if attempt < 50 => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                other => break other,
            }
        };
        // On failure, stay without an open (readers get `Unavailable`); the next try
        // opens.
        opened?;
        let resumed = self.common.head.load(Ordering::Acquire);
        self.common.failed.store(false, Ordering::Release);
        lock(&self.common.status).refusing = None;
        Ok(resumed)
    }
}

impl SledStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: impl AsRef<Path>, options: SledOptions) -> Result<Self, StoreError> {
        let (live, _) = broadcast::channel(options.live_buffer.max(16));
        let common = Arc::new(Common {
            head: AtomicU64::new(0),
            live,
            failed: AtomicBool::new(false),
            status: Mutex::new(Status::default()),
            wake: Condvar::new(),
            damaged: RwLock::new(HashMap::new()),
            integrity: Mutex::new(IntegrityCheck::NotStarted),
            verified: Mutex::new(Default::default()),
            fence: Mutex::new(None),
        });
        let core = Arc::new(Core {
            dir: dir.as_ref().to_path_buf(),
            options,
            common,
            current: tokio::sync::RwLock::new(None),
            jobs: Mutex::new(None),
            writer: Mutex::new(None),
        });
        {
            let mut slot = core
                .current
                .try_write()
                .map_err(|_| StoreError::Io("the store is being opened".into()))?;
            core.install(&mut slot, None)?;
        }
        let recovering = core.clone();
        let recovery = std::thread::Builder::new()
            .name("swarmdesk-recovery".into())
            .spawn(move || recovering.recover())
            .map_err(|e| StoreError::Io(e.to_string()))?;
        Ok(SledStore {
            core,
            recovery: Mutex::new(Some(recovery)),
        })
    }

    fn sender(&self) -> Result<mpsc::Sender<Job>, StoreError> {
        if self.core.common.failed.load(Ordering::Acquire) {
            return Err(failed_error());
        }
        lock(&self.core.jobs).clone().ok_or(StoreError::Closed)
    }

    /// The current open of sled, held for the duration of a read.
    async fn shared(
        &self,
    ) -> Result<tokio::sync::RwLockReadGuard<'_, Option<Arc<Shared>>>, StoreError> {
        let guard = self.core.current.read().await;
        if lock(&self.core.common.status).closed {
            return Err(StoreError::Closed);
        }
        if guard.is_none() {
            return Err(StoreError::Unavailable(
                "the store is being reopened after a failed write".into(),
            ));
        }
        Ok(guard)
    }

    /// Until the integrity check is done, reads `stream` back whole before its first
    /// write: a stream that cannot be read is marked damaged (by `read_stream`) and the
    /// write is refused, as it will be once the check has found it.
    async fn verify_before_first_write(&self, stream: &str) -> Result<(), StoreError> {
        let common = &self.core.common;
        if common.integrity_checked() || lock(&common.verified).contains(stream) {
            return Ok(());
        }
        self.read_stream(stream, 1, usize::MAX).await?;
        if !common.integrity_checked() {
            lock(&common.verified).insert(stream.to_string());
        }
        Ok(())
    }

    fn close(&self) {
        lock(&self.core.common.status).closed = true;
        self.core.common.wake.notify_all();
        if let Some(handle) = lock(&self.recovery).take() {
            let _ = handle.join();
        }
        self.core.stop_writer();
    }
}

fn event_at(shared: &Shared, position: u64) -> Result<RecordedEvent, StoreError> {
    let mut found = None;
    scan(&shared.log, position, position, |record| {
        found = Some(RecordedEvent::from_bytes(record)?);
        Ok(false)
    })?;
    found.ok_or_else(|| StoreError::Corrupt(format!("position {position} is indexed but missing")))
}

/// Calls `visit` with each stored record from position `from` to `to` (inclusive), in
/// order, until it returns `false`.
fn scan(
    log: &sled::Tree,
    from: u64,
    to: u64,
    mut visit: impl FnMut(&[u8]) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    if from > to {
        return Ok(());
    }
    // The page holding `from` starts at or before it.
    let start = match log.range(key::event(0)..=key::event(from)).next_back() {
        Some(kv) => key::u64_suffix(&kv?.0),
        None => from,
    };
    for kv in log.range(key::event(start)..=key::event(to)) {
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

fn failed_error() -> StoreError {
    StoreError::Unavailable(
        "the store could not write to disk (is it full?); nothing of this request was written, \
         and writes resume by themselves once the disk accepts them again"
            .into(),
    )
}

/// The error a request of a failed group gets, naming the cause.
fn refused(cause: &StoreError) -> StoreError {
    match cause {
        StoreError::Unavailable(_) => cause.clone(),
        cause => StoreError::Unavailable(format!(
            "the store could not write to disk ({cause}); nothing of this request was written, \
             and writes resume by themselves once the disk accepts them again"
        )),
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        self.close();
    }
}

#[async_trait]
impl EventStore for SledStore {
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, StoreError> {
        if request.events.is_empty() {
            return Err(StoreError::EmptyAppend);
        }
        if self.core.common.is_damaged(&request.stream) {
            return Err(StoreError::Damaged {
                stream: request.stream,
            });
        }
        self.verify_before_first_write(&request.stream).await?;
        let span = info_span!("append", stream = %request.stream, events = request.events.len());
        // The span follows the future across its awaits (an entered guard would stay
        // entered on whatever task the worker polls next, nesting requests' logs).
        async move {
            // Encoding here, in the caller's task, keeps it off the writer thread.
            let prepared = Prepared::new(request);
            let (tx, rx) = oneshot::channel();
            self.sender()?
                .send(Job::Append(prepared, tx))
                .await
                .map_err(|_| StoreError::Closed)?;
            rx.await.map_err(|_| StoreError::Closed)?
        }
        .instrument(span)
        .await
    }

    async fn import(&self, events: Vec<RecordedEvent>) -> Result<u64, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.sender()?
            .send(Job::Import(events, tx))
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let guard = self.shared().await?;
        let Some(shared) = guard.as_ref() else {
            return Err(failed_error());
        };
        let head = self.head();
        let read = index::positions(
            &shared.log,
            &shared.pending,
            stream,
            from_version,
            limit,
            head,
        )
        .and_then(|positions| {
            positions
                .into_iter()
                .map(|p| event_at(shared, p))
                .collect::<Result<Vec<_>, _>>()
        });
        match read {
            Err(StoreError::Corrupt(why)) => {
                // Nothing can be decided on a stream that cannot be read back.
                error!(stream, error = %why, "a stream cannot be read; writes to it are refused");
                self.core.common.mark_damaged(stream, from_version);
                Err(StoreError::Damaged {
                    stream: stream.to_string(),
                })
            }
            other => other,
        }
    }

    async fn read_all(&self, from: u64, limit: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        let head = self.head();
        let from = from.max(1);
        if from > head || limit == 0 {
            return Ok(Vec::new());
        }
        let guard = self.shared().await?;
        let Some(shared) = guard.as_ref() else {
            return Err(failed_error());
        };
        // Bound by head: only what is durable and published is visible to readers.
        let end = from.saturating_add(limit as u64 - 1).min(head);
        let mut out = Vec::with_capacity((end - from + 1) as usize);
        scan(&shared.log, from, end, |record| {
            out.push(RecordedEvent::from_bytes(record)?);
            Ok(true)
        })?;
        Ok(out)
    }

    async fn replay(
        &self,
        from: u64,
        visit: &mut (dyn for<'e> FnMut(EventRef<'e>) -> bool + Send),
    ) -> Result<u64, StoreError> {
        let head = self.head();
        let from = from.max(1);
        let mut visited = 0;
        if from > head {
            return Ok(visited);
        }
        let guard = self.shared().await?;
        let Some(shared) = guard.as_ref() else {
            return Err(failed_error());
        };
        // One range over everything durable; each record is decoded where sled holds it.
        scan(&shared.log, from, head, |record| {
            visited += 1;
            Ok(visit(EventRef::decode(record)?))
        })?;
        Ok(visited)
    }

    async fn stream_version(&self, stream: &str) -> Result<u64, StoreError> {
        let guard = self.shared().await?;
        let Some(shared) = guard.as_ref() else {
            return Err(failed_error());
        };
        index::last_version(&shared.log, &shared.pending, stream, self.head())
    }

    async fn idempotent_result(&self, key: &str) -> Result<Option<IdempotentResult>, StoreError> {
        let head = self.head();
        let guard = self.shared().await?;
        let Some(shared) = guard.as_ref() else {
            return Err(failed_error());
        };
        match shared.log.get(key::idempotency(key))? {
            Some(bytes) => postcard::from_bytes::<IdempotentResult>(&bytes)
                .map(|r| Some(r).filter(|r| r.outcome.last_position <= head))
                .map_err(|e| StoreError::Corrupt(format!("idempotency record: {e}"))),
            None => Ok(None),
        }
    }

    fn head(&self) -> u64 {
        self.core.common.head.load(Ordering::Acquire)
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<RecordedEvent>> {
        self.core.common.live.subscribe()
    }

    async fn save_snapshot(&self, name: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let guard = self.shared().await?;
        let Some(shared) = guard.as_ref() else {
            return Err(failed_error());
        };
        shared.snapshots.insert(name.as_bytes(), bytes)?;
        shared.snapshots.flush_async().await?;
        Ok(())
    }

    async fn load_snapshot(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let guard = self.shared().await?;
        let Some(shared) = guard.as_ref() else {
            return Err(failed_error());
        };
        Ok(shared.snapshots.get(name.as_bytes())?.map(|v| v.to_vec()))
    }

    async fn shutdown(&self) -> Result<(), StoreError> {
        self.close();
        // Closing sled here releases its lock on the directory even while something
        // (e.g. the integrity check) still holds the store.
        let shared = self.core.current.write().await.take();
        if let Some(shared) = shared {
            shared.db.flush_async().await?;
        }
        Ok(())
    }

    fn health(&self) -> StoreHealth {
        let common = &self.core.common;
        let writes = match &lock(&common.status).refusing {
            Some((reason, since)) => WriteState::Refusing {
                reason: reason.clone(),
                since: *since,
            },
            None => WriteState::Writable,
        };
        StoreHealth {
            writes,
            integrity: lock(&common.integrity).clone(),
            damaged_streams: common.damaged.read().map_or(0, |d| d.len()),
        }
    }

    async fn check_integrity(&self) -> Result<IntegrityCheck, StoreError> {
        let core = self.core.clone();
        tokio::task::spawn_blocking(move || check_integrity(&core))
            .await
            .map_err(|e| StoreError::Io(format!("integrity check: {e}")))?
    }
}

/// Pages the integrity check reads per hold of the read lock, so that a reopen after
/// a failed write need not wait for the whole check.
const CHECK_CHUNK: usize = 256;

/// Reads every page up to the head; records which streams own unreadable positions.
fn check_integrity(core: &Core) -> Result<IntegrityCheck, StoreError> {
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
            .range(key::event(next_key)..=key::event(head))
            .peekable();
        for _ in 0..CHECK_CHUNK {
            let Some(kv) = pages.next() else {
                done = true;
                break;
            };
            let (k, value) = kv?;
            let first = key::u64_suffix(&k);
            // The page ends where the next one starts (the last one at the head).
            let last = match pages.peek() {
                Some(Ok((next, _))) => key::u64_suffix(next) - 1,
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

/// One request's answer, sent once the flush after it succeeded.
enum Staged {
    Append(
        Reply<AppendOutcome>,
        Result<AppendOutcome, StoreError>,
        Vec<Arc<RecordedEvent>>,
    ),
    Import(Reply<u64>, Result<u64, StoreError>, Vec<Arc<RecordedEvent>>),
}

impl Staged {
    fn events(&self) -> &[Arc<RecordedEvent>] {
        match self {
            Staged::Append(_, _, events) | Staged::Import(_, _, events) => events,
        }
    }

    /// Publishes the events, then answers.
    fn complete(self, live: &broadcast::Sender<Arc<RecordedEvent>>) {
        let (Staged::Append(_, _, events) | Staged::Import(_, _, events)) = &self;
        for e in events {
            // No receivers is fine: nobody is listening.
            let _ = live.send(e.clone());
        }
        match self {
            Staged::Append(reply, result, _) => drop(reply.send(result)),
            Staged::Import(reply, result, _) => drop(reply.send(result)),
        }
    }

    fn fail(self, error: &StoreError) {
        match self {
            Staged::Append(reply, ..) => drop(reply.send(Err(error.clone()))),
            Staged::Import(reply, ..) => drop(reply.send(Err(error.clone()))),
        }
    }
}

/// Requests applied with one `apply_batch`, waiting for the flush.
struct Group {
    /// The head once the group is durable.
    last_position: u64,
    staged: Vec<Staged>,
}

impl Shared {
    /// Makes everything applied so far durable: sled's flush, then (if configured)
    /// an `fdatasync` of its data file.
    fn flush(&self) -> Result<usize, StoreError> {
        let flushed = self.db.flush()?;
        if let Some(f) = &self.data_file {
            f.sync_data()
                .map_err(|e| StoreError::Io(format!("fdatasync: {e}")))?;
        }
        Ok(flushed)
    }
}

/// The flusher thread: makes groups durable, in order, then publishes and answers.
/// It alone advances the head, so once it has failed a group the head is final, and it
/// writes the fence (see the module documentation).
fn flush_groups(shared: Arc<Shared>, groups: std_mpsc::Receiver<Group>) {
    let common = &shared.common;
    let mut ready = Vec::new();
    let mut fenced = false;
    while let Ok(first) = groups.recv() {
        ready.push(first);
        // One flush covers every group applied before it. If the writer is applying
        // one right now, wait for it too: one flush for both costs less than two.
        ready.extend(groups.try_iter());
        if shared.staging.load(Ordering::Acquire) {
            if let Ok(group) = groups.recv_timeout(STAGING_WAIT) {
                ready.push(group);
                ready.extend(groups.try_iter());
            }
        }
        let durable = if common.failed.load(Ordering::Acquire) {
            Err(failed_error())
        } else {
            shared.flush()
        };
        match durable {
            Ok(_) => {
                let head = ready.last().map_or(0, |g| g.last_position);
                common.head.fetch_max(head, Ordering::AcqRel);
                debug!(head, groups = ready.len(), "group committed");
                for group in ready.drain(..) {
                    for s in group.staged {
                        s.complete(&common.live);
                    }
                }
            }
            Err(e) => {
                common.fail(&e, "flush");
                if !fenced {
                    fenced = true;
                    common.write_fence(common.head.load(Ordering::Acquire));
                }
                let answer = refused(&e);
                for group in ready.drain(..) {
                    for s in group.staged {
                        s.fail(&answer);
                    }
                }
            }
        }
    }
}

/// State owned by the writer thread.
struct Writer {
    shared: Arc<Shared>,
    /// Current version of streams the writer has seen, including what it staged but
    /// is not durable yet; a miss reads the index.
    versions: HashMap<String, u64>,
    ids: ulid::Generator,
    /// The position the next staged event gets.
    next: u64,
    index_every: usize,
}

impl Writer {
    fn new(shared: Arc<Shared>, head: u64, index_every: usize) -> Self {
        Writer {
            shared,
            versions: HashMap::new(),
            ids: ulid::Generator::new(),
            next: head + 1,
            index_every,
        }
    }

    fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        let (to_flusher, groups) = std_mpsc::sync_channel(GROUPS_IN_FLIGHT);
        let flusher_shared = self.shared.clone();
        let flusher = std::thread::Builder::new()
            .name("swarmdesk-flusher".into())
            .spawn(move || flush_groups(flusher_shared, groups));
        let flusher = match flusher {
            Ok(handle) => handle,
            Err(e) => {
                error!(error = %e, "cannot start the flusher thread; the store accepts no writes");
                let e = StoreError::Io(format!("cannot start the flusher thread: {e}"));
                self.fail(&e);
                return;
            }
        };
        let mut jobs = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = rx.blocking_recv() {
            jobs.push(first);
            while jobs.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            self.shared.staging.store(true, Ordering::Release);
            let group = self.stage(jobs.drain(..));
            self.shared.staging.store(false, Ordering::Release);
            if let Some(group) = group {
                // Only fails if the flusher is gone, which it is not while we hold it.
                let _ = to_flusher.send(group);
            }
            let failed = self.shared.common.failed.load(Ordering::Acquire);
            if !failed && self.pending_len() >= self.index_every {
                self.write_index();
            }
        }
        drop(to_flusher);
        let _ = flusher.join();
        // Index what is pending, so that the next open need not read it back.
        if self.pending_len() > 0 && !self.shared.common.failed.load(Ordering::Acquire) {
            self.write_index();
        }
        if let Err(e) = self.shared.flush() {
            error!(error = %e, "final flush failed");
        }
    }

    fn pending_len(&self) -> usize {
        self.shared.pending.lock().map_or(0, |p| p.len())
    }

    fn fail(&self, e: &StoreError) {
        self.shared.common.fail(e, "write");
    }

    /// Checks and writes one group of requests; `None` if none is left to answer.
    fn stage(&mut self, jobs: impl Iterator<Item = Job>) -> Option<Group> {
        let span = info_span!("stage");
        let _enter = span.enter();
        if self.shared.common.failed.load(Ordering::Acquire) {
            let e = failed_error();
            for job in jobs {
                match job {
                    Job::Append(_, reply) => drop(reply.send(Err(e.clone()))),
                    Job::Import(_, reply) => drop(reply.send(Err(e.clone()))),
                }
            }
            return None;
        }
        let first_position = self.next;
        let mut batch = sled::Batch::default();
        let mut pages = Pages::default();
        let mut staged = Vec::new();
        // Idempotency keys this batch uses (earlier batches are in the tree already).
        let mut keys: HashMap<String, IdempotentResult> = HashMap::new();
        for job in jobs {
            staged.push(match job {
                Job::Append(request, reply) => {
                    match self.stage_append(request, &mut batch, &mut pages, &mut keys) {
                        Ok((outcome, events)) => Staged::Append(reply, Ok(outcome), events),
                        Err(e) => Staged::Append(reply, Err(e), Vec::new()),
                    }
                }
                Job::Import(events, reply) => {
                    match self.stage_import(events, &mut batch, &mut pages) {
                        Ok(events) => Staged::Import(reply, Ok(events.len() as u64), events),
                        Err(e) => Staged::Import(reply, Err(e), Vec::new()),
                    }
                }
            });
        }
        pages.close(&mut batch);
        // A group of rejections and deduplications writes nothing, but is still
        // answered after a flush (see the module documentation).
        let writes = self.next != first_position || !keys.is_empty();
        if writes {
            if let Err(e) = self.shared.log.apply_batch(batch) {
                // The flusher refuses the group (the store has failed) and writes the
                // fence: part of the batch may be on disk.
                self.fail(&StoreError::from(e));
                return Some(Group {
                    last_position: self.next - 1,
                    staged,
                });
            }
        }
        let mut pending = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for e in staged.iter().flat_map(Staged::events) {
            if let Err(err) = pending.push(&e.stream, e.version, e.position) {
                // The writer checked these versions itself: this cannot happen.
                self.fail(&err);
            }
        }
        Some(Group {
            last_position: self.next - 1,
            staged,
        })
    }

    /// Writes the pending stream index to disk, then forgets it. Only this thread
    /// adds to it, so nothing is added in between.
    fn write_index(&mut self) {
        let batch = match self.shared.pending.lock() {
            Ok(pending) => pending.to_batch(),
            Err(_) => return,
        };
        match self.shared.log.apply_batch(batch) {
            Ok(()) => {
                if let Ok(mut pending) = self.shared.pending.lock() {
                    pending.clear();
                }
            }
            Err(e) => self.fail(&StoreError::from(e)),
        }
    }

    fn current_version(&mut self, stream: &str) -> Result<u64, StoreError> {
        if let Some(v) = self.versions.get(stream) {
            return Ok(*v);
        }
        let shared = &self.shared;
        let v = index::last_version(&shared.log, &shared.pending, stream, u64::MAX)?;
        self.versions.insert(stream.to_string(), v);
        Ok(v)
    }

    /// Checks `expected` against the stream's current version and, if it holds, moves
    /// the stream on by `n` versions. Returns the version before.
    fn claim_versions(
        &mut self,
        stream: &str,
        expected: ExpectedVersion,
        n: u64,
    ) -> Result<u64, StoreError> {
        fn claim(
            version: &mut u64,
            stream: &str,
            expected: ExpectedVersion,
            n: u64,
        ) -> Result<u64, StoreError> {
            let current = *version;
            match expected {
                ExpectedVersion::Exact(expected) if expected != current => {
                    Err(StoreError::VersionConflict {
                        stream: stream.to_string(),
                        expected,
                        current,
                    })
                }
                _ => {
                    *version = current + n;
                    Ok(current)
                }
            }
        }
        // One lookup for a stream the writer knows, which is the common case.
        if let Some(version) = self.versions.get_mut(stream) {
            return claim(version, stream, expected, n);
        }
        let shared = &self.shared;
        let mut version = index::last_version(&shared.log, &shared.pending, stream, u64::MAX)?;
        let claimed = claim(&mut version, stream, expected, n);
        self.versions.insert(stream.to_string(), version);
        claimed
    }

    fn next_id(&mut self) -> ulid::Ulid {
        self.ids.generate().unwrap_or_else(|_| ulid::Ulid::new())
    }

    fn stage_append(
        &mut self,
        req: Prepared,
        batch: &mut sled::Batch,
        pages: &mut Pages,
        keys: &mut HashMap<String, IdempotentResult>,
    ) -> Result<(AppendOutcome, Vec<Arc<RecordedEvent>>), StoreError> {
        if self.shared.common.is_damaged(&req.stream) {
            return Err(StoreError::Damaged { stream: req.stream });
        }
        if let Some(k) = &req.idempotency_key {
            let earlier = match keys.get(k) {
                Some(r) => Some(r.clone()),
                None => match self.shared.log.get(key::idempotency(k))? {
                    Some(b) => Some(
                        postcard::from_bytes::<IdempotentResult>(&b)
                            .map_err(|e| StoreError::Corrupt(format!("idempotency record: {e}")))?,
                    ),
                    None => None,
                },
            };
            if let Some(r) = earlier {
                if r.fingerprint != req.fingerprint {
                    return Err(StoreError::IdempotencyKeyReused(k.clone()));
                }
                // Answered after the flush like everything else: the first write may
                // be in this very group, or in one still being flushed.
                return Ok((
                    AppendOutcome {
                        deduplicated: true,
                        ..r.outcome
                    },
                    Vec::new(),
                ));
            }
        }
        let n = req.events.len() as u64;
        let current = self.claim_versions(&req.stream, req.expected, n)?;
        let first_position = self.next;
        let mut events = Vec::with_capacity(req.events.len());
        for (i, (mut record, mut bytes)) in req.events.into_iter().enumerate() {
            let (position, version, id) = (self.next, current + 1 + i as u64, self.next_id());
            assign(&mut bytes, position, version, id);
            pages.push(batch, position, &bytes);
            // Not shared yet, so this patches in place.
            let r = Arc::make_mut(&mut record);
            (r.position, r.version, r.id) = (position, version, id);
            events.push(record);
            self.next += 1;
        }
        let outcome = AppendOutcome {
            stream: req.stream,
            first_version: current + 1,
            last_version: current + n,
            first_position,
            last_position: first_position + n - 1,
            deduplicated: false,
        };
        if let Some(k) = req.idempotency_key {
            let r = IdempotentResult {
                fingerprint: req.fingerprint,
                outcome: outcome.clone(),
            };
            batch.insert(
                key::idempotency(&k),
                postcard::to_allocvec(&r).unwrap_or_default(),
            );
            keys.insert(k, r);
        }
        Ok((outcome, events))
    }

    fn stage_import(
        &mut self,
        records: Vec<RecordedEvent>,
        batch: &mut sled::Batch,
        pages: &mut Pages,
    ) -> Result<Vec<Arc<RecordedEvent>>, StoreError> {
        // Validate everything before staging anything: an import is all or nothing.
        let mut local: HashMap<String, u64> = HashMap::new();
        for (i, r) in records.iter().enumerate() {
            let want = self.next + i as u64;
            if r.position != want {
                return Err(StoreError::InvalidImport(format!(
                    "event {} has position {}, expected {want} (positions must continue the log without gaps)",
                    r.id, r.position
                )));
            }
            let current = match local.get(&r.stream) {
                Some(v) => *v,
                None => self.current_version(&r.stream)?,
            };
            if r.version != current + 1 {
                return Err(StoreError::InvalidImport(format!(
                    "event at position {} has version {} of `{}`, expected {}",
                    r.position,
                    r.version,
                    r.stream,
                    current + 1
                )));
            }
            local.insert(r.stream.clone(), r.version);
        }
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            pages.push(batch, r.position, &r.to_bytes());
            out.push(Arc::new(r));
        }
        self.next += out.len() as u64;
        self.versions.extend(local);
        Ok(out)
    }
}
