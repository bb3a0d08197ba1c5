//! Domain tests: SLA: policies, clocks, waiting on the customer, breaches, time-based escalation.

use super::*;

pub(super) fn t(rfc3339: &str) -> Timestamp {
    Timestamp::parse_rfc3339(rfc3339).expect("a valid test time")
}

/// Monday 2026-09-14, 09:00 UTC: the office opens.
pub(super) fn monday_9() -> Timestamp {
    t("2026-09-14T09:00:00Z")
}

pub(super) fn mins(base: Timestamp, m: i64) -> Timestamp {
    base.plus_secs(m * 60)
}

/// Monday to Friday 09:00-17:00 UTC; Wednesday 2026-09-16 is a holiday.
pub(super) fn office() -> Calendar {
    Calendar {
        id: "office".into(),
        utc_offset_minutes: 0,
        hours: (0..5)
            .map(|weekday| WorkingHours {
                weekday,
                start_minute: 9 * 60,
                end_minute: 17 * 60,
            })
            .collect(),
        holidays: vec!["2026-09-16".into()],
    }
}

pub(super) fn step(
    after_mins: u32,
    clock: SlaKind,
    raise_priority: bool,
    escalate_tier: bool,
) -> EscalationStep {
    EscalationStep {
        after_mins,
        clock,
        raise_priority,
        notify_lead: true,
        escalate_tier,
    }
}

/// Any case: first response in 60 min, resolution in 8 h, on the team's calendar
/// (24x7 without one). Step 0: no first response after 30 min raises the priority;
/// step 1: unresolved after 2 h goes up a tier.
pub(super) fn standard_policy() -> SlaPolicy {
    SlaPolicy {
        id: "standard".into(),
        name: "Standard".into(),
        priorities: vec![],
        segments: vec![],
        first_response_mins: Some(60),
        resolution_mins: Some(480),
        calendar: None,
        escalation: vec![
            step(30, SlaKind::FirstResponse, true, false),
            step(120, SlaKind::Resolution, false, true),
        ],
    }
}

/// Urgent cases: 15 min and 2 h, always 24x7, no escalation chain.
pub(super) fn urgent_policy() -> SlaPolicy {
    SlaPolicy {
        id: "urgent".into(),
        name: "Urgent".into(),
        priorities: vec![Priority::Urgent],
        segments: vec![],
        first_response_mins: Some(15),
        resolution_mins: Some(120),
        calendar: Some("24x7".into()),
        escalation: vec![],
    }
}

/// Urgent first, then standard; the payments team works office hours.
pub(super) fn sla_config() -> SlaConfig {
    SlaConfig {
        policies: vec![urgent_policy(), standard_policy()],
        calendars: [("office".to_string(), office())].into(),
        team_calendars: [("payments".to_string(), "office".to_string())].into(),
    }
}

pub(super) fn standard_applied() -> CaseEvent {
    CaseEvent::SlaApplied(standard_policy().applied(Calendar::always()))
}

pub(super) fn office_applied() -> CaseEvent {
    CaseEvent::SlaApplied(standard_policy().applied(office()))
}

pub(super) fn urgent_applied() -> CaseEvent {
    CaseEvent::SlaApplied(urgent_policy().applied(Calendar::always()))
}

/// Opened, routed to L1 and put under `applied` on Monday at 09:00.
pub(super) fn under(applied: CaseEvent) -> Vec<(CaseEvent, Timestamp)> {
    let t0 = monday_9();
    vec![(opened(), t0), (routed("L1"), t0), (applied, t0)]
}

pub(super) fn and(
    mut history: Vec<(CaseEvent, Timestamp)>,
    more: impl IntoIterator<Item = (CaseEvent, Timestamp)>,
) -> Vec<(CaseEvent, Timestamp)> {
    history.extend(more);
    history
}

pub(super) fn record_breach(kind: SlaKind) -> Command {
    Command::RecordSlaBreach { kind }
}

pub(super) fn run_step(step: u32) -> Command {
    Command::RunSlaEscalation { step }
}

pub(super) fn breached(kind: SlaKind, deadline: Timestamp, policy: &str) -> CaseEvent {
    CaseEvent::SlaBreached(SlaBreached {
        kind,
        deadline,
        policy_id: policy.into(),
    })
}

pub(super) fn sla_escalated(step: u32, clock: SlaKind, policy: &str) -> CaseEvent {
    CaseEvent::SlaEscalated(SlaEscalated {
        step,
        clock,
        notify_lead: true,
        policy_id: policy.into(),
    })
}

pub(super) fn escalation_reason(step: u32, policy: &str) -> String {
    format!("SLA escalation step {step} of policy `{policy}`")
}

pub(super) fn awaiting(reason: &str) -> CaseEvent {
    CaseEvent::AwaitingCustomer(Reason {
        reason: reason.into(),
    })
}

