//! Reads: the log by position, a stream by version, idempotency keys (and the copies of
//! them `migrate` writes), snapshots, the
//! hash chain's links and `verify`. Every statement is prepared once per pooled
//! connection.
//!
//! Reads of the log by position (`read_all`, `replay`, `verify`) stop at this node's
//! head (what it has published, in order), like the sled store's stop at the durable
//! head; the live follower ([`live`](super::live)) moves the head on as other nodes
//! commit. Reads by stream see everything committed, so a command decides on the
//! newest state (the expected-version check is the database's anyway).

use deadpool_postgres::Pool;

use super::db_error;
use crate::store::chain::{LogHead, Verifier, VerifyReport};
use crate::store::envelope::link_of;
use crate::store::{AppendOutcome, EventRef, IdempotentResult, RecordedEvent, StoreError};

/// Rows one page of a scan fetches.
pub(super) const PAGE: i64 = 4096;

async fn client(pool: &Pool) -> Result<deadpool_postgres::Object, StoreError> {
    pool.get()
        .await
        .map_err(|e| StoreError::Unavailable(format!("cannot reach the database: {e}")))
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Committed records with `from <= position <= to`, at most `max`, in order.
pub(super) async fn records(
    pool: &Pool,
    from: u64,
    to: u64,
    max: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut out = Vec::new();
    scan(pool, from, to, max, |bytes| {
        out.push(RecordedEvent::from_bytes(bytes)?);
        Ok(true)
    })
    .await?;
    Ok(out)
}

/// Calls `visit` with the stored bytes of each record from `from` to `to` (at most
/// `max` of them), in position order, until it returns `false`. Returns how many it
/// visited.
pub(super) async fn scan(
    pool: &Pool,
    from: u64,
    to: u64,
    max: usize,
    mut visit: impl FnMut(&[u8]) -> Result<bool, StoreError>,
) -> Result<u64, StoreError> {
    let client = client(pool).await?;
    let page = client
        .prepare_cached(
            "SELECT position, record FROM events WHERE position >= $1 AND position <= $2 \
             ORDER BY position LIMIT $3",
        )
        .await
        .map_err(db_error)?;
    let (mut next, to) = (from.max(1) as i64, i64::try_from(to).unwrap_or(i64::MAX));
    let mut left = limit(max);
    let mut visited = 0;
    while next <= to && left > 0 {
        let rows = client
            .query(&page, &[&next, &to, &left.min(PAGE)])
            .await
            .map_err(db_error)?;
        let Some(last) = rows.last() else {
            return Ok(visited);
        };
        next = last.get::<_, i64>(0) + 1;
        for row in &rows {
            visited += 1;
            if !visit(row.get::<_, &[u8]>(1))? {
                return Ok(visited);
            }
        }
        left -= rows.len() as i64;
    }
    Ok(visited)
}

/// The records of `stream` from `from_version`, at most `max`.
pub(super) async fn stream(
    pool: &Pool,
    stream: &str,
    from_version: u64,
    max: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let client = client(pool).await?;
    let statement = client
        .prepare_cached(
            "SELECT record FROM events WHERE stream = $1 AND version >= $2 \
             ORDER BY version LIMIT $3",
        )
        .await
        .map_err(db_error)?;
    let from = i64::try_from(from_version).unwrap_or(i64::MAX);
    client
        .query(&statement, &[&stream, &from, &limit(max)])
        .await
        .map_err(db_error)?
        .iter()
        .map(|row| RecordedEvent::from_bytes(row.get::<_, &[u8]>(0)))
        .collect()
}

pub(super) async fn stream_version(pool: &Pool, stream: &str) -> Result<u64, StoreError> {
    let client = client(pool).await?;
    let statement = client
        .prepare_cached("SELECT coalesce(max(version), 0) FROM events WHERE stream = $1")
        .await
        .map_err(db_error)?;
    let row = client
        .query_one(&statement, &[&stream])
        .await
        .map_err(db_error)?;
    Ok(row.get::<_, i64>(0) as u64)
}

pub(super) async fn idempotent_result(
    pool: &Pool,
    key: &str,
) -> Result<Option<IdempotentResult>, StoreError> {
    let client = client(pool).await?;
    let statement = client
        .prepare_cached(
            "SELECT fingerprint, stream, first_version, last_version, first_position, \
             last_position FROM idempotency WHERE key = $1",
        )
        .await
        .map_err(db_error)?;
    let row = client
        .query_opt(&statement, &[&key])
        .await
        .map_err(db_error)?;
    Ok(row.map(|r| IdempotentResult {
        fingerprint: r.get::<_, i64>(0) as u64,
        outcome: AppendOutcome {
            stream: r.get(1),
            first_version: r.get::<_, i64>(2) as u64,
            last_version: r.get::<_, i64>(3) as u64,
            first_position: r.get::<_, i64>(4) as u64,
            last_position: r.get::<_, i64>(5) as u64,
            deduplicated: false,
        },
    }))
}

/// Idempotency keys in key order after `after`, at most `limit`.
pub(super) async fn idempotency_keys(
    pool: &Pool,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<(String, IdempotentResult)>, StoreError> {
    let client = client(pool).await?;
    let statement = client
        .prepare_cached(
            "SELECT key, fingerprint, stream, first_version, last_version, first_position, \
             last_position FROM idempotency WHERE $1::text IS NULL OR key COLLATE \"C\" > $1 \
             ORDER BY key COLLATE \"C\" LIMIT $2",
        )
        .await
        .map_err(db_error)?;
    let limit = limit.min(i64::MAX as usize) as i64;
    let rows = client
        .query(&statement, &[&after, &limit])
        .await
        .map_err(db_error)?;
    Ok(rows
        .iter()
        .map(|r| {
            let result = IdempotentResult {
                fingerprint: r.get::<_, i64>(1) as u64,
                outcome: AppendOutcome {
                    stream: r.get(2),
                    first_version: r.get::<_, i64>(3) as u64,
                    last_version: r.get::<_, i64>(4) as u64,
                    first_position: r.get::<_, i64>(5) as u64,
                    last_position: r.get::<_, i64>(6) as u64,
                    deduplicated: false,
                },
            };
            (r.get(0), result)
        })
        .collect())
}

/// Stores copied idempotency keys; keys already stored are kept. Returns how many
/// were new.
pub(super) async fn import_idempotency_keys(
    pool: &Pool,
    keys: &[(String, IdempotentResult)],
) -> Result<u64, StoreError> {
    let client = client(pool).await?;
    let statement = client
        .prepare_cached(
            "INSERT INTO idempotency (key, fingerprint, stream, first_version, last_version, \
             first_position, last_position) SELECT * FROM unnest($1::text[], $2::bigint[], \
             $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[]) \
             ON CONFLICT (key) DO NOTHING",
        )
        .await
        .map_err(db_error)?;
    let col = |f: fn(&IdempotentResult) -> i64| keys.iter().map(|(_, r)| f(r)).collect::<Vec<_>>();
    let names: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
    let streams: Vec<&str> = keys
        .iter()
        .map(|(_, r)| r.outcome.stream.as_str())
        .collect();
    client
        .execute(
            &statement,
            &[
                &names,
                &col(|r| r.fingerprint as i64),
                &streams,
                &col(|r| r.outcome.first_version as i64),
                &col(|r| r.outcome.last_version as i64),
                &col(|r| r.outcome.first_position as i64),
                &col(|r| r.outcome.last_position as i64),
            ],
        )
        .await
        .map_err(db_error)
}

pub(super) async fn save_snapshot(pool: &Pool, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let client = client(pool).await?;
    let statement = client
        .prepare_cached(
            "INSERT INTO snapshots (name, bytes) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET bytes = excluded.bytes",
        )
        .await
        .map_err(db_error)?;
    client
        .execute(&statement, &[&name, &bytes])
        .await
        .map_err(db_error)?;
    Ok(())
}

pub(super) async fn load_snapshot(pool: &Pool, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let client = client(pool).await?;
    let statement = client
        .prepare_cached("SELECT bytes FROM snapshots WHERE name = $1")
        .await
        .map_err(db_error)?;
    Ok(client
        .query_opt(&statement, &[&name])
        .await
        .map_err(db_error)?
        .map(|r| r.get(0)))
}

/// The committed head of the log (position 0 for an empty one).
pub(super) async fn committed_head(pool: &Pool) -> Result<u64, StoreError> {
    let client = client(pool).await?;
    let row = client
        .query_one("SELECT position FROM log_head", &[])
        .await
        .map_err(db_error)?;
    Ok(row.get::<_, i64>(0) as u64)
}

/// The record at `position`: position, link and time (an empty head for 0).
pub(super) async fn link_at(pool: &Pool, position: u64) -> Result<LogHead, StoreError> {
    let mut found = LogHead {
        position: 0,
        hash: None,
        occurred_at: None,
    };
    if position == 0 {
        return Ok(found);
    }
    scan(pool, position, position, 1, |bytes| {
        let e = EventRef::decode(bytes)?;
        found = LogHead {
            position: e.position,
            hash: link_of(bytes)?.map(|(_, link)| *link),
            occurred_at: Some(e.occurred_at),
        };
        Ok(false)
    })
    .await?;
    Ok(found)
}

/// Walks the log up to `head` through the chain's [`Verifier`].
pub(super) async fn verify(pool: &Pool, head: u64) -> Result<VerifyReport, StoreError> {
    let mut verifier = Verifier::default();
    scan(
        pool,
        1,
        head,
        usize::MAX,
        |bytes| Ok(verifier.record(bytes)),
    )
    .await?;
    if !verifier.is_broken() && verifier.next_position() <= head {
        verifier.fail("the record at this position is missing");
    }
    Ok(verifier.finish())
}
