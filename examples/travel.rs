//! Time travel on a large log: how long `tierQueueAt`, `workloadAt` and `caseAt(at)`
//! take on a log of `--events` (1 M by default) realistic case events.
//!
//! ```sh
//! cargo run --release --example travel                   # 1 M events
//! cargo run --release --example travel -- --events 200000
//! ```
//!
//! The log is decided by the domain itself (open and route, assign, replies, an
//! escalation, a swarm with chat, a priority change, resolve, sometimes close), with
//! `--active` cases worked at a time, so queues hold a few hundred open cases at any
//! moment as on a busy desk; it is imported into a sled store in a temporary
//! directory. Each query is then timed both ways: by a fold of the log from its start
//! into fresh projections up to the moment asked (`projections_until`, the reference,
//! what `Desk::projections_at` runs), and the way the API runs `tierQueueAt`,
//! `workloadAt` and `swarmRoomAt` (`Desk::indexes_at`): the live projections' timeline
//! names the position and the cases in a queue, swarm or workload then, and only
//! their streams are folded up to it (checked equal to the reference). `caseAt(at)`
//! folds the one case's stream up to it (`view_where`). Times at a quarter, half and
//! all of the log; each the best of `--runs`; and the replay rate of the same store.

use clap::Parser;
use std::time::{Duration, Instant};
use swarmdesk::app::travel::{fold_cases, past_cases, projections_until, Until};
use swarmdesk::app::Recordable;
use swarmdesk::domain::{
    decide_all, Actor, AgentId, Case, CaseId, Channel, Command, Context, Customer, MessageKind,
    OpenCase, Priority, Role, RouteCase, Segment, SlaConfig, Tier, TierLadder, Timestamp,
};
use swarmdesk::projection::runner::rebuild;
use swarmdesk::projection::Projections;
use swarmdesk::store::sled_store::{SledOptions, SledStore};
use swarmdesk::store::{EventStore, Metadata, RecordedEvent};
use ulid::Ulid;

/// The time of the log's first event.
const START: i64 = 1_767_603_600_000_000;

#[derive(Parser)]
pub struct Args {
    /// Events in the log (about).
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Cases worked at the same time.
    #[arg(long, default_value_t = 300)]
    pub active: usize,
    /// Runs per measurement; the best is printed.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
}

/// A case being worked: its id, its state, and its commands still to come.
type Working = (CaseId, Case, Vec<(Actor, Command)>);

/// One case's commands, last first (popped as they are done).
fn script(i: usize, id: CaseId) -> Vec<(Actor, Command)> {
    let agents = ["ana", "bo", "chen", "dara", "eli", "farah", "gus", "hana"];
    let agent = |k: usize| AgentId::new(agents[(i + k) % agents.len()]).unwrap();
    let actor = |k: usize| Actor {
        id: agent(k),
        role: Role::Agent,
    };
    let say = |k: usize, kind: MessageKind, body: &str| {
        (
            actor(k),
            Command::PostMessage {
                kind,
                body: body.into(),
            },
        )
    };
    let open = OpenCase {
        case_id: id,
        subject: format!("Invoice export fails for workspace {i}"),
        body: "The CSV export of invoices stops at 50%.".into(),
        channel: Channel::Email,
        customer: Customer {
            id: format!("cust-{}", i % 500),
            name: "Northwind".into(),
            segment: Segment::B2b,
            key_account: i.is_multiple_of(9),
        },
        language: "en".into(),
        priority: Priority::Normal,
        tags: vec!["billing".into()],
        requested_priority: None,
    };
    let route = RouteCase {
        tier: Tier::new("L1"),
        team: Some("billing".into()),
        priority: None,
        tags: vec![],
        sensitive: false,
        rule_id: Some("billing".into()),
        rule_set_version: Some(1),
    };
    let mut s = vec![
        (Actor::system(), Command::Open(open)),
        (Actor::system(), Command::Route(route)),
        (actor(0), Command::Assign { agent: agent(0) }),
        say(
            0,
            MessageKind::PublicReply,
            "Thanks, we are looking into it.",
        ),
        (
            actor(0),
            Command::Escalate {
                to: None,
                reason: "export internals".into(),
            },
        ),
        (
            actor(1),
            Command::StartSwarm {
                lead: agent(1),
                reason: "many affected".into(),
            },
        ),
        (actor(2), Command::JoinSwarm { agent: agent(2) }),
        say(1, MessageKind::SwarmChat, "timeouts start at the PDF step"),
        say(2, MessageKind::SwarmChat, "the job queue is saturated"),
        (
            actor(1),
            Command::ChangePriority {
                priority: Priority::High,
                reason: "key accounts".into(),
            },
        ),
        say(
            0,
            MessageKind::PublicReply,
            "A fix is deployed; please retry.",
        ),
        (
            actor(0),
            Command::Resolve {
                resolution: "Raised the export job timeout.".into(),
            },
        ),
    ];
    if i.is_multiple_of(3) {
        s.push((
            actor(0),
            Command::Close {
                reason: "confirmed".into(),
            },
        ));
    }
    s.reverse();
    s
}

