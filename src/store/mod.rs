//! The event log: the only source of truth.
//!
//! Everything above this module talks to the [`EventStore`] trait: append with an
//! expected stream version and an optional idempotency key, read a stream, read the
//! whole log from a global position, subscribe to what is appended. The store knows
//! nothing of cases: payloads are opaque bytes tagged with a type name and schema
//! version. [`sled_store`] is the embedded default backend; [`postgres`] keeps the
//! log in a PostgreSQL database that several nodes share.
//!
//! - [`envelope`]: the stored record and its versioned binary encoding.
//! - [`chain`]: the hash chain over the log, and its verification.
//! - [`sled_store`]: the sled backend, with group commit.
//! - [`postgres`]: the PostgreSQL backend, with group commit and live events from
//!   other nodes.
//! - [`copy`]: copying a log from one store into another (`swarmdesk migrate`).
//! - [`feed`]: catch-up subscriptions (history, then live, no gap, no duplicate).
//! - [`in_order`]: one stream's events applied once each, in version order, from a
//!   read of the stream and the live feed together.
//! - [`stats`]: what the write path measures (append latency, commit sizes).
//! - [`snapshot_bytes`]: a loaded snapshot's bytes, copied or mapped from its file.
//!
//! A store also reports its health ([`StoreHealth`]): whether it accepts writes (a
//! backend that failed to write refuses them until it can write again) and what a
//! check of the log's integrity found (streams that cannot be read refuse writes).

pub mod chain;
pub mod copy;
pub mod envelope;
pub mod feed;
pub mod in_order;
pub mod postgres;
pub mod sled_store;
pub mod snapshot_bytes;
pub mod stats;

use async_trait::async_trait;
use std::sync::Arc;
use thiserror::Error;
use tokio::sync::broadcast;

pub use chain::{LogHead, VerifyReport};
pub use envelope::{EventRef, Metadata, NewEvent, RecordedEvent};
pub use feed::{subscribe_from, FeedStream};
pub use snapshot_bytes::SnapshotBytes;
pub use stats::WriteStats;

/// What the writer expects the stream's current version to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// Append whatever the current version (no concurrency check).
    Any,
    /// The stream must be at exactly this version; 0 means it must not exist yet.
    Exact(u64),
}

/// One command's events, appended atomically to one stream.
#[derive(Clone, Debug)]
pub struct AppendRequest {
    pub stream: String,
    pub expected: ExpectedVersion,
    /// A client-chosen key: appending again with it returns the first result.
    pub idempotency_key: Option<String>,
    /// A hash of the request's meaning, so a key reused for a different request is
    /// refused instead of silently returning an unrelated result.
    pub fingerprint: u64,
    pub metadata: Metadata,
    pub events: Vec<NewEvent>,
}

/// Where an append landed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AppendOutcome {
    pub stream: String,
    pub first_version: u64,
    pub last_version: u64,
    pub first_position: u64,
    pub last_position: u64,
    /// True when this is the stored result of an earlier append with the same key.
    pub deduplicated: bool,
}

impl AppendOutcome {
    /// The outcome of appending `n` events to `stream`, which stood at version
    /// `current`, the first of them at log position `first_position`.
    pub fn fresh(stream: String, current: u64, n: u64, first_position: u64) -> Self {
        AppendOutcome {
            stream,
            first_version: current + 1,
            last_version: current + n,
            first_position,
            last_position: first_position + n - 1,
            deduplicated: false,
        }
    }
}

/// The first result stored under an idempotency key.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IdempotentResult {
    pub fingerprint: u64,
    pub outcome: AppendOutcome,
}

impl IdempotentResult {
    /// The answer to a retry under `key` with request `fingerprint`: the stored
    /// outcome, marked deduplicated, or `IdempotencyKeyReused` for another request.
    pub fn replay(&self, key: &str, fingerprint: u64) -> Result<AppendOutcome, StoreError> {
        if self.fingerprint != fingerprint {
            return Err(StoreError::IdempotencyKeyReused(key.to_string()));
        }
        Ok(AppendOutcome {
            deduplicated: true,
            ..self.outcome.clone()
        })
    }
}

