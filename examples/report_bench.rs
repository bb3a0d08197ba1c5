//! Report benchmark: builds a realistic log of `--events` events (1 M by default) in a
//! temporary sled store, then times, in the same run:
//!
//! 1. the store's replay rate: every event read and decoded in place, nothing applied
//!    (the floor any scan of the log pays);
//! 2. `rebuild`: the projections replayed from the log (the same scan, applied);
//! 3. `report` by a scan, as the command line computes it: the log folded up to the
//!    end of the period ([`fold_log`]), then the figures built ([`report::build`]);
//! 4. `report` from the live projections, as the server computes it
//!    ([`report::fast`]): the facts projection read, and the cases with events on
//!    both sides of the period's end folded from their own streams; checked equal to
//!    the scan's report;
//!
//! each for the last 7 days, days 10 to 17 (a past period: the cases open on day 17
//! are folded from the log) and the whole span. It also prints the projections' heap
//! bytes per event (counted by this example's allocator), of which the facts and the
//! timeline. Before those, start-up and memory: in fresh processes (this example run
//! with `--start-only`), the store opened and the projections started as `serve` does,
//! from the log and from the snapshot, and (the baseline) with every message held in
//! the case views, each with its resident memory (`VmRSS`); then in this process the
//! same start-ups timed, `rebuild` alternating with two baselines (every index kept
//! event by event; every message held), and the snapshot's size, encode and decode
//! times. `--cache-mb` sets sled's page cache; `--keep DIR` keeps the log built in
//! `DIR` for `--start-only DIR [--from-log]`.
//!
//! ```sh
//! cargo run --release --example report_bench                 # 1 M events
//! cargo run --release --example report_bench -- --events 200000 --runs 5
//! ```
//!
//! The log: cases opened at a steady pace over `--days` days, 300 open at once and
//! their events interleaved as a busy desk writes them; about 80% resolved at L1, 15%
//! escalated to L2 and 5% on to L3, one escalated case in three swarmed (experts join,
//! chat, leave), some reopened, most closed; messages of 80 to 400 characters. Every
//! event is decided by the domain itself (`decide_all`), so it folds like the real
//! thing. No SLA policies (their events are a few per case at most).

use clap::Parser;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use swarmdesk::app::{fold_log, Recordable};
use swarmdesk::domain::{
    decide_all, Actor, AgentId, Case, CaseEvent, CaseId, Channel, Command, Context, Customer,
    MessageKind, OpenCase, Priority, Role, RouteCase, Segment, SlaConfig, Tier, TierLadder,
    Timestamp,
};
use swarmdesk::projection::runner::{
    apply_log, catch_up, decode_snapshot, encode_snapshot, rebuild, ProjectionRunner, SNAPSHOT_NAME,
};
use swarmdesk::projection::Projections;
use swarmdesk::report::{self, Scope};
use swarmdesk::store::sled_store::{SledOptions, SledStore};
use swarmdesk::store::{EventStore, Metadata, RecordedEvent};
use ulid::Ulid;

#[path = "common/counting.rs"]
mod counting;
use counting::heap;

#[derive(Parser, Debug)]
#[command(about = "swarmdesk report benchmark over a large realistic log")]
pub struct Opts {
    /// Events in the log.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Days the log spans.
    #[arg(long, default_value_t = 30)]
    pub days: i64,
    /// Timed runs of each measurement (the best and the median are printed).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// sled's page cache in MiB (the store's default if not given).
    #[arg(long)]
    pub cache_mb: Option<u64>,
    /// Internal: open the store in this directory, start the projections as `serve`
    /// does, print the resident memory, and exit (the benchmark runs itself so, to
    /// measure a fresh process).
    #[arg(long, hide = true)]
    pub start_only: Option<std::path::PathBuf>,
    /// With `--start-only`: hold every message in the case views (the baseline).
    #[arg(long, hide = true)]
    pub held: bool,
    /// With `--start-only`: drop the snapshot first, so the start replays the log.
    #[arg(long, hide = true)]
    pub from_log: bool,
    /// Build the log in this directory (empty or new) and keep it, e.g. to profile
    /// `--start-only --from-log` on it.
    #[arg(long)]
    pub keep: Option<std::path::PathBuf>,
    /// Only time `rebuild` (`--runs` times) on the log already in this directory (one
    /// `--keep` built), printing each run's time: what two builds are compared by,
    /// alternating. Opens the store, so give it a copy, not a directory in use.
    #[arg(long)]
    pub rebuild_only: Option<std::path::PathBuf>,
}

