//! Query latency on a large log: `cases` pages and filters, `tierQueue` and
//! `swarmRooms` through the GraphQL API of the real server, next to `{ __typename }`
//! and to the scan the listing indexes replaced, all in one run.
//!
//! ```sh
//! cargo run --release --example queries                      # 1 M events
//! cargo run --release --example queries -- --events 200000 --calls 50
//! ```
//!
//! The log is the one `examples/travel.rs` writes (the domain decides every event;
//! `--active` cases worked at a time), stopped at `--events` with the cases being
//! worked still open (in the tier queues, many in swarms). The server is then started in this process on
//! it (`127.0.0.1:0`, projections rebuilt from the log at start) with an admin token,
//! a customer's (`cust-7`), an agent's who works L1 (`ana`) and an agent's who works
//! L3 and is in no case (`ivan`). Each query is called `--calls` times per round, the
//! queries taking turns over `--rounds` rounds; its p50 and p99 are printed. Each
//! `cases` query is also timed in the process on the server's projections, both as
//! the API now pages (the listing indexes, [`Projections::cases_visible`]) and by the
//! scan it replaced ([`Projections::cases_scan`]: every case id collected, sorted,
//! walked), alternately; the two must list the same cases, and the API the same as
//! both. The first text search builds the text index (`projection::text`): the run
//! fails if it does not, and prints that call's time and the index's size. Last, a
//! snapshot round trip of the projections and the rebuild of the listing indexes it
//! does on load.

use clap::Parser;
use serde_json::{json, Value};
use std::net::TcpListener;
use std::time::{Duration, Instant};
use swarmdesk::auth::{Grant, Principal};
use swarmdesk::domain::{Actor, AgentId, CaseId, Priority, Role, Status, Tier, TierLadder};
use swarmdesk::policy;
use swarmdesk::projection::runner::{decode_snapshot, encode_snapshot};
use swarmdesk::projection::{CaseFilter, Projections};
use swarmdesk::server::{self, ServerOptions};
use swarmdesk::store::sled_store::{SledOptions, SledStore};
use swarmdesk::store::EventStore;

#[path = "common/counting.rs"]
mod counting;
use counting::heap;

/// The travel example, whose log builder this one shares.
#[allow(dead_code)]
#[path = "travel.rs"]
pub mod travel;

#[derive(Parser)]
pub struct Args {
    /// Events in the log (about).
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Cases worked at the same time.
    #[arg(long, default_value_t = 300)]
    pub active: usize,
    /// Calls of each query per round.
    #[arg(long, default_value_t = 40)]
    pub calls: usize,
    /// Rounds (the queries take turns in each).
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
}

const CASES: &str =
    "query($f: CaseFilterInput, $a: String) { cases(first: 50, filter: $f, after: $a) \
    { edges { cursor node { id subject status tier priority } } pageInfo { hasNextPage } } }";
const TIER_QUEUE: &str =
    "query($t: String!) { tierQueue(tier: $t, first: 50) { length entries { rank case { id subject } } } }";
const SWARM_ROOMS: &str = "query($n: Int) { swarmRooms(first: $n) \
    { caseId subject lead members { agent } chat { author body } } }";
const SWARM_ROOMS_NO_CHAT: &str =
    "query($n: Int) { swarmRooms(first: $n) { caseId subject lead members { agent } } }";

/// Who calls.
#[derive(Clone, Copy, PartialEq)]
enum Caller {
    Admin,
    /// `cust-7`: their own cases among all.
    Customer,
    /// `ana`, agent of L1.
    AgentL1,
    /// `ivan`, agent of L3, in no case.
    AgentL3,
}

impl Caller {
    fn principal(self) -> Principal {
        let (id, role, tiers): (&str, Role, &[&str]) = match self {
            Caller::Admin => ("admin", Role::Admin, &[]),
            Caller::Customer => ("cust-7", Role::Customer, &[]),
            Caller::AgentL1 => ("ana", Role::Agent, &["L1"]),
            Caller::AgentL3 => ("ivan", Role::Agent, &["L3"]),
        };
        Principal {
            actor: Actor {
                id: AgentId::new(id).expect("an id"),
                role,
            },
            tiers: tiers.iter().map(|t| Tier::new(*t)).collect(),
            token_id: None,
        }
    }
}

/// One query of the run.
struct Query {
    name: String,
    caller: Caller,
    text: &'static str,
    variables: Value,
    /// For `cases`: the same page in the process (filter, cursor).
    page: Option<(CaseFilter, Option<CaseId>)>,
}

/// One line of the report.
pub struct Row {
    pub name: String,
    /// Items the answer lists.
    pub items: usize,
    pub p50: Duration,
    pub p99: Duration,
    /// In the process: the page from the listing indexes, and by the scan (medians).
    pub indexed: Option<Duration>,
    pub scan: Option<Duration>,
}

