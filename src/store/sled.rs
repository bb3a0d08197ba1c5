//! The sled backend (sled 0.34.7).
//!
//! # Layout
//! One tree, `log`, holds everything an append writes, so that one `apply_batch` makes
//! a whole group of appends atomic. Its key spaces, all with big-endian integers so
//! that byte order is numeric order:
//! - `e` + position(u64)                    -> the encoded [`RecordedEvent`]
//! - `s` + stream + 0xFF + version(u64)     -> position(u64) (UTF-8 never holds 0xFF)
//! - `i` + idempotency key                  -> the first [`IdempotentResult`]
//!
//! A second tree, `snapshots`, holds projection snapshots; losing it only costs a replay.
//!
//! # Group commit
//! Appends are sent to one writer thread. It takes every request waiting (up to
//! [`MAX_BATCH`]), checks each one's expected version and idempotency key against the
//! log plus what the batch already staged, writes the accepted ones with a single
//! `apply_batch`, then one `flush` (fsync), and only then answers and publishes them.
//! One writer means version checks and position assignment need no locks, and one
//! flush per batch means durability costs one fsync per batch, not per request.
//!
//! sled's `generate_id` has gaps after a restart, so positions are counted here: the
//! next position is the last stored one plus one, read once at open.

use async_trait::async_trait;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{debug, error, info_span};

use super::{
    AppendOutcome, AppendRequest, EventRef, EventStore, ExpectedVersion, IdempotentResult,
    RecordedEvent, StoreError,
};

/// Most requests committed together in one batch.
pub const MAX_BATCH: usize = 1024;
/// Requests waiting for the writer before senders wait (backpressure).
const QUEUE: usize = 8192;

mod key {
    pub const EVENT: u8 = b'e';
    pub const STREAM: u8 = b's';
    pub const IDEMPOTENCY: u8 = b'i';
    pub const STREAM_END: u8 = 0xFF;

    pub fn event(position: u64) -> [u8; 9] {
        let mut k = [EVENT; 9];
        k[1..].copy_from_slice(&position.to_be_bytes());
        k
    }

    pub fn stream_prefix(stream: &str) -> Vec<u8> {
        let mut k = Vec::with_capacity(stream.len() + 10);
        k.push(STREAM);
        k.extend_from_slice(stream.as_bytes());
        k.push(STREAM_END);
        k
    }

    pub fn stream(stream: &str, version: u64) -> Vec<u8> {
        let mut k = stream_prefix(stream);
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
}

impl Default for SledOptions {
    fn default() -> Self {
        SledOptions {
            cache_bytes: 512 * 1024 * 1024,
            live_buffer: 16 * 1024,
        }
    }
}

enum Job {
    Append(
        AppendRequest,
        oneshot::Sender<Result<AppendOutcome, StoreError>>,
    ),
    Import(Vec<RecordedEvent>, oneshot::Sender<Result<u64, StoreError>>),
}

struct Shared {
    db: sled::Db,
    log: sled::Tree,
    snapshots: sled::Tree,
    /// Position of the last durable event; readers use it to know where live begins.
    head: AtomicU64,
    live: broadcast::Sender<Arc<RecordedEvent>>,
    /// Set after a failed flush: the store stops taking writes (fail-stop) rather than
    /// acknowledge anything it cannot prove durable.
    failed: AtomicBool,
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
        let db = sled::Config::new()
            .path(dir.as_ref())
            .cache_capacity(options.cache_bytes)
            .mode(sled::Mode::HighThroughput)
            .open()?;
        let log = db.open_tree("log")?;
        let snapshots = db.open_tree("snapshots")?;
        let head = match log.scan_prefix([key::EVENT]).next_back() {
            Some(kv) => key::u64_suffix(&kv?.0),
            None => 0,
        };
        let (live, _) = broadcast::channel(options.live_buffer.max(16));
        let shared = Arc::new(Shared {
            db,
            log,
            snapshots,
            head: AtomicU64::new(head),
            live,
            failed: AtomicBool::new(false),
        });
        let (tx, rx) = mpsc::channel(QUEUE);
        let writer_shared = shared.clone();
        let writer = std::thread::Builder::new()
            .name("swarmdesk-writer".into())
            .spawn(move || Writer::new(writer_shared).run(rx))
            .map_err(|e| StoreError::Io(e.to_string()))?;
        Ok(SledStore {
            shared,
            jobs: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
        })
    }