/// What `--start-only` and `--rebuild-only` work in: a runtime of two workers, and the
/// store in `dir` opened with `--cache-mb` (the options returned for printing).
fn open_in_runtime(
    dir: &std::path::Path,
    opts: &Opts,
) -> (tokio::runtime::Runtime, Arc<SledStore>, SledOptions) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut options = SledOptions::default();
    if let Some(mb) = opts.cache_mb {
        options.cache_bytes = mb << 20;
    }
    let store = Arc::new(SledStore::open(dir, options.clone()).unwrap());
    (rt, store, options)
}

/// `--start-only`: a fresh process opens the store, starts the projections and
/// prints its resident memory: what a server holds once started.
fn start_only(dir: &std::path::Path, opts: &Opts) {
    let (rt, store, options) = open_in_runtime(dir, opts);
    let n = store.head().max(1) as usize;
    if opts.from_log {
        rt.block_on(store.save_snapshot(SNAPSHOT_NAME, Vec::new()))
            .unwrap();
    }
    let snapshot = rt
        .block_on(store.load_snapshot(SNAPSHOT_NAME))
        .unwrap()
        .is_some_and(|b| !b.is_empty());
    let opened = resident();
    let t = Instant::now();
    let held = opts.held.then(|| {
        let mut p = Projections::with_messages();
        rt.block_on(catch_up(store.as_ref(), &mut p)).unwrap();
        p
    });
    let runner = (!opts.held).then(|| {
        rt.block_on(ProjectionRunner::start(store.clone() as Arc<dyn EventStore>))
            .unwrap()
    });
    let secs = t.elapsed().as_secs_f64();
    let started = resident();
    println!(
        "fresh process, {}: projections ready in {secs:.3} s; resident {} MB, {} bytes per \
         event (target < 300; {} MB once the store was open, sled's cache {} MiB)",
        match (opts.held, snapshot && !opts.held) {
            (true, _) => "every message held (baseline), from the log",
            (false, true) => "as the server starts, from the snapshot",
            (false, false) => "as the server starts, from the log",
        },
        started >> 20,
        started / n,
        opened >> 20,
        options.cache_bytes >> 20,
    );
    // Whose the live heap is: what stopping the projections frees, then the store.
    let live = heap();
    drop(held);
    if let Some(r) = runner {
        // What each part of the projections holds: a copy dropped part by part (the
        // runner keeps its own, which it snapshots as it stops).
        let taken = r.read().clone();
        let mut before = heap();
        let mut parts = Vec::new();
        taken.drop_by_part(|part| {
            let now = heap();
            parts.push(format!("{part} {} MB", before.saturating_sub(now) >> 20));
            before = now;
        });
        println!("  the projections by part: {}", parts.join(", "));
        rt.block_on(r.stop()).unwrap();
    }
    let without_projections = heap();
    rt.block_on(store.shutdown()).unwrap();
    drop(store);
    let rest = heap();
    println!(
        "  live heap {} MB: the projections {} MB, the store (sled) {} MB, the rest {} MB",
        live >> 20,
        live.saturating_sub(without_projections) >> 20,
        without_projections.saturating_sub(rest) >> 20,
        rest >> 20
    );
}