/// Writes about `events` events into `store`, `active` cases at a time; returns the
/// ids of the cases and the time of the last event. With `finish` every case started
/// is worked to its end; without, the log stops at `events` with the cases being
/// worked left as they are (open, in queues and swarms, as on a desk at work).
pub async fn write_log(
    store: &SledStore,
    events: u64,
    active: usize,
    finish: bool,
) -> (Vec<CaseId>, Timestamp) {
    let tiers = TierLadder::standard();
    let mut now = Timestamp(START);
    let mut position = 0u64;
    let mut ids = Vec::new();
    let mut working: Vec<Working> = Vec::new();
    let mut batch = Vec::new();
    while position < events || (finish && !working.is_empty()) {
        while working.len() < active && position < events {
            let id = CaseId(Ulid::new());
            working.push((id, Case::default(), script(ids.len(), id)));
            ids.push(id);
        }
        for (id, case, script) in working.iter_mut() {
            let Some((actor, command)) = script.pop() else {
                continue;
            };
            now = now.plus_secs(3);
            let commands = match command {
                Command::Open(o) => vec![Command::Open(o), script.pop().unwrap().1],
                other => vec![other],
            };
            let ctx = Context {
                tiers: &tiers,
                teams: &Default::default(),
                sla: &SlaConfig::default(),
                actor: &actor,
                now,
            };
            let decided = decide_all(case, commands, &ctx).expect("a valid script");
            let metadata = Metadata {
                actor,
                occurred_at: now,
                correlation_id: Ulid::new(),
                causation_id: None,
            };
            for e in decided {
                position += 1;
                let version = case.version + 1;
                case.apply(&e, version, now);
                batch.push(RecordedEvent::stored(
                    position,
                    Ulid::new(),
                    id.stream(),
                    version,
                    metadata.clone(),
                    e.record(),
                ));
            }
        }
        working.retain(|(_, _, s)| !s.is_empty());
        if batch.len() >= 20_000 {
            store
                .import(std::mem::take(&mut batch))
                .await
                .expect("import");
        }
    }
    store.import(batch).await.expect("import");
    (ids, now)
}

/// The best of `runs` timings of `f`, and its last result.
async fn best<T, F: std::future::Future<Output = T>>(
    runs: usize,
    mut f: impl FnMut() -> F,
) -> (Duration, T) {
    let mut fastest = Duration::MAX;
    let mut last = None;
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        let out = f().await;
        fastest = fastest.min(started.elapsed());
        last = Some(out);
    }
    (fastest, last.expect("one run"))
}

/// One point of the log a query was timed at.
pub struct Measure {
    pub label: &'static str,
    /// The position the fold stopped at.
    pub position: u64,
    /// `tierQueueAt`/`workloadAt`: the fold up to that moment.
    pub fold: Duration,
    pub l2_queue: usize,
    /// `tierQueueAt`/`workloadAt` as the API runs them: the cases the timeline names,
    /// folded from their streams.
    pub fast: Duration,
    /// How many cases that fold read.
    pub fast_cases: usize,
    /// `caseAt(at)` of a case opened then.
    pub case_at: Duration,
}

/// The queues, swarms and workloads at `until` as `Desk::indexes_at` makes them.
async fn indexes_at(store: &SledStore, live: &Projections, until: Until) -> (Projections, usize) {
    let (position, ids) = past_cases(live, until);
    let mut records = Vec::new();
    for id in &ids {
        for r in store
            .read_stream(&id.stream(), 1, usize::MAX)
            .await
            .expect("read")
        {
            if r.position > position {
                break;
            }
            records.push(r);
        }
    }
    (fold_cases(records, position).expect("fold"), ids.len())
}

