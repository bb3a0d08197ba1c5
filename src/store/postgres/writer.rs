//! Appends and imports, grouped: one writer task per node takes every request
//! waiting (up to [`MAX_BATCH`](super::MAX_BATCH)) and commits them in one
//! transaction.
//!
//! The transaction first locks the one row of `log_head` (`SELECT ... FOR UPDATE`),
//! which every node's writer does, so appends are serialised across the whole
//! database: under the lock the writer reads the streams' current versions and the
//! idempotency keys its group uses (committed state, which no one else can change
//! until it commits), decides each request as the sled writer does, assigns positions
//! after the head, seals each record into the hash chain after the head's link,
//! inserts everything, moves the head and `NOTIFY`s the other nodes. The lock is held
//! until the commit, so commit order is position order: a reader that has seen
//! position N never later finds a smaller position committed. The unique
//! `(stream, version)` and idempotency-key constraints are the database's backstop.
//!
//! A group costs two round trips to the database: `BEGIN`, the lock and the reads go
//! out together, then the writes and `COMMIT` (see [`transact`]).
//!
//! Nothing is answered before the commit returns: a rejection (a version conflict
//! with a request earlier in the same group, a reused key) is answered after it too,
//! so that a retry can read what it was told about.

use std::collections::HashMap;
use std::sync::Arc;

use deadpool_postgres::Object;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::Statement;
use tracing::{debug, warn};

use super::{db_error, Inner, CHANNEL};
use crate::store::chain::Link;
use crate::store::envelope::{assign, seal, LINK_BYTES};
use crate::store::{
    AppendOutcome, AppendRequest, ExpectedVersion, IdempotentResult, RecordedEvent, StoreError,
};

/// A statement parameter.
type Param = dyn tokio_postgres::types::ToSql + Sync;

pub(super) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// An append, encoded in the caller's task; position, version and id are patched in
/// by the writer.
pub(super) struct Prepared {
    stream: String,
    expected: ExpectedVersion,
    idempotency_key: Option<String>,
    fingerprint: u64,
    events: Vec<(RecordedEvent, Vec<u8>)>,
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
        let events = events
            .into_iter()
            .map(|e| {
                let record = RecordedEvent {
                    position: 0,
                    id: ulid::Ulid::nil(),
                    stream: stream.clone(),
                    version: 0,
                    event_type: e.event_type,
                    schema_version: e.schema_version,
                    metadata: metadata.clone(),
                    payload: e.payload,
                };
                let bytes = record.to_bytes();
                (record, bytes)
            })
            .collect();
        Prepared {
            stream,
            expected,
            idempotency_key,
            fingerprint,
            events,
        }
    }
}

pub(super) enum Job {
    Append(Prepared, Reply<AppendOutcome>),
    Import(Vec<RecordedEvent>, Reply<u64>),
}

/// A request decided within a group, answered once the group commits.
enum Decided {
    Append(Reply<AppendOutcome>, Result<AppendOutcome, StoreError>),
    Import(Reply<u64>, Result<u64, StoreError>),
}

impl Decided {
    fn fail(self, e: StoreError) {
        match self {
            Decided::Append(reply, _) => drop(reply.send(Err(e))),
            Decided::Import(reply, _) => drop(reply.send(Err(e))),
        }
    }

    fn answer(self) {
        match self {
            Decided::Append(reply, r) => drop(reply.send(r)),
            Decided::Import(reply, r) => drop(reply.send(r)),
        }
    }
}

/// The rows a group inserts, as columns (one `unnest` insert each).
#[derive(Default)]
struct Rows {
    positions: Vec<i64>,
    streams: Vec<String>,
    versions: Vec<i64>,
    types: Vec<String>,
    records: Vec<Vec<u8>>,
    /// What is published after the commit.
    events: Vec<Arc<RecordedEvent>>,
    keys: Vec<String>,
    key_rows: Vec<IdempotentResult>,
}

impl Rows {
    fn push(&mut self, event: RecordedEvent, bytes: Vec<u8>) {
        self.positions.push(event.position as i64);
        self.streams.push(event.stream.clone());
        self.versions.push(event.version as i64);
        self.types.push(event.event_type.clone());
        self.records.push(bytes);
        self.events.push(Arc::new(event));
    }
}

