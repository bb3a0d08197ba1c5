//! Several API nodes on one PostgreSQL log: durable mutations/s and their latency
//! through the GraphQL API with 1, 2 and 3 nodes, in one run.
//!
//! ```sh
//! eval "$(bash scripts/pg-test-cluster.sh start)"
//! cargo run --release --example pg_nodes -- --store "$SWARMDESK_TEST_POSTGRES"
//! cargo run --release --example pg_nodes -- --store postgres://... --nodes 1,2,3,4 --clients 96
//! ```
//!
//! For each node count, a fresh database is created on the server `--store` names
//! (its user needs `CREATEDB`), and that many servers are started in this process on
//! it, each on its own `127.0.0.1:0` listener with its own projections, exactly as
//! `serve --store` runs them. `--clients` HTTP clients are spread over the nodes
//! round-robin; each opens a case on its node, then loops `postMessage`
//! (INTERNAL_NOTE) on it for `--seconds` (after `--warmup`). Every acknowledged
//! mutation is committed in PostgreSQL and visible in its node's projections.
//!
//! The nodes share this process and so this machine's cores: the figures show what
//! the one serialised append path of the shared log costs and allows as nodes are
//! added, not what separate machines would add.

use clap::Parser;
use serde_json::{json, Value};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use swarmdesk::server::{self, Running, ServerOptions};
use swarmdesk::store::postgres::parse_url;

#[allow(dead_code)]
#[path = "common/clients.rs"]
mod clients;
use clients::{closed_loop, ms, Looped};

const POST: &str = "mutation($id: ID!, $b: String!) { postMessage(caseId: $id, kind: INTERNAL_NOTE, body: $b) { version } }";
const OPEN: &str = "mutation($s: String!) { openCase(input: {subject: $s, channel: EMAIL, priority: NORMAL, customer: {id: \"nodes-bench\", segment: B2B}}) { id } }";

#[derive(Parser, Debug, Clone)]
#[command(about = "swarmdesk: durable mutations/s with 1, 2 and 3 nodes on one PostgreSQL")]
pub struct Opts {
    /// A PostgreSQL server to create the benchmark's databases on.
    #[arg(long, env = "SWARMDESK_TEST_POSTGRES")]
    pub store: String,
    /// Node counts to measure, in order.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    pub nodes: Vec<usize>,
    /// Concurrent HTTP clients, spread over the nodes.
    #[arg(long, default_value_t = 48)]
    pub clients: usize,
    /// Length of each measured run, in seconds.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Unmeasured warm-up before each run, in seconds.
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// HTTP workers per node.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
}

/// One measured run.
#[derive(Debug)]
pub struct Run {
    pub nodes: usize,
    pub mutations: usize,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: usize,
    pub first_error: Option<String>,
}

