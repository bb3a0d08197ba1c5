//! The baselines `load --sweep` measures beside the API's durable mutations, in the
//! same run and alternating with them (round after round), and the side-by-side table
//! of the write-path targets:
//! - raw sled, one writer: insert one 300 B value, `flush`, `fdatasync` of sled's data
//!   file (what one durable append costs sled at the store's durability), and the same
//!   without the `fdatasync`;
//! - `{ __typename }`, the cheapest authenticated query, from as many clients;
//! - with `SWARMDESK_TEST_POSTGRES` set, a one-transaction PostgreSQL append from as
//!   many clients (a Message-DB-style `write_message` function: per-stream advisory
//!   lock, version check, insert; one connection per client, fsync as the cluster has
//!   it), as `benches/postgres.rs` measures it.

use super::clients::{closed_loop, Looped};
use super::{ms, Gql, Summary};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use swarmdesk::store::postgres::parse_url;
use tokio_postgres::NoTls;

/// Bytes of each raw sled value and PostgreSQL message (about one stored event).
const PAYLOAD: usize = 300;

/// The Message-DB-style schema and append function (`benches/message_db.sql`, which
/// `benches/postgres.rs` runs too).
const MESSAGE_DB: &str = include_str!("../../benches/message_db.sql");

/// `{ __typename }` from `clients` clients for `seconds`.
pub async fn typename(gql: &Arc<Gql>, clients: usize, seconds: f64) -> Looped {
    let gql = gql.clone();
    closed_loop(clients, seconds, move |_, _| {
        let gql = gql.clone();
        async move {
            let d = gql.call("{ __typename }", serde_json::json!({})).await?;
            match d["__typename"].as_str() {
                Some(_) => Ok(()),
                None => Err(format!("no __typename in {d}")),
            }
        }
    })
    .await
}

/// Raw sled in a fresh directory under `parent`, one writer: insert one value,
/// `flush`, and with `sync` an `fdatasync` of sled's data file, for `seconds`.
/// Returns each round trip's latency; runs on a blocking thread.
pub async fn raw_sled(parent: &Path, seconds: f64, sync: bool) -> Result<Summary, String> {
    let dir = tempfile::tempdir_in(parent).map_err(|e| format!("raw sled dir: {e}"))?;
    tokio::task::spawn_blocking(move || {
        let db = sled::Config::new()
            .path(dir.path())
            .open()
            .map_err(|e| format!("raw sled open: {e}"))?;
        let data = std::fs::File::open(dir.path().join("db"))
            .map_err(|e| format!("raw sled data file: {e}"))?;
        let value = vec![7u8; PAYLOAD];
        let deadline = Instant::now() + Duration::from_secs_f64(seconds);
        let mut latencies = Vec::with_capacity(8192);
        let mut i = 0u64;
        while Instant::now() < deadline || latencies.len() < 100 {
            let t0 = Instant::now();
            db.insert(i.to_be_bytes(), value.as_slice())
                .map_err(|e| format!("raw sled insert: {e}"))?;
            db.flush().map_err(|e| format!("raw sled flush: {e}"))?;
            if sync {
                data.sync_data()
                    .map_err(|e| format!("raw sled fdatasync: {e}"))?;
            }
            latencies.push(t0.elapsed().as_micros() as u64);
            i += 1;
        }
        drop(db);
        drop(dir);
        Ok(Summary::of(&mut latencies))
    })
    .await
    .map_err(|e| format!("raw sled thread: {e}"))?
}