/// What `tierQueueAt` and `workloadAt` answer from: every queue in order, every load.
fn answers(p: &Projections) -> String {
    let queues: Vec<(String, Vec<CaseId>)> = ["L1", "L2", "L3"]
        .iter()
        .map(|t| {
            let q = p.tier_queue(&Tier::new(*t)).filter_map(|v| v.case.id);
            (t.to_string(), q.collect())
        })
        .collect();
    let loads: Vec<_> = p.workloads().collect();
    format!("{queues:?} {loads:?}")
}

/// Writes the log, times the queries and checks their answers: the fold by time stops
/// at the last event of that moment and agrees with the fold up to that position, and
/// `caseAt` finds the case.
pub async fn run(args: Args) -> Result<(u64, Vec<Measure>), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let store = SledStore::open(dir.path(), SledOptions::default()).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let (ids, end) = write_log(&store, args.events, args.active, true).await;
    let head = store.head();
    let begin = Timestamp(START);
    println!(
        "log: {head} events over {} cases, written in {:.1} s",
        ids.len(),
        started.elapsed().as_secs_f64()
    );
    let l2 = Tier::new("L2");
    let (replay, visited) = best(args.runs, || async {
        let mut seen = 0u64;
        store
            .replay(1, &mut |e| {
                seen += e.payload.len().min(1) as u64;
                true
            })
            .await
            .expect("replay");
        seen
    })
    .await;
    let (startup, live) = best(1, || async { rebuild(&store).await.expect("rebuild") }).await;
    println!(
        "replay (read + decode in place): {:.3} s ({:.2} M events/s); the live projections \
         (what a server keeps, rebuilt once at start): {:.3} s",
        replay.as_secs_f64(),
        visited as f64 / replay.as_secs_f64() / 1e6,
        startup.as_secs_f64()
    );
    let mut out = Vec::new();
    for (label, fraction) in [("a quarter", 4), ("half", 2), ("all", 1)] {
        let at = Timestamp(begin.0 + (end.0 - begin.0) / fraction);
        let (fold, p) = best(args.runs, || async {
            projections_until(&store, Until::Time(at))
                .await
                .expect("fold")
        })
        .await;
        // The same moment by position: every event up to the last one at or before it.
        let by_position = projections_until(&store, Until::Position(p.position()))
            .await
            .map_err(|e| e.to_string())?;
        let next = store
            .read_all(p.position() + 1, 1)
            .await
            .map_err(|e| e.to_string())?;
        if next.first().is_some_and(|e| e.metadata.occurred_at <= at)
            || by_position.tier_queue(&l2).count() != p.tier_queue(&l2).count()
        {
            return Err(format!(
                "the fold at {label} of the log stopped in the wrong place"
            ));
        }
        let (fast, (past, fast_cases)) = best(args.runs, || async {
            indexes_at(&store, &live, Until::Time(at)).await
        })
        .await;
        if answers(&past) != answers(&p) {
            return Err(format!(
                "the queues and workloads at {label} of the log differ from the fold's"
            ));
        }
        let case = ids[(ids.len() / fraction as usize).saturating_sub(1)];
        let (case_at, found) = best(args.runs, || async {
            let mut past = Projections::with_messages();
            for r in store
                .read_stream(&case.stream(), 1, usize::MAX)
                .await
                .expect("read")
            {
                if r.metadata.occurred_at <= at {
                    past.apply(&r).expect("apply");
                }
            }
            past.case(case).is_some()
        })
        .await;
        if !found {
            return Err(format!("caseAt found no case {case} at {label} of the log"));
        }
        let m = Measure {
            label,
            position: p.position(),
            fold,
            l2_queue: p.tier_queue(&l2).count(),
            fast,
            fast_cases,
            case_at,
        };
        println!(
            "at {} of the log (position {}): fold of the log {:.3} s ({:.2} M events/s; \
             L2 queue {} cases); tierQueueAt / workloadAt as the API runs them {:.2} ms \
             ({} cases folded, same answers); caseAt(at) of a case opened then: {:.2} ms",
            m.label,
            m.position,
            m.fold.as_secs_f64(),
            m.position as f64 / m.fold.as_secs_f64() / 1e6,
            m.l2_queue,
            m.fast.as_secs_f64() * 1e3,
            m.fast_cases,
            m.case_at.as_secs_f64() * 1e3
        );
        out.push(m);
    }
    store.shutdown().await.map_err(|e| e.to_string())?;
    Ok((head, out))
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
