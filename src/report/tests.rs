//! A scripted history whose report is computed by hand (in the comments), not by
//! the code under test.

use std::collections::BTreeMap;

use super::fold::Folder;
use super::*;
use crate::domain::event::*;
use crate::domain::{AgentId, CaseEvent, Channel, Customer, Segment};

const BASE: i64 = 1_800_000_000;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_unix_micros((BASE + secs) * 1_000_000)
}

fn agent(a: &str) -> AgentId {
    AgentId::new(a).unwrap()
}

fn opened(subject: &str, tags: &[&str]) -> CaseEvent {
    CaseEvent::Opened(CaseOpened {
        case_id: CaseId(ulid::Ulid::nil()),
        subject: subject.into(),
        body: "b".into(),
        channel: Channel::Email,
        customer: Customer {
            id: "acme".into(),
            name: "Acme".into(),
            segment: Segment::B2b,
            key_account: false,
        },
        language: "en".into(),
        priority: Priority::Normal,
        tags: tags.iter().map(|t| t.to_string()).collect(),
        requested_priority: None,
    })
}

fn routed(tier: &str) -> CaseEvent {
    CaseEvent::Routed(CaseRouted {
        tier: Tier::new(tier),
        team: Some(format!("team-{tier}")),
        priority: None,
        tags: vec![],
        sensitive: false,
        rule_id: None,
        rule_set_version: None,
    })
}

fn moved(up: bool, from: &str, to: &str) -> CaseEvent {
    let c = TierChanged {
        from: Tier::new(from),
        to: Tier::new(to),
        reason: "r".into(),
    };
    if up {
        CaseEvent::Escalated(c)
    } else {
        CaseEvent::Deescalated(c)
    }
}

fn resolved(tier: &str, by: &str) -> CaseEvent {
    CaseEvent::Resolved(CaseResolved {
        resolution: "done".into(),
        tier: Some(Tier::new(tier)),
        by: agent(by),
    })
}

/// Case ids 1..=6 (A..F), each with its events at their times.
fn script() -> Vec<(u128, i64, CaseEvent)> {
    vec![
        // A: opened before the period, resolved at L1 inside it (first contact).
        (1, 10, opened("Password reset fails", &["login"])),
        (1, 10, routed("L1")),
        (1, 200, resolved("L1", "lee")),
        // B: escalated L1 -> L2, resolved at L2.
        (2, 150, opened("Invoice shows wrong amount", &["billing"])),
        (2, 150, routed("L1")),
        (2, 300, moved(true, "L1", "L2")),
        (2, 900, resolved("L2", "kim")),
        // C: routed to L2, swarmed (the expert joins after 60 s), resolved.
        (3, 200, opened("SAML login loops", &["login", "saml"])),
        (3, 200, routed("L2")),
        (
            3,
            250,
            CaseEvent::SwarmStarted(SwarmStarted {
                lead: agent("sam"),
                reason: "r".into(),
            }),
        ),
        (
            3,
            310,
            CaseEvent::SwarmJoined(AgentRef {
                agent: agent("ana"),
            }),
        ),
        (3, 1200, resolved("L2", "sam")),
        // D: ping-pong L1 -> L2 -> L1 -> L2, still open.
        (4, 300, opened("Export times out", &["export"])),
        (4, 300, routed("L1")),
        (4, 400, moved(true, "L1", "L2")),
        (4, 500, moved(false, "L2", "L1")),
        (4, 600, moved(true, "L1", "L2")),
        // E: opened in the period, resolved only after it ends (ignored).
        (5, 400, opened("Login page slow", &["login"])),
        (5, 400, routed("L1")),
        (5, 20_000, resolved("L1", "lee")),
        // F: L3, resolved, reopened, resolved again.
        (6, 500, opened("Kernel panic on upgrade", &["upgrade"])),
        (6, 500, routed("L3")),
        (6, 700, resolved("L3", "raj")),
        (
            6,
            800,
            CaseEvent::Reopened(Reason {
                reason: "again".into(),
            }),
        ),
        (6, 1000, resolved("L3", "raj")),
    ]
}

fn report_of(scope: &Scope) -> Report {
    let (from, to) = (at(100), at(10_000));
    let mut folder = Folder::new(from, to);
    let mut versions: BTreeMap<u128, u64> = BTreeMap::new();
    for (case, secs, event) in script() {
        let v = versions.entry(case).or_default();
        *v += 1;
        folder.apply(CaseId(ulid::Ulid(case)), &event, *v, at(secs));
    }
    build(
        from,
        to,
        folder.finish(),
        scope,
        &default_targets(),
        &|_| true,
        &super::clear,
    )
}

