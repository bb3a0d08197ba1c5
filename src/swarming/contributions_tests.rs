//! Contributions over a scripted history, with the expected numbers worked out by
//! hand (times are seconds; the period is `[100, 1000)`).

use super::*;
use crate::domain::event::{
    AgentRef, CaseResolved, HelpAccepted, HelpOffered, HelpRequested, InvitationAccepted,
    KnowledgeCaptured, SwarmEnded, SwarmInvited, SwarmStarted,
};
use ulid::Ulid;

fn a(id: &str) -> AgentId {
    AgentId::new(id).unwrap()
}

fn t(secs: i64) -> Timestamp {
    Timestamp(secs * 1_000_000)
}

fn started(lead: &str) -> CaseEvent {
    CaseEvent::SwarmStarted(SwarmStarted {
        lead: a(lead),
        reason: "r".into(),
    })
}

fn invited(agent: &str) -> CaseEvent {
    CaseEvent::SwarmInvited(SwarmInvited {
        agents: vec![a(agent)],
        by: a("alice"),
        note: String::new(),
        auto_replace: false,
        expires_at: None,
        cleared: vec![],
        reason: None,
    })
}

fn accepted(agent: &str) -> CaseEvent {
    CaseEvent::InvitationAccepted(InvitationAccepted { agent: a(agent) })
}

fn joined(agent: &str) -> CaseEvent {
    CaseEvent::SwarmJoined(AgentRef { agent: a(agent) })
}

fn requested(by: &str) -> CaseEvent {
    CaseEvent::HelpRequested(HelpRequested {
        request_id: 1,
        by: a(by),
        skills: vec![],
        note: "n".into(),
    })
}

fn offered(by: &str) -> CaseEvent {
    CaseEvent::HelpOffered(HelpOffered {
        request_id: 1,
        by: a(by),
    })
}

fn help_accepted(helper: &str, by: &str) -> CaseEvent {
    CaseEvent::HelpAccepted(HelpAccepted {
        request_id: 1,
        helper: a(helper),
        by: a(by),
    })
}

fn resolved(by: &str) -> CaseEvent {
    CaseEvent::Resolved(CaseResolved {
        resolution: "done".into(),
        tier: None,
        by: a(by),
    })
}

fn ended() -> CaseEvent {
    CaseEvent::SwarmEnded(SwarmEnded {
        reason: "case resolved".into(),
    })
}

fn captured(by: &str) -> CaseEvent {
    CaseEvent::KnowledgeCaptured(KnowledgeCaptured {
        title: "t".into(),
        body: "b".into(),
        tags: vec![],
        by: a(by),
    })
}

/// (case, seconds, event); the case's stream versions follow the order.
fn history() -> Vec<(u128, i64, CaseEvent)> {
    vec![
        // A: alice's case; bob, invited at 60, accepts at 160 (waited 100 s), is in
        // the swarm when alice resolves it at 300, and writes it up at 310.
        (1, 40, CaseEvent::Assigned(AgentRef { agent: a("alice") })),
        (1, 50, started("alice")),
        (1, 60, invited("bob")),
        (1, 160, accepted("bob")),
        (1, 160, joined("bob")),
        (1, 300, ended()),
        (1, 300, resolved("alice")),
        (1, 310, captured("bob")),
        // B: carol asks at 200, bob offers at 260, carol accepts at 500: bob joins
        // (waited 300 s from the request). Resolved at 1200: after the period.
        (2, 200, requested("carol")),
        (2, 260, offered("bob")),
        (2, 500, help_accepted("bob", "carol")),
        (2, 500, started("carol")),
        (2, 500, joined("bob")),
        (2, 1200, ended()),
        (2, 1200, resolved("carol")),
        // C: bob starts a swarm himself at 400 (a join, not timed), and resolves his
        // own case at 450 (not "while helping": he owns it).
        (3, 10, CaseEvent::Assigned(AgentRef { agent: a("bob") })),
        (3, 400, started("bob")),
        (3, 450, ended()),
        (3, 450, resolved("bob")),
        // D: a case the caller may not see: nothing of it counts.
        (4, 200, requested("carol")),
        (4, 600, offered("bob")),
        (4, 610, captured("bob")),
        // E: invited at 700, accepted after the period.
        (5, 650, started("alice")),
        (5, 700, invited("bob")),
        (5, 1100, accepted("bob")),
        (5, 1100, joined("bob")),
        // F: invited at 700, joins directly at 800 (answering it: waited 100 s);
        // before the period, at 20 and 30, he had offered help on another request.
        (6, 20, requested("alice")),
        (6, 30, offered("bob")),
        (6, 650, started("alice")),
        (6, 700, invited("bob")),
        (6, 800, accepted("bob")),
        (6, 800, joined("bob")),
    ]
}

fn tally(agent: &str, from: i64, to: i64) -> Contribution {
    let mut log = history();
    log.sort_by_key(|(_, at, _)| *at);
    let mut versions: HashMap<u128, u64> = HashMap::new();
    let mut tally = Tally::new(a(agent), t(from), t(to));
    for (case, at, event) in &log {
        let v = versions.entry(*case).or_default();
        *v += 1;
        tally.apply(CaseId(Ulid(*case)), event, *v, t(*at), *case != 4);
    }
    tally.finish()
}

#[test]
fn contributions_over_a_scripted_history_match_the_hand_count() {
    assert_eq!(
        tally("bob", 100, 1000),
        Contribution {
            // A at 160, B at 500, C at 400, F at 800.
            swarms_joined: 4,
            // B at 260 (D is not visible; F's offer was before the period).
            help_offered: 1,
            // B.
            help_accepted: 1,
            // Waits 100 (A), 300 (B), 100 (F): median 100.
            median_secs_to_join: Some(100.0),
            timed_joins: 3,
            // A (C is his own case; B is resolved after the period).
            resolved_while_helping: 1,
            // A (D is not visible).
            articles_captured: 1,
        }
    );
}

#[test]
fn a_past_period_reads_as_the_log_said_then() {
    // Up to 400: A's join (100 s) and resolution, A's article, B's offer.
    assert_eq!(
        tally("bob", 0, 400),
        Contribution {
            swarms_joined: 1,
            help_offered: 2,
            help_accepted: 0,
            median_secs_to_join: Some(100.0),
            timed_joins: 1,
            resolved_while_helping: 1,
            articles_captured: 1,
        }
    );
    // Someone who did nothing in the period.
    assert_eq!(tally("zed", 0, 2000), Contribution::default());
}

#[test]
fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
    assert_eq!(median(&mut [300, 100]), Some(200.0));
    assert_eq!(median(&mut [5, 1, 9]), Some(5.0));
    assert_eq!(median(&mut []), None);
}