    fn sender(&self) -> Result<mpsc::Sender<Job>, StoreError> {
        if self.shared.failed.load(Ordering::Acquire) {
            return Err(StoreError::Io(
                "the store failed to flush earlier and accepts no more writes".into(),
            ));
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
        match self.shared.log.get(key::event(position))? {
            Some(bytes) => RecordedEvent::from_bytes(&bytes),
            None => Err(StoreError::Corrupt(format!(
                "position {position} is indexed but missing"
            ))),
        }
    }

    fn version_of(log: &sled::Tree, stream: &str) -> Result<u64, StoreError> {
        Ok(
            match log.scan_prefix(key::stream_prefix(stream)).next_back() {
                Some(kv) => key::u64_suffix(&kv?.0),
                None => 0,
            },
        )
    }
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
        let _enter = span.enter();
        let (tx, rx) = oneshot::channel();
        self.sender()?
            .send(Job::Append(request, tx))
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
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
        let start = key::stream(stream, from_version.max(1));
        let end = key::stream(stream, u64::MAX);
        let mut out = Vec::new();
        for kv in self.shared.log.range(start..=end).take(limit) {
            let (_, pos) = kv?;
            out.push(self.event_at(key::u64_suffix(&pos))?);
        }
        Ok(out)
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
        for kv in self.shared.log.range(key::event(from)..=key::event(end)) {
            out.push(RecordedEvent::from_bytes(&kv?.1)?);
        }
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
        for kv in self.shared.log.range(key::event(from)..=key::event(head)) {
            let (_, bytes) = kv?;
            visited += 1;
            if !visit(EventRef::decode(&bytes)?) {
                break;
            }
        }
        Ok(visited)
    }

    async fn stream_version(&self, stream: &str) -> Result<u64, StoreError> {
        Self::version_of(&self.shared.log, stream)
    }

