//! Domain tests: Escalate / de-escalate, and a case's team following its tier.

use super::*;

// A case's team always works its tier -------------------------------------------

/// general at L1; billing (the default) and payments at L2; nobody at L3.
const TEAMS: &[(&str, &str)] = &[("general", "L1"), ("billing", "L2"), ("payments", "L2")];

fn routed_with_team(tier_name: &str, team: &str) -> CaseEvent {
    CaseEvent::Routed(CaseRouted {
        team: Some(team.into()),
        ..match routed(tier_name) {
            CaseEvent::Routed(r) => r,
            _ => unreachable!(),
        }
    })
}

fn team_changed(from: Option<&str>, to: Option<&str>) -> CaseEvent {
    CaseEvent::TeamChanged(TeamChanged {
        from: from.map(String::from),
        to: to.map(String::from),
    })
}

#[test]
fn an_escalation_moves_the_case_to_the_default_team_of_its_new_tier() {
    let case = given([opened(), routed_with_team("L1", "general")])
        .with_teams(TEAMS)
        .when(escalate())
        .then_events([
            escalated("L1", "L2"),
            team_changed(Some("general"), Some("billing")),
        ]);
    assert_eq!(case.team.as_deref(), Some("billing"));
}

#[test]
fn a_case_moved_to_a_tier_without_teams_has_no_team() {
    let case = given([opened(), routed_with_team("L2", "payments")])
        .with_teams(TEAMS)
        .when(escalate())
        .then_events([escalated("L2", "L3"), team_changed(Some("payments"), None)]);
    assert_eq!(case.team, None);
    // Without a team before or after, nothing about teams is recorded.
    given([opened(), routed("L2")])
        .with_teams(TEAMS)
        .when(escalate())
        .then_events([escalated("L2", "L3")]);
}

#[test]
fn a_deescalation_moves_the_case_to_the_default_team_of_its_new_tier() {
    let case = given([opened(), routed_with_team("L2", "payments")])
        .with_teams(TEAMS)
        .when(deescalate())
        .then_events([
            deescalated("L2", "L1"),
            team_changed(Some("payments"), Some("general")),
        ]);
    assert_eq!(case.team.as_deref(), Some("general"));
}

#[test]
fn a_route_to_a_team_of_another_tier_is_refused() {
    given([opened()])
        .with_teams(TEAMS)
        .when(Command::Route(RouteCase {
            team: Some("billing".into()),
            ..route_case("L1")
        }))
        .then_invalid("works tier `L2`");
}

#[test]
fn an_sla_escalation_step_moves_the_team_with_the_tier() {
    let t0 = monday_9();
    let history = vec![
        (opened(), t0),
        (routed_with_team("L1", "general"), t0),
        (standard_applied(), t0),
    ];
    let case = given_at(history)
        .with_teams(TEAMS)
        .with_sla(sla_config())
        .at(mins(t0, 120))
        .when(run_step(1))
        .then_events([
            sla_escalated(1, SlaKind::Resolution, "standard"),
            CaseEvent::Escalated(TierChanged {
                from: tier("L1"),
                to: tier("L2"),
                reason: escalation_reason(1, "standard"),
            }),
            team_changed(Some("general"), Some("billing")),
        ]);
    assert_eq!(
        (case.tier, case.team),
        (Some(tier("L2")), Some("billing".into()))
    );
}

#[test]
fn escalate_moves_up_one_tier_and_counts() {
    let case = given(routed_to("L1"))
        .when(escalate())
        .then_events([escalated("L1", "L2")]);
    assert_eq!(case.tier, Some(tier("L2")));
    assert_eq!(case.escalations, 1);
}

#[test]
fn escalate_to_a_named_higher_tier_may_skip_tiers() {
    let case = given(routed_to("L1"))
        .when(escalate_to("L3"))
        .then_events([escalated("L1", "L3")]);
    assert_eq!(case.tier, Some(tier("L3")));
}

#[test]
fn escalate_to_a_named_tier_that_is_not_above_is_refused() {
    given(routed_to("L2"))
        .when(escalate_to("L1"))
        .then_refused("escalate");
    given(routed_to("L2"))
        .when(escalate_to("L2"))
        .then_refused("escalate");
}

#[test]
fn escalate_to_an_unknown_tier_is_refused() {
    given(routed_to("L1"))
        .when(escalate_to("L4"))
        .then_error(DomainError::UnknownTier("L4".into()));
}

#[test]
fn escalate_past_the_top_tier_is_refused() {
    given(routed_to("L3"))
        .when(escalate())
        .then_error(DomainError::TopTier(tier("L3")));
    let case = given([opened(), routed("L2"), escalated("L2", "L3")]).state();
    assert_eq!(case.escalations, 1);
    given([opened(), routed("L2"), escalated("L2", "L3")])
        .when(escalate())
        .then_error(DomainError::TopTier(tier("L3")));
}

#[test]
fn escalate_needs_a_routed_case() {
    let reason = given([opened()]).when(escalate()).then_refused("escalate");
    assert!(reason.contains("routed"), "{reason}");
}

#[test]
fn escalate_needs_a_reason() {
    let command = Command::Escalate {
        to: None,
        reason: "  ".into(),
    };
    given(routed_to("L1")).when(command).then_invalid("reason");
}

#[test]
fn escalate_a_resolved_case_is_refused() {
    let mut history = routed_to("L1");
    history.push(resolved("done", Some("L1"), "alice"));
    given(history).when(escalate()).then_refused("escalate");
}

#[test]
fn escalate_a_closed_case_is_refused() {
    let mut history = routed_to("L1");
    history.push(closed("spam"));
    let reason = given(history).when(escalate()).then_refused("escalate");
    assert!(reason.contains("closed"), "{reason}");
}

#[test]
fn deescalate_moves_down_one_tier_without_counting_an_escalation() {
    let case = given(routed_to("L2"))
        .when(deescalate())
        .then_events([deescalated("L2", "L1")]);
    assert_eq!(case.tier, Some(tier("L1")));
    assert_eq!(case.escalations, 0);
}

#[test]
fn deescalate_to_a_named_lower_tier() {
    given(routed_to("L3"))
        .when(deescalate_to("L0"))
        .then_events([deescalated("L3", "L0")]);
}

#[test]
fn deescalate_below_the_bottom_tier_is_refused() {
    given(routed_to("L0"))
        .when(deescalate())
        .then_error(DomainError::BottomTier(tier("L0")));
}

#[test]
fn deescalate_to_a_named_tier_that_is_not_below_is_refused() {
    given(routed_to("L1"))
        .when(deescalate_to("L2"))
        .then_refused("de-escalate");
    given(routed_to("L1"))
        .when(deescalate_to("L1"))
        .then_refused("de-escalate");
}

#[test]
fn deescalate_needs_a_routed_case() {
    given([opened()])
        .when(deescalate())
        .then_refused("de-escalate");
}