/// `--rebuild-only`: `rebuild` timed `--runs` times on the log in `dir`, each run's
/// seconds printed, then the best and the median.
fn rebuild_only(dir: &std::path::Path, opts: &Opts) {
    let (rt, store, _) = open_in_runtime(dir, opts);
    let n = store.head();
    let mut secs = Vec::new();
    let mut p = None;
    for _ in 0..opts.runs.max(1) {
        drop(p.take());
        let t = Instant::now();
        p = Some(rt.block_on(rebuild(store.as_ref())).unwrap());
        let s = t.elapsed().as_secs_f64();
        println!("rebuild: {s:.3} s ({:.2} M events/s)", n as f64 / s / 1e6);
        secs.push(s);
    }
    let p = p.unwrap();
    assert_eq!(p.position(), n);
    secs.sort_by(f64::total_cmp);
    println!(
        "rebuild of {n} events, {} cases: best {:.3} s ({:.2} M events/s), median {:.3} s",
        p.stats().cases,
        secs[0],
        n as f64 / secs[0] / 1e6,
        secs[secs.len() / 2]
    );
}

/// What a run saw, for the test that keeps this example from rotting.
pub struct Outcome {
    pub events: u64,
    /// Cases in the rebuilt projections.
    pub cases: u64,
    /// Resolutions per tier in the rebuilt projections.
    pub resolved_by_tier: std::collections::BTreeMap<String, u64>,
    /// The whole-span report.
    pub report: report::Report,
}