fn main() -> std::process::ExitCode {
    let opts = Opts::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match rt.block_on(run(&opts)) {
        Ok(runs) if runs.iter().all(|r| r.errors == 0) => std::process::ExitCode::SUCCESS,
        Ok(_) => std::process::ExitCode::from(1),
        Err(e) => {
            eprintln!("FAIL {e}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Runs every node count in `opts.nodes`; prints a table and returns the runs.
pub async fn run(opts: &Opts) -> Result<Vec<Run>, String> {
    println!(
        "machine: {} CPU(s) available to this process; PostgreSQL at {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        swarmdesk::store::postgres::describe(&parse_url(&opts.store).map_err(|e| e.to_string())?)
    );
    println!(
        "postMessage(INTERNAL_NOTE), {} clients each on its own case, {} s after {} s warm-up",
        opts.clients, opts.seconds, opts.warmup
    );
    println!(
        "{:>6} {:>10} {:>10} {:>8} {:>8} {:>7}",
        "nodes", "mutations", "mut/s", "p50 ms", "p99 ms", "errors"
    );
    let mut runs = Vec::new();
    for &n in &opts.nodes {
        let r = run_nodes(opts, n.max(1)).await?;
        println!(
            "{:>6} {:>10} {:>10.0} {:>8.2} {:>8.2} {:>7}",
            r.nodes, r.mutations, r.per_second, r.p50_ms, r.p99_ms, r.errors
        );
        if let Some(e) = &r.first_error {
            println!(
                "FAIL {} mutations failed with {n} node(s); first: {e}",
                r.errors
            );
        }
        runs.push(r);
    }
    Ok(runs)
}

/// A database of its own on the server of `admin`, dropped first if a run before
/// left it; returns its URL.
async fn fresh_database(admin: &str, nodes: usize) -> Result<String, String> {
    let config = parse_url(admin).map_err(|e| e.to_string())?;
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let driver = tokio::spawn(connection);
    let name = format!("swarmdesk_nodes_{}_{nodes}", std::process::id());
    for s in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        client
            .batch_execute(&s)
            .await
            .map_err(|e| format!("{s}: {e}"))?;
    }
    drop(client);
    let _ = driver.await;
    // The same server and credentials, the new database.
    let (base, _) = admin.rsplit_once('/').ok_or("no database in --store")?;
    Ok(format!("{base}/{name}"))
}

/// Starts `n` nodes on a fresh database and measures the clients against them.
async fn run_nodes(opts: &Opts, n: usize) -> Result<Run, String> {
    let url = fresh_database(&opts.store, n).await?;
    let token = swarmdesk::auth::generate_token().map_err(|e| e.to_string())?;
    let mut nodes: Vec<(Running, tempfile::TempDir)> = Vec::new();
    for _ in 0..n {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut o = ServerOptions::new(dir.path().to_path_buf());
        o.store = Some(url.clone());
        o.bootstrap_token = Some(token.clone());
        o.workers = opts.workers.max(1);
        // One token stands in for all the clients.
        o.http_limits.rate_per_second = 1e9;
        o.http_limits.rate_burst = 1e9;
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let running = server::start(o, listener)
            .await
            .map_err(|e| format!("node: {e}"))?;
        nodes.push((running, dir));
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(opts.clients + 8)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let urls: Vec<String> = nodes
        .iter()
        .map(|(r, _)| format!("http://{}/graphql", r.addr))
        .collect();
    let client = Arc::new(Client { http, token });
    let mut cases = Vec::new();
    for i in 0..opts.clients.max(1) {
        let url = urls[i % n].clone();
        let d = client
            .call(&url, OPEN, json!({ "s": format!("bench {i}") }))
            .await?;
        let id = d["openCase"]["id"]
            .as_str()
            .ok_or("no case id")?
            .to_string();
        cases.push((url, id));
    }
    if opts.warmup > 0 {
        measure(&client, &cases, opts.warmup).await;
    }
    let looped = measure(&client, &cases, opts.seconds).await;
    let run = Run {
        nodes: n,
        mutations: looped.done,
        per_second: looped.per_sec(),
        p50_ms: ms(looped.latency.p50),
        p99_ms: ms(looped.latency.p99),
        errors: looped.errors,
        first_error: looped.first_error,
    };
    for (running, _dir) in nodes {
        running.stop().await.map_err(|e| format!("stop: {e}"))?;
    }
    Ok(run)
}

/// Every client loops `postMessage` on its case until `seconds` are up.
async fn measure(client: &Arc<Client>, cases: &[(String, String)], seconds: u64) -> Looped {
    let (client, cases) = (client.clone(), Arc::new(cases.to_vec()));
    closed_loop(cases.len(), seconds as f64, move |c, i| {
        let (client, cases) = (client.clone(), cases.clone());
        async move {
            let (url, id) = &cases[c];
            let note = json!({ "id": id, "b": format!("note {i}") });
            client.call(url, POST, note).await.map(|_| ())
        }
    })
    .await
}

/// A GraphQL-over-HTTP client with one shared connection pool.
struct Client {
    http: reqwest::Client,
    token: String,
}

impl Client {
    async fn call(&self, url: &str, query: &str, variables: Value) -> Result<Value, String> {
        clients::call(&self.http, url, &self.token, query, variables).await
    }
}