/// The writer's view of the log within one group: the committed state read under
/// the lock, plus what the group staged before.
struct Group {
    /// The position the next staged event gets.
    next: u64,
    last_link: Link,
    versions: HashMap<String, u64>,
    keys: HashMap<String, IdempotentResult>,
    ids: ulid::Generator,
    rows: Rows,
}

impl Group {
    fn version(&self, stream: &str) -> u64 {
        self.versions.get(stream).copied().unwrap_or(0)
    }

    fn append(&mut self, req: Prepared) -> Result<AppendOutcome, StoreError> {
        if let Some(k) = &req.idempotency_key {
            if let Some(r) = self.keys.get(k) {
                return r.replay(k, req.fingerprint);
            }
        }
        let current = self.version(&req.stream);
        if let ExpectedVersion::Exact(expected) = req.expected {
            if expected != current {
                return Err(StoreError::VersionConflict {
                    stream: req.stream,
                    expected,
                    current,
                });
            }
        }
        let n = req.events.len() as u64;
        let first_position = self.next;
        for (i, (mut record, mut bytes)) in req.events.into_iter().enumerate() {
            let id = self.ids.generate().unwrap_or_else(|_| ulid::Ulid::new());
            let (position, version) = (self.next, current + 1 + i as u64);
            assign(&mut bytes, position, version, id);
            self.last_link = seal(&mut bytes, &self.last_link);
            (record.position, record.version, record.id) = (position, version, id);
            self.rows.push(record, bytes);
            self.next += 1;
        }
        self.versions.insert(req.stream.clone(), current + n);
        let outcome = AppendOutcome::fresh(req.stream, current, n, first_position);
        if let Some(k) = req.idempotency_key {
            let r = IdempotentResult {
                fingerprint: req.fingerprint,
                outcome: outcome.clone(),
            };
            self.rows.keys.push(k.clone());
            self.rows.key_rows.push(r.clone());
            self.keys.insert(k, r);
        }
        Ok(outcome)
    }

    fn import(&mut self, records: Vec<RecordedEvent>) -> Result<u64, StoreError> {
        // Everything is checked before anything is staged: an import is all or nothing.
        let mut local: HashMap<&str, u64> = HashMap::new();
        for (i, r) in records.iter().enumerate() {
            let want = self.next + i as u64;
            if r.position != want {
                return Err(StoreError::InvalidImport(format!(
                    "event {} has position {}, expected {want} (positions must continue the log without gaps)",
                    r.id, r.position
                )));
            }
            let current = local
                .get(r.stream.as_str())
                .copied()
                .unwrap_or_else(|| self.version(&r.stream));
            if r.version != current + 1 {
                return Err(StoreError::InvalidImport(format!(
                    "event at position {} has version {} of `{}`, expected {}",
                    r.position,
                    r.version,
                    r.stream,
                    current + 1
                )));
            }
            local.insert(&r.stream, r.version);
        }
        let local: Vec<(String, u64)> = local.into_iter().map(|(s, v)| (s.into(), v)).collect();
        self.versions.extend(local);
        let n = records.len() as u64;
        for r in records {
            // Imported events join the chain like appended ones.
            let mut bytes = r.to_bytes();
            self.last_link = seal(&mut bytes, &self.last_link);
            self.rows.push(r, bytes);
        }
        self.next += n;
        Ok(n)
    }
}

