//! Exactness of the fast paths over random scripted histories: a report read from the
//! facts projection equals the report folded from the log ([`crate::report::fold`], the
//! reference), for many periods; and the queues, swarm rooms and workloads folded
//! from the cases the timeline names equal those of the whole log folded up to the
//! same position or moment.

use std::collections::{BTreeMap, HashMap};

use super::*;
use crate::app::travel::{fold_cases, past_cases, Until};
use crate::app::Recordable;
use crate::domain::{
    decide_all, Actor, Channel, Command, Context, Customer, OpenCase, Role, RouteCase, Segment,
    SlaConfig, SlaKind, SlaPolicy, TierLadder,
};
use crate::report::fold::{Folder, Track};
use crate::report::{self, Scope};
use crate::store::{Metadata, RecordedEvent};

/// xorshift: every seed gives the same history on every run.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub(super) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const AGENTS: [&str; 4] = ["ana", "bo", "chen", "dara"];
const T0: i64 = 1_800_000_000_000_000;

fn sla() -> SlaConfig {
    SlaConfig {
        policies: vec![SlaPolicy {
            id: "standard".into(),
            name: "Standard".into(),
            priorities: vec![],
            segments: vec![],
            first_response_mins: Some(10),
            resolution_mins: Some(60),
            calendar: None,
            escalation: vec![],
        }],
        ..SlaConfig::default()
    }
}

fn random_command(rng: &mut Rng, case: &Case) -> (Actor, Command) {
    let agent = AgentId::new(*rng.pick(&AGENTS)).unwrap();
    let staff = Actor {
        id: agent.clone(),
        role: Role::Agent,
    };
    let customer = Actor {
        id: AgentId::new(case.customer.as_ref().map_or("cust", |c| c.id.as_str())).unwrap(),
        role: Role::Customer,
    };
    let text = |s: &str| s.to_string();
    let kind = *rng.pick(&[
        MessageKind::PublicReply,
        MessageKind::InternalNote,
        MessageKind::SwarmChat,
    ]);
    match rng.below(17) {
        0 | 1 => (staff, Command::Assign { agent }),
        2 => (staff, Command::Unassign),
        3 | 4 => (
            staff,
            Command::PostMessage {
                kind,
                body: text("looking into it"),
            },
        ),
        5 => (
            customer,
            Command::PostMessage {
                kind: MessageKind::PublicReply,
                body: text("still broken"),
            },
        ),
        6 => (
            staff,
            Command::Escalate {
                to: None,
                reason: text("harder"),
            },
        ),
        7 => (
            staff,
            Command::Deescalate {
                to: None,
                reason: text("known fix"),
            },
        ),
        8 => (
            staff,
            Command::StartSwarm {
                lead: agent,
                reason: text("many affected"),
            },
        ),
        9 => (staff, Command::JoinSwarm { agent }),
        10 => (staff, Command::LeaveSwarm { agent }),
        11 => (
            staff,
            Command::ChangePriority {
                priority: *rng.pick(&[Priority::Urgent, Priority::High, Priority::Low]),
                reason: text("impact"),
            },
        ),
        12 | 13 => (
            staff,
            Command::Resolve {
                resolution: text("fixed"),
            },
        ),
        14 => (
            customer,
            Command::Reopen {
                reason: text("again"),
            },
        ),
        15 => (
            Actor::system(),
            Command::Close {
                reason: text("quiet"),
            },
        ),
        _ => (
            Actor::system(),
            Command::RecordSlaBreach {
                kind: *rng.pick(&[SlaKind::FirstResponse, SlaKind::Resolution]),
            },
        ),
    }
}

