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
//! A failed write or flush stops the store (fail-stop): nothing staged after it is
//! acknowledged, and no further request is accepted.
//!
//! sled's `generate_id` has gaps after a restart, so positions are counted here: the
//! next position is the last stored one plus one, read once at open.

mod index;
mod page;

use async_trait::async_trait;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{debug, error, info_span, warn, Instrument};

use self::index::Pending;
use self::page::Pages;
use super::envelope::assign;
use super::{
    AppendOutcome, AppendRequest, EventRef, EventStore, ExpectedVersion, IdempotentResult,
    Metadata, NewEvent, RecordedEvent, StoreError,
};

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
}

impl Default for SledOptions {
    fn default() -> Self {
        SledOptions {
            cache_bytes: 512 * 1024 * 1024,
            live_buffer: 16 * 1024,
            index_every: 4096,
            sync_data: true,
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

struct Shared {
    db: sled::Db,
    log: sled::Tree,
    snapshots: sled::Tree,
    /// Position of the last durable event; readers use it to know where live begins.
    head: AtomicU64,
    live: broadcast::Sender<Arc<RecordedEvent>>,
    /// Set after a failed write or flush: the store stops taking writes (fail-stop)
    /// rather than acknowledge anything it cannot prove durable.
    failed: AtomicBool,
    /// Events in the log but not yet in the stream index on disk.
    pending: Mutex<Pending>,
    /// Set while the writer checks and applies a group.
    staging: AtomicBool,
    /// sled's data file, synced after each flush (see [`SledOptions::sync_data`]).
    data_file: Option<std::fs::File>,
}

/// The embedded event store.
pub struct SledStore {
    shared: Arc<Shared>,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl SledStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: impl AsRef<Path>, options: SledOptions) -> Result<Self, StoreError> {
        set_aside_unfinished_snapshots(dir.as_ref())?;
        let db = sled::Config::new()
            .path(dir.as_ref())
            .cache_capacity(options.cache_bytes)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(|e| match e {
                // sled reports its `flock` failing as an `Other` error in words.
                sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
                    StoreError::InUse(dir.as_ref().display().to_string())
                }
                other => other.into(),
            })?;
        let log = db.open_tree("log")?;
        let snapshots = db.open_tree("snapshots")?;
        let head = match log.scan_prefix([key::EVENT]).next_back() {
            Some(kv) => match page::records(&kv?.1).last() {
                Some(record) => page::position_of(record?)?,
                None => return Err(StoreError::Corrupt("empty page".into())),
            },
            None => 0,
        };
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
        let mut pending = Pending::default();
        scan(&log, indexed + 1, head, |record| {
            let e = EventRef::decode(record)?;
            pending.push(e.stream, e.version, e.position)?;
            Ok(true)
        })?;
        let (live, _) = broadcast::channel(options.live_buffer.max(16));
        let data_file = if options.sync_data {
            Some(std::fs::File::open(dir.as_ref().join("db")).map_err(|e| {
                StoreError::Io(format!("cannot open the data file to sync it: {e}"))
            })?)
        } else {
            None
        };
        let shared = Arc::new(Shared {
            data_file,
            db,
            log,
            snapshots,
            head: AtomicU64::new(head),
            live,
            failed: AtomicBool::new(false),
            pending: Mutex::new(pending),
            staging: AtomicBool::new(false),
        });
        let (tx, rx) = mpsc::channel(QUEUE);
        let writer_shared = shared.clone();
        let index_every = options.index_every.max(1);
        let writer = std::thread::Builder::new()
            .name("swarmdesk-writer".into())
            .spawn(move || Writer::new(writer_shared, head, index_every).run(rx))
            .map_err(|e| StoreError::Io(e.to_string()))?;
        Ok(SledStore {
            shared,
            jobs: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
        })
    }

    fn sender(&self) -> Result<mpsc::Sender<Job>, StoreError> {
        if self.shared.failed.load(Ordering::Acquire) {
            return Err(failed_error());
        }
        self.jobs
            .lock()
            .map_err(|_| StoreError::Closed)?
            .clone()
            .ok_or(StoreError::Closed)
    }

    fn stop_writer(&self) {
        // Dropping the sender lets the writer drain what is queued, then exit.
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        let handle = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }

    fn event_at(&self, position: u64) -> Result<RecordedEvent, StoreError> {
        let mut found = None;
        scan(&self.shared.log, position, position, |record| {
            found = Some(RecordedEvent::from_bytes(record)?);
            Ok(false)
        })?;
        found.ok_or_else(|| {
            StoreError::Corrupt(format!("position {position} is indexed but missing"))
        })
    }
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
    StoreError::Io("the store failed to write earlier and accepts no more writes".into())
}

impl Drop for SledStore {
    fn drop(&mut self) {
        self.stop_writer();
    }
}

#[async_trait]
impl EventStore for SledStore {
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, StoreError> {
        if request.events.is_empty() {
            return Err(StoreError::EmptyAppend);
        }
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
        let shared = &self.shared;
        let head = self.head();
        index::positions(
            &shared.log,
            &shared.pending,
            stream,
            from_version,
            limit,
            head,
        )?
        .into_iter()
        .map(|p| self.event_at(p))
        .collect()
    }

