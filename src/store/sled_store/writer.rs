//! The writer thread: takes the appends and imports waiting, checks expected versions
//! and idempotency keys, assigns positions, versions and ids, seals each record into
//! the hash chain (see [`chain`](crate::store::chain)), packs records into pages and
//! writes each group in one atomic step (see `writes`), then hands it to the flusher,
//! or commits it itself when nothing is in flight and no request waits.

use super::writes::{Sink, Writes};
use super::*;

pub(super) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// An append, encoded by the caller.
pub(super) struct Prepared {
    stream: String,
    expected: ExpectedVersion,
    idempotency_key: Option<String>,
    fingerprint: u64,
    /// Each event and its encoded record, position, version and id still unset.
    events: Vec<(Arc<RecordedEvent>, Vec<u8>)>,
}

impl Prepared {
    pub(super) fn new(request: AppendRequest) -> Self {
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

pub(super) enum Job {
    Append(Prepared, Reply<AppendOutcome>),
    Import(Vec<RecordedEvent>, Reply<u64>),
}

/// State owned by the writer thread.
pub(super) struct Writer {
    shared: Arc<Shared>,
    /// Current version of streams the writer has seen, including what it staged but
    /// is not durable yet; a miss reads the index.
    versions: HashMap<String, u64>,
    ids: ulid::Generator,
    /// The position the next staged event gets.
    next: u64,
    /// The link of the last staged record: the next one is sealed after it.
    last_link: Link,
    index_every: usize,
}

impl Writer {
    /// A writer continuing the log after `head`, whose last record's link (the
    /// [`GENESIS`](crate::store::chain::GENESIS) if it has none) is `last_link`.
    pub(super) fn new(shared: Arc<Shared>, head: u64, last_link: Link, index_every: usize) -> Self {
        Writer {
            shared,
            versions: HashMap::new(),
            ids: ulid::Generator::new(),
            next: head + 1,
            last_link,
            index_every,
        }
    }

    pub(super) fn run(mut self, mut rx: mpsc::Receiver<Job>) {
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
                if self.shared.in_flight.load(Ordering::Acquire) == 0 && rx.is_empty() {
                    // No group before it uncommitted, no request to stage meanwhile: a
                    // lone write (one client) saves the hand-off to the flusher, a
                    // thread wake-up (docs/performance.md, "The writer commits a lone
                    // group itself").
                    commit(&self.shared, &mut vec![group]);
                } else {
                    self.shared.in_flight.fetch_add(1, Ordering::AcqRel);
                    // Only fails if the flusher is gone, which it is not while we hold it.
                    let _ = to_flusher.send(group);
                }
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

    pub(super) fn pending_len(&self) -> usize {
        self.shared.pending.lock().map_or(0, |p| p.len())
    }

    pub(super) fn fail(&self, e: &StoreError) {
        self.shared.common.fail(e, "write");
    }

    /// Checks and writes one group of requests; `None` if none is left to answer.
    pub(super) fn stage(&mut self, jobs: impl Iterator<Item = Job>) -> Option<Group> {
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
        let mut batch = Writes::default();
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
        // A group of one page keeps its idempotency keys in the page: one key to write.
        let carried = batch.carry_keys_in_page();
        // A group of rejections and deduplications writes nothing, but is still
        // answered after a flush (see the module documentation).
        let writes = self.next != first_position || !keys.is_empty();
        if writes {
            if let Err(e) = batch.apply(&self.shared.log) {
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
        for (key, value) in carried {
            pending.add_key(key, value);
        }
        Some(Group {
            last_position: self.next - 1,
            staged,
        })
    }

    /// Writes the pending stream index to disk, then forgets it. Only this thread
    /// adds to it, so nothing is added in between.
    pub(super) fn write_index(&mut self) {
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

    pub(super) fn current_version(&mut self, stream: &str) -> Result<u64, StoreError> {
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
    pub(super) fn claim_versions(
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

    pub(super) fn next_id(&mut self) -> ulid::Ulid {
        self.ids.generate().unwrap_or_else(|_| ulid::Ulid::new())
    }

    pub(super) fn stage_append(
        &mut self,
        req: Prepared,
        batch: &mut Writes,
        pages: &mut Pages,
        keys: &mut HashMap<String, IdempotentResult>,
    ) -> Result<(AppendOutcome, Vec<Arc<RecordedEvent>>), StoreError> {
        if self.shared.common.is_damaged(&req.stream) {
            return Err(StoreError::Damaged { stream: req.stream });
        }
        if let Some(k) = &req.idempotency_key {
            let earlier = match keys.get(k) {
                Some(r) => Some(r.clone()),
                None => self.shared.stored_result(k)?,
            };
            if let Some(r) = earlier {
                // Answered after the flush like everything else: the first write may
                // be in this very group, or in one still being flushed.
                return Ok((r.replay(k, req.fingerprint)?, Vec::new()));
            }
        }
        let n = req.events.len() as u64;
        let current = self.claim_versions(&req.stream, req.expected, n)?;
        let first_position = self.next;
        let mut events = Vec::with_capacity(req.events.len());
        for (i, (mut record, mut bytes)) in req.events.into_iter().enumerate() {
            let (position, version, id) = (self.next, current + 1 + i as u64, self.next_id());
            assign(&mut bytes, position, version, id);
            // Only this thread seals, in position order: one chain over the log.
            self.last_link = seal(&mut bytes, &self.last_link);
            pages.push(batch, position, &bytes);
            // Not shared yet, so this patches in place.
            let r = Arc::make_mut(&mut record);
            (r.position, r.version, r.id) = (position, version, id);
            events.push(record);
            self.next += 1;
        }
        let outcome = AppendOutcome::fresh(req.stream, current, n, first_position);
        if let Some(k) = req.idempotency_key {
            let r = IdempotentResult {
                fingerprint: req.fingerprint,
                outcome: outcome.clone(),
            };
            batch.put(
                keys::idempotency(&k),
                postcard::to_allocvec(&r).unwrap_or_default(),
            );
            keys.insert(k, r);
        }
        Ok((outcome, events))
    }

    pub(super) fn stage_import(
        &mut self,
        records: Vec<RecordedEvent>,
        batch: &mut Writes,
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
            // Imported events join the chain like appended ones.
            let mut bytes = r.to_bytes();
            self.last_link = seal(&mut bytes, &self.last_link);
            pages.push(batch, r.position, &bytes);
            out.push(Arc::new(r));
        }
        self.next += out.len() as u64;
        self.versions.extend(local);
        Ok(out)
    }
}