pub(super) fn resumed(reason: &str) -> CaseEvent {
    CaseEvent::Resumed(Reason {
        reason: reason.into(),
    })
}

pub(super) fn first_responded(by: &str) -> CaseEvent {
    CaseEvent::FirstResponded(FirstResponded { by: agent(by) })
}

pub(super) fn sla_refused(action: &'static str, reason: SlaRefusal) -> DomainError {
    DomainError::Sla { action, reason }
}

const BREACH: &str = "record SLA breach";
const STEP: &str = "run SLA escalation";

#[test]
pub(super) fn routing_applies_the_first_matching_policy_after_the_routed_event() {
    let case = given([opened()])
        .with_sla(sla_config())
        .when(route("L1"))
        .then_events([routed("L1"), standard_applied()]);
    let sla = case.sla.as_ref().expect("an SLA");
    assert_eq!(sla.policy_id, "standard");
    assert_eq!(
        case.deadline(SlaKind::FirstResponse),
        Some(mins(case.opened_at, 60)),
        "clocks start when the case was opened, not when it was routed"
    );
    assert_eq!(
        case.deadline(SlaKind::Resolution),
        Some(mins(case.opened_at, 480))
    );
    assert_eq!(case.next_deadline(), Some(mins(case.opened_at, 60)));

    let urgent = RouteCase {
        priority: Some(Priority::Urgent),
        ..route_case("L1")
    };
    given([opened()])
        .with_sla(sla_config())
        .when(Command::Route(urgent.clone()))
        .then_events([
            CaseEvent::Routed(CaseRouted {
                priority: Some(Priority::Urgent),
                ..routed_payload("L1")
            }),
            urgent_applied(),
        ]);
}

pub(super) fn routed_payload(tier_name: &str) -> CaseRouted {
    match routed(tier_name) {
        CaseEvent::Routed(r) => r,
        _ => unreachable!(),
    }
}

#[test]
pub(super) fn the_policy_uses_its_own_calendar_else_the_team_calendar_else_24x7() {
    let to_payments = RouteCase {
        team: Some("payments".into()),
        ..route_case("L1")
    };
    given([opened()])
        .with_sla(sla_config())
        .when(Command::Route(to_payments))
        .then_events([
            CaseEvent::Routed(CaseRouted {
                team: Some("payments".into()),
                ..routed_payload("L1")
            }),
            office_applied(),
        ]);

    let config = sla_config();
    let cal = |p: Priority, team: Option<&str>| {
        let (policy, cal) = config.policy_for(p, Segment::B2b, team).expect("a policy");
        (policy.id.clone(), cal.id)
    };
    assert_eq!(
        cal(Priority::Normal, Some("payments")),
        ("standard".into(), "office".into())
    );
    assert_eq!(
        cal(Priority::Normal, Some("sales")),
        ("standard".into(), "24x7".into())
    );
    assert_eq!(
        cal(Priority::Normal, None),
        ("standard".into(), "24x7".into())
    );
    // The urgent policy names 24x7, which beats the team's office hours.
    assert_eq!(
        cal(Priority::Urgent, Some("payments")),
        ("urgent".into(), "24x7".into())
    );
}

#[test]
pub(super) fn policies_match_on_priority_and_segment_in_order() {
    let mut b2c_only = standard_policy();
    b2c_only.id = "b2c".into();
    b2c_only.segments = vec![Segment::B2c];
    let config = SlaConfig {
        policies: vec![b2c_only, urgent_policy()],
        ..SlaConfig::default()
    };
    let id = |p, s| config.policy_for(p, s, None).map(|(p, _)| p.id.clone());
    assert_eq!(id(Priority::Normal, Segment::B2c), Some("b2c".into()));
    assert_eq!(
        id(Priority::Urgent, Segment::B2c),
        Some("b2c".into()),
        "first match wins"
    );
    assert_eq!(id(Priority::Urgent, Segment::B2b), Some("urgent".into()));
    assert_eq!(id(Priority::Normal, Segment::B2b), None);
    assert!(SlaConfig::default()
        .policy_for(Priority::Urgent, Segment::B2b, None)
        .is_none());

    // The test customer is B2B at normal priority: no policy, no SLA.
    let case = given([opened()])
        .with_sla(config)
        .when(route("L1"))
        .then_events([routed("L1")]);
    assert_eq!(case.sla, None);
    assert_eq!(case.next_deadline(), None);
    given(routed_to("L1"))
        .when(record_breach(SlaKind::FirstResponse))
        .then_error(sla_refused(BREACH, SlaRefusal::NoSla));
    given(routed_to("L1"))
        .when(run_step(0))
        .then_error(sla_refused(STEP, SlaRefusal::NoSla));
}