#[test]
fn a_scripted_history_reports_what_a_person_computes() {
    let r = report_of(&Scope::default());
    // Opened in the period: B..F; E's resolution after the end is not counted.
    assert_eq!(
        r.volume,
        Volume {
            opened: 5,
            resolved: 5,
            reopened: 1,
            closed: 0,
            // A was open when the period began; D and E are open at its end.
            backlog_start: 1,
            backlog_end: 2,
        }
    );
    // Resolutions: L1 A; L2 B, C; L3 F twice: 1/5, 2/5, 2/5.
    let shares: Vec<(String, u64, f64, Option<f64>)> = r
        .tier_shares
        .iter()
        .map(|s| (s.tier.clone(), s.resolved, s.share, s.target))
        .collect();
    assert_eq!(
        shares,
        vec![
            ("L1".into(), 1, 0.2, Some(0.80)),
            ("L2".into(), 2, 0.4, Some(0.15)),
            ("L3".into(), 2, 0.4, Some(0.05)),
        ]
    );
    let total: f64 = r.tier_shares.iter().map(|s| s.share).sum();
    assert!((total - 1.0).abs() < 1e-9);
    // Resolved in the period: A, B, C, F; A and C on first contact.
    assert_eq!(r.first_contact_resolution, 0.5);
    // L1 -> L2: B once, D twice; L2 -> L1: D once.
    let up: Vec<_> = r
        .escalation
        .escalations
        .iter()
        .map(|m| (m.from.as_str(), m.to.as_str(), m.count))
        .collect();
    assert_eq!(up, vec![("L1", "L2", 3)]);
    assert_eq!(r.escalation.deescalations[0].count, 1);
    let paths: Vec<_> = r
        .escalation
        .paths
        .iter()
        .map(|p| (p.path.as_str(), p.cases))
        .collect();
    assert_eq!(
        paths,
        vec![("L1", 1), ("L1 -> L2", 1), ("L2", 1), ("L3", 1)]
    );
    assert_eq!(
        r.escalation.ping_pong_cases,
        vec![ulid::Ulid(4).to_string()]
    );
    // Swarmed: C (1,000 s). Escalated: B (750 s). Neither: A (190 s), F (500 s).
    let s = &r.swarming;
    assert_eq!((s.swarmed.cases, s.swarmed.median_secs), (1, Some(1000)));
    assert_eq!((s.escalated.cases, s.escalated.median_secs), (1, Some(750)));
    assert_eq!(
        (s.neither.cases, s.neither.median_secs, s.neither.p90_secs),
        (2, Some(190), Some(500))
    );
    assert_eq!(s.neither.reopen_rate, 0.5);
    assert_eq!(s.escalated.mean_handoffs, 1.0);
    assert_eq!(s.mean_swarm_size, 2.0);
    assert_eq!(s.median_first_join_secs, Some(60));
    // Tags of the five cases opened in the period: login twice (C, E).
    assert_eq!(r.problems.top_tags[0].term, "login");
    assert_eq!(r.problems.top_tags[0].cases, 2);
    assert_eq!(r.problems.top_keywords[0].term, "login");
    // Longest resolution first: C (1,000 s), B (750 s), F (500 s), A (190 s).
    let costly: Vec<i64> = r
        .problems
        .costliest
        .iter()
        .map(|c| c.resolution_secs)
        .collect();
    assert_eq!(costly, vec![1000, 750, 500, 190]);
    // Swarm: sam started it, ana joined.
    let joined: Vec<(&str, u64)> = r
        .load
        .agents
        .iter()
        .map(|a| (a.agent.as_str(), a.swarms_joined))
        .collect();
    assert_eq!(joined, vec![("ana", 1), ("sam", 1)]);
}

#[test]
fn a_scope_keeps_only_its_tiers() {
    let scope = Scope {
        tiers: Some([Tier::new("L3")].into_iter().collect()),
        teams: None,
    };
    let r = report_of(&scope);
    assert_eq!(r.cases, 1);
    assert_eq!(r.volume.resolved, 2);
    assert_eq!(
        r.tier_shares.iter().find(|s| s.tier == "L3").unwrap().share,
        1.0
    );
}

#[test]
fn the_csv_form_holds_the_json_form_figures() {
    let r = report_of(&Scope::default());
    let csv = csv::to_csv(&r);
    assert!(csv.starts_with("section,key,field,value\n"));
    assert!(csv.contains("volume,,backlogEnd,2\n"), "{csv}");
    assert!(csv.contains("tierShares,1,share,0.4\n"), "{csv}");
    assert!(csv.contains("swarming,swarmed,medianSecs,1000\n"), "{csv}");
}

#[test]
fn nearest_rank_percentiles() {
    assert_eq!(percentile(&mut [], 50), None);
    assert_eq!(percentile(&mut [5], 90), Some(5));
    assert_eq!(percentile(&mut [4, 1, 3, 2], 50), Some(2));
    assert_eq!(
        percentile(&mut [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90),
        Some(9)
    );
}
