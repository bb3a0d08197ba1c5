//! The customers' data keys in PostgreSQL: the table of wrapped keys (migration 2)
//! and the queries on it, for the key store of nodes whose log is in the database
//! (see [`crate::shred::keys`]).
//!
//! Keys have their own tables, apart from `events`: the log stays append-only and
//! hashed, while a key row is deleted when its customer is forgotten. A row holds
//! only what the key store wraps (the data key encrypted with the master key), named
//! by the hex SHA-256 of the customer id. Deleting a row leaves a dead tuple until
//! `VACUUM`, and the WAL and backups keep the wrapped key: only the master key opens it.

use tokio_postgres::{Client, NoTls};

use super::{db_error, describe, parse_url};
use crate::store::StoreError;

/// Migration 2: the wrapped data keys and the master key check.
pub const MIGRATION: &str = r#"
    -- One row per customer with a data key: `name` is the hex SHA-256 of the
    -- customer id, `wrapped` the key id, a nonce and the data key sealed with the
    -- master key. Forgetting a customer deletes the row.
    CREATE TABLE data_keys (
        name    text  PRIMARY KEY,
        wrapped bytea NOT NULL
    );

    -- One row: a constant sealed with the master key the first node used, so that a
    -- node started with another master key is refused at once.
    CREATE TABLE data_key_check (
        id     boolean PRIMARY KEY DEFAULT true CHECK (id),
        sealed bytea   NOT NULL
    );

    -- One row, only while no master key is configured: the development master key,
    -- made by the first node, so that nodes with nothing else configured share it.
    -- It protects nothing from whoever can read the database.
    CREATE TABLE data_key_dev_master (
        id  boolean PRIMARY KEY DEFAULT true CHECK (id),
        key bytea   NOT NULL
    );
"#;

/// One connection to the key tables (the key store's own, apart from the log's pool).
pub struct KeyTable {
    client: Client,
}

impl KeyTable {
    /// Connects to the database at `url` and brings its schema up to date.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let mut config = parse_url(url)?;
        if config.get_application_name().is_none() {
            config.application_name("swarmdesk-keys");
        }
        config.connect_timeout(std::time::Duration::from_secs(10));
        let (mut client, connection) = config.connect(NoTls).await.map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot connect to PostgreSQL at {}: {e}",
                describe(&config)
            ))
        })?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "the key store's PostgreSQL connection ended");
            }
        });
        super::schema::migrate(&mut client).await?;
        Ok(KeyTable { client })
    }

    /// Whether the connection is gone (a new one is needed).
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// The master key check in the database: `sealed` if there was none (it is
    /// stored), else the one stored first.
    pub async fn check(&self, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.client
            .execute(
                "INSERT INTO data_key_check (id, sealed) VALUES (true, $1) ON CONFLICT DO NOTHING",
                &[&sealed],
            )
            .await
            .map_err(db_error)?;
        let row = self
            .client
            .query_one("SELECT sealed FROM data_key_check WHERE id", &[])
            .await
            .map_err(db_error)?;
        Ok(row.get(0))
    }

    /// The development master key: `key` if there was none (it is stored), else the
    /// one stored first.
    pub async fn dev_master(&self, key: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.client
            .execute(
                "INSERT INTO data_key_dev_master (id, key) VALUES (true, $1) ON CONFLICT DO NOTHING",
                &[&key],
            )
            .await
            .map_err(db_error)?;
        let row = self
            .client
            .query_one("SELECT key FROM data_key_dev_master WHERE id", &[])
            .await
            .map_err(db_error)?;
        Ok(row.get(0))
    }

    /// The wrapped key named `name`, if there is one.
    pub async fn get(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = self
            .client
            .query_opt("SELECT wrapped FROM data_keys WHERE name = $1", &[&name])
            .await
            .map_err(db_error)?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Stores `wrapped` as the key named `name` unless another node stored one
    /// first, and returns the one stored (the winner's, when two raced).
    pub async fn insert(&self, name: &str, wrapped: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.client
            .execute(
                "INSERT INTO data_keys (name, wrapped) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&name, &wrapped],
            )
            .await
            .map_err(db_error)?;
        self.get(name)
            .await?
            .ok_or_else(|| StoreError::Io(format!("data key {name}: deleted as it was made")))
    }

    /// Deletes the key named `name`; whether there was one.
    pub async fn delete(&self, name: &str) -> Result<bool, StoreError> {
        let n = self
            .client
            .execute("DELETE FROM data_keys WHERE name = $1", &[&name])
            .await
            .map_err(db_error)?;
        Ok(n > 0)
    }
}
