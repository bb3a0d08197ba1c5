//! `load --ab LEVER`: one write-path lever measured side by side in one run. Two
//! servers start in this process, A as `serve` runs by default and B with the lever
//! changed; each round runs the same mutation benchmark on A and on B (alternating
//! which goes first), and the report gives both medians and B/A per client count.
//! Levers: `documents` (B parses every request: no parsed-document cache),
//! `execute=runtime` (B hands GraphQL to the main runtime and back, as before
//! 2026-12-02), `workers=N` (B has N HTTP workers).

use super::mutations::client_counts;
use super::target::{bench_server, start_local, LocalServer};
use super::{ms, open_cases, run_clients, BenchCase, Gql, Opts, RunStats};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use swarmdesk::server::ServerOptions;

/// A server of this run, its client and its cases.
struct Side {
    label: String,
    gql: Arc<Gql>,
    cases: Vec<BenchCase>,
    running: LocalServer,
    _dir: tempfile::TempDir,
}

/// Changes `o` as the lever says; the lever's description, or why it is unknown.
fn apply(lever: &str, o: &mut ServerOptions) -> Result<String, String> {
    match lever {
        "documents" => {
            o.query_limits.document_cache = 0;
            Ok("no parsed-document cache (every request parsed)".into())
        }
        "execute=runtime" => {
            o.execution = swarmdesk::http::Execution::OnRuntime;
            Ok("GraphQL handed to the main runtime and back".into())
        }
        other => match other.strip_prefix("workers=").map(str::parse::<usize>) {
            Some(Ok(n)) if n > 0 => {
                o.workers = n;
                Ok(format!("{n} HTTP worker(s)"))
            }
            _ => Err(format!(
                "unknown lever `{other}` (documents, execute=runtime, workers=N)"
            )),
        },
    }
}

async fn start(opts: &Opts, lever: Option<&str>) -> Result<Side, String> {
    let (mut o, token, dir) = bench_server(opts)?;
    let label = match lever {
        Some(l) => format!("B: {}", apply(l, &mut o)?),
        None => format!("A: default, {} HTTP worker(s)", o.workers),
    };
    let running = start_local(o).await?;
    let base = format!("http://{}", running.addr);
    let gql = Arc::new(Gql::connect(&base, token, opts.clients + 16)?.keyed(opts.keyed));
    let cases = open_cases(&gql, opts.clients.max(8), "ab").await?;
    Ok(Side {
        label,
        gql,
        cases,
        running,
        _dir: dir,
    })
}

async fn run_on(side: &mut Side, n: usize, opts: &Opts) -> RunStats {
    if opts.warmup > 0 {
        let (back, _) = run_clients(
            &side.gql,
            side.cases.drain(..n).collect(),
            false,
            opts.warmup,
            "warm-up",
        )
        .await;
        side.cases.splice(0..0, back);
    }
    let (back, stats) = run_clients(
        &side.gql,
        side.cases.drain(..n).collect(),
        false,
        opts.seconds,
        "run",
    )
    .await;
    side.cases.splice(0..0, back);
    stats
}

fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => (0.0, 0.0, 0.0),
        n => (v[n / 2], v[0], v[n - 1]),
    }
}

pub async fn run(opts: Opts, lever: &str) -> ExitCode {
    let sides = async {
        let a = start(&opts, None).await?;
        let b = start(&opts, Some(lever)).await?;
        Ok::<_, String>((a, b))
    };
    let (mut a, mut b) = match sides.await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("FAIL cannot start the two servers: {e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "A/B, {} s per run after {} s warm-up:",
        opts.seconds, opts.warmup
    );
    println!("  {}\n  {}", a.label, b.label);
    let counts = client_counts(&opts);
    let mut rows: Vec<(usize, RunStats, RunStats)> = Vec::new();
    let mut failed = false;
    println!(
        "{:>7} {:>5} {:>9} {:>8} {:>8} {:>9} {:>8} {:>8}",
        "clients", "round", "A mut/s", "A p50", "A p99", "B mut/s", "B p50", "B p99"
    );
    for round in 0..opts.rounds.max(1) {
        for &n in &counts {
            // Alternate which side goes first.
            let (ra, rb) = if round % 2 == 0 {
                let ra = run_on(&mut a, n, &opts).await;
                (ra, run_on(&mut b, n, &opts).await)
            } else {
                let rb = run_on(&mut b, n, &opts).await;
                (run_on(&mut a, n, &opts).await, rb)
            };
            failed |= ra.errors > 0 || rb.errors > 0;
            for e in [&ra.first_error, &rb.first_error].into_iter().flatten() {
                println!("FAIL {e}");
            }
            println!(
                "{:>7} {:>5} {:>9.0} {:>8.2} {:>8.2} {:>9.0} {:>8.2} {:>8.2}",
                n,
                round + 1,
                ra.per_sec(),
                ms(ra.latency.p50),
                ms(ra.latency.p99),
                rb.per_sec(),
                ms(rb.latency.p50),
                ms(rb.latency.p99)
            );
            rows.push((n, ra, rb));
        }
    }
    println!("B/A, median over rounds (min-max):");
    for n in counts {
        let of = |f: &dyn Fn(&RunStats, &RunStats) -> f64| {
            median(
                rows.iter()
                    .filter(|r| r.0 == n)
                    .map(|(_, a, b)| f(a, b))
                    .collect(),
            )
        };
        let show = |(m, lo, hi): (f64, f64, f64)| format!("{m:.3} ({lo:.3}-{hi:.3})");
        println!(
            "  {n} client(s): mutations/s {}, p50 {}, p99 {}",
            show(of(&|a, b| b.per_sec() / a.per_sec().max(1e-9))),
            show(of(
                &|a, b| b.latency.p50 as f64 / a.latency.p50.max(1) as f64
            )),
            show(of(
                &|a, b| b.latency.p99 as f64 / a.latency.p99.max(1) as f64
            )),
        );
    }
    for side in [a, b] {
        drop(side.gql);
        let stop = tokio::time::timeout(Duration::from_secs(30), side.running.stop()).await;
        if !matches!(stop, Ok(Ok(()))) {
            eprintln!("warning: a server did not stop cleanly");
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
