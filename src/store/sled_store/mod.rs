//! The sled backend (sled 0.34.7).
//!
//! # Layout
//! One tree, `log`, holds everything an append writes, so that one `apply_batch` makes
//! a whole group of appends atomic. Its key spaces, all with big-endian integers so
//! that byte order is numeric order:
//! - `e` + position(u64)                    -> a page: the encoded [`RecordedEvent`]s
//!   from that position on (module `page`; earlier builds stored one per key), and
//!   for a group of one page the idempotency keys it used
//! - `i` + idempotency key                  -> the first [`IdempotentResult`] (a key
//!   carried in a page gets its entry lazily, with the stream index)
//! - `s` + stream + 0xFF + version(u64)     -> positions of that version and the next
//!   ones (a run; UTF-8 never holds 0xFF)
//! - `x`                                    -> the last position the `s` runs cover
//!
//! A group of appends thus writes one page per 4 KiB or so of records, plus the
//! idempotency keys it uses unless it is one page, which then carries them. The stream
//! index (`s`, `x`) is derived from the pages and written lazily, one key per stream for
//! many events (module `index`).
//!
//! Projection snapshots are files beside sled's (module `snapshot_file`); losing one
//! only costs a replay. The `snapshots` tree holds those of earlier builds until a
//! file replaces them.
//!
//! # Group commit, pipelined
//! [`SledStore::append`] encodes the records in the caller's task (position, version
//! and id are patched in later, see [`assign`]) and sends them to the writer thread.
//! The writer takes every request waiting (up to [`MAX_BATCH`]), checks each one's
//! expected version and idempotency key against the log plus everything it staged
//! before, assigns positions, versions and ids, seals each record into the log's hash
//! chain (one SHA-256 per record, see [`chain`](crate::store::chain): sequential, so
//! only the writer can do it), packs the records into pages, writes
//! the group in one atomic step (one `insert` when it is a single page, else one
//! `apply_batch`, module `writes`) and hands it to the flusher thread. The
//! flusher makes everything applied so far durable with one flush (sled's `flush`,
//! which is not an fsync: it uses `sync_file_range`; then, with
//! [`SledOptions::sync_data`], an `fdatasync` of sled's data file), then advances the
//! head, publishes the group's events, then answers its requests, rejections
//! included, in order (publishing first, so that the projections are on the events
//! while the requests' tasks wake). While it flushes, the writer already stages the
//! next group; a flush due while the writer is applying a group waits (briefly) for
//! that group, so that one flush covers both. When no group is in flight and no
//! request waits, the writer commits its group itself the same way (a lone write
//! then skips one thread hand-off); one thread commits at a time either way. One
//! writer means version checks and position assignment need no locks; one flush per
//! group (or per several groups) means durability costs one flush per group, not per
//! request.
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
//! - Only the committing thread (the flusher, or the writer while no group is in
//!   flight; one at a time) advances the head and answers, so once a group has
//!   failed the head is final: everything at or before it was acknowledged,
//!   everything after it was refused. It writes that position to the *fence* file
//!   ([`FENCE_FILE`], 8 bytes overwritten in place, so it needs no new disk space).
//! - Reads go on, but not on the failed open of sled: sled's reads write too (a
//!   traversal splits or merges a node it meets in the log first), and on the failed
//!   open every such write fails with the stored I/O error. So the recovery thread at
//!   once deletes the space reserve ([`RESERVE_FILE`], [`RESERVE_BYTES`] written at
//!   open) and reopens sled without a writer, in that room (module `reserve`);
//!   readers wait for it (up to `REOPEN_WAIT`) rather than read the failed open.
//! - The recovery thread then probes the disk (writes the reserve again, then writes
//!   and syncs a small file, with backoff: [`SledOptions::retry_first`] doubling up to
//!   [`SledOptions::retry_max`]). Once both succeed it stops the failed writer (if
//!   any), waits for readers to leave (they hold a read lock on the current sled
//!   handle), drops sled and opens it again from disk, with a writer.
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
//!
//! # Files
//! This file holds the options, the state shared by the threads and the
//! [`EventStore`] implementation (one `impl` block, so it stays here; that is why the
//! file is near 600 lines). Each other concern has its own file:
//! - `keys`: the log tree's key spaces;
//! - `page`: pages of records; `index`: the lazily written stream index;
//! - `open`: opening sled (unfinished snapshots set aside, fence applied, head and
//!   pending index read back);
//! - `reader`: reading records and scanning pages up to the head;
//! - `writer`: the writer thread (checks, assignment, one atomic write per group);
//! - `writes`: a group's writes, one `insert` for a single key, else one `apply_batch`;
//! - `flusher`: committing a group (durability, head, publish, answers) and the
//!   flusher thread;
//! - `fence`: the full-disk fence file and the roll-back after it;
//! - `recovery`: probing the disk and reopening sled after a failed write;
//! - `release`: reopening sled after a start's long replay, to drop its page state;
//! - `reserve`: the space reserve released for reads when a write fails;
//! - `snapshot_file`: projection snapshots as files, written atomically;
//! - `integrity`: the background check that finds damaged streams;
//! - `chain`: the hash chain on disk: the last link at open, the log head, and
//!   `verify` (of the open store, or of a directory no process holds).

