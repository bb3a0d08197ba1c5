//! The listing indexes answer `cases` pages exactly as the scan does
//! ([`Projections::cases_scan`], the reference): over random histories, for every
//! filter and combinations, for callers of every role (each walking the index sets
//! [`crate::policy::read_scope`] names), page after page by cursor; live, rebuilt from
//! the log, and after a snapshot round trip.

use super::history_tests::{history, projections_of};
use super::listing::Among;
use super::runner::{self, decode_snapshot, decode_snapshot_for, encode_snapshot};
use super::*;
use crate::auth::Principal;
use crate::domain::{Actor, Role, TierLadder};
use crate::policy;
use crate::store::RecordedEvent;

fn principal(role: Role, id: &str, tiers: &[&str]) -> Principal {
    Principal {
        actor: Actor {
            id: AgentId::new(id).unwrap(),
            role,
        },
        tiers: tiers.iter().map(|t| Tier::new(*t)).collect(),
        token_id: None,
    }
}

pub(super) fn callers() -> Vec<Principal> {
    vec![
        principal(Role::Admin, "root", &[]),
        principal(Role::Auditor, "audit", &[]),
        principal(Role::Customer, "cust-0", &[]),
        principal(Role::Customer, "nobody", &[]),
        principal(Role::Agent, "ana", &["L1"]),
        principal(Role::Agent, "bo", &["L2"]),
        principal(Role::Agent, "chen", &["L3"]),
        principal(Role::Agent, "dara", &[]),
        principal(Role::Lead, "ana", &["L2"]),
        principal(Role::Lead, "bo", &["L1"]),
        principal(Role::Lead, "eve", &[]),
    ]
}

fn filters() -> Vec<CaseFilter> {
    let f = CaseFilter::default;
    let agent = |a: &str| Some(AgentId::new(a).unwrap());
    let mut out = vec![f()];
    for s in [Status::Open, Status::Resolved, Status::Closed] {
        out.push(CaseFilter {
            status: Some(s),
            ..f()
        });
    }
    for t in ["L1", "L2", "L3"] {
        out.push(CaseFilter {
            tier: Some(Tier::new(t)),
            ..f()
        });
    }
    for p in [
        Priority::Urgent,
        Priority::High,
        Priority::Normal,
        Priority::Low,
    ] {
        out.push(CaseFilter {
            priority: Some(p),
            ..f()
        });
    }
    for t in ["billing", "export", "vip", "none"] {
        out.push(CaseFilter {
            tag: Some(t.into()),
            ..f()
        });
    }
    for a in ["ana", "bo", "chen", "dara", "eve"] {
        out.push(CaseFilter {
            assignee: agent(a),
            ..f()
        });
    }
    for c in ["cust-0", "cust-1", "nobody"] {
        out.push(CaseFilter {
            customer: Some(c.into()),
            ..f()
        });
    }
    out.extend([
        CaseFilter {
            team: Some("billing".into()),
            ..f()
        },
        CaseFilter {
            team: Some("none".into()),
            ..f()
        },
        CaseFilter {
            status: Some(Status::Open),
            tier: Some(Tier::new("L2")),
            ..f()
        },
        CaseFilter {
            status: Some(Status::Resolved),
            tag: Some("billing".into()),
            assignee: agent("ana"),
            customer: Some("cust-1".into()),
            ..f()
        },
        CaseFilter {
            team: Some("billing".into()),
            priority: Some(Priority::Normal),
            text: Some("FAILS 1".into()),
            ..f()
        },
        CaseFilter {
            text: Some("fails 2".into()),
            ..f()
        },
    ]);
    out
}

type Page = (Vec<CaseId>, bool);

fn ids((page, more): (Vec<&CaseView>, bool)) -> Page {
    (page.iter().map(|v| v.case.id.unwrap()).collect(), more)
}