/// A fresh database with the Message-DB-style function, on the cluster
/// `SWARMDESK_TEST_POSTGRES` names; its connection string.
pub async fn postgres_database(admin: &str) -> Result<String, String> {
    let (client, connection) = parse_url(admin)
        .map_err(|e| e.to_string())?
        .connect(NoTls)
        .await
        .map_err(|e| format!("PostgreSQL: {e}"))?;
    tokio::spawn(connection);
    let name = format!("swarmdesk_load_{}", std::process::id());
    for statement in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        client
            .batch_execute(&statement)
            .await
            .map_err(|e| format!("PostgreSQL: {e}"))?;
    }
    let mut config = parse_url(admin).map_err(|e| e.to_string())?;
    config.dbname(&name);
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => return Err("SWARMDESK_TEST_POSTGRES names no host".into()),
    };
    let url = format!(
        "host={host} port={} user={} dbname={name}",
        config.get_ports().first().copied().unwrap_or(5432),
        config.get_user().unwrap_or("postgres")
    );
    let (db, connection) = parse_url(&url)
        .map_err(|e| e.to_string())?
        .connect(NoTls)
        .await
        .map_err(|e| format!("PostgreSQL: {e}"))?;
    tokio::spawn(connection);
    db.batch_execute(MESSAGE_DB)
        .await
        .map_err(|e| format!("PostgreSQL schema: {e}"))?;
    Ok(url)
}

/// `clients` connections, each appending to its own stream (`label` keeps rounds
/// apart) with its expected version, one transaction per message, for `seconds`.
pub async fn postgres_append(
    url: &str,
    clients: usize,
    seconds: f64,
    label: &str,
) -> Result<Looped, String> {
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (client, connection) = parse_url(url)
            .map_err(|e| e.to_string())?
            .connect(NoTls)
            .await
            .map_err(|e| format!("PostgreSQL: {e}"))?;
        tokio::spawn(connection);
        let statement = client
            .prepare("SELECT mdb_write_message($1, $2, 'BenchEvent', $3, $4)")
            .await
            .map_err(|e| format!("PostgreSQL prepare: {e}"))?;
        conns.push(Arc::new((client, statement)));
    }
    let label = label.to_string();
    let looped = closed_loop(clients, seconds, move |c, n| {
        let conn = conns[c].clone();
        let stream = format!("load-{label}-{clients}-{c}");
        async move {
            let (client, statement) = &*conn;
            let data = vec![7u8; PAYLOAD];
            client
                .query_one(
                    statement,
                    &[
                        &ulid::Ulid::new().to_string(),
                        &stream,
                        &data,
                        &(n as i64 - 1),
                    ],
                )
                .await
                .map(|_| ())
                .map_err(|e| format!("write_message: {e}"))
        }
    })
    .await;
    Ok(looped)
}

/// One round at one client count: the mutations and their baselines.
pub struct Round {
    pub clients: usize,
    pub mutations_per_sec: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    /// Raw sled insert + flush + fdatasync, and insert + flush, p50 (one writer).
    pub sled_sync_p50_us: u64,
    pub sled_flush_p50_us: u64,
    pub typename_per_sec: f64,
    /// CPU microseconds per request of the server's threads and of the generator's
    /// clients (see `cpu`): a mutation's, then a `{ __typename }`'s.
    pub server_cpu_us: (f64, f64),
    /// Of a mutation's server CPU, sled's I/O threads'.
    pub sled_io_cpu_us: f64,
    pub generator_cpu_us: (f64, f64),
    /// PostgreSQL appends/s, p50 and p99, when configured.
    pub postgres: Option<(f64, u64, u64)>,
}

/// Median of `v` (0 if empty), and its smallest and largest value.
fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn spread((m, lo, hi): (f64, f64, f64), digits: usize) -> String {
    format!("{m:.digits$} ({lo:.digits$}-{hi:.digits$})")
}