#[derive(Debug, Clone, Error)]
pub enum StoreError {
    #[error("stream `{stream}` is at version {current}, expected {expected}")]
    VersionConflict {
        stream: String,
        expected: u64,
        current: u64,
    },
    #[error("idempotency key `{0}` was already used for a different request")]
    IdempotencyKeyReused(String),
    #[error("an append must carry at least one event")]
    EmptyAppend,
    #[error("invalid import: {0}")]
    InvalidImport(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("storage failure: {0}")]
    Io(String),
    #[error("the store is shut down")]
    Closed,
    /// Writes are refused for now (e.g. the disk is full); nothing of the request was
    /// written, and a retry may succeed later.
    #[error("writes are refused for now: {0}")]
    Unavailable(String),
    /// The stream's history cannot be read back (a damaged log page), so nothing can
    /// be decided on it and writes to it are refused.
    #[error(
        "the history of `{stream}` cannot be read (damaged log data); writes to it are refused \
         until it is restored from a backup or an export"
    )]
    Damaged { stream: String },
    #[error(
        "the data directory {0} is in use by another swarmdesk process (is a server running on it?): \
         stop that process first, or work through the running server's API (`--url` and `--token`)"
    )]
    InUse(String),
}

impl From<::sled::Error> for StoreError {
    fn from(e: ::sled::Error) -> Self {
        StoreError::Io(e.to_string())
    }
}

/// Whether a store accepts writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteState {
    Writable,
    /// Every write is refused since `since`, because of `reason` (e.g. a failed flush
    /// on a full disk); the store resumes by itself once it can write again.
    Refusing {
        reason: String,
        since: crate::domain::Timestamp,
    },
}

/// Progress of the integrity check of the log (every stored event read back).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum IntegrityCheck {
    /// Not run (a backend without one, or not started yet).
    #[default]
    NotStarted,
    /// Running; everything up to `checked` has been read.
    Running { checked: u64 },
    /// Everything up to `checked` was read; `unreadable_events` of them could not be.
    Done {
        checked: u64,
        unreadable_events: u64,
    },
}

/// What a store reports about itself (e.g. for `/healthz`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreHealth {
    pub writes: WriteState,
    pub integrity: IntegrityCheck,
    /// Streams known to hold events that cannot be read; writes to them are refused.
    pub damaged_streams: usize,
}

impl Default for StoreHealth {
    fn default() -> Self {
        StoreHealth {
            writes: WriteState::Writable,
            integrity: IntegrityCheck::NotStarted,
            damaged_streams: 0,
        }
    }
}

