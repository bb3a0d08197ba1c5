//! The database schema and its versioned migrations, run by every node at start.
//!
//! Each migration is applied once, in order, in one transaction with the row that
//! records it in `swarmdesk_migrations`. Nodes starting together take one advisory
//! lock first, so exactly one of them migrates and the others find the work done. A
//! database migrated by a newer build (a version this binary does not know) is
//! refused with a message that says so, rather than written with an older layout.

use tokio_postgres::Client;

use super::db_error;
use crate::store::StoreError;

/// The advisory lock key that serialises migrations between nodes ("swarmdes").
const MIGRATION_LOCK: i64 = 0x7377_6172_6d64_6573;

/// Every migration this build knows, in order; the version of one is its index + 1.
/// Never edit one that has shipped: add the next.
pub const MIGRATIONS: &[&str] = &[
    // 1: the log, its head, idempotency keys and snapshots.
    r#"
    -- One row: the last position and the last link of the hash chain. Every append
    -- locks it (FOR UPDATE) for the length of its transaction, which serialises
    -- appends across all nodes: positions are assigned in commit order, so a reader
    -- never finds a smaller position committed after a larger one.
    CREATE TABLE log_head (
        id       boolean PRIMARY KEY DEFAULT true CHECK (id),
        position bigint  NOT NULL,
        link     bytea   NOT NULL
    );
    INSERT INTO log_head (id, position, link) VALUES (true, 0, decode(repeat('00', 32), 'hex'));

    -- The log. `record` is the stored record in the same binary format as the sled
    -- backend's (see store::envelope), hash-chain link included; the other columns
    -- are copies of its fields for indexing and for people reading the table.
    CREATE TABLE events (
        position   bigint  PRIMARY KEY,
        stream     text    NOT NULL,
        version    bigint  NOT NULL,
        event_type text    NOT NULL,
        record     bytea   NOT NULL,
        UNIQUE (stream, version)
    );

    CREATE TABLE idempotency (
        key            text   PRIMARY KEY,
        fingerprint    bigint NOT NULL,
        stream         text   NOT NULL,
        first_version  bigint NOT NULL,
        last_version   bigint NOT NULL,
        first_position bigint NOT NULL,
        last_position  bigint NOT NULL
    );

    CREATE TABLE snapshots (
        name  text  PRIMARY KEY,
        bytes bytea NOT NULL
    );
    "#,
    // 2: the customers' wrapped data keys (see `keys`).
    super::keys::MIGRATION,
];

/// The schema version this build writes.
pub fn latest() -> i32 {
    MIGRATIONS.len() as i32
}

/// Brings the database's schema up to [`latest`], or refuses a newer one. Returns the
/// version found before migrating (0 for an empty database).
pub async fn migrate(client: &mut Client) -> Result<i32, StoreError> {
    let tx = client.transaction().await.map_err(db_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(db_error)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS swarmdesk_migrations (
             version    integer     PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await
    .map_err(db_error)?;
    let found: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM swarmdesk_migrations",
            &[],
        )
        .await
        .map_err(db_error)?
        .get(0);
    if found > latest() {
        return Err(StoreError::Unavailable(format!(
            "the database's schema is at version {found}, newer than this build of swarmdesk \
             knows (version {}): it was migrated by a newer release; run that release (or a \
             newer one) instead",
            latest()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = i as i32 + 1;
        tx.batch_execute(sql).await.map_err(db_error)?;
        tx.execute(
            "INSERT INTO swarmdesk_migrations (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(db_error)?;
        tracing::info!(version, "database schema migrated");
    }
    tx.commit().await.map_err(db_error)?;
    Ok(found)
}
