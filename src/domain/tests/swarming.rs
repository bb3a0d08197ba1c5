//! Domain tests: Swarming.

use super::*;

#[test]
fn start_swarm_makes_the_lead_its_first_member() {
    let case = given(routed_to("L1"))
        .when(start_swarm("alice"))
        .then_events([swarm_started("alice")]);
    let swarm = case.swarm.expect("a swarm");
    assert_eq!(swarm.lead, agent("alice"));
    assert_eq!(swarm.members.keys().collect::<Vec<_>>(), [&agent("alice")]);
    assert_eq!(swarm.started_at, at(3));
}

#[test]
fn start_swarm_works_before_routing() {
    given([opened()])
        .when(start_swarm("alice"))
        .then_events([swarm_started("alice")]);
}

#[test]
fn start_swarm_twice_is_refused() {
    given(swarming("alice", &[]))
        .when(start_swarm("bob"))
        .then_refused("start swarm");
}

#[test]
fn join_adds_a_member_with_the_join_time() {
    let case = given(swarming("alice", &[]))
        .when(join("bob"))
        .then_events([joined("bob")]);
    assert!(case.is_swarm_member(&agent("bob")));
    let swarm = case.swarm.unwrap();
    assert_eq!(swarm.members.get(&agent("bob")), Some(&at(4)));
    assert_eq!(
        swarm.lead,
        agent("alice"),
        "joining does not change the lead"
    );
}

#[test]
fn join_twice_is_refused() {
    given(swarming("alice", &["bob"]))
        .when(join("bob"))
        .then_refused("join swarm");
    given(swarming("alice", &["bob"]))
        .when(join("alice"))
        .then_refused("join swarm");
}

#[test]
fn join_without_a_swarm_is_refused() {
    let reason = given(routed_to("L1"))
        .when(join("bob"))
        .then_refused("join swarm");
    assert!(reason.contains("no active swarm"), "{reason}");
}

#[test]
fn leave_by_a_non_member_is_refused() {
    given(swarming("alice", &["bob"]))
        .when(leave("carol"))
        .then_refused("leave swarm");
}

#[test]
fn leave_without_a_swarm_is_refused() {
    given(routed_to("L1"))
        .when(leave("alice"))
        .then_refused("leave swarm");
}

#[test]
fn a_member_leaving_keeps_the_lead() {
    let case = given(swarming("alice", &["bob", "carol"]))
        .when(leave("bob"))
        .then_events([left("bob")]);
    let swarm = case.swarm.unwrap();
    assert_eq!(swarm.lead, agent("alice"));
    assert!(!swarm.members.contains_key(&agent("bob")));
    assert_eq!(swarm.members.len(), 2);
}

#[test]
fn lead_leaving_hands_the_lead_to_the_longest_standing_member() {
    // zoe joined before bob, although bob sorts first by name.
    let case = given(swarming("alice", &["zoe", "bob"]))
        .when(leave("alice"))
        .then_events([left("alice"), lead_changed("alice", "zoe")]);
    let swarm = case.swarm.unwrap();
    assert_eq!(swarm.lead, agent("zoe"));
    assert_eq!(swarm.members.len(), 2);
}

#[test]
fn lead_leaving_skips_members_who_already_left() {
    let mut history = swarming("alice", &["zoe", "bob", "carol"]);
    history.push(left("zoe"));
    given(history)
        .when(leave("alice"))
        .then_events([left("alice"), lead_changed("alice", "bob")]);
}

#[test]
fn lead_succession_ties_on_join_time_go_to_the_smaller_id() {
    // Everyone joined in one unit of work, hence at the same instant.
    let case = given(routed_to("L1"))
        .when_all(vec![start_swarm("alice"), join("zoe"), join("bob")])
        .then_events([swarm_started("alice"), joined("zoe"), joined("bob")]);
    let ladder = TierLadder::standard();
    let me = actor("alice");
    let ctx = Context {
        tiers: &ladder,
        teams: &TierTeams::default(),
        sla: &SlaConfig::default(),
        actor: &me,
        now: at(10),
    };
    assert_eq!(
        decide(&case, leave("alice"), &ctx),
        Ok(vec![left("alice"), lead_changed("alice", "bob")])
    );
}

#[test]
fn last_member_leaving_ends_the_swarm() {
    let case = given(swarming("alice", &[]))
        .when(leave("alice"))
        .then_events([left("alice"), swarm_ended("last member left")]);
    assert_eq!(case.swarm, None);
    // ...after which a new swarm can start.
    let mut history = swarming("alice", &[]);
    history.extend([left("alice"), swarm_ended("last member left")]);
    given(history)
        .when(start_swarm("bob"))
        .then_events([swarm_started("bob")]);
}

#[test]
fn set_lead_hands_the_lead_to_a_member() {
    let case = given(swarming("alice", &["bob"]))
        .when(set_lead("bob"))
        .then_events([lead_changed("alice", "bob")]);
    let swarm = case.swarm.unwrap();
    assert_eq!(swarm.lead, agent("bob"));
    assert!(
        swarm.members.contains_key(&agent("alice")),
        "the old lead stays a member"
    );
}

#[test]
fn set_lead_to_a_non_member_is_refused() {
    given(swarming("alice", &["bob"]))
        .when(set_lead("carol"))
        .then_refused("set swarm lead");
}

#[test]
fn set_lead_to_the_current_lead_is_refused() {
    given(swarming("alice", &["bob"]))
        .when(set_lead("alice"))
        .then_refused("set swarm lead");
}

#[test]
fn set_lead_without_a_swarm_is_refused() {
    given(routed_to("L1"))
        .when(set_lead("alice"))
        .then_refused("set swarm lead");
}