#[test]
pub(super) fn rerouting_reapplies_only_when_the_policy_or_calendar_changes() {
    given_at(under(standard_applied()))
        .with_sla(sla_config())
        .when(route("L2"))
        .then_events([routed("L2")]);
    let to_payments = RouteCase {
        team: Some("payments".into()),
        ..route_case("L2")
    };
    given_at(under(standard_applied()))
        .with_sla(sla_config())
        .when(Command::Route(to_payments))
        .then_events([
            CaseEvent::Routed(CaseRouted {
                team: Some("payments".into()),
                ..routed_payload("L2")
            }),
            office_applied(),
        ]);
}

#[test]
pub(super) fn a_priority_change_applies_the_policy_now_matching() {
    let case = given_at(under(standard_applied()))
        .with_sla(sla_config())
        .when(change_priority(Priority::Urgent))
        .then_events([
            priority_changed(Priority::Normal, Priority::Urgent),
            urgent_applied(),
        ]);
    assert_eq!(case.next_deadline(), Some(mins(monday_9(), 15)));
    // Still the standard policy: nothing to apply.
    given_at(under(standard_applied()))
        .with_sla(sla_config())
        .when(change_priority(Priority::High))
        .then_events([priority_changed(Priority::Normal, Priority::High)]);
    // Not routed yet: the SLA comes with routing.
    given([opened()])
        .with_sla(sla_config())
        .when(change_priority(Priority::Urgent))
        .then_events([priority_changed(Priority::Normal, Priority::Urgent)]);
    // No policy matches any more: the case keeps the one it has.
    let urgent_only = SlaConfig {
        policies: vec![urgent_policy()],
        ..SlaConfig::default()
    };
    let case = given_at(and(
        under(urgent_applied()),
        [(
            priority_changed(Priority::Normal, Priority::Urgent),
            monday_9(),
        )],
    ))
    .with_sla(urgent_only)
    .when(change_priority(Priority::Low))
    .then_events([priority_changed(Priority::Urgent, Priority::Low)]);
    assert_eq!(case.sla.map(|s| s.policy_id), Some("urgent".into()));
}

#[test]
pub(super) fn a_breach_is_refused_before_the_deadline_and_recorded_exactly_once_after() {
    let deadline = mins(monday_9(), 60);
    given_at(under(standard_applied()))
        .at(deadline.plus_secs(-1))
        .when(record_breach(SlaKind::FirstResponse))
        .then_error(sla_refused(
            BREACH,
            SlaRefusal::NotDue {
                kind: SlaKind::FirstResponse,
                at: deadline,
            },
        ));
    let case = given_at(under(standard_applied()))
        .at(deadline)
        .when(record_breach(SlaKind::FirstResponse))
        .then_events([breached(SlaKind::FirstResponse, deadline, "standard")]);
    // A breached deadline stays pending: the case is the most at risk in its queue.
    assert_eq!(case.deadline(SlaKind::FirstResponse), Some(deadline));
    assert_eq!(
        sla_due(&case, mins(deadline, 10)),
        vec![run_step(0)],
        "no second breach, only the escalation step that has not run"
    );

    let after = and(
        under(standard_applied()),
        [(
            breached(SlaKind::FirstResponse, deadline, "standard"),
            deadline,
        )],
    );
    given_at(after)
        .at(mins(deadline, 1))
        .when(record_breach(SlaKind::FirstResponse))
        .then_error(sla_refused(
            BREACH,
            SlaRefusal::AlreadyBreached(SlaKind::FirstResponse),
        ));
}

#[test]
pub(super) fn the_resolution_deadline_breaches_while_open_only() {
    let deadline = mins(monday_9(), 480);
    given_at(under(standard_applied()))
        .at(deadline)
        .when(record_breach(SlaKind::Resolution))
        .then_events([breached(SlaKind::Resolution, deadline, "standard")]);
    let resolved_in_time = and(
        under(standard_applied()),
        [(resolved("done", Some("L1"), "bob"), mins(monday_9(), 400))],
    );
    let reason = given_at(resolved_in_time.clone())
        .at(mins(deadline, 1))
        .when(record_breach(SlaKind::Resolution))
        .then_refused(BREACH);
    assert!(reason.contains("resolved"), "{reason}");
    let case = given_at(resolved_in_time).state();
    assert_eq!(case.deadline(SlaKind::Resolution), None);
    assert_eq!(case.next_deadline(), None);
    assert_eq!(case.next_sla_wakeup(), None);
    assert_eq!(
        case.sla_breach_due(SlaKind::Resolution, mins(deadline, 1)),
        Err(SlaRefusal::NotOpen)
    );
    given_at(and(
        under(standard_applied()),
        [(closed("spam"), mins(monday_9(), 5))],
    ))
    .at(mins(deadline, 1))
    .when(record_breach(SlaKind::Resolution))
    .then_refused(BREACH);
}

