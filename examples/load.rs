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
//! Over 600 lines: a standalone load generator (clients, subscribers, measurements and
//! their report) with its own command line.

use clap::Parser;
use futures_util::stream::{self, StreamExt};
use futures_util::SinkExt;
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::{IpAddr, TcpListener};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use swarmdesk::domain::Timestamp;
use swarmdesk::server::{self, Running, ServerOptions};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

#[path = "load_parts/ab.rs"]
mod ab;
#[path = "common/allocator.rs"]
mod allocator;
#[path = "load_parts/baselines.rs"]
mod baselines;
#[path = "common/clients.rs"]
mod clients;
#[cfg(test)]
use clients::percentile;
use clients::{ms, Errors, Summary};

const POST_MESSAGE: &str = "mutation($id: ID!, $b: String!, $k: MessageKind!) { postMessage(caseId: $id, kind: $k, body: $b) { version } }";
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
    /// (`documents`, `workers=N`), rounds alternating (see `ab`).
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
    /// Skip the mutation runs.
    #[arg(long)]
    skip_mutations: bool,
    /// During the mutation runs, keep one `swarmRoom` subscriber on an unrelated case:
    /// the projections then describe and publish every change (the write path's cost
    /// of having a listener), though none is for it.
    #[arg(long)]
    listener: bool,
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

/// Where the benchmark sends its requests, and the server it started, if any.
struct Target {
    base: String,
    token: String,
    local: Option<(Running, tempfile::TempDir)>,
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
    let http = match reqwest::Client::builder()
        .pool_max_idle_per_host(pool)
        .tcp_nodelay(true)
        .timeout(REQUEST_TIMEOUT)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("FAIL cannot build the HTTP client: {e}");
            return ExitCode::from(2);
        }
    };
    let gql = Arc::new(Gql {
        http,
        url: format!("{}/graphql", target.base),
        token: target.token.clone(),
    });

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
            Ok(Err(e)) => eprintln!("warning: server stop: {e}"),
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
// Machine, target and HTTP helpers

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

/// Accepts only `http://` URLs on a loopback address.
fn loopback_base(url: &str) -> Result<String, String> {
    let u = reqwest::Url::parse(url).map_err(|e| format!("bad --url `{url}`: {e}"))?;
    if u.scheme() != "http" {
        return Err(format!("--url must be http://, got `{}`", u.scheme()));
    }
    let host = u.host_str().ok_or("--url has no host")?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return Err(format!(
            "refusing `{host}`: this benchmark only targets loopback"
        ));
    }
    let port = u.port_or_known_default().unwrap_or(80);
    Ok(format!("http://{host}:{port}"))
}

async fn connect_target(opts: &Opts) -> Result<Target, String> {
    if let Some(url) = &opts.url {
        let base = loopback_base(url)?;
        let token = opts.token.clone().ok_or("--url needs --token")?;
        println!("server: external at {base}");
        return Ok(Target {
            base,
            token,
            local: None,
        });
    }
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let token = swarmdesk::auth::generate_token().map_err(|e| format!("token: {e}"))?;
    let mut o = ServerOptions::new(dir.path().to_path_buf());
    o.bootstrap_token = Some(token.clone());
    o.workers = opts.workers.max(1);
    // One token stands in for all the clients, so its per-token rate limit is lifted.
    o.http_limits.rate_per_second = 1e9;
    o.http_limits.rate_burst = 1e9;
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let running = server::start(o, listener)
        .await
        .map_err(|e| format!("start: {e}"))?;
    let base = format!("http://{}", running.addr);
    println!(
        "server: in-process at {base}, {} HTTP worker(s), data in {} (temporary)",
        opts.workers.max(1),
        dir.path().display()
    );
    Ok(Target {
        base,
        token,
        local: Some((running, dir)),
    })
}

/// A GraphQL-over-HTTP client with one shared connection pool.
struct Gql {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Gql {
    /// Sends one operation; returns `data`, or the HTTP or GraphQL error.
    async fn call(&self, query: &str, variables: Value) -> Result<Value, String> {
        clients::call(&self.http, &self.url, &self.token, query, variables).await
    }

    /// Opens a case; returns its id and version.
    async fn open_case(&self, subject: String) -> Result<BenchCase, String> {
        let d = self.call(OPEN_CASE, json!({ "s": subject })).await?;
        let id = d["openCase"]["id"]
            .as_str()
            .ok_or_else(|| format!("openCase returned no id: {d}"))?
            .to_string();
        let version = d["openCase"]["version"].as_u64();
        Ok(BenchCase { id, version })
    }

    /// Posts an internal note; returns the case's new version.
    async fn post_note(&self, case: &str, body: String) -> Result<u64, String> {
        self.post(case, body, "INTERNAL_NOTE").await
    }

    /// Posts a message of `kind`; returns the case's new version.
    async fn post(&self, case: &str, body: String, kind: &str) -> Result<u64, String> {
        let d = self
            .call(POST_MESSAGE, json!({ "id": case, "b": body, "k": kind }))
            .await?;
        d["postMessage"]["version"]
            .as_u64()
            .ok_or_else(|| format!("postMessage returned no version: {d}"))
    }

    /// Starts a swarm on the case (the caller leads it); returns the case's tier.
    async fn start_swarm(&self, case: &str) -> Result<String, String> {
        let d = self.call(START_SWARM, json!({ "id": case })).await?;
        d["startSwarm"]["tier"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("startSwarm returned no tier: {d}"))
    }

