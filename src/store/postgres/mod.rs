//! The PostgreSQL backend: one log in one database, shared by any number of nodes.
//!
//! # Layout
//! Tables (created and migrated at start by [`schema`]): `events` (global `position`
//! as primary key, `(stream, version)` unique, the stored record in the sled
//! backend's binary format with its hash-chain link), `log_head` (one row: the last
//! position and link), `idempotency` (the first outcome per key), `snapshots`;
//! `data_keys` and `data_key_check`, the customers' wrapped data keys ([`keys`]).
//!
//! # Positions without gaps, never skipped
//! Every append transaction, on every node, locks the one row of `log_head` before it
//! reads anything and holds it until it commits ([`writer`]). Positions are assigned
//! under that lock after the committed head, so they are gapless, and transactions
//! commit in position order: a reader that has seen position N never later finds a
//! smaller position committed (the "high water mark" problem of sequence-based event
//! tables, where a transaction that took sequence value 5 may commit after one that
//! took 6). The price is one append transaction at a time per database; grouping each
//! node's concurrent appends into one transaction (group commit) is what makes that
//! fast. Expected versions and idempotency keys are decided under the same lock, on
//! committed state, so two nodes racing on one stream get exactly one winner.
//!
//! # Files
//! - `schema`: versioned migrations, refused if the database is newer than the build;
//! - `writer`: the group-committing writer task (append, import);
//! - `reader`: reads, snapshots, the hash chain's links and `verify`;
//! - `keys`: the customers' wrapped data keys (migration 2), for the key store;
//! - `connect`: the pool's connections, made and driven on the store's runtime;
//! - `live`: this node's head and live channel, fed by its own commits and by other
//!   nodes' (`LISTEN`/`NOTIFY`, plus polling as a fallback).

mod connect;
pub mod keys;
mod live;
mod reader;
mod schema;
mod writer;

pub use schema::{latest as schema_version, MIGRATIONS};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_postgres::NoTls;

use self::live::Live;
use self::writer::{Job, Prepared};
use super::chain::{LogHead, VerifyReport};
use super::{
    AppendOutcome, AppendRequest, EventRef, EventStore, IdempotentResult, RecordedEvent,
    StoreError, StoreHealth, WriteState,
};
use crate::domain::Timestamp;

/// The channel on which commits are announced (payload: the new head position).
const CHANNEL: &str = "swarmdesk_log";

/// Tunables of the PostgreSQL backend.
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// Connections in this node's pool (the writer uses one at a time; the rest are
    /// for reads).
    pub pool_size: usize,
    /// Most requests committed together in one transaction.
    pub max_batch: usize,
    /// How many live events a subscriber may fall behind before it must catch up
    /// from the log.
    pub live_buffer: usize,
    /// How often the node reads the log for other nodes' commits when no
    /// notification arrives (the fallback for a lost `LISTEN` connection).
    pub poll_interval: Duration,
    /// Longest a request waits for a connection (or to open one).
    pub connect_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            pool_size: 16,
            max_batch: 1024,
            live_buffer: 16 * 1024,
            poll_interval: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        db_error(e)
    }
}

/// A database error as a store error: a lost connection is "unavailable" (a retry
/// may succeed), anything else an I/O failure with the server's message.
pub(crate) fn db_error(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => StoreError::Io(format!("PostgreSQL: {}", db.message())),
        None if e.is_closed() => StoreError::Unavailable(format!("PostgreSQL connection: {e}")),
        None => StoreError::Unavailable(format!("PostgreSQL: {e}")),
    }
}

/// The parts the writer and follower tasks share with the store.
struct Inner {
    pool: Pool,
    options: PgOptions,
    live: Arc<Live>,
    /// Set when a group could not be committed (the database is unreachable), cleared
    /// by the next group that commits; reported by `health`.
    refusing: Mutex<Option<(String, Timestamp)>>,
}

impl Inner {
    /// Records that writes fail for `reason`, and returns the error to answer with.
    fn refuse(&self, reason: String) -> StoreError {
        tracing::error!(%reason, "a group of appends was not committed");
        let mut refusing = self.refusing.lock().unwrap_or_else(|p| p.into_inner());
        if refusing.is_none() {
            *refusing = Some((reason.clone(), Timestamp::now()));
        }
        StoreError::Unavailable(reason)
    }

    fn resume(&self) {
        let mut refusing = self.refusing.lock().unwrap_or_else(|p| p.into_inner());
        if refusing.take().is_some() {
            tracing::info!("the database accepts writes again");
        }
    }
}

/// The PostgreSQL event store of one node.
pub struct PgStore {
    inner: Arc<Inner>,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// The follower and the `LISTEN` connection, stopped on shutdown.
    background: Vec<JoinHandle<()>>,
}

/// `user@host:port/db` of a connection string, without its password, for messages.
pub fn describe(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{}@{host}:{port}/{}",
        config.get_user().unwrap_or("?"),
        config.get_dbname().unwrap_or("?")
    )
}

/// Parses a connection string (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB` or
/// `key=value` pairs).
pub fn parse_url(url: &str) -> Result<tokio_postgres::Config, StoreError> {
    url.parse().map_err(|e| {
        StoreError::Unavailable(format!(
            "invalid PostgreSQL connection string (expected postgres://USER@HOST:PORT/DB): {e}"
        ))
    })
}