mod chain;
mod fence;
mod flusher;
mod index;
mod integrity;
mod keys;
mod open;
mod page;
mod reader;
mod recovery;
mod release;
mod reserve;
mod snapshot_file;
mod writer;
mod writes;

pub use chain::verify_dir;
pub use fence::FENCE_FILE;
pub use open::{set_aside_unfinished_snapshots, SET_ASIDE_DIR};
pub use reserve::{RESERVE_BYTES, RESERVE_FILE};
pub use snapshot_file::SNAPSHOTS_DIR;

use self::fence::{open_fence, roll_back_after, write_fence_value, NO_FENCE};
use self::flusher::{commit, flush_groups, Group, Staged};
use self::integrity::check_integrity;
use self::open::{last_position, open_shared};
use self::reader::{event_at, scan, scan_page};
use self::writer::{Job, Prepared, Reply, Writer};

use async_trait::async_trait;
use std::collections::HashMap;
use std::io::{Read, Seek, Write};
use std::path::Path;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{debug, error, info, info_span, warn, Instrument};

use self::index::Pending;
use self::page::Pages;
use super::chain::{Link, LogHead, VerifyReport};
use super::envelope::{assign, seal};
use super::{
    AppendOutcome, AppendRequest, EventRef, EventStore, ExpectedVersion, IdempotentResult,
    IntegrityCheck, Metadata, NewEvent, RecordedEvent, SnapshotBytes, StoreError, StoreHealth,
    WriteState,
};
use crate::domain::Timestamp;

/// Most requests committed together in one batch.
pub const MAX_BATCH: usize = 1024;
/// Requests waiting for the writer before senders wait (backpressure).
const QUEUE: usize = 8192;
/// Groups applied but waiting for the flusher before the writer waits.
const GROUPS_IN_FLIGHT: usize = 4;
/// Longest a read waits for the recovery thread to reopen sled after a failed write.
const REOPEN_WAIT: Duration = Duration::from_secs(10);
/// Longest the flusher waits for a group the writer is applying.
const STAGING_WAIT: std::time::Duration = std::time::Duration::from_millis(2);

/// Tunables of the sled backend.
#[derive(Clone, Debug)]
pub struct SledOptions {
    /// sled's page cache, in bytes (64 MiB by default: the resident memory a large
    /// log costs beyond the projections; reads beyond it come from the file system's
    /// cache, see `docs/performance.md`).
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
            cache_bytes: 64 * 1024 * 1024,
            live_buffer: 16 * 1024,
            index_every: 4096,
            sync_data: true,
            retry_first: Duration::from_secs(1),
            retry_max: Duration::from_secs(30),
        }
    }
}

/// State that outlives a reopen of sled.
struct Common {
    /// Position of the last durable event; readers use it to know where live begins.
    head: AtomicU64,
    live: broadcast::Sender<Arc<RecordedEvent>>,
    /// Set after a failed write or flush: the store stops taking writes (fail-stop)
    /// rather than acknowledge anything it cannot prove durable.
    failed: AtomicBool,
    /// How many times writes have failed; an open of sled older than the latest
    /// failure ([`Shared::generation`]) is the failed one, which readers avoid.
    failures: AtomicU64,
    /// Notified by the recovery thread after each reopen of sled (or failed try).
    reopened: tokio::sync::Notify,
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
    /// Append latency and commit sizes, for `/metrics`.
    stats: crate::store::WriteStats,
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
        self.failures.fetch_add(1, Ordering::AcqRel);
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
    /// Groups handed to the flusher and not yet committed; while none is, the writer
    /// commits a group itself (see `writer`).
    in_flight: AtomicUsize,
    /// Whether a failed commit on this open has written the fence.
    fenced: AtomicBool,
    /// sled's data file, synced after each flush (see [`SledOptions::sync_data`]).
    data_file: Option<std::fs::File>,
    /// [`Common::failures`] when this open was made: once it is behind, writes failed
    /// on this open and sled's reads on it may fail too (see `reserve`).
    generation: u64,
}

