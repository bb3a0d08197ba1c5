//! Load benchmark: durable mutations per second and their latency, then subscription
//! fan-out to many WebSocket subscribers.
//!
//! ```sh
//! cargo run --release --example load                    # in-process server, defaults
//! cargo run --release --example load -- --sweep         # 1, 8 and 64 clients
//! cargo run --release --example load -- --one-case --subscribers 0   # 64 clients, one case
//! cargo run --release --example load -- --skip-mutations --mix --subscribers 5000
//! cargo run --release --example load -- --skip-mutations --subscribers 5000 --baseline --rounds 3
//! cargo run --release --example load -- --skip-mutations --subscribers 5000 --agents 50
//! cargo run --release --example load -- --skip-mutations --subscribers 5000 --websocket-nice 0
//! cargo run --release --example load -- --url http://127.0.0.1:8080 --token "$TOKEN"
//! ```
//!
//! Without `--url` the real server is started in this process on `127.0.0.1:0` with a
//! temporary data directory and a bootstrap token. Only loopback targets are accepted.
//!
//! 1. Mutations: one case per client, then every client loops `postMessage`
//!    (INTERNAL_NOTE) on its own case over HTTP for `--seconds`. Each acknowledged
//!    mutation is durable (group commit + fsync) and visible in the projections.
//!    With `--one-case` every client posts to the same case instead (a busy swarm
//!    room): no write may fail, each client must see the case's version grow, and the
//!    case must end exactly one version further per acknowledged write.
//! 2. Fan-out: `--subscribers` WebSocket connections (`graphql-transport-ws`) subscribe
//!    to `events(fromPosition: head + 1)`. A sentinel mutation proves they are all live,
//!    then `--fanout-events` mutations are sent at `--fanout-rate` per second. Delivery
//!    latency is the receive time minus the event's `occurredAt` (same machine, same
//!    clock; it includes the server's commit and fsync). Every subscriber must receive
//!    every event exactly once and in order, or the run prints FAIL and exits with 1.
//!    With `--mix`, a third of the subscribers each take `events`, `tierQueue` (the
//!    fan-out cases' tier) and `swarmRoom` (one of the fan-out cases, each swarmed),
//!    and the mutations are swarm chat: `events` and `tierQueue` subscribers must get
//!    every position once, in order; `swarmRoom` ones every acknowledged version of
//!    their case once, in order. Updates without `occurredAt` are timed by the event's
//!    `occurredAt` as an `events` subscriber received it.
//!    Subscribers of one caller with the same document share one execution on the
//!    server; `--agents N` spreads them over N agents with tokens of their own (N
//!    executions at most), and `--baseline` also runs every round with each
//!    subscriber's document made unique (a comment), so nothing is shared: the cost
//!    without sharing, side by side. Each round first sends the same paced writes with
//!    no subscriber, so the write latency with listeners is printed next to the one
//!    without, and the CPU time of the server and of the load generator's subscribers
//!    (a runtime of their own) over the measured sends.
//!
//! Everything is bounded by deadlines and timeouts, so the binary always ends.
//!
//! Layout: this file holds the command line, the run in order and the report against
//! the targets; `load_parts/target.rs` the target server and GraphQL client,
//! `mutations.rs` phase 1, `subscribers.rs` one WebSocket subscriber, `fanout.rs`
//! phase 2, `baselines.rs` the same-run baselines of `--sweep`, `ab.rs` `--ab`;
//! `common/` what other examples share.

use clap::Parser;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[path = "load_parts/ab.rs"]
mod ab;
#[path = "common/allocator.rs"]
mod allocator;
#[path = "load_parts/baselines.rs"]
mod baselines;
#[path = "common/clients.rs"]
mod clients;
#[path = "load_parts/cpu.rs"]
mod cpu;
#[path = "load_parts/fanout.rs"]
mod fanout;
#[path = "load_parts/mutations.rs"]
mod mutations;
#[path = "load_parts/subscribers.rs"]
mod subscribers;
#[path = "load_parts/target.rs"]
mod target;
#[cfg(test)]
use clients::percentile;
use clients::{ms, Summary};
use fanout::{fanout_run, print_fanout_rounds, FanoutStats};
use mutations::{mutation_runs, run_clients, RunStats};
use subscribers::idle_listener;
use target::{connect_target, open_cases, BenchCase, Gql};

const POST_MESSAGE: &str = "mutation($id: ID!, $b: String!, $k: MessageKind!) { postMessage(caseId: $id, kind: $k, body: $b) { version } }";
const POST_MESSAGE_KEYED: &str = "mutation($id: ID!, $b: String!, $k: MessageKind!, $key: String!) { postMessage(caseId: $id, kind: $k, body: $b, idempotencyKey: $key) { version } }";
const START_SWARM: &str =
    "mutation($id: ID!) { startSwarm(caseId: $id, reason: \"load bench\") { version tier } }";