#[test]
pub(super) fn a_kind_without_a_target_never_breaches() {
    let policy = SlaPolicy {
        first_response_mins: None,
        escalation: vec![],
        ..standard_policy()
    };
    let history = under(CaseEvent::SlaApplied(policy.applied(Calendar::always())));
    given_at(history.clone())
        .at(mins(monday_9(), 100_000))
        .when(record_breach(SlaKind::FirstResponse))
        .then_error(sla_refused(
            BREACH,
            SlaRefusal::NoTarget(SlaKind::FirstResponse),
        ));
    let case = given_at(history).state();
    assert_eq!(case.deadline(SlaKind::FirstResponse), None);
    assert_eq!(case.next_deadline(), Some(mins(monday_9(), 480)));
}

#[test]
pub(super) fn the_first_public_reply_by_a_non_customer_is_the_first_response() {
    let t0 = monday_9();
    let case = given_at(under(standard_applied()))
        .by("bob")
        .at(mins(t0, 10))
        .when(post(MessageKind::PublicReply, "Looking into it"))
        .then_events([
            posted(MessageKind::PublicReply, "bob", "Looking into it"),
            first_responded("bob"),
        ]);
    assert_eq!(case.first_response_at, Some(mins(t0, 10)));
    assert_eq!(case.deadline(SlaKind::FirstResponse), None);
    assert_eq!(case.next_deadline(), Some(mins(t0, 480)));

    let responded = and(
        under(standard_applied()),
        [
            (
                posted(MessageKind::PublicReply, "bob", "Looking into it"),
                mins(t0, 10),
            ),
            (first_responded("bob"), mins(t0, 10)),
        ],
    );
    given_at(responded.clone())
        .at(mins(t0, 120))
        .when(record_breach(SlaKind::FirstResponse))
        .then_error(sla_refused(BREACH, SlaRefusal::Met(SlaKind::FirstResponse)));
    // Later replies, internal notes and the customer's own replies are not first responses.
    given_at(responded)
        .by("carol")
        .when(post(MessageKind::PublicReply, "Update"))
        .then_events([posted(MessageKind::PublicReply, "carol", "Update")]);
    given_at(under(standard_applied()))
        .by("bob")
        .when(post(MessageKind::InternalNote, "checking"))
        .then_events([posted(MessageKind::InternalNote, "bob", "checking")]);
    given_at(under(standard_applied()))
        .by_customer("ada")
        .when(post(MessageKind::PublicReply, "Any news?"))
        .then_events([posted(MessageKind::PublicReply, "ada", "Any news?")]);
}

#[test]
pub(super) fn a_late_first_response_leaves_the_breach_to_be_recorded() {
    // The deadline passed while the server was down; an agent answered before the
    // scheduler caught up. The target was still missed.
    let t0 = monday_9();
    let late = and(
        under(standard_applied()),
        [
            (
                posted(MessageKind::PublicReply, "bob", "Sorry!"),
                mins(t0, 90),
            ),
            (first_responded("bob"), mins(t0, 90)),
        ],
    );
    let case = given_at(late.clone()).state();
    assert_eq!(case.deadline(SlaKind::FirstResponse), None, "answered");
    assert_eq!(case.next_sla_wakeup(), Some(mins(t0, 60)));
    given_at(late)
        .at(mins(t0, 91))
        .when(record_breach(SlaKind::FirstResponse))
        .then_events([breached(SlaKind::FirstResponse, mins(t0, 60), "standard")]);
}

#[test]
pub(super) fn await_customer_and_resume() {
    let t0 = monday_9();
    let case = given_at(under(standard_applied()))
        .at(mins(t0, 5))
        .when(await_customer("  need the invoice number "))
        .then_events([awaiting("need the invoice number")]);
    assert_eq!(case.awaiting_customer_since, Some(mins(t0, 5)));
    let waiting = and(
        under(standard_applied()),
        [(awaiting("invoice?"), mins(t0, 5))],
    );
    given_at(waiting.clone())
        .when(await_customer("again"))
        .then_refused("await customer");
    let case = given_at(waiting)
        .at(mins(t0, 20))
        .when(Command::Resume)
        .then_events([resumed("resumed")]);
    assert_eq!(case.awaiting_customer_since, None);
    assert_eq!(case.pauses, vec![(mins(t0, 5), mins(t0, 20))]);
    given_at(under(standard_applied()))
        .when(Command::Resume)
        .then_refused("resume");
    given([opened(), resolved("done", None, "bob")])
        .when(await_customer("x"))
        .then_refused("await customer");
}

#[test]
pub(super) fn a_public_reply_by_the_customer_ends_the_wait() {
    let t0 = monday_9();
    let waiting = and(
        under(standard_applied()),
        [(awaiting("invoice?"), mins(t0, 5))],
    );
    given_at(waiting.clone())
        .by_customer("ada")
        .when(post(MessageKind::PublicReply, "It is 4711"))
        .then_events([
            posted(MessageKind::PublicReply, "ada", "It is 4711"),
            resumed("customer replied"),
        ]);
    // An agent's reply does not end the wait (but is the first response).
    let case = given_at(waiting)
        .by("bob")
        .when(post(MessageKind::PublicReply, "Still waiting for it"))
        .then_events([
            posted(MessageKind::PublicReply, "bob", "Still waiting for it"),
            first_responded("bob"),
        ]);
    assert!(case.awaiting_customer_since.is_some());
}