/// A stored [`IdempotentResult`], decoded.
fn decode_result(bytes: &[u8]) -> Result<IdempotentResult, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt(format!("idempotency record: {e}")))
}

impl Shared {
    /// The stored result of idempotency key `key`: pending (carried in a page, see
    /// module `index`) or in its own entry.
    fn stored_result(&self, key: &str) -> Result<Option<IdempotentResult>, StoreError> {
        let key = keys::idempotency(key);
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .key(&key);
        let bytes = match pending {
            Some(value) => value,
            None => match self.log.get(&key)? {
                Some(value) => value.to_vec(),
                None => return Ok(None),
            },
        };
        decode_result(&bytes).map(Some)
    }

    /// Whether writes failed on this open of sled (it is to be replaced).
    fn is_failed_open(&self) -> bool {
        self.generation < self.common.failures.load(Ordering::Acquire)
    }
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

impl SledStore {
    /// Snapshot `name`: its file, read by `read` off the async runtime, else the copy
    /// an earlier build kept in sled, made a `T` by `copied`.
    async fn snapshot<T: Send + 'static>(
        &self,
        name: &str,
        read: fn(&Path, &str) -> Result<Option<T>, StoreError>,
        copied: fn(Vec<u8>) -> T,
    ) -> Result<Option<T>, StoreError> {
        let guard = self.shared().await?;
        let Some(shared) = guard.as_ref() else {
            return Err(failed_error());
        };
        let (dir, owned) = (self.core.dir.clone(), name.to_string());
        let file = tokio::task::spawn_blocking(move || read(&dir, &owned))
            .await
            .map_err(|e| StoreError::Io(format!("snapshot read: {e}")))??;
        match file {
            Some(bytes) => Ok(Some(bytes)),
            // Written by an earlier build.
            None => Ok(shared
                .snapshots
                .get(name.as_bytes())?
                .map(|v| copied(v.to_vec()))),
        }
    }

    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: impl AsRef<Path>, options: SledOptions) -> Result<Self, StoreError> {
        let (live, _) = broadcast::channel(options.live_buffer.max(16));
        let common = Arc::new(Common {
            head: AtomicU64::new(0),
            live,
            failed: AtomicBool::new(false),
            failures: AtomicU64::new(0),
            reopened: tokio::sync::Notify::new(),
            status: Mutex::new(Status::default()),
            wake: Condvar::new(),
            damaged: RwLock::new(HashMap::new()),
            integrity: Mutex::new(IntegrityCheck::NotStarted),
            verified: Mutex::new(Default::default()),
            fence: Mutex::new(None),
            stats: Default::default(),
        });
        if let Err(e) = reserve::ensure(dir.as_ref()) {
            warn!(error = %e, "cannot write the space reserve; reads may fail while the disk is full");
        }
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
            core.install(&mut slot, None, true)?;
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

    /// The current open of sled, held for the duration of a read. Right after a
    /// failed write it waits (up to [`REOPEN_WAIT`]) for the recovery thread to
    /// replace the failed open, on which sled's reads may fail (see `reserve`).
    async fn shared(
        &self,
    ) -> Result<tokio::sync::RwLockReadGuard<'_, Option<Arc<Shared>>>, StoreError> {
        let common = &self.core.common;
        let deadline = tokio::time::Instant::now() + REOPEN_WAIT;
        loop {
            // Made before looking, so that a reopen in between is not missed.
            let reopened = common.reopened.notified();
            let guard = self.core.current.read().await;
            if lock(&common.status).closed {
                return Err(StoreError::Closed);
            }
            match guard.as_ref() {
                None => {
                    return Err(StoreError::Unavailable(
                        "the store is being reopened after a failed write".into(),
                    ))
                }
                Some(shared)
                    if shared.is_failed_open() && tokio::time::Instant::now() < deadline =>
                {
                    drop(guard);
                    let _ = tokio::time::timeout_at(deadline, reopened).await;
                }
                Some(_) => return Ok(guard),
            }
        }
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
            let started = std::time::Instant::now();
            // Encoding here, in the caller's task, keeps it off the writer thread.
            let prepared = Prepared::new(request);
            let (tx, rx) = oneshot::channel();
            self.sender()?
                .send(Job::Append(prepared, tx))
                .await
                .map_err(|_| StoreError::Closed)?;
            let answer = rx.await.map_err(|_| StoreError::Closed)?;
            let stats = &self.core.common.stats;
            stats
                .append_seconds
                .observe(started.elapsed().as_secs_f64());
            answer
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
        let mut each = |record: &[u8]| {
            visited += 1;
            Ok(visit(EventRef::decode(record)?))
        };
        if head - from > reader::READ_AHEAD_AFTER {
            reader::scan_ahead(&shared.log, from, head, each)?;
        } else {
            scan(&shared.log, from, head, &mut each)?;
        }
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
        Ok(shared
            .stored_result(key)?
            .filter(|r| r.outcome.last_position <= head))
    }

    async fn idempotency_keys(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, IdempotentResult)>, StoreError> {
        let head = self.head();
        let guard = self.shared().await?;
        let Some(shared) = guard.as_ref() else {
            return Err(failed_error());
        };
        let start = match after {
            // The next key after `after`: `after` followed by the smallest byte.
            Some(a) => {
                let mut k = keys::idempotency(a);
                k.push(0);
                k
            }
            None => vec![keys::IDEMPOTENCY],
        };
        // The keys on disk and those pending (carried in pages), merged in key order;
        // a key in both (an index write racing) is the same result, taken once. Keys
        // of appends after the head (not durable) are not results yet.
        let durable = |v: &[u8]| {
            decode_result(v).map(|r| Some(r).filter(|r| r.outcome.last_position <= head))
        };
        let pending = shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys_from(&start, usize::MAX);
        let mut merged = std::collections::BTreeMap::new();
        for (k, v) in pending {
            if merged.len() >= limit {
                break;
            }
            if let Some(r) = durable(&v)? {
                merged.insert(k, r);
            }
        }
        let mut from_disk = 0;
        for kv in shared.log.range(start.as_slice()..) {
            let (k, v) = kv?;
            if k.first() != Some(&keys::IDEMPOTENCY) || from_disk >= limit {
                break;
            }
            if let Some(r) = durable(&v)? {
                from_disk += 1;
                merged.entry(k.to_vec()).or_insert(r);
            }
        }
        let mut out = Vec::new();
        for (k, r) in merged.into_iter().take(limit) {
            let key = String::from_utf8(k[1..].to_vec())
                .map_err(|e| StoreError::Corrupt(format!("idempotency key: {e}")))?;
            out.push((key, r));
        }
        Ok(out)
    }

    fn backend(&self) -> &'static str {
        "sled"
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
        let (dir, owned) = (self.core.dir.clone(), name.to_string());
        tokio::task::spawn_blocking(move || snapshot_file::save(&dir, &owned, &bytes))
            .await
            .map_err(|e| StoreError::Io(format!("snapshot write: {e}")))??;
        // An earlier build's snapshot in sled is replaced by the file.
        if shared.snapshots.remove(name.as_bytes())?.is_some() {
            shared.snapshots.flush_async().await?;
        }
        Ok(())
    }

    async fn load_snapshot(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.snapshot(name, snapshot_file::load, |bytes| bytes)
            .await
    }

    async fn load_snapshot_mapped(&self, name: &str) -> Result<Option<SnapshotBytes>, StoreError> {
        self.snapshot(name, snapshot_file::load_mapped, SnapshotBytes::Owned)
            .await
    }

    async fn release_read_state(&self) -> Result<(), StoreError> {
        let core = self.core.clone();
        tokio::task::spawn_blocking(move || core.reopen())
            .await
            .map_err(|e| StoreError::Io(format!("reopening sled: {e}")))?
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

    async fn link_at(&self, position: u64) -> Result<LogHead, StoreError> {
        let head = self.head();
        let guard = self.shared().await?;
        let Some(shared) = guard.as_ref() else {
            return Err(failed_error());
        };
        // Only what is durable: nothing after the head.
        chain::link_at(&shared.log, if position > head { 0 } else { position })
    }

    async fn verify(&self) -> Result<VerifyReport, StoreError> {
        let core = self.core.clone();
        tokio::task::spawn_blocking(move || chain::verify_open(&core))
            .await
            .map_err(|e| StoreError::Io(format!("verify: {e}")))?
    }

    async fn check_integrity(&self) -> Result<IntegrityCheck, StoreError> {
        let core = self.core.clone();
        tokio::task::spawn_blocking(move || check_integrity(&core))
            .await
            .map_err(|e| StoreError::Io(format!("integrity check: {e}")))?
    }

    fn write_stats(&self) -> Option<crate::store::WriteStats> {
        Some(self.core.common.stats.clone())
    }
}