const OPEN_CASE: &str = "mutation($s: String!) { openCase(input: {subject: $s, channel: EMAIL, priority: NORMAL, customer: {id: \"load-bench\", segment: B2B}}) { id version } }";
const CASE_VERSION: &str = "query($id: ID!) { case(id: $id) { version } }";
const CASE_TIER: &str = "query($id: ID!) { case(id: $id) { tier } }";
const CREATE_TOKEN: &str = "mutation($u: String!, $t: String!) { createToken(user: $u, role: AGENT, tiers: [$t]) { token } }";
const SUBSCRIBE: &str =
    "subscription($from: Position!) { events(fromPosition: $from) { position occurredAt } }";
const SUBSCRIBE_TIER_QUEUE: &str =
    "subscription($tier: String!) { tierQueue(tier: $tier) { position change queue { length } } }";
const SUBSCRIBE_SWARM_ROOM: &str = "subscription($id: ID!) { swarmRoom(caseId: $id) { position version change room { members { agent } } } }";

/// Longest any single HTTP request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest a WebSocket handshake step (connect, ack, pong) may take.
const WS_STEP_TIMEOUT: Duration = Duration::from_secs(15);
/// WebSocket connections being set up at once (the listen backlog is small).
const CONNECT_CONCURRENCY: usize = 32;
/// Cases the fan-out mutations rotate over, so they rarely race on one case.
const FANOUT_CASES: usize = 8;

#[derive(Parser, Debug, Clone)]
#[command(about = "swarmdesk load benchmark: durable mutations/s and subscription fan-out")]
pub struct Opts {
    /// Target an already running server (loopback only), e.g. http://127.0.0.1:8080.
    #[arg(long, requires = "token")]
    url: Option<String>,
    /// Admin bearer token for `--url`.
    #[arg(long)]
    token: Option<String>,
    /// Concurrent HTTP clients in the mutation run.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Length of each mutation run, in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Unmeasured warm-up before each mutation run, in seconds.
    #[arg(long, default_value_t = 1)]
    warmup: u64,
    /// Also run the mutation benchmark with 1 and 8 clients, each beside its
    /// baselines from the same run (raw sled, `{ __typename }`, and with
    /// `SWARMDESK_TEST_POSTGRES` set a PostgreSQL append), against the targets.
    #[arg(long)]
    sweep: bool,
    /// Measure one write-path lever side by side: a second server with it changed
    /// (`documents`, `execute=runtime`, `workers=N`), rounds alternating (see `ab`).
    #[arg(long)]
    ab: Option<String>,
    /// Rounds of each mutation run (with `--sweep`, each beside its baselines)
    /// and of the fan-out (each shared, and unshared with `--baseline`); the
    /// side-by-side reports give the median and spread.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// All clients post to one case (a busy swarm room) instead of one case each.
    #[arg(long)]
    one_case: bool,
    /// WebSocket subscribers in the fan-out run (0 skips it).
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// Mutations sent during the fan-out run.
    #[arg(long, default_value_t = 200)]
    fanout_events: usize,
    /// Pace of the fan-out mutations, per second.
    #[arg(long, default_value_t = 50)]
    fanout_rate: u32,
    /// HTTP workers of the in-process server (default: the server's, one per core).
    #[arg(long, default_value_t = swarmdesk::server::default_workers())]
    workers: usize,
    /// Nice value of the in-process server's WebSocket connections' threads (the
    /// server's default; 0 runs them like its other threads).
    #[arg(long, default_value_t = swarmdesk::http::takeover::DEFAULT_NICE)]
    websocket_nice: i32,
    /// Skip the mutation runs.
    #[arg(long)]
    skip_mutations: bool,
    /// During the mutation runs, keep one `swarmRoom` subscriber on an unrelated case:
    /// the projections then describe and publish every change (the write path's cost
    /// of having a listener), though none is for it.
    #[arg(long)]
    listener: bool,
    /// Every mutation carries an idempotency key of its own (as a client that retries
    /// safely sends), so the store also writes the key with the event.
    #[arg(long)]
    keyed: bool,
    /// Mixed fan-out: a third each of `events`, `tierQueue` (the fan-out cases' tier)
    /// and `swarmRoom` (one of the fan-out cases, each swarmed) subscribers, and the
    /// fan-out mutations are swarm chat, so every kind has something to deliver.
    #[arg(long)]
    mix: bool,
    /// Spread the fan-out subscribers over this many agents, each with a token of its
    /// own (0: all use the admin token).
    #[arg(long, default_value_t = 0)]
    agents: usize,
    /// Also run each fan-out round with every subscriber's document unique, so no
    /// execution is shared (the baseline), alternating with the shared runs.
    #[arg(long)]
    baseline: bool,
    /// Threads of the load generator's own subscriber runtime.
    #[arg(long, default_value_t = 2)]
    subscriber_threads: usize,
}