#[test]
pub(super) fn waiting_on_the_customer_stops_the_clocks_in_business_time() {
    // Office hours. 20 of the 60 minutes are used when the wait starts on Monday at
    // 09:20; it ends on Tuesday at 10:00, so the deadline is Tuesday 10:40.
    let t0 = monday_9();
    let tuesday_10 = t("2026-09-15T10:00:00Z");
    let waiting = and(under(office_applied()), [(awaiting("logs?"), mins(t0, 20))]);
    let case = given_at(waiting.clone()).state();
    assert_eq!(case.deadline(SlaKind::FirstResponse), None, "paused");
    assert_eq!(case.next_deadline(), None);
    assert_eq!(case.next_sla_wakeup(), None);
    given_at(waiting.clone())
        .at(tuesday_10)
        .when(record_breach(SlaKind::FirstResponse))
        .then_error(sla_refused(
            BREACH,
            SlaRefusal::Paused(SlaKind::FirstResponse),
        ));
    given_at(waiting.clone())
        .at(tuesday_10)
        .when(run_step(0))
        .then_error(sla_refused(
            STEP,
            SlaRefusal::Paused(SlaKind::FirstResponse),
        ));

    let resumed_history = and(waiting, [(resumed("resumed"), tuesday_10)]);
    let case = given_at(resumed_history.clone()).state();
    let deadline = t("2026-09-15T10:40:00Z");
    assert_eq!(case.deadline(SlaKind::FirstResponse), Some(deadline));
    assert_eq!(
        case.next_sla_wakeup(),
        Some(t("2026-09-15T10:10:00Z")),
        "step 0"
    );
    given_at(resumed_history.clone())
        .at(deadline.plus_secs(-1))
        .when(record_breach(SlaKind::FirstResponse))
        .then_error(sla_refused(
            BREACH,
            SlaRefusal::NotDue {
                kind: SlaKind::FirstResponse,
                at: deadline,
            },
        ));
    given_at(resumed_history)
        .at(deadline)
        .when(record_breach(SlaKind::FirstResponse))
        .then_events([breached(SlaKind::FirstResponse, deadline, "standard")]);
}

#[test]
pub(super) fn a_deadline_reached_before_the_wait_began_stands() {
    let t0 = monday_9();
    let waiting = and(
        under(standard_applied()),
        [(awaiting("logs?"), mins(t0, 90))],
    );
    let case = given_at(waiting.clone()).state();
    assert_eq!(case.deadline(SlaKind::FirstResponse), Some(mins(t0, 60)));
    assert_eq!(
        case.deadline(SlaKind::Resolution),
        None,
        "paused short of it"
    );
    given_at(waiting)
        .at(mins(t0, 120))
        .when(record_breach(SlaKind::FirstResponse))
        .then_events([breached(SlaKind::FirstResponse, mins(t0, 60), "standard")]);
}

#[test]
pub(super) fn resolving_or_closing_ends_the_wait() {
    let t0 = monday_9();
    for end in [resolved("done", Some("L1"), "bob"), closed("gone quiet")] {
        let case = given_at(and(
            under(standard_applied()),
            [(awaiting("logs?"), mins(t0, 5)), (end, mins(t0, 50))],
        ))
        .state();
        assert_eq!(case.awaiting_customer_since, None);
        assert_eq!(case.pauses, vec![(mins(t0, 5), mins(t0, 50))]);
    }
}

#[test]
pub(super) fn holidays_and_nights_do_not_count() {
    // Opened Tuesday 16:30 at office hours: 30 minutes on Tuesday, none on the
    // Wednesday holiday, 30 on Thursday: due Thursday 09:30.
    let opened_at = t("2026-09-15T16:30:00Z");
    let history = vec![
        (opened(), opened_at),
        (routed("L1"), opened_at),
        (office_applied(), opened_at),
    ];
    let deadline = t("2026-09-17T09:30:00Z");
    assert_eq!(
        given_at(history.clone())
            .state()
            .deadline(SlaKind::FirstResponse),
        Some(deadline)
    );
    given_at(history.clone())
        .at(t("2026-09-16T12:00:00Z"))
        .when(record_breach(SlaKind::FirstResponse))
        .then_error(sla_refused(
            BREACH,
            SlaRefusal::NotDue {
                kind: SlaKind::FirstResponse,
                at: deadline,
            },
        ));
    given_at(history)
        .at(deadline)
        .when(record_breach(SlaKind::FirstResponse))
        .then_events([breached(SlaKind::FirstResponse, deadline, "standard")]);
}

