//! What only the PostgreSQL backend has: versioned migrations run by every node at
//! start (refusing a schema newer than the build), and nodes starting together on
//! an empty database; `swarmdesk migrate` from a sled data directory. Skipped (and
//! said so) without `SWARMDESK_TEST_POSTGRES`.

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
    for i in 0..5000u64 {
        sled.append(request(
            &format!("m{}", i % 7),
            ExpectedVersion::Any,
            vec![raw_event(&format!("e{i}"), 60)],
        ))
        .await
        .unwrap();
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
    assert!(stdout.starts_with("copied 5000 events"), "{stdout}");
    let again = migrate(url.clone()).await.unwrap();
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).starts_with("copied 0 events"));

    let pg = open_pg(&url).await;
    assert_eq!(read_log(pg.as_ref()).await, expected);
    assert_eq!(pg.log_head().await.unwrap().hash, hash);
    assert!(pg.verify().await.unwrap().is_ok());
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
