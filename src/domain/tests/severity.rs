//! Domain tests: `SEVERITY_1` swarms: the roles they need (reported, not enforced)
//! and the status-update cadence (one `StatusUpdateDue` per missed interval).

use super::*;

const EVERY: u32 = 1800;

fn sev1() -> CaseEvent {
    CaseEvent::SwarmTypeSet(SwarmTypeSet {
        swarm_type: SwarmType::Severity1,
        reason: "outage".into(),
    })
}

fn remind() -> Command {
    Command::RemindStatusUpdate {
        interval_secs: EVERY,
    }
}

fn due(due: i64, last: i64) -> CaseEvent {
    CaseEvent::StatusUpdateDue(StatusUpdateDue {
        due: at(due),
        last_update: at(last),
    })
}

/// Alice leads a swarm with bob, made `SEVERITY_1` at 100 s.
fn outage() -> Vec<(CaseEvent, Timestamp)> {
    let mut h: Vec<(CaseEvent, Timestamp)> = swarming("alice", &["bob"])
        .into_iter()
        .zip(1..)
        .map(|(e, i)| (e, at(i)))
        .collect();
    h.push((sev1(), at(100)));
    h
}

#[test]
fn a_status_update_is_due_an_interval_after_the_swarm_became_severity_1() {
    given_at(outage())
        .at(at(100 + 1799))
        .when(remind())
        .then_refused("remind status update");
    let case = given_at(outage())
        .at(at(1900))
        .when(remind())
        .then_events([due(1900, 100)]);
    assert_eq!(
        case.swarming.status_update_due(i64::from(EVERY)),
        Some(at(3700))
    );
}

#[test]
fn each_missed_interval_is_recorded_once() {
    let mut h = outage();
    h.push((due(1900, 100), at(1950)));
    // The same interval again (a second sweep, another server): refused.
    given_at(h.clone())
        .at(at(2000))
        .when(remind())
        .then_refused("remind status update");
    // The next interval missed too.
    given_at(h)
        .at(at(3700))
        .when(remind())
        .then_events([due(3700, 100)]);
}

#[test]
fn a_public_reply_to_the_customer_restarts_the_clock_and_theirs_does_not() {
    let mut h = outage();
    h.push((due(1900, 100), at(1950)));
    h.push((
        posted(MessageKind::PublicReply, "alice", "We are on it"),
        at(2000),
    ));
    given_at(h.clone())
        .at(at(3700))
        .when(remind())
        .then_refused("remind status update");
    given_at(h.clone())
        .at(at(3800))
        .when(remind())
        .then_events([due(3800, 2000)]);
    // The customer's own reply, or an internal note, is no status update.
    let mut h = outage();
    h.push((
        posted(MessageKind::PublicReply, "cust-42", "Any news?"),
        at(500),
    ));
    h.push((
        posted(MessageKind::InternalNote, "alice", "working"),
        at(600),
    ));
    given_at(h)
        .at(at(1900))
        .when(remind())
        .then_events([due(1900, 100)]);
}

#[test]
fn only_a_severity_1_swarm_has_a_cadence() {
    given(swarming("alice", &["bob"]))
        .when(remind())
        .then_refused("remind status update");
    let mut h = outage();
    h.push((
        CaseEvent::SwarmTypeSet(SwarmTypeSet {
            swarm_type: SwarmType::Case,
            reason: "contained".into(),
        }),
        at(200),
    ));
    given_at(h)
        .at(at(10_000))
        .when(remind())
        .then_refused("remind status update");
    let mut h = outage();
    h.push((swarm_ended("case resolved"), at(200)));
    let case = given_at(h.clone()).state();
    assert_eq!(case.swarming.status_update_due(i64::from(EVERY)), None);
    given_at(outage())
        .at(at(1900))
        .when(Command::RemindStatusUpdate { interval_secs: 0 })
        .then_invalid("interval");
}

#[test]
fn a_severity_1_swarm_reports_a_missing_communicator() {
    let case = given_at(outage()).state();
    assert_eq!(case.missing_roles(), [SwarmRole::Communications]);
    let mut h = outage();
    h.push((
        CaseEvent::SwarmRoleSet(SwarmRoleSet {
            agent: agent("bob"),
            role: SwarmRole::Communications,
        }),
        at(150),
    ));
    assert!(given_at(h).state().missing_roles().is_empty());
    // Other swarms need no particular roles.
    assert!(given(swarming("alice", &["bob"]))
        .state()
        .missing_roles()
        .is_empty());
}