#[test]
pub(super) fn escalation_steps_run_when_due_and_once_each() {
    let t0 = monday_9();
    given_at(under(standard_applied()))
        .at(mins(t0, 29))
        .when(run_step(0))
        .then_error(sla_refused(
            STEP,
            SlaRefusal::NotDue {
                kind: SlaKind::FirstResponse,
                at: mins(t0, 30),
            },
        ));
    let case = given_at(under(standard_applied()))
        .by("system")
        .at(mins(t0, 30))
        .when(run_step(0))
        .then_events([
            sla_escalated(0, SlaKind::FirstResponse, "standard"),
            CaseEvent::PriorityChanged(PriorityChanged {
                from: Priority::Normal,
                to: Priority::High,
                reason: escalation_reason(0, "standard"),
            }),
        ]);
    assert_eq!(case.priority, Priority::High);

    let ran = and(
        under(standard_applied()),
        [
            (
                sla_escalated(0, SlaKind::FirstResponse, "standard"),
                mins(t0, 30),
            ),
            (
                CaseEvent::PriorityChanged(PriorityChanged {
                    from: Priority::Normal,
                    to: Priority::High,
                    reason: escalation_reason(0, "standard"),
                }),
                mins(t0, 30),
            ),
        ],
    );
    given_at(ran.clone())
        .at(mins(t0, 200))
        .when(run_step(0))
        .then_error(sla_refused(STEP, SlaRefusal::AlreadyRan(0)));
    let case = given_at(ran.clone())
        .at(mins(t0, 120))
        .when(run_step(1))
        .then_events([
            sla_escalated(1, SlaKind::Resolution, "standard"),
            CaseEvent::Escalated(TierChanged {
                from: tier("L1"),
                to: tier("L2"),
                reason: escalation_reason(1, "standard"),
            }),
        ]);
    assert_eq!(case.tier, Some(tier("L2")));
    assert_eq!(case.escalations, 1);
    given_at(ran)
        .at(mins(t0, 120))
        .when(run_step(2))
        .then_error(sla_refused(STEP, SlaRefusal::NoSuchStep(2)));
}

#[test]
pub(super) fn raising_the_priority_to_urgent_applies_the_urgent_policy() {
    let t0 = monday_9();
    let high = and(
        under(standard_applied()),
        [(priority_changed(Priority::Normal, Priority::High), t0)],
    );
    given_at(high)
        .with_sla(sla_config())
        .at(mins(t0, 30))
        .when(run_step(0))
        .then_events([
            sla_escalated(0, SlaKind::FirstResponse, "standard"),
            CaseEvent::PriorityChanged(PriorityChanged {
                from: Priority::High,
                to: Priority::Urgent,
                reason: escalation_reason(0, "standard"),
            }),
            urgent_applied(),
        ]);
}

#[test]
pub(super) fn escalation_effects_stop_at_urgent_and_at_the_top_tier() {
    let t0 = monday_9();
    let history = vec![
        (opened(), t0),
        (routed("L3"), t0),
        (priority_changed(Priority::Normal, Priority::Urgent), t0),
        (standard_applied(), t0),
    ];
    given_at(history.clone())
        .at(mins(t0, 30))
        .when(run_step(0))
        .then_events([sla_escalated(0, SlaKind::FirstResponse, "standard")]);
    given_at(history)
        .at(mins(t0, 120))
        .when(run_step(1))
        .then_events([sla_escalated(1, SlaKind::Resolution, "standard")]);
}

#[test]
pub(super) fn the_first_response_stops_its_escalation_steps() {
    let t0 = monday_9();
    let responded = and(
        under(standard_applied()),
        [
            (
                posted(MessageKind::PublicReply, "bob", "On it"),
                mins(t0, 10),
            ),
            (first_responded("bob"), mins(t0, 10)),
        ],
    );
    given_at(responded)
        .at(mins(t0, 30))
        .when(run_step(0))
        .then_error(sla_refused(
            STEP,
            SlaRefusal::ClockStopped(SlaKind::FirstResponse),
        ));
}