/// The process's resident memory in bytes (`VmRSS`; Linux, 0 elsewhere).
fn resident() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<usize>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// Shuts `store` down and opens its directory again (sled's cache cold, as at a
/// start); returns it and the seconds the open took.
fn reopen(
    rt: &tokio::runtime::Runtime,
    store: Arc<SledStore>,
    dir: &std::path::Path,
    options: &SledOptions,
) -> (Arc<SledStore>, f64) {
    rt.block_on(store.shutdown()).unwrap();
    // Stopped runners' tasks let go of their handles as the runtime drops them.
    let mut store = store;
    let waited = Instant::now();
    loop {
        match Arc::try_unwrap(store) {
            Ok(s) => {
                drop(s);
                break;
            }
            Err(s) => {
                assert!(waited.elapsed().as_secs() < 10, "the store is still held");
                store = s;
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
    }
    let t = Instant::now();
    let store = Arc::new(SledStore::open(dir, options.clone()).unwrap());
    (store, t.elapsed().as_secs_f64())
}

/// Starts a projections runner on `store` as `serve` does; returns it and the seconds
/// until its projections were ready.
fn start_runner(rt: &tokio::runtime::Runtime, store: &Arc<SledStore>) -> (ProjectionRunner, f64) {
    let t = Instant::now();
    let runner = rt
        .block_on(ProjectionRunner::start(store.clone() as Arc<dyn EventStore>))
        .unwrap();
    (runner, t.elapsed().as_secs_f64())
}

/// The report from the live projections, as the server makes it: the facts read, and
/// the cases with events on both sides of `to` folded from their streams.
fn fast_report(
    rt: &tokio::runtime::Runtime,
    store: &SledStore,
    p: &Projections,
    from: Timestamp,
    to: Timestamp,
) -> (report::Report, usize) {
    let mut folded = HashMap::new();
    for id in report::fast::to_fold(p, to) {
        let records = rt
            .block_on(store.read_stream(&id.stream(), 1, usize::MAX))
            .unwrap();
        let events: Vec<(CaseEvent, u64, Timestamp)> = records
            .iter()
            .map(|r| {
                let e = CaseEvent::decode(&r.event_type, r.schema_version, &r.payload).unwrap();
                (e, r.version, r.metadata.occurred_at)
            })
            .collect();
        let track =
            report::fast::fold_case(id, from, to, events.iter().map(|(e, v, at)| (e, *v, *at)));
        folded.insert(id, track);
    }
    let targets = report::default_targets();
    let r = report::fast::report(
        p,
        from..to,
        &folded,
        &Scope::default(),
        &targets,
        &|_| true,
        &report::clear,
    );
    (r, folded.len())
}

/// A small deterministic generator (xorshift), so every run builds the same log.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const TOPICS: &[(&str, &str)] = &[
    ("Password reset link expired", "password"),
    ("Invoice shows the wrong VAT rate", "billing"),
    ("Charged twice for the annual plan", "billing"),
    ("CSV export stops at 50%", "export"),
    ("SSO login loops back to the start page", "sso"),
    ("Webhook deliveries fail with 502", "integrations"),
    ("Are you open on the bank holiday?", "hours"),
    ("Mobile app crashes on start", "mobile"),
];

const WORDS: &[&str] = &[
    "the",
    "export",
    "customer",
    "invoice",
    "since",
    "this",
    "morning",
    "fails",
    "again",
    "after",
    "retry",
    "workspace",
    "browser",
    "shows",
    "timeout",
    "please",
    "check",
    "logs",
    "deployed",
    "fix",
    "account",
    "billing",
    "thanks",
    "looking",
    "into",
    "it",
];

fn body(rng: &mut Rng) -> String {
    let len = 80 + rng.below(320) as usize;
    let mut s = String::with_capacity(len + 12);
    while s.len() < len {
        s.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
        s.push(' ');
    }
    s
}

/// One case's remaining commands, next one last.
struct Script {
    id: CaseId,
    case: Case,
    commands: Vec<(Actor, Command)>,
}

fn agent(tier: &str, n: u64) -> Actor {
    Actor {
        id: AgentId::new(format!("{}-agent-{n}", tier.to_lowercase())).unwrap(),
        role: Role::Agent,
    }
}

fn script(rng: &mut Rng, i: u64) -> Script {
    let id = CaseId(Ulid::new());
    let (subject, tag) = TOPICS[rng.below(TOPICS.len() as u64) as usize];
    let customer_id = format!("cust-{}", rng.below(5_000));
    let customer = Actor {
        id: AgentId::new(customer_id.clone()).unwrap(),
        role: Role::Customer,
    };
    let priority = [
        Priority::Normal,
        Priority::Normal,
        Priority::Low,
        Priority::High,
        Priority::Urgent,
    ][rng.below(5) as usize];
    let open = OpenCase {
        case_id: id,
        subject: format!("{subject} ({i})"),
        body: body(rng),
        channel: [Channel::Email, Channel::Chat, Channel::Portal][rng.below(3) as usize],
        customer: Customer {
            id: customer_id,
            name: "Customer".into(),
            segment: if rng.chance(40) {
                Segment::B2b
            } else {
                Segment::B2c
            },
            key_account: rng.chance(5),
        },
        language: "en".into(),
        priority,
        tags: vec![tag.into()],
        requested_priority: None,
    };
    let route = RouteCase {
        tier: Tier::new("L1"),
        team: None,
        priority: None,
        tags: vec![],
        sensitive: false,
        rule_id: Some("default".into()),
        rule_set_version: Some(1),
    };
    let mut c: Vec<(Actor, Command)> = vec![
        (Actor::system(), Command::Open(open)),
        (Actor::system(), Command::Route(route)),
    ];
    let say = |who: &Actor, kind: MessageKind, rng: &mut Rng| {
        (
            who.clone(),
            Command::PostMessage {
                kind,
                body: body(rng),
            },
        )
    };
    let l1 = agent("L1", rng.below(40));
    c.push((
        l1.clone(),
        Command::Assign {
            agent: l1.id.clone(),
        },
    ));
    c.push(say(&l1, MessageKind::PublicReply, rng));
    c.push(say(&customer, MessageKind::PublicReply, rng));
    let roll = rng.below(100);
    let mut owner = l1.clone();
    if roll >= 80 {
        c.push((
            owner.clone(),
            Command::Escalate {
                to: None,
                reason: "needs L2".into(),
            },
        ));
        owner = agent("L2", rng.below(12));
        c.push((
            owner.clone(),
            Command::Assign {
                agent: owner.id.clone(),
            },
        ));
        c.push(say(&owner, MessageKind::InternalNote, rng));
        if roll >= 95 {
            c.push((
                owner.clone(),
                Command::Escalate {
                    to: None,
                    reason: "needs L3".into(),
                },
            ));
            owner = agent("L3", rng.below(4));
            c.push((
                owner.clone(),
                Command::Assign {
                    agent: owner.id.clone(),
                },
            ));
        }
        if rng.chance(33) {
            c.push((
                owner.clone(),
                Command::StartSwarm {
                    lead: owner.id.clone(),
                    reason: "several customers affected".into(),
                },
            ));
            let experts: Vec<Actor> = (0..1 + rng.below(3)).map(|k| agent("L3", k + 10)).collect();
            for e in &experts {
                c.push((
                    e.clone(),
                    Command::JoinSwarm {
                        agent: e.id.clone(),
                    },
                ));
                c.push(say(e, MessageKind::SwarmChat, rng));
            }
            c.push(say(&owner, MessageKind::SwarmChat, rng));
            for e in &experts {
                c.push((
                    e.clone(),
                    Command::LeaveSwarm {
                        agent: e.id.clone(),
                    },
                ));
            }
        }
    }
    c.push(say(&owner, MessageKind::PublicReply, rng));
    let resolve = |who: &Actor| {
        (
            who.clone(),
            Command::Resolve {
                resolution: "Fixed; see the last reply.".into(),
            },
        )
    };
    c.push(resolve(&owner));
    if rng.chance(4) {
        c.push((
            customer.clone(),
            Command::Reopen {
                reason: "still happens".into(),
            },
        ));
        c.push(say(&owner, MessageKind::PublicReply, rng));
        c.push(resolve(&owner));
    }
    if rng.chance(60) {
        c.push((
            Actor::system(),
            Command::Close {
                reason: "no reply in 7 days".into(),
            },
        ));
    }
    c.reverse();
    Script {
        id,
        case: Case::default(),
        commands: c,
    }
}

/// Writes the log, `open` cases at a time, events interleaved across them.
struct Desk {
    rng: Rng,
    tiers: TierLadder,
    open: Vec<Script>,
    now: Timestamp,
    step_micros: i64,
    position: u64,
    cases: u64,
    refused: u64,
}

impl Desk {
    fn chunk(&mut self, n: usize) -> Vec<RecordedEvent> {
        let mut out = Vec::with_capacity(n + 32);
        while out.len() < n {
            while self.open.len() < 300 {
                self.cases += 1;
                let s = script(&mut self.rng, self.cases);
                self.open.push(s);
            }
            let k = self.rng.below(self.open.len() as u64) as usize;
            let s = &mut self.open[k];
            let Some((actor, command)) = s.commands.pop() else {
                self.open.swap_remove(k);
                continue;
            };
            let commands = match command {
                // Open and route are one write, as the command service makes them.
                Command::Open(o) => vec![Command::Open(o), s.commands.pop().unwrap().1],
                other => vec![other],
            };
            self.now = Timestamp(self.now.0 + self.step_micros);
            let ctx = Context {
                tiers: &self.tiers,
                teams: &Default::default(),
                sla: &SlaConfig::default(),
                actor: &actor,
                now: self.now,
            };
            let Ok(events) = decide_all(&s.case, commands, &ctx) else {
                self.refused += 1;
                continue;
            };
            let meta = Metadata {
                actor: actor.clone(),
                occurred_at: self.now,
                correlation_id: Ulid::new(),
                causation_id: None,
            };
            for e in events {
                self.position += 1;
                let version = s.case.version + 1;
                s.case.apply(&e, version, self.now);
                out.push(RecordedEvent::stored(
                    self.position,
                    Ulid::new(),
                    s.id.stream(),
                    version,
                    meta.clone(),
                    e.record(),
                ));
            }
        }
        out
    }
}

/// Runs `f` `runs` times; returns the best and the median seconds, and its last result.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, f64, T) {
    let mut secs = Vec::new();
    let mut last = None;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        last = Some(f());
        secs.push(t.elapsed().as_secs_f64());
    }
    secs.sort_by(f64::total_cmp);
    (secs[0], secs[secs.len() / 2], last.unwrap())
}