/// A desk's log: a few cases opened over time and worked in random order by random
/// commands (those the domain refuses are skipped), times moving 0 to 15 minutes
/// per command (often several events at one time). `backwards`: sometimes the clock
/// steps back (for the time index).
pub(super) fn history(seed: u64, commands: usize, backwards: bool) -> Vec<RecordedEvent> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let tiers = TierLadder::standard();
    let sla = sla();
    let mut cases: Vec<(CaseId, Case)> = Vec::new();
    let mut now = Timestamp(T0);
    let mut out = Vec::new();
    for i in 0..commands {
        now = Timestamp(now.0 + rng.below(4) as i64 * rng.below(300) as i64 * 1_000_000);
        if backwards && rng.below(10) == 0 {
            now = Timestamp(now.0 - rng.below(600) as i64 * 1_000_000);
        }
        let (k, actor, commands) = if cases.is_empty() || rng.below(6) == 0 {
            let id = CaseId(ulid::Ulid::from_parts(seed, i as u128));
            let open = OpenCase {
                case_id: id,
                subject: format!("Invoice export fails {}", rng.below(3)),
                body: "b".into(),
                channel: Channel::Email,
                customer: Customer {
                    id: format!("cust-{}", rng.below(2)),
                    name: "C".into(),
                    segment: Segment::B2b,
                    key_account: false,
                },
                language: "en".into(),
                priority: Priority::Normal,
                tags: vec![rng.pick(&["billing", "export"]).to_string()],
                requested_priority: None,
            };
            let route = RouteCase {
                tier: Tier::new(*rng.pick(&["L1", "L1", "L2"])),
                team: rng.pick(&[None, Some("billing".to_string())]).clone(),
                priority: None,
                tags: vec![],
                // Some private cases (without a draw, so the histories stay the same).
                sensitive: i % 7 == 3,
                rule_id: None,
                rule_set_version: None,
            };
            cases.push((id, Case::default()));
            (
                cases.len() - 1,
                Actor::system(),
                vec![Command::Open(open), Command::Route(route)],
            )
        } else {
            let k = rng.below(cases.len() as u64) as usize;
            let (actor, command) = random_command(&mut rng, &cases[k].1);
            (k, actor, vec![command])
        };
        let (id, case) = &mut cases[k];
        let ctx = Context {
            tiers: &tiers,
            teams: &Default::default(),
            sla: &sla,
            actor: &actor,
            now,
        };
        let Ok(events) = decide_all(case, commands, &ctx) else {
            continue;
        };
        let metadata = Metadata {
            actor: actor.clone(),
            occurred_at: now,
            correlation_id: ulid::Ulid::nil(),
            causation_id: None,
        };
        for e in events {
            let version = case.version + 1;
            case.apply(&e, version, now);
            out.push(RecordedEvent::stored(
                out.len() as u64 + 1,
                ulid::Ulid::nil(),
                id.stream(),
                version,
                metadata.clone(),
                e.record(),
            ));
        }
    }
    out
}

fn decoded(r: &RecordedEvent) -> (CaseId, CaseEvent) {
    let id = CaseId::from_stream(&r.stream).unwrap();
    let e = CaseEvent::decode(&r.event_type, r.schema_version, &r.payload).unwrap();
    (id, e)
}

/// The reference: the log folded by the scan.
fn scanned(log: &[RecordedEvent], from: Timestamp, to: Timestamp, scope: &Scope) -> report::Report {
    let mut folder = Folder::new(from, to);
    for r in log {
        let (id, e) = decoded(r);
        folder.apply(id, &e, r.version, r.metadata.occurred_at);
    }
    report::build(
        from,
        to,
        folder.finish(),
        scope,
        &report::default_targets(),
        &|_| true,
        &report::clear,
    )
}

/// The fast path, with the cases it names folded from their own events.
fn fast(
    p: &Projections,
    log: &[RecordedEvent],
    from: Timestamp,
    to: Timestamp,
    scope: &Scope,
) -> report::Report {
    let mut folded: HashMap<CaseId, Track> = HashMap::new();
    for id in report::fast::to_fold(p, to) {
        let events: Vec<(CaseEvent, u64, Timestamp)> = log
            .iter()
            .filter(|r| CaseId::from_stream(&r.stream) == Some(id))
            .map(|r| (decoded(r).1, r.version, r.metadata.occurred_at))
            .collect();
        let track =
            report::fast::fold_case(id, from, to, events.iter().map(|(e, v, at)| (e, *v, *at)));
        folded.insert(id, track);
    }
    report::fast::report(
        p,
        from..to,
        &folded,
        scope,
        &report::default_targets(),
        &|_| true,
        &report::clear,
    )
}

pub(super) fn projections_of(log: &[RecordedEvent]) -> Projections {
    let mut p = Projections::new();
    for r in log {
        p.apply(r).unwrap();
    }
    p
}

