//! Phase 1: durable mutations, `postMessage` in a closed loop from N clients, and the
//! statistics of a run.

use super::clients::{ms, Errors, Summary};
use super::target::{open_cases, BenchCase, Gql};
use super::Opts;
use super::{baselines, cpu};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one mutation run did: how many, how fast, and what failed.
pub(crate) struct RunStats {
    pub(crate) clients: usize,
    pub(crate) mutations: usize,
    pub(crate) elapsed: Duration,
    pub(crate) latency: Summary,
    /// Completed mutations in each second of the run.
    pub(crate) per_second: Vec<usize>,
    pub(crate) errors: usize,
    pub(crate) first_error: Option<String>,
}

impl RunStats {
    pub(crate) fn per_sec(&self) -> f64 {
        self.mutations as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The client counts a mutation run measures: `--clients`, and with `--sweep` 1
/// and 8 as well, in increasing order.
pub(crate) fn client_counts(opts: &Opts) -> Vec<usize> {
    let mut counts = if opts.sweep {
        vec![1, 8, opts.clients]
    } else {
        vec![opts.clients]
    };
    counts.sort_unstable();
    counts.dedup();
    counts
}

pub(crate) async fn mutation_runs(opts: &Opts, gql: &Arc<Gql>) -> Result<Vec<RunStats>, String> {
    let counts = client_counts(opts);
    let max = counts.iter().copied().max().unwrap_or(1);
    let started = Instant::now();
    let opened = if opts.one_case { 1 } else { max };
    let mut cases = open_cases(gql, opened, "mutations").await?;
    if opts.one_case {
        // The same case for every client; each tracks the versions it sees.
        cases = vec![cases[0].clone(); max];
    }
    println!();
    println!(
        "Durable mutations: postMessage(INTERNAL_NOTE) over HTTP, {},\n\
         {} s per run after {} s warm-up ({opened} case(s) opened in {:.1} s)",
        if opts.one_case {
            "all clients on ONE case"
        } else {
            "each client on its own case"
        },
        opts.seconds,
        opts.warmup,
        started.elapsed().as_secs_f64()
    );
    println!(
        "{:>8} {:>10} {:>10} {:>8} {:>8} {:>8} {:>8} {:>7}",
        "clients", "mutations", "mut/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"
    );
    // With `--sweep`, every run has its baselines beside it (see `baselines`).
    let postgres = match std::env::var("SWARMDESK_TEST_POSTGRES") {
        Ok(admin) if opts.sweep => Some(baselines::postgres_database(&admin).await?),
        _ => None,
    };
    let mut runs = Vec::new();
    let mut side_by_side = Vec::new();
    let rounds = (0..opts.rounds.max(1)).flat_map(|r| counts.iter().map(move |&n| (r, n)));
    for (round, n) in rounds {
        let sled = if opts.sweep {
            let tmp = std::env::temp_dir();
            let sync = baselines::raw_sled(&tmp, 1.0, true).await?;
            let flush = baselines::raw_sled(&tmp, 1.0, false).await?;
            let cpu_before = cpu::now();
            let typename = baselines::typename(gql, n, opts.seconds as f64).await;
            let typename_cpu = per_request(cpu::now() - cpu_before, typename.done);
            if let Some(e) = &typename.first_error {
                return Err(format!(
                    "{} {{ __typename }} failed; first: {e}",
                    typename.errors
                ));
            }
            Some((sync.p50, flush.p50, typename.per_sec(), typename_cpu))
        } else {
            None
        };
        if cases.len() < n {
            return Err(format!("only {} cases left for {n} clients", cases.len()));
        }
        let shared = opts.one_case;
        if opts.warmup > 0 {
            let (back, _) = run_clients(
                gql,
                cases.drain(..n).collect(),
                shared,
                opts.warmup,
                "warm-up",
            )
            .await;
            cases.splice(0..0, back);
        }
        let before = gql.case_version(&cases[0].id).await?;
        let cpu_before = cpu::now();
        let (back, mut stats) =
            run_clients(gql, cases.drain(..n).collect(), shared, opts.seconds, "run").await;
        let mutation_cpu = per_request(cpu::now() - cpu_before, stats.mutations);
        cases.splice(0..0, back);
        if shared {
            // Nothing else writes the case: one version per acknowledged write.
            let after = gql.case_version(&cases[0].id).await?;
            if stats.errors == 0 && after.saturating_sub(before) != stats.mutations as u64 {
                stats.errors += 1;
                stats.first_error.get_or_insert(format!(
                    "the case went from version {before} to {after} for {} acknowledged writes",
                    stats.mutations
                ));
            }
        }
        println!(
            "{:>8} {:>10} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7}",
            stats.clients,
            stats.mutations,
            stats.per_sec(),
            ms(stats.latency.p50),
            ms(stats.latency.p90),
            ms(stats.latency.p99),
            ms(stats.latency.max),
            stats.errors
        );
        // The last slot holds what finished after the deadline.
        let seconds: Vec<String> = stats.per_second[..stats.per_second.len() - 1]
            .iter()
            .map(|n| n.to_string())
            .collect();
        println!("{:>8} per second: {}", "", seconds.join(" "));
        if let Some(e) = &stats.first_error {
            println!(
                "FAIL {} of the mutations with {} clients failed; first: {e}",
                stats.errors, stats.clients
            );
        }
        if let Some((sync, flush, typename, typename_cpu)) = sled {
            let postgres = match &postgres {
                Some(url) if n <= 8 => {
                    let label = format!("r{round}");
                    let pg =
                        baselines::postgres_append(url, n, opts.seconds as f64, &label).await?;
                    if let Some(e) = &pg.first_error {
                        let n = pg.errors;
                        return Err(format!("{n} PostgreSQL appends failed; first: {e}"));
                    }
                    Some((pg.per_sec(), pg.latency.p50, pg.latency.p99))
                }
                _ => None,
            };
            side_by_side.push(baselines::Round {
                clients: n,
                mutations_per_sec: stats.per_sec(),
                p50_us: stats.latency.p50,
                p99_us: stats.latency.p99,
                sled_sync_p50_us: sync,
                sled_flush_p50_us: flush,
                typename_per_sec: typename,
                server_cpu_us: (mutation_cpu.server, typename_cpu.server),
                sled_io_cpu_us: mutation_cpu.sled_io,
                generator_cpu_us: (mutation_cpu.generator, typename_cpu.generator),
                postgres,
            });
        }
        runs.push(stats);
    }
    if opts.sweep {
        baselines::report(&side_by_side);
    }
    Ok(runs)
}

/// CPU microseconds per request of a run that made `requests` requests.
fn per_request(used: cpu::Cpu, requests: usize) -> cpu::Cpu {
    let n = requests.max(1) as f64 / 1e6;
    cpu::Cpu {
        server: used.server / n,
        sled_io: used.sled_io / n,
        generator: used.generator / n,
        subscribers: used.subscribers / n,
    }
}

/// One client per entry of `cases`, each looping mutations until `seconds` are up.
/// With `shared`, the entries are one case written by all: a client's next version
/// must be above the last it saw, not the next one. Returns the cases (with their
/// versions now) and the run's figures.
pub(crate) async fn run_clients(
    gql: &Arc<Gql>,
    cases: Vec<BenchCase>,
    shared: bool,
    seconds: u64,
    label: &'static str,
) -> (Vec<BenchCase>, RunStats) {
    let clients = cases.len();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let tasks = cases.into_iter().enumerate().map(|(i, mut case)| {
        let gql = gql.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(4096);
            let mut per_second = vec![0usize; seconds as usize + 1];
            let mut errors = Errors::default();
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let t0 = Instant::now();
                let result = gql
                    .post_note(&case.id, format!("{label} note {n} from client {i}"))
                    .await;
                let took = t0.elapsed();
                let in_order = |old: u64, v: u64| if shared { v > old } else { v == old + 1 };
                match result {
                    Ok(v) if case.version.is_none_or(|old| in_order(old, v)) => {
                        latencies.push(took.as_micros() as u64);
                        let second = (start.elapsed().as_secs() as usize).min(seconds as usize);
                        per_second[second] += 1;
                        case.version = Some(v);
                    }
                    Ok(v) => {
                        errors.one(format!(
                            "case {} went from version {:?} to {v}, expected {}",
                            case.id,
                            case.version,
                            if shared { "more" } else { "+1" }
                        ));
                        case.version = Some(v);
                    }
                    Err(e) => {
                        errors.one(e);
                        case.version = None;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            (case, latencies, per_second, errors)
        })
    });
    let results = futures_util::future::join_all(tasks).await;
    let elapsed = start.elapsed();
    let mut back = Vec::with_capacity(clients);
    let mut all = Vec::new();
    let mut per_second = vec![0usize; seconds as usize + 1];
    let mut errors = Errors::default();
    for r in results {
        match r {
            Ok((case, lat, ps, e)) => {
                back.push(case);
                all.extend(lat);
                for (total, n) in per_second.iter_mut().zip(ps) {
                    *total += n;
                }
                errors.merge(e);
            }
            Err(e) => errors.lost(e),
        }
    }
    let stats = RunStats {
        clients,
        mutations: all.len(),
        elapsed,
        latency: Summary::of(&mut all),
        per_second,
        errors: errors.count,
        first_error: errors.first,
    };
    (back, stats)
}