/// Runs until every sender is gone, then returns.
pub(super) async fn run(inner: Arc<Inner>, mut rx: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(inner.options.max_batch);
    while let Some(first) = rx.recv().await {
        jobs.push(first);
        // Let the callers just answered (the last group's) send their next request,
        // so that it joins this group rather than waiting for the next one.
        tokio::task::yield_now().await;
        while jobs.len() < inner.options.max_batch {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        commit_group(&inner, std::mem::take(&mut jobs)).await;
    }
}

/// Decides and commits one group, publishes it, then answers every request in it.
async fn commit_group(inner: &Inner, jobs: Vec<Job>) {
    let requests = jobs.len();
    let client = match inner.pool.get().await {
        Ok(client) => client,
        Err(e) => {
            let e = inner.refuse(format!("cannot reach the database: {e}"));
            for job in jobs {
                match job {
                    Job::Append(_, reply) => drop(reply.send(Err(e.clone()))),
                    Job::Import(_, reply) => drop(reply.send(Err(e.clone()))),
                }
            }
            return;
        }
    };
    let (decided, events) = match transact(client, jobs).await {
        Ok(done) => done,
        Err((decided, e)) => {
            // A failed commit may or may not have reached the database: the
            // message says so, and an idempotency key makes the retry safe.
            let e = inner.refuse(format!(
                "the database transaction failed ({e}); the request may or may not have \
                 been written: retry it with the same idempotency key"
            ));
            for d in decided {
                d.fail(e.clone());
            }
            return;
        }
    };
    inner.resume();
    debug!(requests, events = events.len(), "group committed");
    if !events.is_empty() {
        inner.live.publish_own(events).await;
    }
    for d in decided {
        d.answer();
    }
}

type Failed = (Vec<Decided>, StoreError);

/// A group's statements, prepared once per connection (deadpool caches them).
struct Statements {
    lock: Statement,
    versions: Statement,
    idem: Statement,
    insert: Statement,
    insert_keys: Statement,
    advance: Statement,
    notify: Statement,
}

async fn statements(client: &Object) -> Result<Statements, tokio_postgres::Error> {
    let (lock, versions, idem, insert, insert_keys, advance, notify) = futures_util::try_join!(
        client.prepare_cached("SELECT position, link FROM log_head FOR UPDATE"),
        client.prepare_cached(
            "SELECT s, (SELECT coalesce(max(version), 0) FROM events WHERE stream = s) \
             FROM unnest($1::text[]) AS s",
        ),
        client.prepare_cached(
            "SELECT key, fingerprint, stream, first_version, last_version, first_position, \
             last_position FROM idempotency WHERE key = ANY($1::text[])",
        ),
        client.prepare_cached(
            "INSERT INTO events (position, stream, version, event_type, record) \
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::bytea[])",
        ),
        client.prepare_cached(
            "INSERT INTO idempotency (key, fingerprint, stream, first_version, last_version, \
             first_position, last_position) SELECT * FROM unnest($1::text[], $2::bigint[], \
             $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])",
        ),
        client.prepare_cached("UPDATE log_head SET position = $1, link = $2"),
        client.prepare_cached("SELECT pg_notify($1, $2)"),
    )?;
    Ok(Statements {
        lock,
        versions,
        idem,
        insert,
        insert_keys,
        advance,
        notify,
    })
}

/// A group's connection while its transaction may be open. Dropped before [`done`]
/// (a failure, or the writer's task cancelled midway), it is closed instead of going
/// back to the pool, so that no later user of the pool runs inside the transaction.
///
/// [`done`]: Open::done
struct Open(Option<Object>);

impl Open {
    /// The transaction is over (committed or rolled back): the connection goes back
    /// to the pool.
    fn done(mut self) {
        drop(self.0.take());
    }
}

impl std::ops::Deref for Open {
    type Target = Object;
    fn deref(&self) -> &Object {
        self.0
            .as_ref()
            .expect("the connection is there until `done` or drop takes it")
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            drop(Object::take(client));
        }
    }
}