/// The log's interface. Implementations must make appends atomic and durable before
/// they return, assign gapless, strictly increasing global positions, and publish each
/// appended event to subscribers in position order.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Appends one command's events, or nothing.
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, StoreError>;

    /// Writes already-recorded events (an import) verbatim, after checking that their
    /// positions continue the log without a gap and each stream's versions do too.
    async fn import(&self, events: Vec<RecordedEvent>) -> Result<u64, StoreError>;

    /// Events of one stream with version >= `from_version`, at most `limit`.
    async fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// The whole log from global position `from` (1-based), at most `limit` events.
    async fn read_all(&self, from: u64, limit: usize) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Calls `visit` with every durable event from global position `from` (1-based),
    /// in order, until it returns `false`: the fast path for replays, which need not
    /// copy what they only look at. Returns how many events were visited.
    ///
    /// The default reads pages with [`read_all`](Self::read_all); a backend that can
    /// decode records in place should do that instead.
    async fn replay(
        &self,
        from: u64,
        visit: &mut (dyn for<'e> FnMut(EventRef<'e>) -> bool + Send),
    ) -> Result<u64, StoreError> {
        let mut next = from.max(1);
        let mut visited = 0;
        loop {
            let page = self.read_all(next, 4096).await?;
            let Some(last) = page.last() else {
                return Ok(visited);
            };
            next = last.position + 1;
            for e in &page {
                visited += 1;
                if !visit(e.view()) {
                    return Ok(visited);
                }
            }
        }
    }

    /// The stream's current version (0 if it does not exist).
    async fn stream_version(&self, stream: &str) -> Result<u64, StoreError>;

    /// The stored result for an idempotency key, if any.
    async fn idempotent_result(&self, key: &str) -> Result<Option<IdempotentResult>, StoreError>;

    /// Stored idempotency keys with their results, in key order, after `after` (from
    /// the first when `None`), at most `limit`: what `migrate` copies.
    async fn idempotency_keys(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, IdempotentResult)>, StoreError> {
        let _ = (after, limit);
        Err(StoreError::Unavailable(
            "this store cannot list its idempotency keys".into(),
        ))
    }

    /// Stores idempotency keys copied from another store (`migrate`), each with its
    /// result, whose events must already be here; a key already stored is kept.
    /// Returns how many were new.
    async fn import_idempotency_keys(
        &self,
        keys: Vec<(String, IdempotentResult)>,
    ) -> Result<u64, StoreError> {
        let _ = keys;
        Err(StoreError::Unavailable(
            "this store cannot take copied idempotency keys".into(),
        ))
    }

    /// The position of the last durable event (0 for an empty log).
    fn head(&self) -> u64;

    /// Which backend this is (`sled`, `postgres`), for `/healthz`.
    fn backend(&self) -> &'static str;

    /// Live events as they become durable. Receivers that fall behind get `Lagged`;
    /// use [`subscribe_from`] for a gap-free catch-up subscription.
    fn subscribe(&self) -> broadcast::Receiver<Arc<RecordedEvent>>;

    /// Saves an opaque snapshot (e.g. of projections) under `name`.
    async fn save_snapshot(&self, name: &str, bytes: Vec<u8>) -> Result<(), StoreError>;

    /// Loads the snapshot saved under `name`.
    async fn load_snapshot(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// [`load_snapshot`](Self::load_snapshot), mapped rather than copied where the
    /// store keeps snapshots in files (the sled store): its bytes are read as they are
    /// decoded. Other stores hand over the copy.
    async fn load_snapshot_mapped(&self, name: &str) -> Result<Option<SnapshotBytes>, StoreError> {
        Ok(self.load_snapshot(name).await?.map(SnapshotBytes::Owned))
    }

    /// Hands back the memory a long read left behind, where the store keeps any: sled
    /// keeps state for every page a process has read, whatever its cache size, so the
    /// sled store closes sled and opens it again. A start calls it once its long
    /// replay is done, before anything writes (an append meanwhile may be refused).
    /// Other stores keep nothing: they do nothing.
    async fn release_read_state(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Makes everything written so far durable and stops accepting appends.
    async fn shutdown(&self) -> Result<(), StoreError>;

    /// Whether the store accepts writes, and what its integrity check found so far.
    fn health(&self) -> StoreHealth {
        StoreHealth::default()
    }

    /// The last durable event: position, link in the hash chain and time.
    async fn log_head(&self) -> Result<LogHead, StoreError> {
        self.link_at(self.head()).await
    }

    /// The durable event at `position` (position, link and time); position 0 (and
    /// anything after the head) answers an empty head.
    async fn link_at(&self, position: u64) -> Result<LogHead, StoreError> {
        let _ = position;
        Err(StoreError::Unavailable(
            "this store keeps no hash chain".into(),
        ))
    }

    /// Walks the durable log and reports the first position where the hash chain, a
    /// position, a stream's version sequence or a record's decoding breaks (see
    /// [`chain`]).
    async fn verify(&self) -> Result<VerifyReport, StoreError> {
        Err(StoreError::Unavailable(
            "this store keeps no hash chain".into(),
        ))
    }

    /// Reads every stored event back, records the streams whose events cannot be read
    /// (writes to them are refused from then on) and returns what it found. Meant to
    /// run in the background after start; the default checks nothing.
    async fn check_integrity(&self) -> Result<IntegrityCheck, StoreError> {
        Ok(IntegrityCheck::NotStarted)
    }

    /// The write path's measurements, if this store takes them.
    fn write_stats(&self) -> Option<WriteStats> {
        None
    }
}

/// FNV-1a, 64 bit: a stable hash (unlike `DefaultHasher`) for request fingerprints
/// that are stored and compared across restarts and releases.
pub fn fingerprint(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
