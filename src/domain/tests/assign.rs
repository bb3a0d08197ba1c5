//! Domain tests: Assign / unassign.

use super::*;

#[test]
fn assign_sets_the_assignee() {
    let case = given(routed_to("L1"))
        .when(assign("bob"))
        .then_events([assigned("bob")]);
    assert_eq!(case.assignee, Some(agent("bob")));
}

#[test]
fn reassigning_to_someone_else_is_allowed() {
    let mut history = routed_to("L1");
    history.push(assigned("bob"));
    let case = given(history)
        .when(assign("carol"))
        .then_events([assigned("carol")]);
    assert_eq!(case.assignee, Some(agent("carol")));
}

#[test]
fn assigning_the_current_assignee_again_is_refused() {
    let mut history = routed_to("L1");
    history.push(assigned("bob"));
    given(history).when(assign("bob")).then_refused("assign");
}

#[test]
fn unassign_names_the_agent_who_was_assigned() {
    let mut history = routed_to("L1");
    history.push(assigned("bob"));
    let case = given(history)
        .when(unassign())
        .then_events([unassigned("bob")]);
    assert_eq!(case.assignee, None);
}

#[test]
fn unassign_without_assignee_is_refused() {
    given(routed_to("L1"))
        .when(unassign())
        .then_refused("unassign");
    given([opened(), assigned("bob"), unassigned("bob")])
        .when(unassign())
        .then_refused("unassign");
}