/// Decides and commits one group in two round trips: `BEGIN`, the lock and the reads
/// pipelined in the first; the inserts, the head's move, the notification and `COMMIT`
/// in the second. A statement that fails aborts the transaction, and the `COMMIT`
/// behind it then rolls back (PostgreSQL answers it without an error), so every
/// result is checked, not only the commit's.
async fn transact(
    client: Object,
    jobs: Vec<Job>,
) -> Result<(Vec<Decided>, Vec<Arc<RecordedEvent>>), Failed> {
    let client = Open(Some(client));
    let mut streams: Vec<String> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    for job in &jobs {
        match job {
            Job::Append(p, _) => {
                streams.push(p.stream.clone());
                keys.extend(p.idempotency_key.clone());
            }
            Job::Import(records, _) => streams.extend(records.iter().map(|r| r.stream.clone())),
        }
    }
    streams.sort_unstable();
    streams.dedup();
    let st = match statements(&client).await {
        Ok(st) => st,
        Err(e) => return Err((undecided(jobs), db_error(e))),
    };
    let (by_stream, by_key): ([&Param; 1], [&Param; 1]) = ([&streams], [&keys]);
    let (begun, head, versions, idem) = futures_util::join!(
        client.batch_execute("BEGIN"),
        client.query_one(&st.lock, &[]),
        client.query(&st.versions, &by_stream),
        client.query(&st.idem, &by_key),
    );
    let read = begun
        .and(head)
        .and_then(|head| Ok((head, versions?, idem?)));
    let (head, versions, idem) = match read {
        Ok(r) => r,
        Err(e) => return Err((undecided(jobs), db_error(e))),
    };
    let position: i64 = head.get(0);
    let link: &[u8] = head.get(1);
    let last_link = match <[u8; LINK_BYTES]>::try_from(link) {
        Ok(l) => l,
        Err(_) => {
            let e = StoreError::Corrupt("log_head.link is not 32 bytes".into());
            return Err((undecided(jobs), e));
        }
    };
    let mut group = Group {
        next: position as u64 + 1,
        last_link,
        versions: versions
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u64))
            .collect(),
        keys: idem
            .iter()
            .map(|r| {
                let outcome = AppendOutcome {
                    stream: r.get(2),
                    first_version: r.get::<_, i64>(3) as u64,
                    last_version: r.get::<_, i64>(4) as u64,
                    first_position: r.get::<_, i64>(5) as u64,
                    last_position: r.get::<_, i64>(6) as u64,
                    deduplicated: false,
                };
                let fingerprint = r.get::<_, i64>(1) as u64;
                (
                    r.get(0),
                    IdempotentResult {
                        fingerprint,
                        outcome,
                    },
                )
            })
            .collect(),
        ids: ulid::Generator::new(),
        rows: Rows::default(),
    };
    let decided: Vec<Decided> = jobs
        .into_iter()
        .map(|job| match job {
            Job::Append(p, reply) => Decided::Append(reply, group.append(p)),
            Job::Import(records, reply) => Decided::Import(reply, group.import(records)),
        })
        .collect();
    let Group {
        next,
        last_link,
        rows,
        ..
    } = group;
    if rows.events.is_empty() && rows.keys.is_empty() {
        // Rejections and deduplications only: nothing to write.
        return match client.batch_execute("ROLLBACK").await {
            Ok(()) => {
                client.done();
                Ok((decided, Vec::new()))
            }
            Err(e) => Err((decided, db_error(e))),
        };
    }
    let head = next as i64 - 1;
    let col = |f: fn(&IdempotentResult) -> i64| rows.key_rows.iter().map(f).collect::<Vec<_>>();
    let key_streams: Vec<String> = rows
        .key_rows
        .iter()
        .map(|r| r.outcome.stream.clone())
        .collect();
    let fingerprints = col(|r| r.fingerprint as i64);
    let first_versions = col(|r| r.outcome.first_version as i64);
    let last_versions = col(|r| r.outcome.last_version as i64);
    let first_positions = col(|r| r.outcome.first_position as i64);
    let last_positions = col(|r| r.outcome.last_position as i64);
    let link = last_link.to_vec();
    let head_text = head.to_string();
    let events: [&Param; 5] = [
        &rows.positions,
        &rows.streams,
        &rows.versions,
        &rows.types,
        &rows.records,
    ];
    let keys: [&Param; 7] = [
        &rows.keys,
        &fingerprints,
        &key_streams,
        &first_versions,
        &last_versions,
        &first_positions,
        &last_positions,
    ];
    let moved: [&Param; 2] = [&head, &link];
    let announced: [&Param; 2] = [&CHANNEL, &head_text];
    let (inserted, keyed, advanced, notified, committed) = futures_util::join!(
        client.execute(&st.insert, &events),
        client.execute(&st.insert_keys, &keys),
        client.execute(&st.advance, &moved),
        client.query_one(&st.notify, &announced),
        client.batch_execute("COMMIT"),
    );
    let written = inserted
        .and(keyed)
        .and(advanced)
        .and(notified.map(drop))
        .and(committed);
    match written {
        Ok(()) => {
            client.done();
            Ok((decided, rows.events))
        }
        Err(e) => {
            // The lock serialises writers, so a constraint violation here means someone
            // wrote without it (e.g. by hand): refuse rather than guess.
            warn!(error = %e, "a group's writes failed");
            Err((decided, db_error(e)))
        }
    }
}

/// Requests that failed before anything was decided, to be answered with the error.
fn undecided(jobs: Vec<Job>) -> Vec<Decided> {
    jobs.into_iter()
        .map(|job| match job {
            Job::Append(_, reply) => Decided::Append(reply, Err(StoreError::Closed)),
            Job::Import(_, reply) => Decided::Import(reply, Err(StoreError::Closed)),
        })
        .collect()
}