/// `f`'s result and the heap bytes it left live (0 without the counting allocator).
fn with_heap<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = heap();
    let out = f();
    (out, heap().saturating_sub(before))
}

/// Runs `f` once, its seconds pushed onto `secs`; returns its result and the heap
/// bytes it left live.
fn timed<T>(secs: &mut Vec<f64>, f: impl FnOnce() -> T) -> (T, usize) {
    with_heap(|| {
        let t = Instant::now();
        let out = f();
        secs.push(t.elapsed().as_secs_f64());
        out
    })
}

fn main() {
    // As the server's `main` does, so its starts are measured as they run.
    swarmdesk::allocator::configure();
    let opts = Opts::parse();
    match (&opts.start_only, &opts.rebuild_only) {
        (Some(dir), _) => start_only(dir, &opts),
        (None, Some(dir)) => rebuild_only(dir, &opts),
        (None, None) => {
            run(&opts);
        }
    }
}

/// Runs `--start-only` on `dir` in fresh processes: as the server starts (from the
/// log, then from the snapshot the first wrote), and as the previous build kept its
/// projections (every message held; the baseline).
#[cfg(not(test))]
fn fresh_starts(dir: &std::path::Path, opts: &Opts) {
    let exe = std::env::current_exe().unwrap();
    // The first writes a snapshot at its stop, which the third starts from.
    for held in [false, true, false] {
        let mut cmd = std::process::Command::new(&exe);
        cmd.arg("--start-only").arg(dir);
        if let Some(mb) = opts.cache_mb {
            cmd.arg("--cache-mb").arg(mb.to_string());
        }
        if held {
            cmd.arg("--held");
        }
        let status = cmd.status().unwrap();
        assert!(status.success(), "--start-only failed");
    }
}