fn cases(name: &str, caller: Caller, filter: CaseFilter, after: Option<CaseId>) -> Query {
    let mut f = serde_json::Map::new();
    if let Some(s) = filter.status {
        f.insert("status".into(), json!(format!("{s:?}").to_uppercase()));
    }
    if let Some(t) = &filter.tier {
        f.insert("tier".into(), json!(t.to_string()));
    }
    if let Some(t) = &filter.team {
        f.insert("team".into(), json!(t));
    }
    if let Some(p) = filter.priority {
        f.insert("priority".into(), json!(format!("{p:?}").to_uppercase()));
    }
    if let Some(t) = &filter.tag {
        f.insert("tag".into(), json!(t));
    }
    if let Some(a) = &filter.assignee {
        f.insert("assignee".into(), json!(a.as_str()));
    }
    if let Some(c) = &filter.customer {
        f.insert("customer".into(), json!(c));
    }
    if let Some(t) = &filter.text {
        f.insert("text".into(), json!(t));
    }
    Query {
        name: name.into(),
        caller,
        text: CASES,
        variables: json!({ "f": f, "a": after.map(|a| a.to_string()) }),
        page: Some((filter, after)),
    }
}

fn queries(ids: &[CaseId]) -> Vec<Query> {
    let f = CaseFilter::default;
    let agent = |a: &str| Some(AgentId::new(a).expect("an agent"));
    let plain = |name: &str, caller, text, variables| Query {
        name: String::from(name),
        caller,
        text,
        variables,
        page: None,
    };
    vec![
        plain("{ __typename }", Caller::Admin, "{ __typename }", json!({})),
        cases("cases(first: 50)", Caller::Admin, f(), None),
        cases(
            "cases, a later page (cursor half way)",
            Caller::Admin,
            f(),
            Some(ids[ids.len() / 2]),
        ),
        cases(
            "cases, status OPEN",
            Caller::Admin,
            CaseFilter {
                status: Some(Status::Open),
                ..f()
            },
            None,
        ),
        cases(
            "cases, tier L2",
            Caller::Admin,
            CaseFilter {
                tier: Some(Tier::new("L2")),
                ..f()
            },
            None,
        ),
        cases(
            "cases, tier L3 (no case)",
            Caller::Admin,
            CaseFilter {
                tier: Some(Tier::new("L3")),
                ..f()
            },
            None,
        ),
        cases(
            "cases, team billing",
            Caller::Admin,
            CaseFilter {
                team: Some("billing".into()),
                ..f()
            },
            None,
        ),
        cases(
            "cases, priority URGENT (no case)",
            Caller::Admin,
            CaseFilter {
                priority: Some(Priority::Urgent),
                ..f()
            },
            None,
        ),
        cases(
            "cases, tag billing",
            Caller::Admin,
            CaseFilter {
                tag: Some("billing".into()),
                ..f()
            },
            None,
        ),
        cases(
            "cases, assignee ana",
            Caller::Admin,
            CaseFilter {
                assignee: agent("ana"),
                ..f()
            },
            None,
        ),
        cases(
            "cases, customer cust-7",
            Caller::Admin,
            CaseFilter {
                customer: Some("cust-7".into()),
                ..f()
            },
            None,
        ),
        cases(
            "cases, RESOLVED + L2 + bo + cust-9",
            Caller::Admin,
            CaseFilter {
                status: Some(Status::Resolved),
                tier: Some(Tier::new("L2")),
                assignee: agent("bo"),
                customer: Some("cust-9".into()),
                ..f()
            },
            None,
        ),
        cases(
            "cases, text \"workspace 4242\"",
            Caller::Admin,
            CaseFilter {
                text: Some("workspace 4242".into()),
                ..f()
            },
            None,
        ),
        cases(
            "cases, text \"invoice\" (every case)",
            Caller::Admin,
            CaseFilter {
                text: Some("invoice".into()),
                ..f()
            },
            None,
        ),
        cases(
            "cases, text \"42\" (no trigram: walks the listing)",
            Caller::Admin,
            CaseFilter {
                text: Some("42".into()),
                ..f()
            },
            None,
        ),
        cases("cases as customer cust-7", Caller::Customer, f(), None),
        cases("cases as agent of L1", Caller::AgentL1, f(), None),
        cases(
            "cases as agent of L3 (sees none)",
            Caller::AgentL3,
            f(),
            None,
        ),
        plain(
            "tierQueue(L2, first: 50)",
            Caller::Admin,
            TIER_QUEUE,
            json!({ "t": "L2" }),
        ),
        plain(
            "tierQueue(L2) as agent of L1",
            Caller::AgentL1,
            TIER_QUEUE,
            json!({ "t": "L2" }),
        ),
        plain(
            "swarmRooms (first page: 50)",
            Caller::Admin,
            SWARM_ROOMS,
            json!({ "n": 50 }),
        ),
        plain(
            "swarmRooms (first page) without chat",
            Caller::Admin,
            SWARM_ROOMS_NO_CHAT,
            json!({ "n": 50 }),
        ),
        plain(
            "swarmRooms(first: 500): every room",
            Caller::Admin,
            SWARM_ROOMS,
            json!({ "n": 500 }),
        ),
    ]
}