impl PgStore {
    /// Connects to the database at `url`, creates or migrates its schema, and starts
    /// this node's writer, follower and `LISTEN` connection.
    pub async fn open(url: &str, options: PgOptions) -> Result<Self, StoreError> {
        let mut config = parse_url(url)?;
        if config.get_application_name().is_none() {
            config.application_name("swarmdesk");
        }
        config.connect_timeout(options.connect_timeout);
        let unreachable = |e: tokio_postgres::Error| {
            StoreError::Unavailable(format!(
                "cannot connect to PostgreSQL at {}: {e}",
                describe(&config)
            ))
        };
        let (mut client, connection) = config.connect(NoTls).await.map_err(unreachable)?;
        let driver = tokio::spawn(connection);
        let migrated = schema::migrate(&mut client).await;
        drop(client);
        let _ = driver.await;
        migrated?;

        let manager = Manager::from_connect(
            config.clone(),
            connect::OnRuntime(tokio::runtime::Handle::current()),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(2))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.connect_timeout))
            .create_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|e| StoreError::Unavailable(format!("PostgreSQL pool: {e}")))?;
        let head = reader::committed_head(&pool).await?;
        let live = Arc::new(Live::new(pool.clone(), head, options.live_buffer));
        let inner = Arc::new(Inner {
            pool,
            options: options.clone(),
            live: live.clone(),
            refusing: Mutex::new(None),
        });
        let (jobs, rx) = mpsc::channel(8192);
        let writer = tokio::spawn(writer::run(inner.clone(), rx));
        let background = vec![
            tokio::spawn(live::follow(Arc::downgrade(&live), options.poll_interval)),
            tokio::spawn(live::listen(config, Arc::downgrade(&live))),
        ];
        tracing::info!(head, "PostgreSQL event store open");
        Ok(PgStore {
            inner,
            jobs: Mutex::new(Some(jobs)),
            writer: Mutex::new(Some(writer)),
            background,
        })
    }

    fn sender(&self) -> Result<mpsc::Sender<Job>, StoreError> {
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(StoreError::Closed)
    }

    /// Reads everything other nodes committed after this node's head, now (the
    /// follower does this by itself on each notification and poll).
    pub async fn catch_up(&self) -> Result<u64, StoreError> {
        self.inner.live.catch_up().await?;
        Ok(self.head())
    }

    /// The head committed in the database, which may be ahead of this node's.
    pub async fn committed_head(&self) -> Result<u64, StoreError> {
        reader::committed_head(&self.inner.pool).await
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        for task in &self.background {
            task.abort();
        }
    }
}

#[async_trait]
impl EventStore for PgStore {
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, StoreError> {
        if request.events.is_empty() {
            return Err(StoreError::EmptyAppend);
        }
        let prepared = Prepared::new(request);
        let (tx, rx) = oneshot::channel();
        self.sender()?
            .send(Job::Append(prepared, tx))
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    async fn import(&self, events: Vec<RecordedEvent>) -> Result<u64, StoreError> {
        if events.is_empty() {
            return Ok(0);
        }
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
        reader::stream(&self.inner.pool, stream, from_version, limit).await
    }

    async fn read_all(&self, from: u64, limit: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        let head = self.head();
        if from.max(1) > head || limit == 0 {
            return Ok(Vec::new());
        }
        reader::records(&self.inner.pool, from, head, limit).await
    }

    async fn replay(
        &self,
        from: u64,
        visit: &mut (dyn for<'e> FnMut(EventRef<'e>) -> bool + Send),
    ) -> Result<u64, StoreError> {
        let head = self.head();
        if from.max(1) > head {
            return Ok(0);
        }
        reader::scan(&self.inner.pool, from, head, usize::MAX, |bytes| {
            Ok(visit(EventRef::decode(bytes)?))
        })
        .await
    }

    async fn stream_version(&self, stream: &str) -> Result<u64, StoreError> {
        reader::stream_version(&self.inner.pool, stream).await
    }

    async fn idempotent_result(&self, key: &str) -> Result<Option<IdempotentResult>, StoreError> {
        reader::idempotent_result(&self.inner.pool, key).await
    }

    async fn idempotency_keys(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, IdempotentResult)>, StoreError> {
        reader::idempotency_keys(&self.inner.pool, after, limit).await
    }

    async fn import_idempotency_keys(
        &self,
        keys: Vec<(String, IdempotentResult)>,
    ) -> Result<u64, StoreError> {
        if let Some((key, _)) = keys
            .iter()
            .find(|(_, r)| r.outcome.last_position > self.head())
        {
            return Err(StoreError::InvalidImport(format!(
                "idempotency key `{key}` answers events this log does not hold"
            )));
        }
        reader::import_idempotency_keys(&self.inner.pool, &keys).await
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn head(&self) -> u64 {
        self.inner.live.head()
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<RecordedEvent>> {
        self.inner.live.subscribe()
    }

    async fn save_snapshot(&self, name: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        reader::save_snapshot(&self.inner.pool, name, &bytes).await
    }

    async fn load_snapshot(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        reader::load_snapshot(&self.inner.pool, name).await
    }

    async fn shutdown(&self) -> Result<(), StoreError> {
        // Appends already queued are committed and answered; new ones are refused.
        drop(self.jobs.lock().unwrap_or_else(|p| p.into_inner()).take());
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(writer) = writer {
            let _ = writer.await;
        }
        for task in &self.background {
            task.abort();
        }
        self.inner.pool.close();
        Ok(())
    }

    fn health(&self) -> StoreHealth {
        let writes = match &*self
            .inner
            .refusing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
        {
            Some((reason, since)) => WriteState::Refusing {
                reason: reason.clone(),
                since: *since,
            },
            None => WriteState::Writable,
        };
        StoreHealth {
            writes,
            ..StoreHealth::default()
        }
    }

    async fn link_at(&self, position: u64) -> Result<LogHead, StoreError> {
        let position = if position > self.head() { 0 } else { position };
        reader::link_at(&self.inner.pool, position).await
    }

    async fn verify(&self) -> Result<VerifyReport, StoreError> {
        reader::verify(&self.inner.pool, self.head()).await
    }
}