/// Every page of `first` cases, by cursor, both ways; they must agree page by page.
pub(super) fn compare_pages(
    p: &Projections,
    who: &Principal,
    filter: &CaseFilter,
    first: usize,
) -> usize {
    let ladder = TierLadder::standard();
    let among = policy::read_scope(who, &ladder);
    let visible = |c: &Case| policy::can_read(who, c, &ladder);
    let mut after = None;
    let mut listed = 0;
    loop {
        let indexed = ids(p.cases_visible(filter, &among, after, first, &visible));
        let scanned = ids(p.cases_scan(filter, after, first, &visible));
        assert_eq!(
            indexed, scanned,
            "{:?} {:?} filter {filter:?} first {first} after {after:?}",
            who.actor, who.tiers
        );
        listed += indexed.0.len();
        if !indexed.1 {
            return listed;
        }
        after = indexed.0.last().copied();
    }
}

/// `log` with events the random commands never give appended to random cases:
/// tags added and removed, teams changed, agents invited (some cleared into a
/// private case).
fn with_moves(mut log: Vec<RecordedEvent>, seed: u64) -> Vec<RecordedEvent> {
    use crate::app::Recordable;
    use crate::domain::event::{TagRef, TeamChanged};
    use crate::domain::swarming::events::SwarmInvited;
    let mut versions: BTreeMap<String, u64> = BTreeMap::new();
    for r in &log {
        versions.insert(r.stream.clone(), r.version);
    }
    let streams: Vec<String> = versions.keys().cloned().collect();
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut below = |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    let tags = ["billing", "export", "vip"];
    let agents = ["ana", "bo", "chen", "dara", "eve"];
    let last = log.last().map(|r| r.metadata.clone()).expect("a history");
    for _ in 0..120 {
        let stream = &streams[below(streams.len())];
        let agent = AgentId::new(agents[below(agents.len())]).unwrap();
        let event = match below(5) {
            0 => CaseEvent::Tagged(TagRef {
                tag: tags[below(3)].into(),
            }),
            1 | 2 => CaseEvent::Untagged(TagRef {
                tag: tags[below(3)].into(),
            }),
            3 => CaseEvent::TeamChanged(TeamChanged {
                from: None,
                to: [None, Some("billing".to_string()), Some("none".to_string())][below(3)].clone(),
            }),
            _ => CaseEvent::SwarmInvited(SwarmInvited {
                agents: vec![agent.clone()],
                by: AgentId::new("ana").unwrap(),
                note: String::new(),
                auto_replace: false,
                expires_at: None,
                cleared: vec![agent],
                reason: Some("needed".into()),
            }),
        };
        let version = versions.get_mut(stream).unwrap();
        *version += 1;
        log.push(RecordedEvent::stored(
            log.len() as u64 + 1,
            ulid::Ulid::nil(),
            stream.clone(),
            *version,
            last.clone(),
            event.record(),
        ));
    }
    log
}