#[test]
pub(super) fn sla_due_lists_what_is_due_and_running_it_leaves_nothing_due() {
    let t0 = monday_9();
    let g = given_at(under(standard_applied()));
    let case = g.state();
    assert_eq!(sla_due(&case, mins(t0, 29)), vec![]);
    assert_eq!(case.next_sla_wakeup(), Some(mins(t0, 30)));
    assert_eq!(sla_due(&case, mins(t0, 30)), vec![run_step(0)]);
    let due = sla_due(&case, mins(t0, 180));
    assert_eq!(
        due,
        vec![
            record_breach(SlaKind::FirstResponse),
            run_step(0),
            run_step(1)
        ]
    );
    let case = g.by("system").at(mins(t0, 180)).when_all(due).then_events([
        breached(SlaKind::FirstResponse, mins(t0, 60), "standard"),
        sla_escalated(0, SlaKind::FirstResponse, "standard"),
        CaseEvent::PriorityChanged(PriorityChanged {
            from: Priority::Normal,
            to: Priority::High,
            reason: escalation_reason(0, "standard"),
        }),
        sla_escalated(1, SlaKind::Resolution, "standard"),
        CaseEvent::Escalated(TierChanged {
            from: tier("L1"),
            to: tier("L2"),
            reason: escalation_reason(1, "standard"),
        }),
    ]);
    assert_eq!(sla_due(&case, mins(t0, 180)), vec![]);
    // What is left: the resolution deadline.
    assert_eq!(case.next_sla_wakeup(), Some(mins(t0, 480)));
    assert_eq!(
        sla_due(&case, mins(t0, 480)),
        vec![record_breach(SlaKind::Resolution)]
    );
}

#[test]
pub(super) fn reopening_restarts_the_resolution_clock_only() {
    let t0 = monday_9();
    let reopened_at = t("2026-09-15T10:00:00Z");
    let history = and(
        under(standard_applied()),
        [
            (
                sla_escalated(0, SlaKind::FirstResponse, "standard"),
                mins(t0, 30),
            ),
            (
                breached(SlaKind::FirstResponse, mins(t0, 60), "standard"),
                mins(t0, 60),
            ),
            (
                sla_escalated(1, SlaKind::Resolution, "standard"),
                mins(t0, 120),
            ),
            (
                breached(SlaKind::Resolution, mins(t0, 480), "standard"),
                mins(t0, 480),
            ),
            (resolved("done", Some("L1"), "bob"), mins(t0, 500)),
            (reopened("still broken"), reopened_at),
        ],
    );
    let case = given_at(history.clone()).state();
    assert_eq!(case.resolution_clock_start, reopened_at);
    assert_eq!(
        case.deadline(SlaKind::Resolution),
        Some(mins(reopened_at, 480))
    );
    let sla = case.sla.as_ref().expect("an SLA");
    assert!(!sla.breached.contains(&SlaKind::Resolution));
    assert!(sla.breached.contains(&SlaKind::FirstResponse));
    assert_eq!(
        sla.escalated,
        [0].into(),
        "resolution steps restart, others stay"
    );
    // The first-response clock does not restart: it breached once and stays so.
    given_at(history.clone())
        .at(mins(reopened_at, 1000))
        .when(record_breach(SlaKind::FirstResponse))
        .then_error(sla_refused(
            BREACH,
            SlaRefusal::AlreadyBreached(SlaKind::FirstResponse),
        ));
    given_at(history.clone())
        .at(mins(reopened_at, 479))
        .when(record_breach(SlaKind::Resolution))
        .then_error(sla_refused(
            BREACH,
            SlaRefusal::NotDue {
                kind: SlaKind::Resolution,
                at: mins(reopened_at, 480),
            },
        ));
    given_at(history.clone())
        .at(mins(reopened_at, 480))
        .when(record_breach(SlaKind::Resolution))
        .then_events([breached(
            SlaKind::Resolution,
            mins(reopened_at, 480),
            "standard",
        )]);
    assert_eq!(
        sla_due(&case, mins(reopened_at, 120)),
        vec![run_step(1)],
        "the resolution escalation step runs again in the new cycle"
    );
}

#[test]
pub(super) fn reapplying_a_policy_keeps_breaches_and_resets_steps_only_for_another_chain() {
    let t0 = monday_9();
    let history = and(
        under(standard_applied()),
        [
            (
                breached(SlaKind::FirstResponse, mins(t0, 60), "standard"),
                mins(t0, 60),
            ),
            (
                sla_escalated(0, SlaKind::FirstResponse, "standard"),
                mins(t0, 60),
            ),
        ],
    );
    let same_chain = given_at(and(history.clone(), [(office_applied(), mins(t0, 70))])).state();
    let sla = same_chain.sla.expect("an SLA");
    assert_eq!(sla.calendar, office());
    assert_eq!(sla.escalated, [0].into());
    let other = given_at(and(history, [(urgent_applied(), mins(t0, 70))])).state();
    let sla = other.sla.expect("an SLA");
    assert_eq!(sla.policy_id, "urgent");
    assert_eq!(sla.breached, [SlaKind::FirstResponse].into());
    assert!(sla.escalated.is_empty());
}

