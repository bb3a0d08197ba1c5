//! The backends the conformance suite runs against: a sled store in a temporary
//! directory, and a PostgreSQL store in a fresh database of the cluster named by
//! `SWARMDESK_TEST_POSTGRES` (see `scripts/pg-test-cluster.sh`).
//!
//! Without that variable the PostgreSQL half is skipped, and says so on stderr
//! (outside the test harness's capture, once per run); with `CI=true` a missing
//! database fails the test instead, so CI never passes without running it.

use std::io::Write;
use std::sync::{Arc, Once};

use swarmdesk::store::postgres::{parse_url, PgOptions, PgStore};
use swarmdesk::store::EventStore;
use tempfile::TempDir;
use ulid::Ulid;

use crate::common::*;

/// The variable naming the test cluster.
pub const POSTGRES_ENV: &str = "SWARMDESK_TEST_POSTGRES";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sled,
    Postgres,
}

/// A fresh, empty store of one backend, and what it needs to be opened again.
pub struct Fresh {
    pub store: Arc<dyn EventStore>,
    /// sled: the directory; PostgreSQL: the database's connection string.
    place: Place,
}

enum Place {
    Sled(TempDir),
    Postgres(String),
}

/// The test cluster's URL, or `None` (and a plain note on stderr) when the
/// PostgreSQL tests are to be skipped. Panics with `CI=true`.
pub fn postgres_url() -> Option<String> {
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => panic!(
            "{POSTGRES_ENV} is not set, but CI=true: the PostgreSQL tests must run in CI \
             (.ci/run starts a cluster with scripts/pg-test-cluster.sh)"
        ),
        _ => {
            static NOTE: Once = Once::new();
            NOTE.call_once(|| {
                // Straight to stderr: the harness captures only the print macros.
                let _ = writeln!(
                    std::io::stderr(),
                    "\nNOTE: the PostgreSQL tests were SKIPPED: {POSTGRES_ENV} is not set. Start a \
                     throw-away cluster with `eval \"$(scripts/pg-test-cluster.sh start)\"` and \
                     run the tests again to include them.\n"
                );
            });
            None
        }
    }
}

/// Creates an empty database on the test cluster and returns its connection string.
pub async fn fresh_database(admin_url: &str) -> String {
    let admin = parse_url(admin_url).expect("SWARMDESK_TEST_POSTGRES");
    let (client, connection) = admin
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connect to the test cluster");
    let driver = tokio::spawn(connection);
    let name = format!("swarmdesk_test_{}", Ulid::new().to_string().to_lowercase());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create a test database");
    drop(client);
    let _ = driver.await;
    let mut config = admin;
    config.dbname(&name);
    to_url(&config)
}

/// A connection string of `key=value` pairs for `config`.
pub fn to_url(config: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
    let mut parts = Vec::new();
    if let Some(host) = config.get_hosts().first() {
        match host {
            Host::Tcp(h) => parts.push(format!("host={h}")),
            Host::Unix(p) => parts.push(format!("host={}", p.display())),
        }
    }
    if let Some(port) = config.get_ports().first() {
        parts.push(format!("port={port}"));
    }
    if let Some(user) = config.get_user() {
        parts.push(format!("user={user}"));
    }
    if let Some(password) = config.get_password() {
        parts.push(format!("password={}", String::from_utf8_lossy(password)));
    }
    if let Some(db) = config.get_dbname() {
        parts.push(format!("dbname={db}"));
    }
    parts.join(" ")
}

/// Options for tests: a small pool and a quick poll.
pub fn pg_options() -> PgOptions {
    PgOptions {
        pool_size: 4,
        poll_interval: std::time::Duration::from_millis(200),
        ..PgOptions::default()
    }
}

pub async fn open_pg(url: &str) -> Arc<PgStore> {
    Arc::new(
        PgStore::open(url, pg_options())
            .await
            .expect("open the PostgreSQL store"),
    )
}

impl Fresh {
    /// A fresh store, or `None` if this backend is skipped.
    pub async fn open(backend: Backend) -> Option<Fresh> {
        match backend {
            Backend::Sled => {
                let dir = temp_dir();
                let store: Arc<dyn EventStore> = open_store(dir.path());
                Some(Fresh {
                    store,
                    place: Place::Sled(dir),
                })
            }
            Backend::Postgres => {
                let url = fresh_database(&postgres_url()?).await;
                let store: Arc<dyn EventStore> = open_pg(&url).await;
                Some(Fresh {
                    store,
                    place: Place::Postgres(url),
                })
            }
        }
    }

    /// Another node on the same log (PostgreSQL), or `None` for a backend that has
    /// one process per log (sled).
    pub async fn another_node(&self) -> Option<Arc<dyn EventStore>> {
        match &self.place {
            Place::Sled(_) => None,
            Place::Postgres(url) => Some(open_pg(url).await),
        }
    }

    /// Shuts the store down and opens the same log again.
    pub async fn reopen(&mut self) {
        self.store.shutdown().await.expect("shutdown");
        // A shut-down sled store has released its directory.
        self.store = match &self.place {
            Place::Sled(dir) => open_store(dir.path()),
            Place::Postgres(url) => open_pg(url).await,
        };
    }
}

/// Waits until `store`'s head reaches `position` (another node's commits arrive by
/// notification or poll).
pub async fn wait_head(store: &dyn EventStore, position: u64) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.head() < position {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the head stayed at {} (waiting for {position})",
            store.head()
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