fn main() -> ExitCode {
    swarmdesk::allocator::configure();
    let opts = Opts::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(cpu::GENERATOR_THREADS)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    rt.block_on(run(opts))
}

pub async fn run(opts: Opts) -> ExitCode {
    if opts.clients == 0 || opts.fanout_rate == 0 {
        eprintln!("--clients and --fanout-rate must be at least 1");
        return ExitCode::from(2);
    }
    print_machine();
    if let Some(lever) = opts.ab.clone() {
        return ab::run(opts, &lever).await;
    }
    let target = match connect_target(&opts).await {
        Ok(t) => t,
        Err(e) => {
            eprintln!("FAIL cannot start or reach the server: {e}");
            return ExitCode::from(2);
        }
    };
    let mut failed = false;
    let mut setup_error = false;
    let pool = opts.clients + FANOUT_CASES + 16;
    let gql = match Gql::connect(&target.base, target.token.clone(), pool) {
        Ok(g) => Arc::new(g.keyed(opts.keyed)),
        Err(e) => {
            eprintln!("FAIL {e}");
            return ExitCode::from(2);
        }
    };

    let mut mutation_64: Option<RunStats> = None;
    let mut listener = None;
    if opts.listener && !opts.skip_mutations {
        match idle_listener(&gql, &target).await {
            Ok(ws) => listener = Some(ws),
            Err(e) => {
                eprintln!("FAIL cannot start the listener: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if !opts.skip_mutations {
        match mutation_runs(&opts, &gql).await {
            Ok(runs) => {
                for r in &runs {
                    failed |= r.errors > 0;
                }
                mutation_64 = runs.into_iter().find(|r| r.clients == opts.clients);
            }
            Err(e) => {
                println!("FAIL mutation benchmark could not run: {e}");
                setup_error = true;
            }
        }
    }

    drop(listener);
    let mut fanout: Option<FanoutStats> = None;
    if opts.subscribers > 0 && opts.fanout_events > 0 {
        let modes: &[bool] = if opts.baseline {
            &[false, true]
        } else {
            &[true]
        };
        let mut results: Vec<(bool, FanoutStats)> = Vec::new();
        'rounds: for round in 1..=opts.rounds.max(1) {
            for &shared in modes {
                match fanout_run(&opts, &gql, &target, shared, round).await {
                    Ok(f) => {
                        failed |= !f.exactly_once;
                        results.push((shared, f));
                    }
                    Err(e) => {
                        println!("FAIL fan-out benchmark could not run: {e}");
                        setup_error = true;
                        break 'rounds;
                    }
                }
            }
        }
        print_fanout_rounds(&opts, &results);
        fanout = results
            .into_iter()
            .rev()
            .find(|(shared, _)| *shared)
            .map(|(_, f)| f);
    }

    print_targets(&opts, mutation_64.as_ref(), fanout.as_ref());

    // Close pooled keep-alive connections before a graceful stop waits for them.
    drop(gql);
    if let Some((running, dir)) = target.local {
        match tokio::time::timeout(Duration::from_secs(30), running.stop()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: server {e}"),
            Err(_) => eprintln!("warning: the server did not stop within 30 s"),
        }
        drop(dir);
    }
    if setup_error {
        ExitCode::from(2)
    } else if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

// ---------------------------------------------------------------------------
// The machine

fn print_machine() {
    let nproc = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let (soft, hard) = open_files_limit();
    println!("swarmdesk load benchmark");
    println!(
        "machine: nproc {nproc}, CPU {model}, open files limit {} (hard {})",
        fmt_limit(soft),
        fmt_limit(hard)
    );
}

fn fmt_limit(l: Option<u64>) -> String {
    l.map(|n| n.to_string())
        .unwrap_or_else(|| "unlimited".into())
}

/// The soft and hard `ulimit -n`, from /proc (None = unlimited or unknown).
fn open_files_limit() -> (Option<u64>, Option<u64>) {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let Some(line) = limits.lines().find(|l| l.starts_with("Max open files")) else {
        return (None, None);
    };
    let mut fields = line["Max open files".len()..].split_whitespace();
    let soft = fields.next().and_then(|s| s.parse().ok());
    let hard = fields.next().and_then(|s| s.parse().ok());
    (soft, hard)
}

fn print_targets(opts: &Opts, mutations: Option<&RunStats>, fanout: Option<&FanoutStats>) {
    println!();
    println!("Against the issue's targets (for reference, not asserted):");
    if let Some(m) = mutations.filter(|_| opts.one_case) {
        println!(
            "  {} clients on one case, none failing: {:.0}/s, p99 {:.2} ms, {} failed -> {}",
            m.clients,
            m.per_sec(),
            ms(m.latency.p99),
            m.errors,
            if m.errors == 0 { "met" } else { "NOT met" }
        );
    } else if let Some(m) = mutations {
        let met = m.clients >= 64 && m.per_sec() >= 5000.0 && m.latency.p99 < 50_000;
        println!(
            "  >= 5,000 durable mutations/s with 64 clients at p99 < 50 ms: {:.0}/s, p99 {:.2} ms with {} clients -> {}",
            m.per_sec(),
            ms(m.latency.p99),
            m.clients,
            if met { "met" } else { "NOT met" }
        );
    }
    if let Some(f) = fanout {
        // "Writes keep their p99": within 1.5x of the same writes with nobody listening.
        let keeps = f.write_loaded.p99 as f64 <= 1.5 * f.write_quiet.p99 as f64;
        let met = opts.subscribers >= 5000 && f.delivery.p99 < 200_000 && f.exactly_once && keeps;
        println!(
            "  fan-out to 5,000 subscribers, p99 delivery < 200 ms, write p99 kept (within 1.5x of none listening): \
             p99 {:.2} ms to {} subscribers, write p99 {:.2} ms vs {:.2} ms -> {}",
            ms(f.delivery.p99),
            opts.subscribers,
            ms(f.write_loaded.p99),
            ms(f.write_quiet.p99),
            if met { "met" } else { "NOT met" }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
    }

    /// A closed loop times only what succeeds, and counts every failure, keeping the
    /// first client's first.
    #[tokio::test]
    async fn a_closed_loop_counts_failures_and_keeps_the_first() {
        let looped = clients::closed_loop(2, 0.2, |c, n| async move {
            tokio::task::yield_now().await;
            match (c, n) {
                (0, 1) => Err("client 0 failed".to_string()),
                (1, 0 | 2) => Err(format!("client 1 failed at {n}")),
                _ => Ok(()),
            }
        })
        .await;
        assert_eq!(looped.errors, 3);
        assert_eq!(looped.first_error.as_deref(), Some("client 0 failed"));
        assert!(looped.done > 0 && looped.latency.n == looped.done);
    }

    /// CPU time is counted for whom the thread works, by its name: a busy thread named
    /// like the generator's clients adds to theirs, one named like a server thread
    /// (sled's I/O pool here) to the server's and to sled's. A server thread that worked
    /// before the first reading and ended before the second takes nothing off the others
    /// (as other tests in this process start and end threads meanwhile; summed per share,
    /// the server's time came out negative). Only lower bounds: the other tests' threads
    /// add to both.
    #[test]
    fn cpu_time_is_told_apart_by_thread_name() {
        /// Runs on a CPU for `busy` of this thread's own CPU time (not wall time: on a
        /// machine busy with other tests a thread gets less CPU than time passes).
        fn spin(busy: Duration) {
            let me = std::path::Path::new("/proc/thread-self");
            let used = || cpu::run_seconds(me);
            let start = std::time::Instant::now();
            let first = used();
            let mut x = 0u64;
            loop {
                for _ in 0..10_000 {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
                let done = match (first, used()) {
                    (Some(a), Some(b)) => b - a >= busy.as_secs_f64(),
                    _ => start.elapsed() >= busy,
                };
                if done {
                    break;
                }
            }
        }
        fn busy_for(name: &str, busy: Duration) -> cpu::Cpu {
            let (worked_tx, worked_rx) = std::sync::mpsc::channel();
            let (end_tx, end_rx) = std::sync::mpsc::channel::<()>();
            let ends_between = std::thread::Builder::new()
                .name("ends-between".into())
                .spawn(move || {
                    spin(busy * 2);
                    worked_tx.send(()).unwrap();
                    end_rx.recv().unwrap();
                })
                .unwrap();
            worked_rx.recv().unwrap();
            let (done_tx, done_rx) = std::sync::mpsc::channel();
            let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
            let before = cpu::now();
            end_tx.send(()).unwrap();
            ends_between.join().unwrap();
            let t = std::thread::Builder::new()
                .name(name.into())
                .spawn(move || {
                    spin(busy);
                    done_tx.send(()).unwrap();
                    // Still alive while it is measured: an ended thread's last stretch
                    // is gone.
                    go_rx.recv().unwrap();
                })
                .unwrap();
            done_rx.recv().unwrap();
            let after = cpu::now();
            go_tx.send(()).unwrap();
            t.join().unwrap();
            after - before
        }
        let busy = Duration::from_millis(60);
        let generator = busy_for(cpu::GENERATOR_THREADS, busy);
        assert!(generator.generator >= 0.04, "{generator:?}");
        let sled = busy_for("sled-io-99", busy);
        assert!(sled.server >= 0.04 && sled.sled_io >= 0.04, "{sled:?}");
    }
}