#[test]
fn reports_from_the_facts_equal_reports_folded_from_the_log() {
    let scopes = [
        Scope::default(),
        Scope {
            tiers: Some([Tier::new("L2")].into()),
            teams: None,
        },
        Scope {
            tiers: None,
            teams: Some(["billing".to_string()].into()),
        },
    ];
    let mut compared = 0;
    for seed in 1..=60u64 {
        let log = history(seed, 150, false);
        let p = projections_of(&log);
        let mut rng = Rng(seed + 7);
        // Periods around event times (ties included), and ones before and after all.
        let times: Vec<Timestamp> = log.iter().map(|r| r.metadata.occurred_at).collect();
        let moment = |rng: &mut Rng| match rng.below(4) {
            0 => Timestamp(T0 - 1),
            1 => Timestamp(times[times.len() - 1].0 + 1),
            2 => Timestamp(rng.pick(&times).0 + 1),
            _ => *rng.pick(&times),
        };
        for _ in 0..12 {
            let (a, b) = (moment(&mut rng), moment(&mut rng));
            let (from, to) = (a.min(b), Timestamp(a.max(b).0 + 1));
            for scope in &scopes {
                let want = scanned(&log, from, to, scope);
                let got = fast(&p, &log, from, to, scope);
                assert_eq!(got, want, "seed {seed}, period {from:?}..{to:?}");
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 60 * 12 * 3);
}

/// What time travel answers from: each tier's queue in order, each agent's workload,
/// each swarm room.
fn indexes(p: &Projections, ids: &[CaseId]) -> String {
    let mut out = String::new();
    for t in ["L0", "L1", "L2", "L3"] {
        let q: Vec<CaseId> = p
            .tier_queue(&Tier::new(t))
            .filter_map(|v| v.case.id)
            .collect();
        out += &format!("{t}: {q:?}\n");
    }
    let w: BTreeMap<&AgentId, &Workload> = p.workloads().collect();
    out += &format!("workload: {w:?}\n");
    for id in ids {
        if let Some(room) = p.swarm_room(*id) {
            out += &format!("room {id}: {:?}\n", room.view);
        }
    }
    out
}

fn by_time(log: &[RecordedEvent], at: Timestamp) -> u64 {
    log.iter()
        .find(|r| r.metadata.occurred_at > at)
        .map_or(log.len() as u64, |r| r.position - 1)
}

#[test]
fn time_travel_through_the_timeline_equals_the_fold_of_the_log() {
    for seed in 1..=40u64 {
        let log = history(seed, 120, seed % 2 == 0);
        let p = projections_of(&log);
        let ids: Vec<CaseId> = log
            .iter()
            .filter_map(|r| CaseId::from_stream(&r.stream))
            .collect();
        // The reference (as `projections_until` folds it), one event further at each step.
        let mut full = Projections::with_messages();
        for position in 0..=log.len() as u64 {
            if position > 0 {
                full.apply(&log[position as usize - 1]).unwrap();
            }
            let (at, selected) = past_cases(&p, Until::Position(position));
            assert_eq!(at, position);
            let records = log
                .iter()
                .filter(|r| selected.contains(&CaseId::from_stream(&r.stream).unwrap()))
                .cloned()
                .collect();
            let past = fold_cases(records, position).unwrap();
            assert_eq!(
                indexes(&past, &ids),
                indexes(&full, &ids),
                "seed {seed}, position {position}"
            );
            for id in &selected {
                assert_eq!(past.case(*id), full.case(*id), "seed {seed}, {id}");
            }
        }
        // By time: the same prefix as the fold that stops at the first later event.
        for r in &log {
            for at in [
                r.metadata.occurred_at,
                Timestamp(r.metadata.occurred_at.0 - 1),
            ] {
                let (position, _) = past_cases(&p, Until::Time(at));
                assert_eq!(position, by_time(&log, at), "seed {seed}, {at:?}");
            }
        }
    }
}

#[test]
fn the_live_facts_and_timeline_survive_a_snapshot() {
    let log = history(3, 150, false);
    let p = projections_of(&log);
    let bytes = runner::encode_snapshot(&p);
    assert_eq!(runner::decode_snapshot(&bytes), Some(p));
}
