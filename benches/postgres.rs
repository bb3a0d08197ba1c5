//! Appends/s of the PostgreSQL event store next to a plain Message-DB-style
//! `write_message` function (one transaction per message: a per-stream advisory
//! lock, the expected-version check, an insert with a `bigserial` global position)
//! on the same database, in one run, at 1, 16 and 64 concurrent writers.
//!
//! Not a criterion bench (a database's timings need no statistics to compare two
//! write paths side by side). Needs `SWARMDESK_TEST_POSTGRES` (see
//! `scripts/pg-test-cluster.sh`); creates a fresh database there.
//!
//! `cargo bench --bench postgres`

use std::sync::Arc;
use std::time::{Duration, Instant};

use swarmdesk::domain::{Actor, Timestamp};
use swarmdesk::store::postgres::{parse_url, PgOptions, PgStore};
use swarmdesk::store::{AppendRequest, EventStore, ExpectedVersion, Metadata, NewEvent};
use tokio_postgres::NoTls;

const PAYLOAD: usize = 300;
const PER_WRITER: usize = 200;

const MESSAGE_DB: &str = include_str!("message_db.sql");

fn report(name: &str, writers: usize, elapsed: Duration, mut latencies: Vec<Duration>) {
    latencies.sort();
    let n = latencies.len();
    let p = |q: f64| latencies[((n as f64 * q) as usize).min(n - 1)];
    println!(
        "{name:<34} {writers:>3} writers  {:>9.0} appends/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
        n as f64 / elapsed.as_secs_f64(),
        p(0.5).as_secs_f64() * 1e3,
        p(0.99).as_secs_f64() * 1e3,
    );
}

async fn fresh_database(admin: &str) -> String {
    let (client, connection) = parse_url(admin).unwrap().connect(NoTls).await.unwrap();
    tokio::spawn(connection);
    let name = format!("swarmdesk_bench_{}", std::process::id());
    for statement in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        client.batch_execute(&statement).await.unwrap();
    }
    let mut config = parse_url(admin).unwrap();
    config.dbname(&name);
    let host = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
    };
    format!(
        "host={host} port={} user={} dbname={name}",
        config.get_ports()[0],
        config.get_user().unwrap_or("postgres")
    )
}

async fn store_appends(store: Arc<PgStore>, writers: usize) {
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(PER_WRITER);
                for i in 0..PER_WRITER {
                    let request = AppendRequest {
                        stream: format!("bench-{writers}-{w}"),
                        expected: ExpectedVersion::Exact(i as u64),
                        idempotency_key: None,
                        fingerprint: 0,
                        metadata: Metadata {
                            actor: Actor::system(),
                            occurred_at: Timestamp::now(),
                            correlation_id: ulid::Ulid::new(),
                            causation_id: None,
                        },
                        events: vec![NewEvent {
                            event_type: "BenchEvent".into(),
                            schema_version: 1,
                            payload: vec![7u8; PAYLOAD],
                        }],
                    };
                    let t = Instant::now();
                    store.append(request).await.unwrap();
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    report(
        "swarmdesk PgStore::append",
        writers,
        start.elapsed(),
        latencies,
    );
}

async fn write_message(url: &str, writers: usize) {
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let url = url.to_string();
            tokio::spawn(async move {
                let (client, connection) = parse_url(&url).unwrap().connect(NoTls).await.unwrap();
                tokio::spawn(connection);
                let statement = client
                    .prepare("SELECT mdb_write_message($1, $2, 'BenchEvent', $3, $4)")
                    .await
                    .unwrap();
                let mut latencies = Vec::with_capacity(PER_WRITER);
                let data = vec![7u8; PAYLOAD];
                for i in 0..PER_WRITER {
                    let t = Instant::now();
                    client
                        .query_one(
                            &statement,
                            &[
                                &ulid::Ulid::new().to_string(),
                                &format!("bench-{writers}-{w}"),
                                &data,
                                &(i as i64 - 1),
                            ],
                        )
                        .await
                        .unwrap();
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    report(
        "Message-DB-style write_message",
        writers,
        start.elapsed(),
        latencies,
    );
}

fn main() {
    let Ok(admin) = std::env::var("SWARMDESK_TEST_POSTGRES") else {
        eprintln!(
            "SWARMDESK_TEST_POSTGRES is not set: start a cluster with \
             `eval \"$(scripts/pg-test-cluster.sh start)\"` first"
        );
        return;
    };
    // `cargo bench` passes `--bench`; a filter argument is ignored.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let url = fresh_database(&admin).await;
        let store = Arc::new(PgStore::open(&url, PgOptions::default()).await.unwrap());
        let (client, connection) = parse_url(&url).unwrap().connect(NoTls).await.unwrap();
        tokio::spawn(connection);
        client.batch_execute(MESSAGE_DB).await.unwrap();
        println!(
            "one {PAYLOAD} B event per append, {PER_WRITER} appends per writer, each writer on its \
             own stream with an expected version; the same database"
        );
        for writers in [1, 16, 64] {
            store_appends(store.clone(), writers).await;
            write_message(&url, writers).await;
        }
        store.shutdown().await.unwrap();
    });
}