    async fn read_all(&self, from: u64, limit: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        let head = self.head();
        let from = from.max(1);
        if from > head || limit == 0 {
            return Ok(Vec::new());
        }
        // Bound by head: only what is durable and published is visible to readers.
        let end = from.saturating_add(limit as u64 - 1).min(head);
        let mut out = Vec::with_capacity((end - from + 1) as usize);
        scan(&self.shared.log, from, end, |record| {
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
        // One range over everything durable; each record is decoded where sled holds it.
        scan(&self.shared.log, from, head, |record| {
            visited += 1;
            Ok(visit(EventRef::decode(record)?))
        })?;
        Ok(visited)
    }

    async fn stream_version(&self, stream: &str) -> Result<u64, StoreError> {
        let shared = &self.shared;
        index::last_version(&shared.log, &shared.pending, stream, self.head())
    }

    async fn idempotent_result(&self, key: &str) -> Result<Option<IdempotentResult>, StoreError> {
        let head = self.head();
        match self.shared.log.get(key::idempotency(key))? {
            Some(bytes) => postcard::from_bytes::<IdempotentResult>(&bytes)
                .map(|r| Some(r).filter(|r| r.outcome.last_position <= head))
                .map_err(|e| StoreError::Corrupt(format!("idempotency record: {e}"))),
            None => Ok(None),
        }
    }

    fn head(&self) -> u64 {
        self.shared.head.load(Ordering::Acquire)
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<RecordedEvent>> {
        self.shared.live.subscribe()
    }

    async fn save_snapshot(&self, name: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.shared.snapshots.insert(name.as_bytes(), bytes)?;
        self.shared.snapshots.flush_async().await?;
        Ok(())
    }

    async fn load_snapshot(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .shared
            .snapshots
            .get(name.as_bytes())?
            .map(|v| v.to_vec()))
    }

    async fn shutdown(&self) -> Result<(), StoreError> {
        self.stop_writer();
        self.shared.db.flush_async().await?;
        Ok(())
    }
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
fn flush_groups(shared: Arc<Shared>, groups: std_mpsc::Receiver<Group>) {
    let mut ready = Vec::new();
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
        let durable = if shared.failed.load(Ordering::Acquire) {
            Err(failed_error())
        } else {
            shared.flush()
        };
        match durable {
            Ok(_) => {
                let head = ready.last().map_or(0, |g| g.last_position);
                shared.head.fetch_max(head, Ordering::AcqRel);
                debug!(head, groups = ready.len(), "group committed");
                for group in ready.drain(..) {
                    for s in group.staged {
                        s.complete(&shared.live);
                    }
                }
            }
            Err(e) => {
                if !shared.failed.swap(true, Ordering::AcqRel) {
                    error!(error = %e, "flush failed; the store stops accepting writes");
                }
                for group in ready.drain(..) {
                    for s in group.staged {
                        s.fail(&e);
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
                self.shared.failed.store(true, Ordering::Release);
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
            let failed = self.shared.failed.load(Ordering::Acquire);
            if !failed && self.pending_len() >= self.index_every {
                self.write_index();
            }
        }
        drop(to_flusher);
        let _ = flusher.join();
        // Index what is pending, so that the next open need not read it back.
        if self.pending_len() > 0 && !self.shared.failed.load(Ordering::Acquire) {
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
        if !self.shared.failed.swap(true, Ordering::AcqRel) {
            error!(error = %e, "write failed; the store stops accepting writes");
        }
    }

    /// Checks and writes one group of requests; `None` if none is left to answer.
    fn stage(&mut self, jobs: impl Iterator<Item = Job>) -> Option<Group> {
        let span = info_span!("stage");
        let _enter = span.enter();
        if self.shared.failed.load(Ordering::Acquire) {
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
                let e = StoreError::from(e);
                self.fail(&e);
                staged.into_iter().for_each(|s| s.fail(&e));
                return None;
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