    /// The case's current version.
    async fn case_version(&self, case: &str) -> Result<u64, String> {
        let d = self.call(CASE_VERSION, json!({ "id": case })).await?;
        d["case"]["version"]
            .as_u64()
            .ok_or_else(|| format!("case returned no version: {d}"))
    }

    /// The log head, from `/healthz` (no token needed).
    async fn head(&self) -> Result<u64, String> {
        let url = self.url.trim_end_matches("/graphql").to_string() + "/healthz";
        let v: Value = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("healthz: {e}"))?
            .json()
            .await
            .map_err(|e| format!("healthz body: {e}"))?;
        v["logHead"]
            .as_u64()
            .ok_or_else(|| format!("healthz has no logHead: {v}"))
    }
}

async fn open_cases(gql: &Gql, n: usize, label: &str) -> Result<Vec<BenchCase>, String> {
    let opened: Vec<Result<BenchCase, String>> = stream::iter(0..n)
        .map(|i| gql.open_case(format!("load bench {label} {i}")))
        .buffered(16)
        .collect()
        .await;
    opened.into_iter().collect()
}

// ---------------------------------------------------------------------------
// 1. Durable mutations

#[derive(Clone, Debug)]
struct BenchCase {
    id: String,
    /// The version we last saw, None after an error (then any next version is fine).
    version: Option<u64>,
}

struct RunStats {
    clients: usize,
    mutations: usize,
    elapsed: Duration,
    latency: Summary,
    /// Completed mutations in each second of the run.
    per_second: Vec<usize>,
    errors: usize,
    first_error: Option<String>,
}

