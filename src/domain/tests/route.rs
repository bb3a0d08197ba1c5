//! Domain tests: Route.

use super::*;

#[test]
fn route_sets_tier_team_priority_sensitivity_and_adds_only_new_tags() {
    let command = Command::Route(RouteCase {
        tier: tier("L2"),
        team: Some(" billing-team ".into()),
        priority: Some(Priority::High),
        tags: vec!["Billing".into(), "refund".into()],
        sensitive: true,
        rule_id: Some("rule-7".into()),
        rule_set_version: Some(3),
    });
    let case = given([opened()])
        .when(command)
        .then_events([CaseEvent::Routed(CaseRouted {
            tier: tier("L2"),
            team: Some("billing-team".into()),
            priority: Some(Priority::High),
            tags: vec!["refund".into()],
            sensitive: true,
            rule_id: Some("rule-7".into()),
            rule_set_version: Some(3),
        })]);
    assert_eq!(case.tier, Some(tier("L2")));
    assert_eq!(case.team.as_deref(), Some("billing-team"));
    assert_eq!(case.priority, Priority::High);
    assert!(case.sensitive);
    assert_eq!(case.tags, vec!["billing".to_string(), "refund".to_string()]);
}

#[test]
fn route_without_priority_keeps_the_current_one() {
    let case = given([
        opened(),
        priority_changed(Priority::Normal, Priority::Urgent),
    ])
    .when(route("L1"))
    .then_events([routed("L1")]);
    assert_eq!(case.priority, Priority::Urgent);
}

#[test]
fn rerouting_never_drops_sensitivity() {
    let sensitive = CaseEvent::Routed(CaseRouted {
        sensitive: true,
        ..match routed("L2") {
            CaseEvent::Routed(r) => r,
            _ => unreachable!(),
        }
    });
    let case = given([opened(), sensitive])
        .when(route("L3"))
        .then_events([routed("L3")]);
    assert_eq!(case.tier, Some(tier("L3")));
    assert!(
        case.sensitive,
        "a case that involved sensitive data stays sensitive"
    );
}

fn sensitive_at(tier_name: &str) -> Vec<CaseEvent> {
    let routed = match routed(tier_name) {
        CaseEvent::Routed(r) => r,
        _ => unreachable!(),
    };
    vec![
        opened(),
        CaseEvent::Routed(CaseRouted {
            sensitive: true,
            ..routed
        }),
    ]
}

#[test]
fn a_sensitive_case_is_never_rerouted_below_the_sensitive_floor() {
    for to in ["L1", "L0"] {
        let reason = given(sensitive_at("L2"))
            .when(route(to))
            .then_refused("route");
        assert!(reason.contains("sensitive floor `L2`"), "{reason}");
    }
    // At or above the floor is fine.
    given(sensitive_at("L3"))
        .when(route("L2"))
        .then_events([routed("L2")]);
}

#[test]
fn a_sensitive_case_is_never_deescalated_below_the_sensitive_floor() {
    given(sensitive_at("L2"))
        .when(deescalate())
        .then_refused("de-escalate");
    given(sensitive_at("L3"))
        .when(deescalate_to("L0"))
        .then_refused("de-escalate");
    given(sensitive_at("L3"))
        .when(deescalate())
        .then_events([deescalated("L3", "L2")]);
}

#[test]
fn marking_a_case_sensitive_below_the_floor_is_refused() {
    let sensitive_l1 = Command::Route(RouteCase {
        sensitive: true,
        ..route_case("L1")
    });
    given(routed_to("L1"))
        .when(sensitive_l1.clone())
        .then_refused("route");
    given([opened()]).when(sensitive_l1).then_refused("route");
    given(routed_to("L1"))
        .when(Command::Route(RouteCase {
            sensitive: true,
            ..route_case("L2")
        }))
        .then_events([CaseEvent::Routed(CaseRouted {
            sensitive: true,
            ..match routed("L2") {
                CaseEvent::Routed(r) => r,
                _ => unreachable!(),
            }
        })]);
}

#[test]
fn timestamps_always_print_as_rfc3339() {
    assert_eq!(
        Timestamp::from_unix_micros(0).to_rfc3339(),
        "1970-01-01T00:00:00Z"
    );
    assert_eq!(
        Timestamp(i64::MAX).to_rfc3339(),
        "9999-12-31T23:59:59.999999Z"
    );
    assert_eq!(Timestamp(i64::MIN).to_rfc3339(), "0000-01-01T00:00:00Z");
    // A year of minutes after any ordinary date is still an ordinary date.
    let far = at(0).plus_secs(super::sla::MAX_SLA_MINUTES as i64 * 60 * 5);
    assert!(far.to_rfc3339().starts_with("20"), "{}", far.to_rfc3339());
}

#[test]
fn the_sensitive_floor_follows_the_configured_ladder() {
    let ladder = |names: &[&str]| TierLadder::new(names.iter().copied()).unwrap();
    assert_eq!(TierLadder::standard().sensitive_floor(), &tier("L2"));
    assert_eq!(ladder(&["L0", "L1"]).sensitive_floor(), &tier("L1"));
    assert_eq!(ladder(&["L1", "L3", "L4"]).sensitive_floor(), &tier("L3"));
    assert_eq!(ladder(&["front", "back"]).sensitive_floor(), &tier("back"));
}

#[test]
fn route_to_an_unknown_tier_is_refused() {
    given([opened()])
        .when(route("L9"))
        .then_error(DomainError::UnknownTier("L9".into()));
}

#[test]
fn route_with_blank_team_is_invalid() {
    let command = Command::Route(RouteCase {
        team: Some("  ".into()),
        ..route_case("L1")
    });
    given([opened()]).when(command).then_invalid("team");
}

#[test]
fn route_of_a_resolved_case_is_refused() {
    given([opened(), resolved("done", None, "alice")])
        .when(route("L1"))
        .then_refused("route");
}