pub fn run(opts: &Opts) -> Outcome {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let temp = tempfile::Builder::new()
        .prefix("swarmdesk-report-bench-")
        .tempdir()
        .unwrap();
    let dir = opts.keep.as_deref().unwrap_or(temp.path());
    let mut options = SledOptions::default();
    if let Some(mb) = opts.cache_mb {
        options.cache_bytes = mb << 20;
    }
    let store = Arc::new(SledStore::open(dir, options.clone()).unwrap());
    let start = Timestamp(1_767_225_600_000_000); // 2026-01-01T00:00:00Z
    let span_micros = opts.days * 86_400_000_000;
    let mut desk = Desk {
        rng: Rng(0x5eed_f00d_cafe_d00d),
        tiers: TierLadder::standard(),
        open: Vec::new(),
        now: start,
        step_micros: span_micros / opts.events as i64,
        position: 0,
        cases: 0,
        refused: 0,
    };
    let t = Instant::now();
    let mut bytes = 0usize;
    assert_eq!(store.head(), 0, "--keep wants an empty directory");
    while desk.position < opts.events {
        let want = (opts.events - desk.position).min(50_000) as usize;
        let chunk = desk.chunk(want);
        bytes += chunk.iter().map(|r| r.to_bytes().len()).sum::<usize>();
        rt.block_on(store.import(chunk)).unwrap();
    }
    let n = store.head();
    let end = desk.now;
    println!(
        "log: {n} events, {} cases, {} days, {} bytes per record on average \
         ({} scripted commands refused by the domain), built and imported in {:.1} s",
        desk.cases,
        opts.days,
        bytes / n as usize,
        desk.refused,
        t.elapsed().as_secs_f64()
    );

    let runs = opts.runs;
    let rate = |secs: f64| n as f64 / secs / 1e6;
    let (best, median, seen) = time(runs, || {
        let mut seen = 0u64;
        rt.block_on(store.replay(1, &mut |e| {
            seen += e.payload.len().min(1) as u64;
            true
        }))
        .unwrap();
        seen
    });
    assert_eq!(seen, n);
    println!(
        "replay (read + decode in place): best {best:.3} s ({:.2} M events/s), median {median:.3} s",
        rate(best)
    );
    // Start-up as `serve` runs it: the store opened again (sled's cache cold), then
    // the projections' runner started from the log (cold start), and again from the
    // snapshot it wrote at stop. The resident memory after the cold start is the
    // server's: sled's cache and the projections, nothing else held.
    // Each in a fresh process first (its resident memory is the server's).
    #[cfg(not(test))]
    let store = {
        rt.block_on(store.shutdown()).unwrap();
        drop(store);
        fresh_starts(dir, opts);
        let store = Arc::new(SledStore::open(dir, options.clone()).unwrap());
        // An empty snapshot is ignored: the cold start below replays the log.
        rt.block_on(store.save_snapshot(SNAPSHOT_NAME, Vec::new()))
            .unwrap();
        store
    };
    let (store, _) = reopen(&rt, store, dir, &options);
    let resident_open = resident();
    let (runner, cold) = start_runner(&rt, &store);
    let resident_started = resident();
    rt.block_on(runner.stop()).unwrap();
    let snapshot = rt
        .block_on(store.load_snapshot(SNAPSHOT_NAME))
        .unwrap()
        .unwrap();
    let (store, open_secs) = reopen(&rt, store, dir, &options);
    let (runner, warm) = start_runner(&rt, &store);
    rt.block_on(runner.stop()).unwrap();
    println!(
        "start-up: store open {open_secs:.3} s; projections from the log (cold start, \
         sled's cache cold) {cold:.3} s ({:.2} M events/s; target < 2 s), from the snapshot \
         {warm:.3} s (target < 0.5 s; snapshot {} bytes, {} per event)",
        rate(cold),
        snapshot.len(),
        snapshot.len() / n as usize,
    );
    println!(
        "memory: resident after the cold start {} MB, {} bytes per event (target < 300; \
         sled's cache {} MiB); {} MB with the store open, before the projections",
        resident_started >> 20,
        resident_started / n as usize,
        options.cache_bytes >> 20,
        resident_open >> 20,
    );
    drop(snapshot);

    // The projections as the server keeps them, and two baselines (earlier builds):
    // with every index kept event by event, and with every message held in the case
    // views: rebuilt in turns.
    let mut lean_secs = Vec::new();
    let mut each_secs = Vec::new();
    let mut held_secs = Vec::new();
    let mut lean_heap = 0;
    let mut held_heap = 0;
    let mut p = None;
    for _ in 0..runs.max(1) {
        drop(p.take());
        let (held, bytes) = timed(&mut held_secs, || {
            rt.block_on(async {
                let mut p = Projections::with_messages();
                catch_up(store.as_ref(), &mut p).await.map(|()| p)
            })
            .unwrap()
        });
        held_heap = bytes;
        drop(held);
        let (each, _) = timed(&mut each_secs, || {
            rt.block_on(async {
                let mut p = Projections::new();
                apply_log(store.as_ref(), &mut p).await.map(|()| p)
            })
            .unwrap()
        });
        drop(each);
        let (lean, bytes) = timed(&mut lean_secs, || {
            rt.block_on(rebuild(store.as_ref())).unwrap()
        });
        lean_heap = bytes;
        p = Some(lean);
    }
    let p = p.unwrap();
    assert_eq!(p.position(), n);
    let stats = p.stats();
    let spread = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[0], v[v.len() / 2], v[v.len() - 1])
    };
    let (best, median, worst) = spread(&mut lean_secs);
    let (hbest, hmedian, hworst) = spread(&mut held_secs);
    let (xbest, xmedian, xworst) = spread(&mut each_secs);
    println!(
        "rebuild projections: best {best:.3} s ({:.2} M events/s; target 1 M/s), median \
         {median:.3} s, worst {worst:.3} s; baselines: every index kept event by event: best \
         {xbest:.3} s ({:.2} M events/s), median {xmedian:.3} s, worst {xworst:.3} s; with \
         messages held: best {hbest:.3} s ({:.2} M events/s), median {hmedian:.3} s, worst \
         {hworst:.3} s",
        rate(best),
        rate(xbest),
        rate(hbest)
    );
    // What the facts and the timeline hold: the heap bytes of a copy of them.
    let (copy, facts_heap) = with_heap(|| {
        p.case_facts()
            .map(|(_, _, f)| f.clone())
            .collect::<Vec<_>>()
    });
    drop(copy);
    let (timeline, timeline_heap) = with_heap(|| p.timeline().clone());
    drop(timeline);
    println!(
        "memory: projections {} heap bytes per event, of which the report facts {} and the \
         timeline {}; with messages held (baseline) {}",
        lean_heap / n as usize,
        facts_heap / n as usize,
        timeline_heap / n as usize,
        held_heap / n as usize,
    );
    let (ebest, emedian, bytes) = time(runs, || encode_snapshot(&p));
    let (dbest, dmedian, decoded) = time(runs, || decode_snapshot(&bytes).unwrap());
    assert!(decoded == p, "the snapshot decodes to the projections");
    drop(decoded);
    println!(
        "snapshot: {} bytes; encode best {ebest:.3} s (median {emedian:.3} s), decode best \
         {dbest:.3} s (median {dmedian:.3} s)",
        bytes.len()
    );
    drop(bytes);

    let targets = report::default_targets();
    let everyone = |_: CaseId| true;
    let day = |d: i64| Timestamp(start.0 + d * 86_400_000_000);
    let periods = [
        ("last 7 days", Timestamp(end.0 - 7 * 86_400_000_000), end),
        (
            "days 10 to 17",
            day(10.min(opts.days / 3)),
            day(17.min(opts.days * 2 / 3)),
        ),
        ("whole span", start, Timestamp(end.0 + 1)),
    ];
    let mut whole = None;
    for (name, from, to) in periods {
        let (fold_best, _, tracks) = time(runs, || {
            rt.block_on(fold_log(store.as_ref(), from, to, None))
                .unwrap()
        });
        let cases = tracks.len();
        drop(tracks);
        let (best, median, r) = time(runs, || {
            let tracks = rt
                .block_on(fold_log(store.as_ref(), from, to, None))
                .unwrap();
            report::build(
                from,
                to,
                tracks,
                &Scope::default(),
                &targets,
                &everyone,
                &report::clear,
            )
        });
        println!(
            "report by scan, {name}: best {best:.3} s, median {median:.3} s \
             (of which the fold {fold_best:.3} s, over {cases} cases; \
             opened {}, resolved {})",
            r.volume.opened, r.volume.resolved
        );
        let (best, median, (fast, refolded)) =
            time(runs, || fast_report(&rt, &store, &p, from, to));
        assert_eq!(
            fast, r,
            "the report from the projections equals the scan's ({name})"
        );
        println!(
            "report from the projections, {name}: best {best:.3} s, median {median:.3} s \
             ({refolded} cases folded from their streams); equal to the scan's"
        );
        whole = Some(r);
    }
    Outcome {
        events: n,
        cases: stats.cases,
        resolved_by_tier: stats.resolved_by_tier,
        report: whole.unwrap(),
    }
}
