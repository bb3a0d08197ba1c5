//! Domain tests: intelligent swarming (needed skills, invitations, help requests,
//! swarm types and roles), every command with its refusals.

use super::*;

fn skills_set(skills: &[&str]) -> CaseEvent {
    CaseEvent::SkillsSet(CaseSkillsSet {
        skills: skills.iter().map(|s| s.to_string()).collect(),
        source: SkillSource::Staff,
        rule_id: None,
    })
}

fn invited_by(by: &str, agents: &[&str]) -> CaseEvent {
    CaseEvent::SwarmInvited(SwarmInvited {
        agents: agents.iter().map(|a| agent(a)).collect(),
        by: agent(by),
        note: "SSO loops".into(),
        auto_replace: false,
        expires_at: None,
        cleared: vec![],
        reason: None,
    })
}

fn accepted(a: &str) -> CaseEvent {
    CaseEvent::InvitationAccepted(InvitationAccepted { agent: agent(a) })
}

fn declined(a: &str, reason: &str) -> CaseEvent {
    CaseEvent::InvitationDeclined(InvitationDeclined {
        agent: agent(a),
        reason: reason.into(),
    })
}

fn help_requested(id: u32, by: &str, skills: &[&str], note: &str) -> CaseEvent {
    CaseEvent::HelpRequested(HelpRequested {
        request_id: id,
        by: agent(by),
        skills: skills.iter().map(|s| s.to_string()).collect(),
        note: note.into(),
    })
}

fn help_offered(id: u32, by: &str) -> CaseEvent {
    CaseEvent::HelpOffered(HelpOffered {
        request_id: id,
        by: agent(by),
    })
}

fn offer(id: u32) -> Command {
    Command::OfferHelp { request_id: id }
}

fn accept_help(id: u32, helper: &str) -> Command {
    Command::AcceptHelp {
        request_id: id,
        helper: agent(helper),
    }
}

fn set_role(a: &str, role: SwarmRole) -> Command {
    Command::SetSwarmRole {
        agent: agent(a),
        role,
    }
}

fn role_set(a: &str, role: SwarmRole) -> CaseEvent {
    CaseEvent::SwarmRoleSet(SwarmRoleSet {
        agent: agent(a),
        role,
    })
}

/// Alice owns (is assigned) an L1 case and leads its swarm; bob is invited.
fn bob_invited() -> Vec<CaseEvent> {
    let mut h = routed_to("L1");
    h.extend([
        assigned("alice"),
        swarm_started("alice"),
        invited_by("alice", &["bob"]),
    ]);
    h
}

/// An open L1 case owned by alice, where alice asked for help with SAML (request 1).
fn alice_asked() -> Vec<CaseEvent> {
    let mut h = routed_to("L1");
    h.extend([
        assigned("alice"),
        help_requested(1, "alice", &["saml"], "IdP loop"),
    ]);
    h
}

fn lead_actor(id: &str) -> Actor {
    Actor::new(id, Role::Lead).expect("a valid id")
}

// --- Needed skills -------------------------------------------------------------

#[test]
fn set_case_skills_normalises_sorts_and_dedups() {
    let case = given(routed_to("L1"))
        .when(set_skills(&["SAML", " billing", "saml"]))
        .then_events([skills_set(&["billing", "saml"])]);
    assert_eq!(
        case.swarming.skills.iter().collect::<Vec<_>>(),
        ["billing", "saml"]
    );
    assert_eq!(case.swarming.skills_source, Some(SkillSource::Staff));
}

#[test]
fn set_case_skills_replaces_and_can_clear() {
    let mut h = routed_to("L1");
    h.push(skills_set(&["saml"]));
    let case = given(h.clone())
        .when(set_skills(&[]))
        .then_events([skills_set(&[])]);
    assert!(case.swarming.skills.is_empty());
    given(h)
        .when(set_skills(&["billing"]))
        .then_events([skills_set(&["billing"])]);
}