struct Client {
    http: reqwest::Client,
    url: String,
    tokens: Vec<(Caller, String)>,
}

impl Client {
    async fn call(&self, q: &Query) -> Result<Value, String> {
        let token = &self
            .tokens
            .iter()
            .find(|(c, _)| *c == q.caller)
            .expect("a token")
            .1;
        let res = self
            .http
            .post(&self.url)
            .bearer_auth(token)
            .json(&json!({ "query": q.text, "variables": q.variables }))
            .send()
            .await
            .map_err(|e| format!("HTTP: {e}"))?;
        let body: Value = res.json().await.map_err(|e| format!("body: {e}"))?;
        if let Some(errors) = body.get("errors") {
            return Err(format!("{}: {errors}", q.name));
        }
        Ok(body["data"].clone())
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    percentile(&v, 0.5)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The cases of an API answer, in order.
fn listed(data: &Value) -> Vec<String> {
    data["cases"]["edges"]
        .as_array()
        .map(|edges| {
            edges
                .iter()
                .filter_map(|e| e["node"]["id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// How many items an answer lists.
fn items(data: &Value) -> usize {
    if let Some(e) = data["cases"]["edges"].as_array() {
        e.len()
    } else if let Some(e) = data["tierQueue"]["entries"].as_array() {
        e.len()
    } else if let Some(r) = data["swarmRooms"].as_array() {
        r.len()
    } else {
        1
    }
}

/// Times the `cases` pages in the process, indexed and by the scan alternately, and
/// checks that both (and the API) list the same cases.
fn in_process(
    p: &Projections,
    q: &Query,
    api: &[String],
    runs: usize,
) -> Result<(Duration, Duration), String> {
    let Some((filter, after)) = &q.page else {
        return Ok((Duration::ZERO, Duration::ZERO));
    };
    let ladder = TierLadder::standard();
    let who = q.caller.principal();
    let among = policy::read_scope(&who, &ladder);
    let visible = |c: &swarmdesk::domain::Case| policy::can_read(&who, c, &ladder);
    let (mut indexed, mut scan) = (Vec::new(), Vec::new());
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        let a = p.cases_visible(filter, &among, *after, 50, &visible);
        indexed.push(started.elapsed());
        let started = Instant::now();
        let b = p.cases_scan(filter, *after, 50, &visible);
        scan.push(started.elapsed());
        let ids = |page: &[&swarmdesk::projection::CaseView]| -> Vec<String> {
            page.iter()
                .filter_map(|v| v.case.id.map(|i| i.to_string()))
                .collect()
        };
        if ids(&a.0) != ids(&b.0) || a.1 != b.1 {
            return Err(format!(
                "{}: the indexed page differs from the scan",
                q.name
            ));
        }
        if ids(&a.0) != api {
            return Err(format!("{}: the API listed other cases", q.name));
        }
    }
    Ok((median(indexed), median(scan)))
}

/// Writes the log, starts the server on it, times every query; checks the answers.
pub async fn run(args: Args) -> Result<Vec<Row>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let ids = {
        let store =
            SledStore::open(dir.path(), SledOptions::default()).map_err(|e| e.to_string())?;
        let (ids, _) = travel::write_log(&store, args.events, args.active, false).await;
        println!(
            "log: {} events over {} cases, written in {:.1} s",
            store.head(),
            ids.len(),
            started.elapsed().as_secs_f64()
        );
        store.shutdown().await.map_err(|e| e.to_string())?;
        ids
    };
    let token = || swarmdesk::auth::generate_token().map_err(|e| e.to_string());
    let mut tokens = vec![(Caller::Admin, token()?)];
    let mut o = ServerOptions::new(dir.path().to_path_buf());
    o.bootstrap_token = Some(tokens[0].1.clone());
    for caller in [Caller::Customer, Caller::AgentL1, Caller::AgentL3] {
        let t = token()?;
        let p = caller.principal();
        o.tokens.push((
            t.clone(),
            Grant {
                actor: p.actor,
                tiers: p.tiers,
                expires_at: None,
            },
        ));
        tokens.push((caller, t));
    }
    o.http_limits.rate_per_second = 1e9;
    o.http_limits.rate_burst = 1e9;
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let started = Instant::now();
    let running = server::start(o, listener)
        .await
        .map_err(|e| format!("start: {e}"))?;
    println!(
        "server started on it in {:.2} s (projections rebuilt from the log)",
        started.elapsed().as_secs_f64()
    );
    let client = Client {
        http: reqwest::Client::new(),
        url: format!("http://{}/graphql", running.addr),
        tokens,
    };
    let queries = queries(&ids);
    println!("load average at start: {}", load_average());
    // One call each first: the answers are checked, and the process timings taken.
    let mut rows = Vec::new();
    let mut text_index = None;
    for q in &queries {
        let started = Instant::now();
        let data = client.call(q).await?;
        let first_call = started.elapsed();
        if text_index.is_none() && q.page.as_ref().is_some_and(|(f, _)| f.text.is_some()) {
            // The first text search built the index.
            let p = running.app.projections().read();
            let stats = p.text().stats().ok_or("the text search built no index")?;
            text_index = Some((first_call, stats));
        }
        let (indexed, scan) = {
            let p = running.app.projections().read();
            in_process(&p, q, &listed(&data), 5)?
        };
        rows.push(Row {
            name: q.name.clone(),
            items: items(&data),
            p50: Duration::ZERO,
            p99: Duration::ZERO,
            indexed: q.page.as_ref().map(|_| indexed),
            scan: q.page.as_ref().map(|_| scan),
        });
    }
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); queries.len()];
    for _ in 0..args.rounds.max(1) {
        for (q, t) in queries.iter().zip(&mut times) {
            for _ in 0..args.calls.max(1) {
                let started = Instant::now();
                client.call(q).await?;
                t.push(started.elapsed());
            }
        }
    }
    for (row, mut t) in rows.iter_mut().zip(times) {
        t.sort();
        row.p50 = percentile(&t, 0.5);
        row.p99 = percentile(&t, 0.99);
    }
    println!("load average at the end: {}", load_average());
    println!(
        "\n| query ({} calls each) | items | API p50 | API p99 | page from the indexes | page by the scan |",
        args.calls.max(1) * args.rounds.max(1)
    );
    println!("|---|---|---|---|---|---|");
    for r in &rows {
        let opt = |d: Option<Duration>| d.map_or("".to_string(), ms);
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            r.name,
            r.items,
            ms(r.p50),
            ms(r.p99),
            opt(r.indexed),
            opt(r.scan)
        );
    }
    if let Some((first_call, stats)) = text_index {
        println!(
            "\ntext index: built by the first text search, which took {} through the API; \
             {} cases, {:.1} MB ({:.0} bytes per case, {:.0} per event)",
            ms(first_call),
            stats.cases,
            stats.bytes as f64 / 1e6,
            stats.bytes as f64 / stats.cases.max(1) as f64,
            stats.bytes as f64 / running.app.projections().read().position().max(1) as f64,
        );
    }
    // What a start from a snapshot pays for the listing indexes it does not hold.
    let (encoded, bytes, decoded, relist, listing_heap, events) = {
        let p = running.app.projections().read();
        let started = Instant::now();
        let bytes = encode_snapshot(&p);
        let encoded = started.elapsed();
        let started = Instant::now();
        let mut copy = decode_snapshot(&bytes).ok_or("the snapshot does not decode")?;
        let decoded = started.elapsed();
        if copy != *p {
            return Err("the projections differ after a snapshot round trip".into());
        }
        let started = Instant::now();
        copy.relist();
        let relist = started.elapsed();
        // The heap the listing indexes take: that of a copy of them (0 without the
        // counting allocator, in the test).
        let before = heap();
        let listing = p.listing().clone();
        let listing_heap = heap().saturating_sub(before);
        drop(listing);
        (
            encoded,
            bytes.len(),
            decoded,
            relist,
            listing_heap,
            p.position(),
        )
    };
    println!(
        "\nsnapshot: encoded in {} ({:.0} MB), decoded in {} including the listing \
         indexes rebuilt from the views, which alone take {}; they hold {:.1} MB of heap \
         ({:.0} bytes per case, {:.0} per event)",
        ms(encoded),
        bytes as f64 / 1e6,
        ms(decoded),
        ms(relist),
        listing_heap as f64 / 1e6,
        listing_heap as f64 / ids.len().max(1) as f64,
        listing_heap as f64 / events.max(1) as f64,
    );
    running.stop().await.map_err(|e| e.to_string())?;
    Ok(rows)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    match run(Args::parse()).await {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("FAIL: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