    async fn idempotent_result(&self, key: &str) -> Result<Option<IdempotentResult>, StoreError> {
        match self.shared.log.get(key::idempotency(key))? {
            Some(bytes) => postcard::from_bytes(&bytes)
                .map(Some)
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

/// State owned by the writer thread.
struct Writer {
    shared: Arc<Shared>,
    /// Current version of streams the writer has seen; a miss reads the index.
    versions: HashMap<String, u64>,
    ids: ulid::Generator,
}

/// One accepted request, waiting for the flush.
enum Staged {
    Append(
        oneshot::Sender<Result<AppendOutcome, StoreError>>,
        AppendOutcome,
        Vec<Arc<RecordedEvent>>,
    ),
    Import(
        oneshot::Sender<Result<u64, StoreError>>,
        u64,
        Vec<Arc<RecordedEvent>>,
    ),
}

impl Writer {
    fn new(shared: Arc<Shared>) -> Self {
        Writer {
            shared,
            versions: HashMap::new(),
            ids: ulid::Generator::new(),
        }
    }

    fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        let mut jobs = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = rx.blocking_recv() {
            jobs.push(first);
            while jobs.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            self.commit(jobs.drain(..));
        }
        if let Err(e) = self.shared.db.flush() {
            error!(error = %e, "final flush failed");
        }
    }

    fn commit(&mut self, jobs: impl Iterator<Item = Job>) {
        let span = info_span!("group_commit");
        let _enter = span.enter();
        let mut batch = sled::Batch::default();
        let mut staged = Vec::new();
        // What this batch changes, on top of the log: stream versions, keys used.
        let mut versions: HashMap<String, u64> = HashMap::new();
        let mut keys: HashMap<String, IdempotentResult> = HashMap::new();
        let mut next = self.shared.head.load(Ordering::Acquire) + 1;
        for job in jobs {
            match job {
                Job::Append(req, reply) => {
                    match self.stage_append(req, &mut batch, &mut versions, &mut keys, &mut next) {
                        Ok((outcome, events)) if outcome.deduplicated => {
                            // Nothing new to write; answer once the batch is durable
                            // too, since the first write may be in this very batch.
                            staged.push(Staged::Append(reply, outcome, events));
                        }
                        Ok((outcome, events)) => {
                            staged.push(Staged::Append(reply, outcome, events))
                        }
                        Err(e) => {
                            let _ = reply.send(Err(e));
                        }
                    }
                }
                Job::Import(events, reply) => {
                    match self.stage_import(events, &mut batch, &mut versions, &mut next) {
                        Ok(events) => {
                            staged.push(Staged::Import(reply, events.len() as u64, events))
                        }
                        Err(e) => {
                            let _ = reply.send(Err(e));
                        }
                    }
                }
            }
        }
        if staged.is_empty() {
            return;
        }
        let durable = self
            .shared
            .log
            .apply_batch(batch)
            .and_then(|_| self.shared.db.flush().map(|_| ()));
        if let Err(e) = durable {
            error!(error = %e, "append failed; the store stops accepting writes");
            self.shared.failed.store(true, Ordering::Release);
            for s in staged {
                let err = Err(StoreError::Io(e.to_string()));
                match s {
                    Staged::Append(reply, ..) => drop(reply.send(err)),
                    Staged::Import(reply, ..) => drop(reply.send(err.map(|_| 0))),
                }
            }
            return;
        }
        self.versions.extend(versions);
        self.shared.head.store(next - 1, Ordering::Release);
        debug!(head = next - 1, requests = staged.len(), "group committed");
        for s in staged {
            match s {
                Staged::Append(reply, outcome, events) => {
                    self.publish(events);
                    let _ = reply.send(Ok(outcome));
                }
                Staged::Import(reply, n, events) => {
                    self.publish(events);
                    let _ = reply.send(Ok(n));
                }
            }
        }
    }

    fn publish(&self, events: Vec<Arc<RecordedEvent>>) {
        for e in events {
            // No receivers is fine: nobody is listening.
            let _ = self.shared.live.send(e);
        }
    }

    fn current_version(
        &mut self,
        staged: &HashMap<String, u64>,
        stream: &str,
    ) -> Result<u64, StoreError> {
        if let Some(v) = staged.get(stream).or_else(|| self.versions.get(stream)) {
            return Ok(*v);
        }
        let v = SledStore::version_of(&self.shared.log, stream)?;
        self.versions.insert(stream.to_string(), v);
        Ok(v)
    }

    fn next_id(&mut self) -> ulid::Ulid {
        self.ids.generate().unwrap_or_else(|_| ulid::Ulid::new())
    }

    fn stage_append(
        &mut self,
        req: AppendRequest,
        batch: &mut sled::Batch,
        versions: &mut HashMap<String, u64>,
        keys: &mut HashMap<String, IdempotentResult>,
        next: &mut u64,
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
                return Ok((
                    AppendOutcome {
                        deduplicated: true,
                        ..r.outcome
                    },
                    Vec::new(),
                ));
            }
        }
        let current = self.current_version(versions, &req.stream)?;
        if let ExpectedVersion::Exact(expected) = req.expected {
            if expected != current {
                return Err(StoreError::VersionConflict {
                    stream: req.stream,
                    expected,
                    current,
                });
            }
        }
        let mut events = Vec::with_capacity(req.events.len());
        for (i, e) in req.events.into_iter().enumerate() {
            let record = RecordedEvent {
                position: *next + i as u64,
                id: self.next_id(),
                stream: req.stream.clone(),
                version: current + 1 + i as u64,
                event_type: e.event_type,
                schema_version: e.schema_version,
                metadata: req.metadata.clone(),
                payload: e.payload,
            };
            batch.insert(&key::event(record.position), record.to_bytes());
            batch.insert(
                key::stream(&record.stream, record.version),
                &record.position.to_be_bytes(),
            );
            events.push(Arc::new(record));
        }
        let n = events.len() as u64;
        let outcome = AppendOutcome {
            stream: req.stream.clone(),
            first_version: current + 1,
            last_version: current + n,
            first_position: *next,
            last_position: *next + n - 1,
            deduplicated: false,
        };
        *next += n;
        versions.insert(req.stream, current + n);
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
        versions: &mut HashMap<String, u64>,
        next: &mut u64,
    ) -> Result<Vec<Arc<RecordedEvent>>, StoreError> {
        // Validate everything before staging anything: an import is all or nothing.
        let mut local: HashMap<String, u64> = HashMap::new();
        for (i, r) in records.iter().enumerate() {
            let want = *next + i as u64;
            if r.position != want {
                return Err(StoreError::InvalidImport(format!(
                    "event {} has position {}, expected {want} (positions must continue the log without gaps)",
                    r.id, r.position
                )));
            }
            let current = match local.get(&r.stream) {
                Some(v) => *v,
                None => self.current_version(versions, &r.stream)?,
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
            batch.insert(&key::event(r.position), r.to_bytes());
            batch.insert(key::stream(&r.stream, r.version), &r.position.to_be_bytes());
            out.push(Arc::new(r));
        }
        *next += out.len() as u64;
        versions.extend(local);
        Ok(out)
    }
}
