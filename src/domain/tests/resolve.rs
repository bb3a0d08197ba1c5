//! Domain tests: Resolve / reopen / close.

use super::*;

#[test]
fn resolve_records_the_current_tier_and_resolver() {
    let case = given([opened(), routed("L1"), escalated("L1", "L2")])
        .by("bob")
        .when(resolve("refunded the duplicate charge"))
        .then_events([resolved("refunded the duplicate charge", Some("L2"), "bob")]);
    assert_eq!(case.status, Status::Resolved);
    let resolution = case.resolution.expect("a resolution");
    assert_eq!(resolution.tier, Some(tier("L2")));
    assert_eq!(resolution.by, agent("bob"));
    assert_eq!(resolution.at, at(4));
}

#[test]
fn resolve_of_an_unrouted_case_has_no_tier() {
    given([opened()])
        .when(resolve("answered"))
        .then_events([resolved("answered", None, "alice")]);
}

#[test]
fn resolve_ends_an_active_swarm_first() {
    let case = given(swarming("alice", &["bob"]))
        .when(resolve("fixed"))
        .then_events([
            swarm_ended("case resolved"),
            resolved("fixed", Some("L1"), "alice"),
        ]);
    assert_eq!(case.swarm, None);
    assert_eq!(case.status, Status::Resolved);
}

#[test]
fn resolve_twice_is_refused() {
    given([opened(), resolved("done", None, "alice")])
        .when(resolve("again"))
        .then_refused("resolve");
}

#[test]
fn resolve_needs_a_text() {
    given([opened()])
        .when(resolve("  "))
        .then_invalid("resolution");
}

#[test]
fn a_resolved_case_accepts_only_messages_tags_reopen_close_and_knowledge() {
    let history = [
        opened(),
        routed("L2"),
        assigned("bob"),
        resolved("done", Some("L2"), "bob"),
    ];
    let allowed = [
        "post message",
        "tag",
        "untag",
        "reopen",
        "close",
        "capture knowledge",
    ];
    for command in every_command() {
        let name = command.name();
        let result = given(history.clone()).when(command).result;
        match name {
            "open" => assert_eq!(result, Err(DomainError::CaseExists)),
            n if allowed.contains(&n) => assert!(result.is_ok(), "{n}: {result:?}"),
            n => assert!(
                matches!(&result, Err(DomainError::InvalidTransition { action, .. }) if *action == n),
                "{n}: {result:?}"
            ),
        }
    }
}

#[test]
fn reopen_a_resolved_case_clears_the_resolution() {
    let case = given([opened(), resolved("done", None, "alice")])
        .when(reopen("still charged twice"))
        .then_events([reopened("still charged twice")]);
    assert_eq!(case.status, Status::Open);
    assert_eq!(case.resolution, None);
}

#[test]
fn reopened_case_can_be_resolved_again() {
    given([opened(), resolved("done", None, "alice"), reopened("no")])
        .when(resolve("really done"))
        .then_events([resolved("really done", None, "alice")]);
}

#[test]
fn reopen_an_open_case_is_refused() {
    given(routed_to("L1"))
        .when(reopen("why"))
        .then_refused("reopen");
}

#[test]
fn close_an_open_case() {
    let case = given(routed_to("L1"))
        .when(close("duplicate"))
        .then_events([closed("duplicate")]);
    assert_eq!(case.status, Status::Closed);
}

#[test]
fn close_a_resolved_case_keeps_its_resolution() {
    let case = given([opened(), resolved("done", None, "alice")])
        .when(close("confirmed"))
        .then_events([closed("confirmed")]);
    assert_eq!(case.status, Status::Closed);
    assert!(case.resolution.is_some());
}

#[test]
fn close_ends_an_active_swarm_first() {
    let case = given(swarming("alice", &["bob"]))
        .when(close("spam"))
        .then_events([swarm_ended("case closed"), closed("spam")]);
    assert_eq!(case.swarm, None);
}

#[test]
fn a_closed_case_refuses_every_command_but_capturing_knowledge() {
    let closed_from_open = vec![opened(), routed("L1"), assigned("bob"), closed("spam")];
    let closed_from_resolved = vec![
        opened(),
        routed("L1"),
        resolved("done", Some("L1"), "bob"),
        closed("ok"),
    ];
    for history in [closed_from_open, closed_from_resolved] {
        for command in every_command() {
            let name = command.name();
            let result = given(history.clone()).when(command).result;
            if name == "open" {
                assert_eq!(result, Err(DomainError::CaseExists));
            } else if name == "capture knowledge" {
                assert!(result.is_ok(), "{name}: {result:?}");
            } else {
                assert!(
                    matches!(&result, Err(DomainError::InvalidTransition { action, reason })
                        if *action == name && reason.contains("closed")),
                    "{name}: {result:?}"
                );
            }
        }
    }
}