/// Prints each round, then per client count the medians of the rounds (spread in
/// parentheses) and each write-path target against its baseline from this run.
pub fn report(rounds: &[Round]) {
    println!();
    println!("Side by side, each round in order (mutations and baselines alternate):");
    println!(
        "{:>7} {:>9} {:>8} {:>8} {:>10} {:>10} {:>11} {:>9} {:>8}",
        "clients",
        "mut/s",
        "p50 ms",
        "p99 ms",
        "sled+sync",
        "sled flush",
        "typename/s",
        "pg/s",
        "pg p50"
    );
    for r in rounds {
        let (pg, pg50) = match r.postgres {
            Some((s, p50, _)) => (format!("{s:.0}"), format!("{:.2}", ms(p50))),
            None => ("-".into(), "-".into()),
        };
        println!(
            "{:>7} {:>9.0} {:>8.2} {:>8.2} {:>10.3} {:>10.3} {:>11.0} {:>9} {:>8}",
            r.clients,
            r.mutations_per_sec,
            ms(r.p50_us),
            ms(r.p99_us),
            ms(r.sled_sync_p50_us),
            ms(r.sled_flush_p50_us),
            r.typename_per_sec,
            pg,
            pg50
        );
    }
    let mut counts: Vec<usize> = rounds.iter().map(|r| r.clients).collect();
    counts.sort_unstable();
    counts.dedup();
    println!();
    println!("Write-path targets, median over rounds (min-max):");
    for n in counts {
        let rs: Vec<&Round> = rounds.iter().filter(|r| r.clients == n).collect();
        let of = |f: &dyn Fn(&Round) -> f64| median(rs.iter().map(|r| f(r)).collect());
        let rate = of(&|r| r.mutations_per_sec);
        let p99 = of(&|r| ms(r.p99_us));
        println!(
            "  {n} client(s), {} round(s): {} mutations/s, p50 {} ms, p99 {} ms",
            rs.len(),
            spread(rate, 0),
            spread(of(&|r| ms(r.p50_us)), 2),
            spread(p99, 2)
        );
        if n == 1 {
            let ratio = of(&|r| r.p50_us as f64 / r.sled_sync_p50_us.max(1) as f64);
            println!(
                "    p50 / raw sled insert+flush+fdatasync p50 ({} ms; flush only {} ms): {} -> {}",
                spread(of(&|r| ms(r.sled_sync_p50_us)), 3),
                spread(of(&|r| ms(r.sled_flush_p50_us)), 3),
                spread(ratio, 2),
                if ratio.0 <= 2.0 {
                    "met (<= 2)"
                } else {
                    "NOT met (<= 2)"
                }
            );
        }
        let server = of(&|r| r.server_cpu_us.0);
        let server_typename = of(&|r| r.server_cpu_us.1);
        println!(
            "    server CPU per request: mutation {} us (sled's I/O threads {}), {{ __typename }} {} us: {}x (load generator's clients: {} and {} us)",
            spread(server, 0),
            spread(of(&|r| r.sled_io_cpu_us), 0),
            spread(server_typename, 0),
            spread(of(&|r| r.server_cpu_us.0 / r.server_cpu_us.1.max(1e-9)), 2),
            spread(of(&|r| r.generator_cpu_us.0), 0),
            spread(of(&|r| r.generator_cpu_us.1), 0),
        );
        let typename = of(&|r| r.mutations_per_sec / r.typename_per_sec.max(1e-9));
        let met = n >= 64 && typename.0 >= 0.5 && p99.0 < 20.0;
        println!(
            "    mutations / {{ __typename }} ({}/s): {}{}",
            spread(of(&|r| r.typename_per_sec), 0),
            spread(typename, 2),
            if n >= 64 {
                if met {
                    " -> met (>= 0.5 at p99 < 20 ms)"
                } else {
                    " -> NOT met (>= 0.5 at p99 < 20 ms)"
                }
            } else {
                ""
            }
        );
        if rs.iter().all(|r| r.postgres.is_some()) {
            let pg = of(&|r| r.postgres.map_or(0.0, |p| p.0));
            let ratio = of(&|r| r.mutations_per_sec / r.postgres.map_or(1.0, |p| p.0.max(1e-9)));
            println!(
                "    mutations / PostgreSQL append ({}/s, p50 {} ms): {}{}",
                spread(pg, 0),
                spread(of(&|r| r.postgres.map_or(0.0, |p| ms(p.1))), 2),
                spread(ratio, 2),
                match (n <= 8, ratio.0 > 1.0) {
                    (true, true) => " -> met (> 1)",
                    (true, false) => " -> NOT met (> 1)",
                    _ => "",
                }
            );
        } else if n <= 8 {
            println!("    PostgreSQL append: not measured (SWARMDESK_TEST_POSTGRES not set)");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_spread_of_rounds() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), (2.0, 1.0, 3.0));
        assert_eq!(median(vec![]), (0.0, 0.0, 0.0));
        assert_eq!(spread((2.0, 1.0, 3.0), 1), "2.0 (1.0-3.0)");
    }
}