#[test]
fn indexed_pages_equal_the_scan_live_rebuilt_and_from_a_snapshot() {
    let (callers, filters) = (callers(), filters());
    let mut listed = 0;
    for seed in 1..=12u64 {
        let log = with_moves(history(seed, 250, false), seed);
        let live = projections_of(&log);
        // Each event applied with its changes described takes the other path.
        let mut described = Projections::new();
        let mut changes = Vec::new();
        for r in &log {
            described.apply_with(r.view(), Some(&mut changes)).unwrap();
        }
        assert_eq!(live, described);
        // A long replay builds the indexes once at its end (`defer_indexes`), also
        // from a snapshot taken a third of the way.
        let mut deferred = Projections::new();
        deferred.defer_indexes();
        for r in &log {
            deferred.apply(r).unwrap();
        }
        deferred.index_all();
        assert_eq!(
            live, deferred,
            "the indexes built after a deferred replay differ"
        );
        // A snapshot decoded for a catch-up that will defer leaves the listing to it.
        let third = projections_of(&log[..log.len() / 3]);
        let far = third.position() + runner::DEFER_INDEXES_AFTER + 1;
        let mut deferred = decode_snapshot_for(&encode_snapshot(&third), far).expect("a snapshot");
        assert!(deferred.deferred && deferred.listing.is_empty());
        let near = decode_snapshot_for(&encode_snapshot(&third), far - 1).expect("a snapshot");
        assert_eq!(
            near, third,
            "a short catch-up gets the listing built on load"
        );
        for r in &log[log.len() / 3..] {
            deferred.apply(r).unwrap();
        }
        deferred.index_all();
        assert_eq!(
            live, deferred,
            "the indexes built after a deferred catch-up differ"
        );
        let restored = decode_snapshot(&encode_snapshot(&live)).expect("a snapshot");
        assert_eq!(live, restored, "the listing rebuilt on load differs");
        // A snapshot taken half way, then the rest of the log applied.
        let mut half = projections_of(&log[..log.len() / 2]);
        half = decode_snapshot(&encode_snapshot(&half)).expect("a snapshot");
        for r in &log[log.len() / 2..] {
            half.apply(r).unwrap();
        }
        assert_eq!(live, half);
        for p in [&live, &restored] {
            for who in &callers {
                for filter in &filters {
                    for first in [1, 4, 50] {
                        listed += compare_pages(p, who, filter, first);
                    }
                }
            }
        }
    }
    assert!(
        listed > 10_000,
        "the histories list too few cases: {listed}"
    );
}

/// A cursor that is not a listed case (another caller's, or none at all) starts the
/// page at its place in the order, as the scan does.
#[test]
fn any_cursor_starts_the_page_where_the_scan_does() {
    let log = history(7, 300, false);
    let p = projections_of(&log);
    let ladder = TierLadder::standard();
    let mut cursors: Vec<CaseId> = p.cases.keys().copied().collect();
    cursors.push(CaseId(ulid::Ulid::nil()));
    cursors.push(CaseId(ulid::Ulid::from_parts(u64::MAX >> 16, 0)));
    for who in callers() {
        let among = policy::read_scope(&who, &ladder);
        let visible = |c: &Case| policy::can_read(&who, c, &ladder);
        for after in &cursors {
            for filter in [CaseFilter::default(), filters()[1].clone()] {
                assert_eq!(
                    ids(p.cases_visible(&filter, &among, Some(*after), 3, &visible)),
                    ids(p.cases_scan(&filter, Some(*after), 3, &visible)),
                );
            }
        }
    }
}

/// What the scope names holds every case the caller may read, and a caller who reads
/// a whole tier reads each case routed to it.
#[test]
fn the_read_scope_holds_every_readable_case() {
    let ladder = TierLadder::standard();
    for seed in 1..=6u64 {
        let p = projections_of(&with_moves(history(seed, 250, false), seed));
        for who in callers() {
            let among = policy::read_scope(&who, &ladder);
            let walked: BTreeSet<CaseId> = p
                .listing
                .newest(&CaseFilter::default(), &among, None, None)
                .collect();
            for (id, v) in &p.cases {
                if policy::can_read(&who, &v.case, &ladder) {
                    assert!(walked.contains(id), "{:?} misses {id}", who.actor);
                }
                if let Some(t) = &v.case.tier {
                    if policy::reads_whole_tier(&who, t, &ladder) {
                        assert!(policy::can_read(&who, &v.case, &ladder));
                    }
                }
            }
            if among != Among::All {
                assert!(
                    walked.len() < p.cases.len(),
                    "{:?} walks everything",
                    who.actor
                );
            }
        }
    }
}

/// A snapshot cut short anywhere (a damaged file) is refused, never half read: the
/// log is replayed instead.
#[test]
fn a_truncated_snapshot_is_refused() {
    let live = projections_of(&history(3, 200, false));
    let bytes = encode_snapshot(&live);
    assert_eq!(decode_snapshot(&bytes).as_ref(), Some(&live));
    for cut in (0..bytes.len()).step_by(bytes.len() / 97 + 1) {
        assert!(decode_snapshot(&bytes[..cut]).is_none(), "cut at {cut}");
    }
}