#[test]
fn a_case_boxes_its_swarming_state_only_once_it_has_one() {
    let h = routed_to("L1");
    let mut handled = h.clone();
    handled.extend([
        posted(MessageKind::PublicReply, "alice", "On it"),
        resolved("Fixed", Some("L1"), "alice"),
        reopened("Not fixed"),
    ]);
    let case = Case::fold(handled.iter().zip(1..).map(|(e, v)| (e, v, at(v as i64))));
    assert!(case.exists());
    assert!(!case.swarming.is_boxed(), "never swarmed: {case:?}");
    let case = given(h)
        .when(set_skills(&["billing"]))
        .then_events([skills_set(&["billing"])]);
    assert!(case.swarming.is_boxed());
}

#[test]
fn set_case_skills_to_what_it_already_needs_is_refused() {
    let mut h = routed_to("L1");
    h.push(skills_set(&["saml"]));
    given(h)
        .when(set_skills(&["SAML"]))
        .then_refused("set case skills");
    given(routed_to("L1"))
        .when(set_skills(&[]))
        .then_refused("set case skills");
}

#[test]
fn malformed_or_too_many_skills_are_invalid() {
    given(routed_to("L1"))
        .when(set_skills(&["not a skill"]))
        .then_invalid("not a valid skill");
    let many: Vec<String> = (0..17).map(|i| format!("s{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    given(routed_to("L1"))
        .when(set_skills(&many))
        .then_invalid("at most 16 skills");
}

#[test]
fn skills_from_a_routing_rule_say_so() {
    let case = given(routed_to("L1"))
        .when(Command::SetCaseSkills {
            skills: vec!["saml".into()],
            source: SkillSource::Rule,
            rule_id: Some("sso".into()),
        })
        .then_events([CaseEvent::SkillsSet(CaseSkillsSet {
            skills: vec!["saml".into()],
            source: SkillSource::Rule,
            rule_id: Some("sso".into()),
        })]);
    assert_eq!(case.swarming.skills_source, Some(SkillSource::Rule));
}

// --- Invitations -----------------------------------------------------------------

#[test]
fn inviting_without_a_swarm_starts_one_led_by_the_inviter() {
    let case = given(routed_to("L1"))
        .when(invite(&["bob", "carol"]))
        .then_events([
            CaseEvent::SwarmStarted(SwarmStarted {
                lead: agent("alice"),
                reason: "SSO loops".into(),
            }),
            invited_by("alice", &["bob", "carol"]),
        ]);
    assert_eq!(case.swarm.as_ref().unwrap().lead, agent("alice"));
    for a in ["bob", "carol"] {
        let inv = case.swarming.invitation(&agent(a)).expect("invited");
        assert_eq!(inv.status, InvitationStatus::Pending);
        assert_eq!(inv.by, agent("alice"));
        assert!(
            !case.is_swarm_member(&agent(a)),
            "invited is not yet joined"
        );
    }
}

#[test]
fn inviting_into_an_active_swarm_only_invites() {
    given(swarming("alice", &[]))
        .when(invite(&["bob"]))
        .then_events([invited_by("alice", &["bob"])]);
}

#[test]
fn an_invitation_can_expire_after_the_given_minutes_and_ask_for_replacement() {
    let case = given(swarming("alice", &[]))
        .at(at(100))
        .when(Command::InviteToSwarm(InviteToSwarm {
            expires_after_mins: Some(15),
            auto_replace: true,
            ..match invite(&["bob"]) {
                Command::InviteToSwarm(i) => i,
                _ => unreachable!(),
            }
        }))
        .then_events([CaseEvent::SwarmInvited(SwarmInvited {
            auto_replace: true,
            expires_at: Some(at(100 + 15 * 60)),
            ..match invited_by("alice", &["bob"]) {
                CaseEvent::SwarmInvited(i) => i,
                _ => unreachable!(),
            }
        })]);
    let inv = case.swarming.invitation(&agent("bob")).unwrap();
    assert!(inv.auto_replace);
    assert_eq!(case.swarming.next_expiry(), Some(at(1000)));
    assert!(case.swarming.expired_at(at(999)).is_empty());
    assert_eq!(case.swarming.expired_at(at(1000)), vec![agent("bob")]);
}

#[test]
fn inviting_yourself_a_member_or_someone_already_invited_is_refused() {
    let r = given(swarming("alice", &["bob"]))
        .when(invite(&["alice"]))
        .then_refused("invite to swarm");
    assert!(r.contains("yourself"), "{r}");
    let r = given(swarming("alice", &["bob"]))
        .when(invite(&["bob"]))
        .then_refused("invite to swarm");
    assert!(r.contains("already in the swarm"), "{r}");
    let r = given(bob_invited())
        .when(invite(&["bob"]))
        .then_refused("invite to swarm");
    assert!(r.contains("pending invitation"), "{r}");
}

#[test]
fn an_empty_duplicate_or_oversized_invitation_is_invalid() {
    given(swarming("alice", &[]))
        .when(invite(&[]))
        .then_invalid("at least one");
    given(swarming("alice", &[]))
        .when(invite(&["bob", "bob"]))
        .then_invalid("twice");
    let many: Vec<String> = (0..11).map(|i| format!("a{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    given(swarming("alice", &[]))
        .when(invite(&many))
        .then_invalid("at most 10");
}

#[test]
fn a_private_case_refuses_an_invitee_whose_tiers_do_not_reach_it() {
    let private = given(sensitive_l2_swarm()).when(invite_with(&[("bob", "L1")]));
    let r = private.then_refused("invite to swarm");
    assert!(r.contains("private"), "{r}");
    // An L3 agent reaches an L2 private case.
    given(sensitive_l2_swarm())
        .when(invite_with(&[("carol", "L3")]))
        .then_events([invited_by("alice", &["carol"])]);
}

/// A sensitive L2 case with a swarm led by alice.
fn sensitive_l2_swarm() -> Vec<CaseEvent> {
    vec![
        opened(),
        CaseEvent::Routed(CaseRouted {
            sensitive: true,
            ..match routed("L2") {
                CaseEvent::Routed(r) => r,
                _ => unreachable!(),
            }
        }),
        swarm_started("alice"),
    ]
}

fn pull_in(agent_id: &str, agent_tier: &str, reason: Option<&str>) -> Command {
    match invite_with(&[(agent_id, agent_tier)]) {
        Command::InviteToSwarm(i) => Command::InviteToSwarm(InviteToSwarm {
            reason: reason.map(String::from),
            ..i
        }),
        _ => unreachable!(),
    }
}

#[test]
fn a_lead_may_pull_someone_into_a_private_case_with_a_recorded_reason() {
    let expected = CaseEvent::SwarmInvited(SwarmInvited {
        cleared: vec![agent("bob")],
        reason: Some("knows this customer's setup".into()),
        ..match invited_by("alice", &["bob"]) {
            CaseEvent::SwarmInvited(i) => i,
            _ => unreachable!(),
        }
    });
    // The swarm's lead (alice) may.
    let case = given(sensitive_l2_swarm())
        .when(pull_in("bob", "L1", Some("knows this customer's setup")))
        .then_events([expected.clone()]);
    assert_eq!(
        case.swarming.cleared.get(&agent("bob")).map(String::as_str),
        Some("knows this customer's setup")
    );
    // ...but not without a reason.
    given(sensitive_l2_swarm())
        .when(pull_in("bob", "L1", None))
        .then_refused("invite to swarm");
    // A member who does not lead may not, reason or not.
    let mut h = sensitive_l2_swarm();
    h.push(joined("carol"));
    given(h)
        .by("carol")
        .when(pull_in("bob", "L1", Some("knows this customer's setup")))
        .then_refused("invite to swarm");
    // Staff with the lead role may.
    let mut g = given(sensitive_l2_swarm());
    g.actor = lead_actor("lana");
    g.when(pull_in("bob", "L1", Some("knows this customer's setup")))
        .then_events([CaseEvent::SwarmInvited(SwarmInvited {
            by: agent("lana"),
            ..match expected {
                CaseEvent::SwarmInvited(i) => i,
                _ => unreachable!(),
            }
        })]);
}

#[test]
fn a_blank_reason_is_invalid() {
    given(sensitive_l2_swarm())
        .when(pull_in("bob", "L1", Some("  ")))
        .then_invalid("reason");
}

#[test]
fn accepting_joins_the_swarm_and_leaves_the_owner_in_charge() {
    let case = given(bob_invited())
        .by("bob")
        .when(Command::AcceptInvitation)
        .then_events([accepted("bob"), joined("bob")]);
    assert!(case.is_swarm_member(&agent("bob")));
    assert_eq!(
        case.assignee,
        Some(agent("alice")),
        "the owner stays accountable"
    );
    let inv = case.swarming.invitation(&agent("bob")).unwrap();
    assert_eq!(inv.status, InvitationStatus::Accepted);
    assert!(inv.answered_at.is_some());
}

#[test]
fn accepting_without_an_invitation_or_twice_is_refused() {
    let r = given(bob_invited())
        .by("carol")
        .when(Command::AcceptInvitation)
        .then_refused("accept invitation");
    assert!(r.contains("no invitation"), "{r}");
    let mut h = bob_invited();
    h.extend([accepted("bob"), joined("bob")]);
    let r = given(h)
        .by("bob")
        .when(Command::AcceptInvitation)
        .then_refused("accept invitation");
    assert!(r.contains("accepted"), "{r}");
}

#[test]
fn accepting_a_declined_invitation_is_refused() {
    let mut h = bob_invited();
    h.push(declined("bob", "on leave"));
    let r = given(h)
        .by("bob")
        .when(Command::AcceptInvitation)
        .then_refused("accept invitation");
    assert!(r.contains("declined"), "{r}");
}

/// Bob was invited at `at(5)` for ten minutes.
fn bob_invited_for_ten_minutes() -> Vec<(CaseEvent, Timestamp)> {
    let mut h: Vec<(CaseEvent, Timestamp)> = routed_to("L1")
        .into_iter()
        .chain([assigned("alice"), swarm_started("alice")])
        .zip(1..)
        .map(|(e, i)| (e, at(i)))
        .collect();
    h.push((
        CaseEvent::SwarmInvited(SwarmInvited {
            expires_at: Some(at(5 + 600)),
            ..match invited_by("alice", &["bob"]) {
                CaseEvent::SwarmInvited(i) => i,
                _ => unreachable!(),
            }
        }),
        at(5),
    ));
    h
}

#[test]
fn accepting_an_expired_invitation_is_refused_even_before_the_expiry_is_recorded() {
    let r = given_at(bob_invited_for_ten_minutes())
        .by("bob")
        .at(at(605))
        .when(Command::AcceptInvitation)
        .then_refused("accept invitation");
    assert!(r.contains("expired"), "{r}");
    // One microsecond earlier it is still open.
    given_at(bob_invited_for_ten_minutes())
        .by("bob")
        .at(Timestamp::from_unix_micros(at(605).unix_micros() - 1))
        .when(Command::AcceptInvitation)
        .then_events([accepted("bob"), joined("bob")]);
}

#[test]
fn the_scheduler_expires_a_due_invitation_once() {
    let expired = CaseEvent::InvitationExpired(InvitationExpired {
        agent: agent("bob"),
        deadline: at(605),
    });
    let mut g = given_at(bob_invited_for_ten_minutes()).at(at(700));
    g.actor = Actor::system();
    let case = g
        .when(Command::ExpireInvitation {
            agent: agent("bob"),
        })
        .then_events([expired.clone()]);
    assert_eq!(
        case.swarming.invitation(&agent("bob")).unwrap().status,
        InvitationStatus::Expired
    );
    // Not before it is due.
    given_at(bob_invited_for_ten_minutes())
        .at(at(604))
        .when(Command::ExpireInvitation {
            agent: agent("bob"),
        })
        .then_refused("expire invitation");
    // Not twice.
    let mut h = bob_invited_for_ten_minutes();
    h.push((expired, at(700)));
    given_at(h.clone())
        .at(at(800))
        .when(Command::ExpireInvitation {
            agent: agent("bob"),
        })
        .then_refused("expire invitation");
    // And it cannot be accepted or declined any more.
    let r = given_at(h)
        .by("bob")
        .at(at(800))
        .when(decline("late"))
        .then_refused("decline invitation");
    assert!(r.contains("expired"), "{r}");
}

#[test]
fn declining_records_the_reason_and_lets_the_lead_invite_again() {
    let case = given(bob_invited())
        .by("bob")
        .when(decline("on leave"))
        .then_events([declined("bob", "on leave")]);
    let inv = case.swarming.invitation(&agent("bob")).unwrap();
    assert_eq!(inv.status, InvitationStatus::Declined);
    assert_eq!(inv.decline_reason.as_deref(), Some("on leave"));
    assert!(!case.is_swarm_member(&agent("bob")));
    let mut h = bob_invited();
    h.push(declined("bob", "on leave"));
    given(h)
        .when(invite(&["bob"]))
        .then_events([invited_by("alice", &["bob"])]);
}

#[test]
fn declining_twice_is_refused() {
    let mut h = bob_invited();
    h.push(declined("bob", "on leave"));
    given(h)
        .by("bob")
        .when(decline("still on leave"))
        .then_refused("decline invitation");
}

#[test]
fn a_pending_invitation_lapses_when_the_swarm_ends() {
    let mut h = bob_invited();
    h.extend([left("alice"), swarm_ended("last member left")]);
    let state = given(h.clone()).state();
    assert_eq!(
        state.swarming.invitation(&agent("bob")).unwrap().status,
        InvitationStatus::Lapsed
    );
    let r = given(h)
        .by("bob")
        .when(Command::AcceptInvitation)
        .then_refused("accept invitation");
    assert!(r.contains("lapsed"), "{r}");
}

#[test]
fn joining_directly_answers_a_pending_invitation() {
    given(bob_invited())
        .by("bob")
        .when(join("bob"))
        .then_events([accepted("bob"), joined("bob")]);
}

// --- Help requests ---------------------------------------------------------------

#[test]
fn requesting_help_numbers_requests_within_the_case() {
    let case = given(alice_asked())
        .when(request_help(&["Billing"], ""))
        .then_events([help_requested(2, "alice", &["billing"], "")]);
    let r = case.swarming.help_request(2).unwrap();
    assert_eq!(r.status, HelpStatus::Open);
    assert_eq!(r.by, agent("alice"));
}

#[test]
fn a_help_request_needs_skills_or_a_note() {
    given(routed_to("L1"))
        .when(request_help(&[], " "))
        .then_invalid("note");
    given(routed_to("L1"))
        .when(request_help(&[], "anyone know Okta?"))
        .then_events([help_requested(1, "alice", &[], "anyone know Okta?")]);
}

#[test]
fn another_agent_offers_help() {
    let case = given(alice_asked())
        .by("bob")
        .when(offer(1))
        .then_events([help_offered(1, "bob")]);
    assert_eq!(
        case.swarming.help_request(1).unwrap().offers,
        [agent("bob")]
    );
}

#[test]
fn offering_help_on_your_own_request_is_refused() {
    let r = given(alice_asked())
        .by("alice")
        .when(offer(1))
        .then_refused("offer help");
    assert!(r.contains("your own request"), "{r}");
}

#[test]
fn offering_twice_on_an_unknown_or_answered_request_or_as_a_member_is_refused() {
    let mut h = alice_asked();
    h.push(help_offered(1, "bob"));
    given(h.clone())
        .by("bob")
        .when(offer(1))
        .then_refused("offer help");
    given(alice_asked())
        .by("bob")
        .when(offer(9))
        .then_refused("offer help");
    let mut closed_request = alice_asked();
    closed_request.push(CaseEvent::HelpRequestClosed(HelpRequestClosed {
        request_id: 1,
        reason: "solved".into(),
    }));
    let r = given(closed_request)
        .by("bob")
        .when(offer(1))
        .then_refused("offer help");
    assert!(r.contains("closed"), "{r}");
    let mut member = alice_asked();
    member.extend([swarm_started("alice"), joined("bob")]);
    given(member)
        .by("bob")
        .when(offer(1))
        .then_refused("offer help");
}

#[test]
fn accepting_an_offer_brings_the_helper_in_and_keeps_the_owner() {
    let mut h = alice_asked();
    h.push(help_offered(1, "bob"));
    let case = given(h).when(accept_help(1, "bob")).then_events([
        CaseEvent::HelpAccepted(HelpAccepted {
            request_id: 1,
            helper: agent("bob"),
            by: agent("alice"),
        }),
        CaseEvent::SwarmStarted(SwarmStarted {
            lead: agent("alice"),
            reason: "help request 1".into(),
        }),
        joined("bob"),
    ]);
    assert!(case.is_swarm_member(&agent("bob")));
    assert_eq!(
        case.assignee,
        Some(agent("alice")),
        "helping never reassigns"
    );
    let r = case.swarming.help_request(1).unwrap();
    assert_eq!(
        (r.status, r.helper.clone()),
        (HelpStatus::Accepted, Some(agent("bob")))
    );
}

#[test]
fn accepting_an_offer_in_an_active_swarm_only_adds_the_helper() {
    let mut h = alice_asked();
    h.extend([swarm_started("alice"), help_offered(1, "bob")]);
    given(h).when(accept_help(1, "bob")).then_events([
        CaseEvent::HelpAccepted(HelpAccepted {
            request_id: 1,
            helper: agent("bob"),
            by: agent("alice"),
        }),
        joined("bob"),
    ]);
}

#[test]
fn accepting_someone_who_did_not_offer_or_a_second_offer_is_refused() {
    let mut h = alice_asked();
    h.push(help_offered(1, "bob"));
    given(h.clone())
        .when(accept_help(1, "carol"))
        .then_refused("accept help");
    h.push(help_offered(1, "carol"));
    h.push(CaseEvent::HelpAccepted(HelpAccepted {
        request_id: 1,
        helper: agent("bob"),
        by: agent("alice"),
    }));
    let r = given(h)
        .when(accept_help(1, "carol"))
        .then_refused("accept help");
    assert!(r.contains("accepted"), "{r}");
}

#[test]
fn closing_a_request_stops_offers_and_resolving_closes_open_requests() {
    let case = given(alice_asked())
        .when(Command::CloseHelpRequest {
            request_id: 1,
            reason: "figured it out".into(),
        })
        .then_events([CaseEvent::HelpRequestClosed(HelpRequestClosed {
            request_id: 1,
            reason: "figured it out".into(),
        })]);
    assert_eq!(
        case.swarming.help_request(1).unwrap().status,
        HelpStatus::Closed
    );
    let mut h = alice_asked();
    h.push(resolved("done", Some("L1"), "alice"));
    let state = given(h).state();
    assert_eq!(
        state.swarming.help_request(1).unwrap().status,
        HelpStatus::Closed
    );
}

// --- Swarm types and roles -------------------------------------------------------

#[test]
fn a_swarm_gets_a_type_and_loses_it_when_it_ends() {
    let case = given(swarming("alice", &[]))
        .when(Command::SetSwarmType {
            swarm_type: SwarmType::Severity1,
            reason: "outage".into(),
        })
        .then_events([CaseEvent::SwarmTypeSet(SwarmTypeSet {
            swarm_type: SwarmType::Severity1,
            reason: "outage".into(),
        })]);
    assert_eq!(case.swarming.swarm_type, SwarmType::Severity1);
    let mut h = swarming("alice", &[]);
    h.extend([
        CaseEvent::SwarmTypeSet(SwarmTypeSet {
            swarm_type: SwarmType::Severity1,
            reason: "outage".into(),
        }),
        left("alice"),
        swarm_ended("last member left"),
    ]);
    assert_eq!(given(h).state().swarming.swarm_type, SwarmType::Case);
}

#[test]
fn setting_the_same_type_or_a_type_without_a_swarm_is_refused() {
    given(swarming("alice", &[]))
        .when(Command::SetSwarmType {
            swarm_type: SwarmType::Case,
            reason: String::new(),
        })
        .then_refused("set swarm type");
    given(routed_to("L1"))
        .when(Command::SetSwarmType {
            swarm_type: SwarmType::Dispatch,
            reason: String::new(),
        })
        .then_refused("set swarm type");
}

#[test]
fn a_member_gets_a_role_and_the_lead_is_lead() {
    let case = given(swarming("alice", &["bob", "carol"]))
        .when(set_role("bob", SwarmRole::Communications))
        .then_events([role_set("bob", SwarmRole::Communications)]);
    assert_eq!(
        case.swarm_role(&agent("bob")),
        Some(SwarmRole::Communications)
    );
    assert_eq!(case.swarm_role(&agent("alice")), Some(SwarmRole::Lead));
    assert_eq!(case.swarm_role(&agent("carol")), None);
    assert_eq!(case.swarm_role(&agent("zed")), None);
}

#[test]
fn there_is_never_a_second_lead() {
    let r = given(swarming("alice", &["bob"]))
        .when(set_role("bob", SwarmRole::Lead))
        .then_refused("set swarm role");
    assert!(r.contains("already has a lead"), "{r}");
    given(swarming("alice", &["bob"]))
        .when(set_role("alice", SwarmRole::Lead))
        .then_refused("set swarm role");
    let r = given(swarming("alice", &["bob"]))
        .when(set_role("alice", SwarmRole::Knowledge))
        .then_refused("set swarm role");
    assert!(r.contains("hand the lead over"), "{r}");
}

#[test]
fn roles_need_a_member_and_a_change() {
    given(swarming("alice", &["bob"]))
        .when(set_role("carol", SwarmRole::Researcher))
        .then_refused("set swarm role");
    let mut h = swarming("alice", &["bob"]);
    h.push(role_set("bob", SwarmRole::Researcher));
    given(h)
        .when(set_role("bob", SwarmRole::Researcher))
        .then_refused("set swarm role");
    given(routed_to("L1"))
        .when(set_role("bob", SwarmRole::Researcher))
        .then_refused("set swarm role");
}

#[test]
fn a_role_goes_with_leaving_and_with_becoming_lead() {
    let mut h = swarming("alice", &["bob", "carol"]);
    h.extend([
        role_set("bob", SwarmRole::Communications),
        role_set("carol", SwarmRole::Knowledge),
    ]);
    let case = given(h.clone())
        .when(leave("bob"))
        .then_events([left("bob")]);
    assert!(!case.swarming.roles.contains_key(&agent("bob")));
    let case = given(h)
        .when(set_lead("carol"))
        .then_events([lead_changed("alice", "carol")]);
    assert_eq!(case.swarm_role(&agent("carol")), Some(SwarmRole::Lead));
    assert_eq!(case.swarm_role(&agent("alice")), None);
}

#[test]
fn accepting_the_offer_of_an_invited_helper_also_accepts_the_invitation() {
    // Found by the property test: bob, invited and not yet answering, offers help on
    // alice's request; accepting the offer brings him in, which answers the invitation
    // as joining the swarm does.
    let mut h = bob_invited();
    h.extend([
        help_requested(1, "alice", &[], "needs work"),
        help_offered(1, "bob"),
    ]);
    let case = given(h).when(accept_help(1, "bob")).then_events([
        CaseEvent::HelpAccepted(HelpAccepted {
            request_id: 1,
            helper: agent("bob"),
            by: agent("alice"),
        }),
        accepted("bob"),
        joined("bob"),
    ]);
    assert_eq!(
        case.swarming.invitation(&agent("bob")).map(|i| i.status),
        Some(InvitationStatus::Accepted)
    );
}