#[test]
pub(super) fn sla_configuration_is_validated() {
    assert_eq!(sla_config().validate(), Ok(()));
    assert_eq!(SlaConfig::default().validate(), Ok(()));
    let policy = |f: &dyn Fn(&mut SlaPolicy)| {
        let mut p = standard_policy();
        f(&mut p);
        p.validate()
    };
    // Targets and step delays are bounded to a year of minutes.
    use super::sla::MAX_SLA_MINUTES;
    assert_eq!(
        policy(&|p| p.resolution_mins = Some(MAX_SLA_MINUTES)),
        Ok(())
    );
    assert!(matches!(
        policy(&|p| p.resolution_mins = Some(u32::MAX)),
        Err(SlaError::TooLong { .. })
    ));
    assert!(matches!(
        policy(&|p| p.first_response_mins = Some(MAX_SLA_MINUTES + 1)),
        Err(SlaError::TooLong { .. })
    ));
    assert!(matches!(
        policy(&|p| p.escalation[0].after_mins = u32::MAX),
        Err(SlaError::TooLong { .. })
    ));
    assert_eq!(
        policy(&|p| p.id = "".into()),
        Err(SlaError::BadPolicyId("".into()))
    );
    assert_eq!(
        policy(&|p| p.id = "a b".into()),
        Err(SlaError::BadPolicyId("a b".into()))
    );
    assert_eq!(
        policy(&|p| p.name = "x".repeat(201)),
        Err(SlaError::BadName("standard".into()))
    );
    assert_eq!(
        policy(&|p| {
            p.first_response_mins = None;
            p.resolution_mins = None;
        }),
        Err(SlaError::NoTarget("standard".into()))
    );
    assert_eq!(
        policy(&|p| p.resolution_mins = Some(0)),
        Err(SlaError::ZeroTarget {
            policy: "standard".into(),
            kind: SlaKind::Resolution
        })
    );
    assert_eq!(
        policy(&|p| p
            .escalation
            .push(step(20, SlaKind::FirstResponse, true, false))),
        Err(SlaError::StepOrder {
            policy: "standard".into(),
            step: 2,
            kind: SlaKind::FirstResponse
        })
    );
    assert_eq!(
        policy(&|p| p
            .escalation
            .push(step(30, SlaKind::FirstResponse, true, false))),
        Err(SlaError::StepOrder {
            policy: "standard".into(),
            step: 2,
            kind: SlaKind::FirstResponse
        }),
        "strictly increasing"
    );
    // Each clock has its own order.
    assert_eq!(
        policy(&|p| p
            .escalation
            .push(step(60, SlaKind::FirstResponse, true, false))),
        Ok(())
    );
    assert_eq!(
        policy(&|p| p.escalation.push(EscalationStep {
            notify_lead: false,
            ..step(600, SlaKind::Resolution, false, false)
        })),
        Err(SlaError::StepDoesNothing {
            policy: "standard".into(),
            step: 2
        })
    );
    assert_eq!(
        policy(&|p| p.escalation = (1..=17)
            .map(|m| step(m, SlaKind::Resolution, true, false))
            .collect()),
        Err(SlaError::TooManySteps("standard".into()))
    );

    let config = |f: &dyn Fn(&mut SlaConfig)| {
        let mut c = sla_config();
        f(&mut c);
        c.validate()
    };
    assert_eq!(
        config(&|c| c.policies.push(urgent_policy())),
        Err(SlaError::DuplicatePolicy("urgent".into()))
    );
    assert_eq!(
        config(&|c| c.policies[0].calendar = Some("mars".into())),
        Err(SlaError::UnknownCalendar {
            owner: "policy urgent".into(),
            calendar: "mars".into()
        })
    );
    assert_eq!(
        config(&|c| {
            c.team_calendars.insert("sales".into(), "mars".into());
        }),
        Err(SlaError::UnknownCalendar {
            owner: "team sales".into(),
            calendar: "mars".into()
        })
    );
    assert_eq!(
        config(&|c| {
            c.calendars.insert("home".into(), office());
        }),
        Err(SlaError::CalendarKey {
            key: "home".into(),
            id: "office".into()
        })
    );
    assert_eq!(
        config(&|c| {
            c.calendars.get_mut("office").unwrap().utc_offset_minutes = 900;
        }),
        Err(SlaError::Calendar {
            id: "office".into(),
            source: CalendarError::BadOffset(900)
        })
    );
    assert_eq!(
        config(&|c| c.policies[1].escalation[0].raise_priority = false),
        Ok(()),
        "a step that only notifies the lead is fine"
    );
}

#[test]
pub(super) fn sla_kinds_and_priorities_parse_and_rank() {
    assert_eq!(
        "first_response".parse::<SlaKind>(),
        Ok(SlaKind::FirstResponse)
    );
    assert_eq!("RESOLUTION".parse::<SlaKind>(), Ok(SlaKind::Resolution));
    assert!("breakfast".parse::<SlaKind>().is_err());
    assert_eq!(SlaKind::FirstResponse.as_str(), "FIRST_RESPONSE");
    assert_eq!(Priority::Low.raised(), Some(Priority::Normal));
    assert_eq!(Priority::Normal.raised(), Some(Priority::High));
    assert_eq!(Priority::High.raised(), Some(Priority::Urgent));
    assert_eq!(Priority::Urgent.raised(), None);
}
