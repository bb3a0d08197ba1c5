//! Report benchmark: builds a realistic log of `--events` events (1 M by default) in a
//! temporary sled store, then times, in the same run:
//!
//! 1. the store's replay rate: every event read and decoded in place, nothing applied
//!    (the floor any scan of the log pays);
//! 2. `rebuild`: the projections replayed from the log (the same scan, applied);
//! 3. `report` by a scan, as the server computes it: the log folded up to the end of
//!    the period ([`fold_log`]), then the figures built ([`report::build`]), for the
//!    last 7 days and for the whole span.
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
use std::sync::Arc;
use std::time::Instant;
use swarmdesk::app::fold_log;
use swarmdesk::domain::{
    decide_all, Actor, AgentId, Case, CaseId, Channel, Command, Context, Customer, MessageKind,
    OpenCase, Priority, Role, RouteCase, Segment, SlaConfig, Tier, TierLadder, Timestamp,
};
use swarmdesk::projection::runner::rebuild;
use swarmdesk::report::{self, Scope};
use swarmdesk::store::sled_store::{SledOptions, SledStore};
use swarmdesk::store::{EventStore, Metadata, RecordedEvent};
use ulid::Ulid;

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
                out.push(RecordedEvent {
                    position: self.position,
                    id: Ulid::new(),
                    stream: s.id.stream(),
                    version,
                    event_type: e.event_type().into(),
                    schema_version: e.schema_version(),
                    metadata: meta.clone(),
                    payload: e.encode(),
                });
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

fn main() {
    run(&Opts::parse());
}

pub fn run(opts: &Opts) -> Outcome {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::Builder::new()
        .prefix("swarmdesk-report-bench-")
        .tempdir()
        .unwrap();
    let store = Arc::new(SledStore::open(dir.path(), SledOptions::default()).unwrap());
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
    let (best, median, p) = time(runs, || rt.block_on(rebuild(store.as_ref())).unwrap());
    assert_eq!(p.position(), n);
    let stats = p.stats();
    drop(p);
    println!(
        "rebuild projections: best {best:.3} s ({:.2} M events/s), median {median:.3} s",
        rate(best)
    );

    let targets = report::default_targets();
    let everyone = |_: CaseId| true;
    let periods = [
        ("last 7 days", Timestamp(end.0 - 7 * 86_400_000_000), end),
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
            report::build(from, to, tracks, &Scope::default(), &targets, &everyone)
        });
        println!(
            "report by scan, {name}: best {best:.3} s, median {median:.3} s \
             (of which the fold {fold_best:.3} s, over {cases} cases; \
             opened {}, resolved {})",
            r.volume.opened, r.volume.resolved
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
