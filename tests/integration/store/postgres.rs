//! What only the PostgreSQL backend has: versioned migrations run by every node at
//! start (refusing a schema newer than the build), and nodes starting together on
//! an empty database; `swarmdesk migrate` from a sled data directory (idempotency
//! keys included); `verify`, `export`, `import` and `replay` with `--store`. Skipped
//! (and said so) without `SWARMDESK_TEST_POSTGRES`.

use swarmdesk::store::postgres::{parse_url, schema_version, PgStore};
use swarmdesk::store::{EventStore, ExpectedVersion, StoreError};

use super::conformance::harness::{fresh_database, open_pg, pg_options, postgres_url, wait_head};
use crate::common::*;

async fn sql(url: &str, statement: &str) -> Vec<tokio_postgres::Row> {
    let (client, connection) = parse_url(url)
        .unwrap()
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap();
    let driver = tokio::spawn(connection);
    let rows = client.query(statement, &[]).await.unwrap();
    drop(client);
    let _ = driver.await;
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_starting_together_migrate_once_and_share_the_log() {
    let Some(admin) = postgres_url() else { return };
    let url = fresh_database(&admin).await;
    let opened = futures_util::future::join_all((0..4).map(|_| open_pg(&url))).await;
    let versions = sql(
        &url,
        "SELECT version FROM swarmdesk_migrations ORDER BY version",
    )
    .await;
    let versions: Vec<i32> = versions.iter().map(|r| r.get(0)).collect();
    assert_eq!(versions, (1..=schema_version()).collect::<Vec<_>>());
    opened[0]
        .append(request(
            "m",
            ExpectedVersion::Exact(0),
            vec![raw_event("m1", 5)],
        ))
        .await
        .unwrap();
    for node in &opened {
        wait_head(node.as_ref(), 1).await;
        assert_eq!(node.read_all(1, 10).await.unwrap().len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_schema_newer_than_the_build_is_refused_with_a_clear_message() {
    let Some(admin) = postgres_url() else { return };
    let url = fresh_database(&admin).await;
    let store = open_pg(&url).await;
    store.shutdown().await.unwrap();
    sql(
        &url,
        &format!(
            "INSERT INTO swarmdesk_migrations (version) VALUES ({})",
            schema_version() + 1
        ),
    )
    .await;
    match PgStore::open(&url, pg_options()).await {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains("newer than this build"), "{message}");
            assert!(
                message.contains(&format!("version {}", schema_version() + 1)),
                "{message}"
            );
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a newer schema must be refused"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_database_is_a_clear_error_without_the_password() {
    let Some(_) = postgres_url() else { return };
    let mut options = pg_options();
    options.connect_timeout = std::time::Duration::from_secs(2);
    match PgStore::open("postgres://someone:secret@127.0.0.1:1/nowhere", options).await {
        Err(StoreError::Unavailable(message)) => {
            assert!(
                message.contains("cannot connect to PostgreSQL at someone@127.0.0.1:1/nowhere"),
                "{message}"
            );
            assert!(!message.contains("secret"), "{message}");
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("nothing listens on port 1"),
    }
    assert!(matches!(
        PgStore::open("postgres://u@localhost:port/db", pg_options()).await,
        Err(StoreError::Unavailable(m)) if m.contains("invalid PostgreSQL connection string")
    ));
}

/// `swarmdesk migrate --from DIR --to URL` copies a sled log verbatim: the same
/// events at the same positions with the same hash chain; run again it copies
/// nothing more, and it refuses a database holding another log.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn migrate_copies_a_sled_log_verbatim_and_refuses_another_log() {
    let Some(admin) = postgres_url() else { return };
    let dir = temp_dir();
    let sled = open_store(dir.path());
    // Every 500th append carries an idempotency key.
    let keyed = |i: u64| {
        let mut r = request(
            &format!("m{}", i % 7),
            ExpectedVersion::Any,
            vec![raw_event(&format!("e{i}"), 60)],
        );
        if i.is_multiple_of(500) {
            r.idempotency_key = Some(format!("key-{i}"));
            r.fingerprint = i + 1;
        }
        r
    };
    let mut first_results = Vec::new();
    for i in 0..5000u64 {
        let outcome = sled.append(keyed(i)).await.unwrap();
        if i.is_multiple_of(500) {
            first_results.push((i, outcome));
        }
    }
    let expected = read_log(sled.as_ref()).await;
    let hash = sled.log_head().await.unwrap().hash;
    sled.shutdown().await.unwrap();
    close_store(sled);

    let url = fresh_database(&admin).await;
    let migrate = |to: String| {
        let dir = dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_swarmdesk"))
                .args(["migrate", "--to", &to, "--from"])
                .arg(dir)
                .env("RUST_LOG", "warn")
                .output()
                .unwrap()
        })
    };
    let out = migrate(url.clone()).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("copied 5000 events, 10 idempotency keys"),
        "{stdout}"
    );
    let again = migrate(url.clone()).await.unwrap();
    assert!(again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stdout).starts_with("copied 0 events, 0 idempotency"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );

    let pg = open_pg(&url).await;
    assert_eq!(read_log(pg.as_ref()).await, expected);
    assert_eq!(pg.log_head().await.unwrap().hash, hash);
    assert!(pg.verify().await.unwrap().is_ok());
    // A client retrying a request made before the move is answered from its key:
    // the first outcome, nothing written again; the key still refuses another request.
    for (i, first) in &first_results {
        let retried = pg.append(keyed(*i)).await.unwrap();
        assert!(retried.deduplicated, "key-{i}");
        assert_eq!(
            (retried.first_position, retried.last_version),
            (first.first_position, first.last_version),
            "key-{i}"
        );
        let mut other = keyed(*i);
        other.fingerprint += 1000;
        assert!(matches!(
            pg.append(other).await,
            Err(StoreError::IdempotencyKeyReused(_))
        ));
    }
    assert_eq!(pg.head(), 5000);
    pg.shutdown().await.unwrap();

    let other = fresh_database(&admin).await;
    let store = open_pg(&other).await;
    store
        .append(request("x", ExpectedVersion::Any, vec![raw_event("x", 5)]))
        .await
        .unwrap();
    store.shutdown().await.unwrap();
    let refused = migrate(other).await.unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("copy into an empty database"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

/// Runs the binary with `args` (and `SWARMDESK_STORE` unset) and `stdin`; returns
/// its exit code, stdout and stderr.
async fn swarmdesk(args: Vec<String>, stdin: Option<Vec<u8>>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let mut child = Command::new(env!("CARGO_BIN_EXE_swarmdesk"))
            .args(&args)
            .env("RUST_LOG", "warn")
            .env_remove("SWARMDESK_STORE")
            .env("SWARMDESK_DATA", "/nonexistent/swarmdesk-data")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(bytes) = stdin {
            input.write_all(&bytes).unwrap();
        }
        drop(input);
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

/// `demo`, `verify`, `export`, `import` and `replay` take `--store` as `serve` does:
/// a log written into one database, exported and imported into another, verifies
/// there with the same head hash and exports the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_export_import_and_replay_work_on_a_postgres_store() {
    let Some(admin) = postgres_url() else { return };
    let (a, b) = (fresh_database(&admin).await, fresh_database(&admin).await);
    let run = |args: &[&str]| swarmdesk(args.iter().map(|s| s.to_string()).collect(), None);
    let (code, out, err) = run(&["demo", "--cases", "12", "--store", &a]).await;
    assert_eq!(code, 0, "{out} {err}");
    let (code, verified, err) = run(&["verify", "--store", &a]).await;
    assert_eq!(code, 0, "{verified} {err}");
    assert!(verified.starts_with("ok, "), "{verified}");

    let (code, export, err) = run(&["export", "--store", &a]).await;
    assert_eq!(code, 0, "{err}");
    let lines = export.lines().count();
    assert!(lines > 12, "{lines} events exported");
    let (code, out, err) = swarmdesk(
        vec!["import".into(), "--store".into(), b.clone()],
        Some(export.clone().into_bytes()),
    )
    .await;
    assert_eq!(code, 0, "{out} {err}");
    assert!(
        out.starts_with(&format!("imported {lines} events")),
        "{out}"
    );
    let (code, verified_b, err) = run(&["verify", "--store", &b]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(verified_b, verified, "the same log, the same head hash");
    let (_, export_b, _) = run(&["export", "--store", &b]).await;
    assert_eq!(export_b, export);

    let (code, replayed, err) = run(&["replay", "--store", &b]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        replayed.starts_with(&format!("replayed {lines} events")),
        "{replayed}"
    );
    assert!(replayed.contains("\ncases "), "{replayed}");

    // A database that cannot be reached is reported, with exit code 2 for verify.
    let (code, _, err) = run(&[
        "verify",
        "--store",
        "postgres://someone:secret@127.0.0.1:1/x",
    ])
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot verify someone@127.0.0.1:1/x"), "{err}");
    assert!(!err.contains("secret"), "{err}");
}

/// A group whose writes fail (a row written without the log's lock, here by hand) is
/// refused as a whole: nothing of it is kept, the head does not move, and once the
/// cause is gone the next append is written where the refused one would have been.
/// (A group's statements go out pipelined behind `BEGIN` and ahead of `COMMIT`, which
/// PostgreSQL then answers with a rollback rather than an error.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_group_whose_writes_fail_is_refused_whole_and_the_next_one_is_written() {
    let Some(admin) = postgres_url() else { return };
    let url = fresh_database(&admin).await;
    let store = open_pg(&url).await;
    let first = request("a", ExpectedVersion::Exact(0), vec![raw_event("a1", 5)]);
    assert_eq!(store.append(first).await.unwrap().last_position, 1);
    sql(
        &url,
        "INSERT INTO events (position, stream, version, event_type, record) \
         VALUES (2, 'rogue', 1, 'Rogue', '\\x00')",
    )
    .await;
    let refused = store
        .append(request(
            "b",
            ExpectedVersion::Exact(0),
            vec![raw_event("b1", 5)],
        ))
        .await;
    assert!(
        matches!(&refused, Err(StoreError::Unavailable(m)) if m.contains("may or may not")),
        "{refused:?}"
    );
    let streams = sql(&url, "SELECT stream FROM events ORDER BY position").await;
    let streams: Vec<String> = streams.iter().map(|r| r.get(0)).collect();
    assert_eq!(streams, ["a", "rogue"]);
    let head = sql(&url, "SELECT position FROM log_head").await;
    assert_eq!(head[0].get::<_, i64>(0), 1);
    sql(&url, "DELETE FROM events WHERE stream = 'rogue'").await;
    // Every connection of the pool is used in turn: none is left inside the failed
    // transaction.
    for i in 0..8u64 {
        let stream = format!("c{i}");
        let appended = store
            .append(request(
                &stream,
                ExpectedVersion::Exact(0),
                vec![raw_event("c", 5)],
            ))
            .await
            .unwrap();
        assert_eq!(appended.last_position, 2 + i);
    }
    let read: Vec<String> = store
        .read_all(1, 20)
        .await
        .unwrap()
        .iter()
        .map(|e| e.stream.clone())
        .collect();
    assert_eq!(read, ["a", "c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"]);
}