impl RunStats {
    fn per_sec(&self) -> f64 {
        self.mutations as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

async fn mutation_runs(opts: &Opts, gql: &Arc<Gql>) -> Result<Vec<RunStats>, String> {
    let mut counts = if opts.sweep {
        vec![1, 8, opts.clients]
    } else {
        vec![opts.clients]
    };
    counts.sort_unstable();
    counts.dedup();
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
            let typename = baselines::typename(gql, n, opts.seconds as f64).await;
            if let Some(e) = &typename.first_error {
                return Err(format!(
                    "{} {{ __typename }} failed; first: {e}",
                    typename.errors
                ));
            }
            Some((sync.p50, flush.p50, typename.per_sec()))
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
        let (back, mut stats) =
            run_clients(gql, cases.drain(..n).collect(), shared, opts.seconds, "run").await;
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
        if let Some((sync, flush, typename)) = sled {
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

/// One client per entry of `cases`, each looping mutations until `seconds` are up.
/// With `shared`, the entries are one case written by all: a client's next version
/// must be above the last it saw, not the next one. Returns the cases (with their
/// versions now) and the run's figures.
async fn run_clients(
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

// ---------------------------------------------------------------------------
// 2. Subscription fan-out

struct FanoutStats {
    delivery: Summary,
    /// The same paced writes with no subscriber, then with them listening.
    write_quiet: Summary,
    write_loaded: Summary,
    /// CPU seconds over the measured sends: the server's threads, the generator's
    /// subscriber runtime.
    cpu_server: f64,
    cpu_subscribers: f64,
    exactly_once: bool,
}

/// CPU seconds used so far by this process's threads, by whether they are the load
/// generator's subscriber runtime (named `load-sub`) or not (the server, mostly).
fn cpu_by_thread() -> (f64, f64) {
    let tick = 100.0; // USER_HZ on Linux
    let (mut other, mut subs) = (0.0, 0.0);
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return (0.0, 0.0);
    };
    for t in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ...`: fields after the last `)`; utime, stime are 14, 15.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let used = f.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
            + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        if head.contains("(load-sub") {
            subs += used / tick;
        } else {
            other += used / tick;
        }
    }
    (other, subs)
}

/// A runtime shut down in the background when dropped (it may be dropped in async
/// code, where a blocking shutdown is not allowed).
struct BackgroundRuntime(Option<tokio::runtime::Runtime>);

impl BackgroundRuntime {
    fn handle(&self) -> tokio::runtime::Handle {
        match &self.0 {
            Some(rt) => rt.handle().clone(),
            None => tokio::runtime::Handle::current(),
        }
    }
}

impl Drop for BackgroundRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Paced writes (`n` at `rate`/s, rotating over `cases`): each one's case index,
/// outcome and latency.
async fn paced_writes(
    gql: &Arc<Gql>,
    cases: &[BenchCase],
    kind: &'static str,
    n: usize,
    rate: u32,
    label: &'static str,
) -> Vec<(usize, Result<u64, String>, Duration)> {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sends = Vec::with_capacity(n);
    for k in 0..n {
        tick.tick().await;
        let gql = gql.clone();
        let c = k % cases.len();
        let id = cases[c].id.clone();
        sends.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = gql.post(&id, format!("fan-out {label} {k}"), kind).await;
            (c, r, t.elapsed())
        }));
    }
    let mut out = Vec::with_capacity(n);
    for s in futures_util::future::join_all(sends).await {
        match s {
            Ok(r) => out.push(r),
            Err(e) => out.push((0, Err(format!("send task: {e}")), Duration::ZERO)),
        }
    }
    out
}

/// The rounds side by side, and per mode the median of the rounds.
fn print_fanout_rounds(opts: &Opts, results: &[(bool, FanoutStats)]) {
    if results.is_empty() {
        return;
    }
    let label = |shared: bool| if shared { "shared" } else { "unshared" };
    println!();
    println!(
        "Fan-out rounds: {} subscribers, {} caller(s), {} events at {}/s",
        opts.subscribers,
        opts.agents.max(1),
        opts.fanout_events,
        opts.fanout_rate
    );
    println!("  round  mode       delivery p50   p99        write p99 without  with  (ratio)   CPU server  subscribers  exactly once");
    let per_mode = if opts.baseline { 2 } else { 1 };
    for (i, (shared, f)) in results.iter().enumerate() {
        println!(
            "  {:>5}  {:<9}  {:>9.2} ms  {:>8.2} ms  {:>9.2} ms  {:>8.2} ms  ({:.2})  {:>7.2} s  {:>7.2} s  {}",
            i / per_mode + 1,
            label(*shared),
            ms(f.delivery.p50),
            ms(f.delivery.p99),
            ms(f.write_quiet.p99),
            ms(f.write_loaded.p99),
            f.write_loaded.p99 as f64 / f.write_quiet.p99.max(1) as f64,
            f.cpu_server,
            f.cpu_subscribers,
            if f.exactly_once { "PASS" } else { "FAIL" }
        );
    }
    for shared in [false, true] {
        let mut of: Vec<&FanoutStats> = results
            .iter()
            .filter(|(s, _)| *s == shared)
            .map(|(_, f)| f)
            .collect();
        if of.is_empty() {
            continue;
        }
        let median = |of: &mut Vec<&FanoutStats>, key: fn(&FanoutStats) -> u64| {
            of.sort_by_key(|f| key(f));
            let (lo, hi) = (key(of[0]), key(of[of.len() - 1]));
            (key(of[of.len() / 2]), lo, hi)
        };
        let (p50, ..) = median(&mut of, |f| f.delivery.p50);
        let (p99, lo, hi) = median(&mut of, |f| f.delivery.p99);
        let (wq, ..) = median(&mut of, |f| f.write_quiet.p99);
        let (wl, ..) = median(&mut of, |f| f.write_loaded.p99);
        println!(
            "  median {:<9} over {} round(s): delivery p50 {:.2} ms, p99 {:.2} ms (spread {:.2}-{:.2}); write p99 {:.2} ms without listeners, {:.2} ms with",
            label(shared),
            of.len(),
            ms(p50),
            ms(p99),
            ms(lo),
            ms(hi),
            ms(wq),
            ms(wl)
        );
    }
}

/// A `graphql-transport-ws` message from the server, read into types rather than a
/// `Value` tree: the generator reads 250,000 of them a second at 5,000 subscribers.
#[derive(Deserialize)]
struct WsIn<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(default)]
    payload: Option<WsPayload<'a>>,
}

#[derive(Deserialize)]
struct WsPayload<'a> {
    #[serde(default, borrow)]
    data: Option<WsData<'a>>,
    #[serde(default)]
    errors: Option<Value>,
}

/// The subscription roots the benchmark takes (one is set).
#[derive(Deserialize)]
struct WsData<'a> {
    #[serde(default, borrow)]
    events: Option<WsUpdate<'a>>,
    #[serde(default, borrow, rename = "tierQueue")]
    tier_queue: Option<WsUpdate<'a>>,
    #[serde(default, borrow, rename = "swarmRoom")]
    swarm_room: Option<WsUpdate<'a>>,
}

#[derive(Deserialize)]
struct WsUpdate<'a> {
    #[serde(default)]
    position: Option<u64>,
    #[serde(default)]
    version: Option<u64>,
    #[serde(default, borrow)]
    change: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow, rename = "occurredAt")]
    occurred_at: Option<std::borrow::Cow<'a, str>>,
}

/// What a subscriber subscribes to.
#[derive(Clone, Debug, PartialEq)]
enum SubKind {
    /// `events(fromPosition)`: every event, exactly once, in order.
    Events,
    /// `tierQueue(tier)`: one update per command on a case of the tier.
    TierQueue,
    /// `swarmRoom(caseId)` on the fan-out case of this index.
    SwarmRoom(usize),
}

impl SubKind {
    /// Subscriber `i` of a run: all `events`, or a third of each kind with `--mix`.
    fn of(i: usize, mix: bool) -> SubKind {
        match (mix, i % 3) {
            (false, _) | (true, 0) => SubKind::Events,
            (true, 1) => SubKind::TierQueue,
            _ => SubKind::SwarmRoom((i / 3) % FANOUT_CASES),
        }
    }

    fn label(&self) -> &'static str {
        match self {
            SubKind::Events => "events",
            SubKind::TierQueue => "tierQueue",
            SubKind::SwarmRoom(_) => "swarmRoom",
        }
    }
}

/// One update as a subscriber received it.
#[derive(Clone, Copy)]
struct Received {
    position: u64,
    /// The case version (`swarmRoom` updates; 0 otherwise).
    version: u64,
    /// Receive time and the event's `occurredAt` (0 when the update does not carry
    /// it: it is then taken from an `events` subscriber), both in Unix microseconds.
    received_us: i64,
    occurred_us: i64,
}

/// What one subscriber saw.
struct SubOutcome {
    ready: bool,
    error: Option<String>,
    received: Vec<Received>,
}

type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn unix_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

async fn send_json(ws: &mut WsStream, v: Value) -> Result<(), String> {
    ws.send(Message::Text(v.to_string()))
        .await
        .map_err(|e| format!("WebSocket send: {e}"))
}

/// What a text frame meant to a subscriber.
enum Incoming {
    Event(Received),
    Control(String),
    Other,
}

fn parse_incoming(text: &str, received_us: i64) -> Result<Incoming, String> {
    let msg: WsIn = serde_json::from_str(text).map_err(|e| format!("bad JSON `{text}`: {e}"))?;
    match msg.kind.as_ref() {
        "next" => {
            let payload = msg
                .payload
                .ok_or_else(|| format!("update without payload: {text}"))?;
            if let Some(errors) = payload.errors {
                return Err(format!("subscription error: {errors}"));
            }
            let e = payload
                .data
                .and_then(|d| d.events.or(d.tier_queue).or(d.swarm_room))
                .ok_or_else(|| format!("unexpected update: {text}"))?;
            // Snapshots state where a subscription starts; only changes are measured.
            if e.change.as_deref() == Some("SNAPSHOT") {
                return Ok(Incoming::Other);
            }
            let position = e
                .position
                .ok_or_else(|| format!("update without position: {text}"))?;
            let occurred_us = match e.occurred_at.as_deref() {
                Some(at) => Timestamp::parse_rfc3339(at)
                    .map_err(|e| e.to_string())?
                    .unix_micros(),
                None => 0,
            };
            Ok(Incoming::Event(Received {
                position,
                version: e.version.unwrap_or(0),
                received_us,
                occurred_us,
            }))
        }
        "error" | "complete" | "connection_error" => Err(format!("server sent {text}")),
        "ka" => Ok(Incoming::Other),
        other => Ok(Incoming::Control(other.to_string())),
    }
}

/// Connects, authenticates and subscribes; a pong after the subscribe message shows
/// the server has read it. Events that already arrive are kept in `received`.
async fn subscribe_ws(
    ws_url: &str,
    token: &str,
    subscription: &(String, Value),
    received: &mut Vec<Received>,
) -> Result<WsStream, String> {
    let mut req = ws_url
        .into_client_request()
        .map_err(|e| format!("WebSocket URL: {e}"))?;
    let protocol = "graphql-transport-ws"
        .parse()
        .map_err(|e| format!("header: {e}"))?;
    req.headers_mut().insert("Sec-WebSocket-Protocol", protocol);
    let (mut ws, _) = tokio::time::timeout(WS_STEP_TIMEOUT, tokio_tungstenite::connect_async(req))
        .await
        .map_err(|_| "WebSocket connect timed out".to_string())?
        .map_err(|e| format!("WebSocket connect: {e}"))?;
    send_json(
        &mut ws,
        json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }),
    )
    .await?;
    wait_control(&mut ws, "connection_ack", received).await?;
    let (query, variables) = subscription;
    send_json(
        &mut ws,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": query, "variables": variables } }),
    )
    .await?;
    send_json(&mut ws, json!({ "type": "ping" })).await?;
    wait_control(&mut ws, "pong", received).await?;
    Ok(ws)
}

/// Reads until a message of type `want` arrives, answering pings on the way.
async fn wait_control(
    ws: &mut WsStream,
    want: &str,
    received: &mut Vec<Received>,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + WS_STEP_TIMEOUT;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| format!("timed out waiting for {want}"))?;
        let now = unix_us();
        let text = match msg {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(f))) => {
                return Err(format!("closed while waiting for {want}: {f:?}"))
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(format!("WebSocket: {e}")),
            None => return Err(format!("closed while waiting for {want}")),
        };
        match parse_incoming(&text, now)? {
            Incoming::Event(r) => received.push(r),
            Incoming::Control(k) if k == want => return Ok(()),
            Incoming::Control(k) if k == "ping" => send_json(ws, json!({ "type": "pong" })).await?,
            Incoming::Control(k) => return Err(format!("expected {want}, got {k}: {text}")),
            Incoming::Other => {}
        }
    }
}

struct SubscriberCtx {
    ws_url: String,
    token: String,
    subscription: (String, Value),
    /// Progress is tracked by case version (`swarmRoom`) rather than log position.
    by_version: bool,
    gate: Arc<Semaphore>,
    ready: mpsc::Sender<(usize, Result<(), String>)>,
    last: Arc<Vec<AtomicU64>>,
    stop: watch::Receiver<bool>,
    hard_deadline: tokio::time::Instant,
}

async fn subscriber(i: usize, cx: SubscriberCtx) -> SubOutcome {
    let mut received = Vec::new();
    let progress = |r: &Received| if cx.by_version { r.version } else { r.position };
    let setup = {
        let _permit = cx.gate.acquire().await;
        subscribe_ws(&cx.ws_url, &cx.token, &cx.subscription, &mut received).await
    };
    let mut ws = match setup {
        Ok(ws) => {
            let _ = cx.ready.send((i, Ok(()))).await;
            ws
        }
        Err(e) => {
            let _ = cx.ready.send((i, Err(e.clone()))).await;
            return SubOutcome {
                ready: false,
                error: Some(e),
                received,
            };
        }
    };
    drop(cx.ready);
    if let Some(r) = received.last() {
        cx.last[i].store(progress(r), Ordering::Release);
    }
    let mut error = None;
    let mut stop = cx.stop.clone();
    let stopped = async move {
        // The guard is dropped at once: it must not live across an await.
        let _ = stop.wait_for(|s| *s).await.is_ok();
    };
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            msg = ws.next() => {
                let now = unix_us();
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(f))) => {
                        error = Some(format!("closed by the server: {f:?}"));
                        break;
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        error = Some(format!("WebSocket: {e}"));
                        break;
                    }
                    None => {
                        error = Some("closed by the server".into());
                        break;
                    }
                };
                match parse_incoming(&text, now) {
                    Ok(Incoming::Event(r)) => {
                        received.push(r);
                        cx.last[i].store(progress(&r), Ordering::Release);
                    }
                    Ok(Incoming::Control(k)) if k == "ping" => {
                        if let Err(e) = send_json(&mut ws, json!({ "type": "pong" })).await {
                            error = Some(e);
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
            _ = &mut stopped => break,
            _ = tokio::time::sleep_until(cx.hard_deadline) => {
                error = Some("gave up at the hard deadline".into());
                break;
            }
        }
    }
    // End politely; never wait long for it.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = send_json(&mut ws, json!({ "id": "1", "type": "complete" })).await;
        let _ = ws.close(None).await;
    })
    .await;
    SubOutcome {
        ready: true,
        error,
        received,
    }
}

/// A `swarmRoom` subscriber on a case nobody writes to, left unread (it gets nothing).
async fn idle_listener(gql: &Gql, target: &Target) -> Result<WsStream, String> {
    let case = gql.open_case("load bench listener".into()).await?;
    let ws_url = target.base.replacen("http://", "ws://", 1) + "/graphql";
    let subscription = (SUBSCRIBE_SWARM_ROOM.to_string(), json!({ "id": case.id }));
    let mut received = Vec::new();
    let ws = subscribe_ws(&ws_url, &target.token, &subscription, &mut received).await?;
    println!("listener: one swarmRoom subscriber on an idle case");
    Ok(ws)
}

/// Waits until every ready subscriber has reached its target (a position, or a case
/// version for `swarmRoom`); returns how many had.
async fn wait_reached(
    last: &[AtomicU64],
    ready: &[bool],
    targets: &[u64],
    timeout: Duration,
) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        let reached = last
            .iter()
            .zip(ready)
            .zip(targets)
            .filter(|((l, r), t)| **r && l.load(Ordering::Acquire) >= **t)
            .count();
        let want = ready.iter().filter(|r| **r).count();
        if reached == want || Instant::now() >= deadline {
            return reached;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Where each subscriber should have got to: the log `head`, or for a `swarmRoom`
/// subscriber its case's last acknowledged version.
fn targets(kinds: &[SubKind], head: u64, case_versions: &[u64]) -> Vec<u64> {
    kinds
        .iter()
        .map(|k| match k {
            SubKind::SwarmRoom(c) => case_versions[*c],
            _ => head,
        })
        .collect()
}

async fn fanout_run(
    opts: &Opts,
    gql: &Arc<Gql>,
    target: &Target,
    shared: bool,
    round: usize,
) -> Result<FanoutStats, String> {
    let subs = opts.subscribers;
    // Each subscriber costs one descriptor here, and one more if the server is in-process.
    let per_sub = if target.local.is_some() { 2 } else { 1 };
    let need = (subs * per_sub + opts.clients + FANOUT_CASES + 256) as u64;
    let (soft, hard) = open_files_limit();
    println!();
    if let Some(soft) = soft.filter(|s| *s < need) {
        return Err(format!(
            "open files limit (ulimit -n) is {soft}, too low for {subs} subscribers \
             (about {need} needed; hard limit {}): raise it with `ulimit -n {need}`",
            fmt_limit(hard)
        ));
    }
    let cases = open_cases(gql, FANOUT_CASES, "fan-out").await?;
    // Mixed: every fan-out case is swarmed (all in the same tier, as opened alike),
    // and the mutations are swarm chat, which each kind of subscriber is sent.
    let mut tier = String::new();
    let mut case_versions: Vec<u64> = vec![0; cases.len()];
    if opts.mix {
        for c in &cases {
            tier = gql.start_swarm(&c.id).await?;
        }
        for (k, c) in cases.iter().enumerate() {
            case_versions[k] = gql.case_version(&c.id).await?;
        }
    }
    let kind = if opts.mix {
        "SWARM_CHAT"
    } else {
        "INTERNAL_NOTE"
    };
    // The callers: the admin, or agents of the cases' tier with tokens of their own.
    let tokens: Vec<String> = if opts.agents == 0 {
        vec![target.token.clone()]
    } else {
        let d = gql.call(CASE_TIER, json!({ "id": cases[0].id })).await?;
        let case_tier = d["case"]["tier"]
            .as_str()
            .ok_or_else(|| format!("case has no tier: {d}"))?
            .to_string();
        let mut tokens = Vec::with_capacity(opts.agents);
        for a in 0..opts.agents {
            let d = gql
                .call(
                    CREATE_TOKEN,
                    json!({ "u": format!("load-agent-{round}-{a}"), "t": case_tier }),
                )
                .await?;
            let t = d["createToken"]["token"]
                .as_str()
                .ok_or_else(|| format!("createToken returned no token: {d}"))?;
            tokens.push(t.to_string());
        }
        tokens
    };
    // The same writes with nobody listening, for the write latency without listeners.
    let mut quiet_lat: Vec<u64> = Vec::new();
    for (_, r, took) in paced_writes(
        gql,
        &cases,
        kind,
        opts.fanout_events,
        opts.fanout_rate,
        "quiet",
    )
    .await
    {
        r?;
        quiet_lat.push(took.as_micros() as u64);
    }
    let write_quiet = Summary::of(&mut quiet_lat);
    if opts.mix {
        for (k, c) in cases.iter().enumerate() {
            case_versions[k] = gql.case_version(&c.id).await?;
        }
    }
    let head = gql.head().await?;
    let from = head + 1;
    let ws_url = target.base.replacen("http://", "ws://", 1) + "/graphql";
    let kinds: Vec<SubKind> = (0..subs).map(|i| SubKind::of(i, opts.mix)).collect();
    println!(
        "Round {round}, {}: {} caller(s){}",
        if shared {
            "shared"
        } else {
            "unshared (every document unique)"
        },
        tokens.len(),
        if opts.agents > 0 {
            " (agents with their own tokens)"
        } else {
            " (the admin token)"
        }
    );
    if opts.mix {
        println!(
            "Subscription fan-out, mixed: {subs} WebSocket subscribers (graphql-transport-ws), a \
             third each on events(fromPosition: {from}), tierQueue(tier: {tier}) and swarmRoom \
             (one of {FANOUT_CASES} swarmed cases)\n  open files limit {} (about {need} needed)",
            fmt_limit(soft)
        );
    } else {
        println!(
            "Subscription fan-out: {subs} WebSocket subscribers (graphql-transport-ws) on \
             events(fromPosition: {from}) {{ position occurredAt }}\n  open files limit {} (about {need} needed)",
            fmt_limit(soft)
        );
    }

    let last: Arc<Vec<AtomicU64>> = Arc::new((0..subs).map(|_| AtomicU64::new(0)).collect());
    let (ready_tx, mut ready_rx) = mpsc::channel(subs);
    let (stop_tx, stop_rx) = watch::channel(false);
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let send_time = Duration::from_secs_f64(opts.fanout_events as f64 / opts.fanout_rate as f64);
    let started = Instant::now();
    let hard_deadline = tokio::time::Instant::now() + Duration::from_secs(240) + send_time;
    // The subscribers run on a runtime of their own, so their CPU time is told apart.
    let sub_rt = BackgroundRuntime(Some(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(opts.subscriber_threads.max(1))
            .thread_name("load-sub")
            .enable_all()
            .build()
            .map_err(|e| format!("subscriber runtime: {e}"))?,
    ));
    let handles: Vec<_> = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let (query, variables) = match k {
                SubKind::Events => (SUBSCRIBE, json!({ "from": from })),
                SubKind::TierQueue => (SUBSCRIBE_TIER_QUEUE, json!({ "tier": tier })),
                SubKind::SwarmRoom(c) => (SUBSCRIBE_SWARM_ROOM, json!({ "id": cases[*c].id })),
            };
            // Unshared: a comment makes every document unique.
            let query = if shared {
                query.to_string()
            } else {
                format!("{query} # subscriber {i}")
            };
            let cx = SubscriberCtx {
                ws_url: ws_url.clone(),
                token: tokens[i % tokens.len()].clone(),
                subscription: (query, variables),
                by_version: matches!(k, SubKind::SwarmRoom(_)),
                gate: gate.clone(),
                ready: ready_tx.clone(),
                last: last.clone(),
                stop: stop_rx.clone(),
                hard_deadline,
            };
            sub_rt.handle().spawn(subscriber(i, cx))
        })
        .collect();
    drop(ready_tx);

    // Wait for every subscriber to be connected, acknowledged and subscribed.
    let mut ready = vec![false; subs];
    let mut setup_failures = 0usize;
    let mut first_setup_error = None;
    let ready_deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut connected = 0usize;
    while connected + setup_failures < subs {
        match tokio::time::timeout_at(ready_deadline, ready_rx.recv()).await {
            Ok(Some((i, Ok(())))) => {
                ready[i] = true;
                connected += 1;
            }
            Ok(Some((_, Err(e)))) => {
                setup_failures += 1;
                first_setup_error.get_or_insert(e);
            }
            Ok(None) | Err(_) => break,
        }
    }
    println!(
        "  subscribed: {connected}/{subs} acknowledged in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    if let Some(e) = &first_setup_error {
        println!("  FAIL {setup_failures} subscriber(s) could not subscribe; first: {e}");
    }

    // Sentinel events prove every subscription is live before measuring (mixed: one
    // on each case, so every swarm room gets one).
    let mut write_errors = 0usize;
    let mut first_write_error = None;
    // Acknowledged versions per case, from the sentinels on: what each swarm room
    // subscriber must receive, exactly once, in order.
    let mut acked: Vec<Vec<u64>> = vec![Vec::new(); cases.len()];
    let t = Instant::now();
    let sentinels = if opts.mix { cases.len() } else { 1 };
    for (k, c) in cases.iter().enumerate().take(sentinels) {
        match gql.post(&c.id, "fan-out sentinel".into(), kind).await {
            Ok(v) => {
                acked[k].push(v);
                case_versions[k] = v;
            }
            Err(e) => {
                write_errors += 1;
                first_write_error.get_or_insert(e);
            }
        }
    }
    let sentinel = gql.head().await?;
    let live = wait_reached(
        &last,
        &ready,
        &targets(&kinds, sentinel, &case_versions),
        Duration::from_secs(30),
    )
    .await;
    println!(
        "  live: {live}/{connected} received the sentinel (position {sentinel}) within {:.1} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );

    // The measured events, at a steady pace.
    let send_start = Instant::now();
    let cpu_before = cpu_by_thread();
    let sends = paced_writes(
        gql,
        &cases,
        kind,
        opts.fanout_events,
        opts.fanout_rate,
        "event",
    )
    .await;
    let mut write_lat = Vec::with_capacity(opts.fanout_events);
    for (c, r, took) in sends {
        match r {
            Ok(v) => {
                write_lat.push(took.as_micros() as u64);
                acked[c].push(v);
                case_versions[c] = case_versions[c].max(v);
            }
            Err(e) => {
                write_errors += 1;
                first_write_error.get_or_insert(e);
            }
        }
    }
    for a in &mut acked {
        a.sort_unstable();
    }
    let sent_in = send_start.elapsed();
    let last_position = gql.head().await?;
    let write = Summary::of(&mut write_lat);
    println!(
        "  sent: {} mutations in {:.2} s ({:.1}/s), write p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, errors {write_errors}",
        write.n,
        sent_in.as_secs_f64(),
        write.n as f64 / sent_in.as_secs_f64().max(1e-9),
        ms(write.p50),
        ms(write.p99),
        ms(write.max),
    );
    println!(
        "  the same writes before, nobody listening: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(write_quiet.p50),
        ms(write_quiet.p99),
        ms(write_quiet.max),
    );
    if let Some(e) = &first_write_error {
        println!("  FAIL {write_errors} fan-out mutation(s) failed; first: {e}");
    }

    // Let every subscriber get everything, then a little longer to catch duplicates.
    let done = wait_reached(
        &last,
        &ready,
        &targets(&kinds, last_position, &case_versions),
        Duration::from_secs(60),
    )
    .await;
    let drained = send_start.elapsed();
    let cpu_after = cpu_by_thread();
    let (cpu_server, cpu_subscribers) = (cpu_after.0 - cpu_before.0, cpu_after.1 - cpu_before.1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = stop_tx.send(true);
    let mut outcomes = Vec::with_capacity(subs);
    for h in handles {
        let abort = h.abort_handle();
        match tokio::time::timeout(Duration::from_secs(10), h).await {
            Ok(Ok(o)) => outcomes.push(o),
            Ok(Err(e)) => outcomes.push(SubOutcome {
                ready: false,
                error: Some(format!("subscriber task: {e}")),
                received: Vec::new(),
            }),
            Err(_) => {
                abort.abort();
                outcomes.push(SubOutcome {
                    ready: false,
                    error: Some("subscriber did not stop".into()),
                    received: Vec::new(),
                });
            }
        }
    }
    drop(sub_rt);
    println!(
        "  drained: {done}/{connected} subscribers had everything up to position {last_position} {:.2} s after the first send",
        drained.as_secs_f64()
    );
    println!(
        "  CPU from the first send to drained: server {cpu_server:.2} s, load generator's subscribers {cpu_subscribers:.2} s ({:.0}% and {:.0}% of {:.2} s on the machine's cores)",
        100.0 * cpu_server / drained.as_secs_f64().max(1e-9),
        100.0 * cpu_subscribers / drained.as_secs_f64().max(1e-9),
        drained.as_secs_f64()
    );

    // When each event occurred, as `events` subscribers received it (the other kinds'
    // updates do not carry it).
    let mut occurred = std::collections::HashMap::new();
    for o in &outcomes {
        for r in o.received.iter().filter(|r| r.occurred_us != 0) {
            occurred.insert(r.position, r.occurred_us);
        }
    }

    // Exactly once, in order: `events` and `tierQueue` (every measured event is a
    // command on a queued case) positions from..=last_position, each once, ascending;
    // `swarmRoom` its case's acknowledged versions, each once, ascending.
    // (Events after last_position can only come from other writers; they are ignored.)
    let mut bad = 0usize;
    let mut first_bad = None;
    let mut all = Vec::with_capacity(subs * opts.fanout_events);
    let mut per_kind: Vec<(&'static str, Vec<u64>)> = Vec::new();
    let mut negative = 0usize;
    let mut unknown = 0usize;
    for ((i, o), k) in outcomes.iter().enumerate().zip(&kinds) {
        let problem = match k {
            SubKind::SwarmRoom(c) => check_versions(o, &acked[*c]),
            _ => check_sequence(o, from, last_position),
        };
        if let Some(p) = problem {
            bad += 1;
            first_bad.get_or_insert(format!("subscriber {i} ({}): {p}", k.label()));
        }
        let slot = match per_kind.iter().position(|(l, _)| *l == k.label()) {
            Some(s) => s,
            None => {
                per_kind.push((k.label(), Vec::new()));
                per_kind.len() - 1
            }
        };
        for r in o
            .received
            .iter()
            .filter(|r| r.position > sentinel && r.position <= last_position)
        {
            let Some(at) = occurred.get(&r.position) else {
                unknown += 1;
                continue;
            };
            let d = r.received_us - at;
            if d < 0 {
                negative += 1;
            }
            all.push(d.max(0) as u64);
            per_kind[slot].1.push(d.max(0) as u64);
        }
    }
    let measured_events = last_position.saturating_sub(sentinel);
    let delivery = Summary::of(&mut all);
    println!(
        "  delivery latency (receive time - occurredAt, includes the server's commit) over {} \
         (subscriber, update) pairs:",
        delivery.n,
    );
    println!(
        "    p50 {:.2} ms   p90 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
        ms(delivery.p50),
        ms(delivery.p90),
        ms(delivery.p99),
        ms(delivery.max)
    );
    if opts.mix {
        for (label, lat) in &mut per_kind {
            let s = Summary::of(lat);
            println!(
                "    {label:>9}: {} pairs, p50 {:.2} ms   p90 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
                s.n,
                ms(s.p50),
                ms(s.p90),
                ms(s.p99),
                ms(s.max)
            );
        }
    } else {
        println!(
            "    ({} (subscriber, event) pairs expected)",
            subs as u64 * measured_events
        );
    }
    if negative > 0 {
        println!("  note: {negative} deliveries appeared to precede occurredAt (clock step?)");
    }
    if unknown > 0 {
        println!(
            "  note: {unknown} deliveries of events no `events` subscriber received (not timed)"
        );
    }
    let exactly_once = bad == 0 && write_errors == 0;
    if bad == 0 {
        println!(
            "  PASS exactly once, in order: all {subs} subscribers received their updates for \
             positions {from}..={last_position} ({} events) each exactly once, in order",
            last_position + 1 - from
        );
    } else {
        println!(
            "FAIL exactly once, in order: {bad} of {subs} subscribers did not receive their \
             updates for positions {from}..={last_position} exactly once in order; first: {}",
            first_bad.unwrap_or_default()
        );
    }
    Ok(FanoutStats {
        delivery,
        write_quiet,
        write_loaded: write,
        cpu_server,
        cpu_subscribers,
        exactly_once,
    })
}

/// None if the subscriber saw exactly `from..=to`, in order; else what went wrong.
fn check_sequence(o: &SubOutcome, from: u64, to: u64) -> Option<String> {
    if !o.ready {
        return Some(o.error.clone().unwrap_or_else(|| "never subscribed".into()));
    }
    let mut expected = from;
    for r in o.received.iter().filter(|r| r.position <= to) {
        if r.position < expected {
            return Some(format!(
                "position {} again (or out of order) after {}",
                r.position,
                expected - 1
            ));
        }
        if r.position > expected {
            return Some(format!("missing position {expected} (got {})", r.position));
        }
        expected += 1;
    }
    if expected <= to {
        let why = o.error.as_deref().unwrap_or("stopped receiving");
        return Some(format!(
            "received up to {} of {to} ({why})",
            expected.saturating_sub(1)
        ));
    }
    None
}

/// None if a swarm room subscriber saw exactly the case versions `want`, in order
/// (at ascending positions); else what went wrong.
fn check_versions(o: &SubOutcome, want: &[u64]) -> Option<String> {
    if !o.ready {
        return Some(o.error.clone().unwrap_or_else(|| "never subscribed".into()));
    }
    let got: Vec<u64> = o.received.iter().map(|r| r.version).collect();
    if !o.received.windows(2).all(|w| w[0].position < w[1].position) {
        return Some("positions out of order".into());
    }
    if got != want {
        let why = o.error.as_deref().unwrap_or("");
        return Some(format!(
            "versions {:?}.. ({} updates), expected {:?}.. ({}) {why}",
            &got[..got.len().min(5)],
            got.len(),
            &want[..want.len().min(5)],
            want.len()
        ));
    }
    None
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

    fn outcome(positions: &[u64]) -> SubOutcome {
        SubOutcome {
            ready: true,
            error: None,
            received: positions
                .iter()
                .map(|&position| Received {
                    position,
                    version: 0,
                    received_us: 0,
                    occurred_us: 0,
                })
                .collect(),
        }
    }

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

    #[test]
    fn exactly_once_in_order_check() {
        assert_eq!(check_sequence(&outcome(&[5, 6, 7]), 5, 7), None);
        // Later events (other writers) are ignored.
        assert_eq!(check_sequence(&outcome(&[5, 6, 7, 8]), 5, 7), None);
        assert!(check_sequence(&outcome(&[5, 7]), 5, 7).is_some(), "gap");
        assert!(
            check_sequence(&outcome(&[5, 6, 6, 7]), 5, 7).is_some(),
            "duplicate"
        );
        assert!(
            check_sequence(&outcome(&[5, 7, 6]), 5, 7).is_some(),
            "order"
        );
        assert!(
            check_sequence(&outcome(&[5, 6]), 5, 7).is_some(),
            "missing tail"
        );
        let mut never = outcome(&[]);
        never.ready = false;
        assert!(check_sequence(&never, 5, 7).is_some());
    }

    #[test]
    fn only_loopback_targets() {
        assert!(loopback_base("http://127.0.0.1:8080").is_ok());
        assert!(loopback_base("http://localhost:8080/").is_ok());
        assert!(loopback_base("http://[::1]:8080").is_ok());
        assert!(loopback_base("http://10.0.0.1:8080").is_err());
        assert!(loopback_base("http://example.com").is_err());
        assert!(loopback_base("https://127.0.0.1").is_err());
    }
}
