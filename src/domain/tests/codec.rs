//! Domain tests: Event codec.

use super::*;

/// One hand-built instance of every event type, as written by schema version 1.
/// FROZEN: `tests/fixtures/case_events_v1.txt` holds exactly these values encoded by
/// v1. Fields of the same type carry different values, so that reordering the fields
/// of a payload struct changes what the fixture decodes to.
pub(super) fn golden_v1_events() -> Vec<CaseEvent> {
    vec![
        CaseEvent::Opened(CaseOpened {
            case_id: case_id(),
            subject: "Charged twice".into(),
            body: "Two payments in May".into(),
            channel: Channel::SocialDm,
            customer: Customer {
                id: "cust-42".into(),
                name: "Ada's Bakery".into(),
                segment: Segment::B2c,
                key_account: true,
            },
            language: "de".into(),
            priority: Priority::High,
            tags: vec!["billing".into(), "vip".into()],
            requested_priority: None,
        }),
        CaseEvent::Routed(CaseRouted {
            tier: tier("L2"),
            team: Some("payments".into()),
            priority: Some(Priority::Urgent),
            tags: vec!["refund".into()],
            sensitive: true,
            rule_id: Some("rule-7".into()),
            rule_set_version: Some(300),
        }),
        CaseEvent::Escalated(TierChanged {
            from: tier("L1"),
            to: tier("L2"),
            reason: "bug".into(),
        }),
        CaseEvent::Deescalated(TierChanged {
            from: tier("L3"),
            to: tier("L0"),
            reason: "faq".into(),
        }),
        CaseEvent::Assigned(AgentRef {
            agent: agent("bob"),
        }),
        CaseEvent::Unassigned(AgentRef {
            agent: agent("carol"),
        }),
        CaseEvent::SwarmStarted(SwarmStarted {
            lead: agent("dave"),
            reason: "outage".into(),
        }),
        CaseEvent::SwarmJoined(AgentRef {
            agent: agent("erin"),
        }),
        CaseEvent::SwarmLeft(AgentRef {
            agent: agent("frank"),
        }),
        CaseEvent::SwarmLeadChanged(SwarmLeadChanged {
            from: agent("gina"),
            to: agent("hank"),
        }),
        CaseEvent::SwarmEnded(SwarmEnded {
            reason: "last member left".into(),
        }),
        CaseEvent::MessagePosted(MessagePosted {
            kind: MessageKind::SwarmChat,
            author: agent("ivy"),
            body: "repro found".into(),
        }),
        CaseEvent::PriorityChanged(PriorityChanged {
            from: Priority::Low,
            to: Priority::Urgent,
            reason: "overcharged".into(),
        }),
        CaseEvent::Tagged(TagRef {
            tag: "refund".into(),
        }),
        CaseEvent::Untagged(TagRef { tag: "vip".into() }),
        CaseEvent::Resolved(CaseResolved {
            resolution: "refunded".into(),
            tier: Some(tier("L2")),
            by: agent("jack"),
        }),
        CaseEvent::Reopened(Reason {
            reason: "charged again".into(),
        }),
        CaseEvent::Closed(Reason {
            reason: "confirmed".into(),
        }),
        CaseEvent::SlaApplied(SlaApplied {
            policy_id: "gold".into(),
            calendar: Calendar {
                id: "berlin".into(),
                utc_offset_minutes: 60,
                hours: vec![
                    WorkingHours {
                        weekday: 0,
                        start_minute: 540,
                        end_minute: 1020,
                    },
                    WorkingHours {
                        weekday: 4,
                        start_minute: 480,
                        end_minute: 960,
                    },
                ],
                holidays: vec!["2026-12-25".into()],
            },
            first_response_secs: Some(3600),
            resolution_secs: Some(28_800),
            escalation: vec![
                EscalationStep {
                    after_mins: 120,
                    clock: SlaKind::FirstResponse,
                    raise_priority: true,
                    notify_lead: false,
                    escalate_tier: false,
                },
                EscalationStep {
                    after_mins: 240,
                    clock: SlaKind::Resolution,
                    raise_priority: false,
                    notify_lead: true,
                    escalate_tier: true,
                },
            ],
        }),
        CaseEvent::AwaitingCustomer(Reason {
            reason: "need invoice".into(),
        }),
        CaseEvent::Resumed(Reason {
            reason: "customer replied".into(),
        }),
        CaseEvent::FirstResponded(FirstResponded { by: agent("kim") }),
        CaseEvent::SlaBreached(SlaBreached {
            kind: SlaKind::Resolution,
            deadline: Timestamp::from_unix_micros(1_789_500_123_456_789),
            policy_id: "gold-2".into(),
        }),
        CaseEvent::SlaEscalated(SlaEscalated {
            step: 3,
            clock: SlaKind::FirstResponse,
            notify_lead: true,
            policy_id: "gold-3".into(),
        }),
        CaseEvent::TeamChanged(TeamChanged {
            from: Some("payments".into()),
            to: None,
        }),
        CaseEvent::SkillsSet(CaseSkillsSet {
            skills: vec!["billing".into(), "saml".into()],
            source: SkillSource::Rule,
            rule_id: Some("rule-9".into()),
        }),
        CaseEvent::SwarmInvited(SwarmInvited {
            agents: vec![agent("lena"), agent("mo")],
            by: agent("nia"),
            note: "SSO loops".into(),
            auto_replace: true,
            expires_at: Some(Timestamp::from_unix_micros(1_789_500_222_000_000)),
            cleared: vec![agent("mo")],
            reason: Some("only SAML expert on shift".into()),
        }),
        CaseEvent::InvitationAccepted(InvitationAccepted {
            agent: agent("olga"),
        }),
        CaseEvent::InvitationDeclined(InvitationDeclined {
            agent: agent("pat"),
            reason: "on leave".into(),
        }),
        CaseEvent::InvitationExpired(InvitationExpired {
            agent: agent("quinn"),
            deadline: Timestamp::from_unix_micros(1_789_500_333_000_000),
        }),
        CaseEvent::HelpRequested(HelpRequested {
            request_id: 4,
            by: agent("rosa"),
            skills: vec!["okta".into()],
            note: "IdP metadata?".into(),
        }),
        CaseEvent::HelpOffered(HelpOffered {
            request_id: 5,
            by: agent("sven"),
        }),
        CaseEvent::HelpAccepted(HelpAccepted {
            request_id: 6,
            helper: agent("tara"),
            by: agent("uma"),
        }),
        CaseEvent::HelpRequestClosed(HelpRequestClosed {
            request_id: 7,
            reason: "solved it".into(),
        }),
        CaseEvent::SwarmTypeSet(SwarmTypeSet {
            swarm_type: SwarmType::Severity1,
            reason: "outage".into(),
        }),
        CaseEvent::SwarmRoleSet(SwarmRoleSet {
            agent: agent("vic"),
            role: SwarmRole::Communications,
        }),
        CaseEvent::KnowledgeCaptured(KnowledgeCaptured {
            title: "SAML login loops after IdP certificate rotation".into(),
            body: "Re-import the IdP metadata, then clear the SP session cache.".into(),
            tags: vec!["saml".into(), "sso".into()],
            by: agent("wen"),
        }),
        CaseEvent::StatusUpdateDue(StatusUpdateDue {
            due: Timestamp(1_767_607_200_000_000),
            last_update: Timestamp(1_767_605_400_000_000),
        }),
    ]
}

/// The same types with empty options and collections, which encode differently.
fn sparse_events() -> Vec<CaseEvent> {
    vec![
        CaseEvent::Opened(CaseOpened {
            tags: vec![],
            ..opened_payload()
        }),
        routed("L0"),
        resolved("answered", None, "alice"),
        posted(MessageKind::PublicReply, "alice", "héllo ✓ unicode"),
        CaseEvent::Reopened(Reason {
            reason: String::new(),
        }),
        CaseEvent::SlaApplied(SlaApplied {
            policy_id: "p".into(),
            calendar: Calendar {
                utc_offset_minutes: -840,
                holidays: vec![],
                ..Calendar::always()
            },
            first_response_secs: None,
            resolution_secs: None,
            escalation: vec![],
        }),
        CaseEvent::TeamChanged(TeamChanged {
            from: None,
            to: Some("general".into()),
        }),
        CaseEvent::SkillsSet(CaseSkillsSet {
            skills: vec![],
            source: SkillSource::Staff,
            rule_id: None,
        }),
        CaseEvent::SwarmInvited(SwarmInvited {
            agents: vec![agent("lena")],
            by: agent("nia"),
            note: String::new(),
            auto_replace: false,
            expires_at: None,
            cleared: vec![],
            reason: None,
        }),
        CaseEvent::KnowledgeCaptured(KnowledgeCaptured {
            title: "t".into(),
            body: "b".into(),
            tags: vec![],
            by: agent("wen"),
        }),
    ]
}

fn opened_payload() -> CaseOpened {
    match opened() {
        CaseEvent::Opened(e) => e,
        _ => unreachable!(),
    }
}

#[test]
fn golden_events_cover_every_event_type_once() {
    let types: Vec<&str> = golden_v1_events().iter().map(|e| e.event_type()).collect();
    let distinct: BTreeSet<&str> = types.iter().copied().collect();
    assert_eq!(distinct.len(), types.len(), "a type appears twice");
    assert_eq!(distinct, CaseEvent::TYPES.iter().copied().collect());
    assert_eq!(CaseEvent::TYPES.len(), 38);
}

#[test]
fn every_event_round_trips_through_the_binary_codec() {
    for event in golden_v1_events().into_iter().chain(sparse_events()) {
        let bytes = event.encode();
        assert!(!bytes.is_empty(), "{}", event.event_type());
        let back = CaseEvent::decode(event.event_type(), event.schema_version(), &bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", event.event_type()));
        assert_eq!(back, event);
    }
}

#[test]
fn every_event_round_trips_through_json() {
    for event in golden_v1_events().into_iter().chain(sparse_events()) {
        let json = event.to_json();
        assert!(json.is_object(), "{}: {json}", event.event_type());
        let back = CaseEvent::from_json(event.event_type(), event.schema_version(), json)
            .unwrap_or_else(|e| panic!("{}: {e}", event.event_type()));
        assert_eq!(back, event);
    }
}

#[test]
fn json_payloads_use_the_api_field_names() {
    assert_eq!(
        escalated("L1", "L2").to_json(),
        serde_json::json!({ "from": "L1", "to": "L2", "reason": ESCALATION_REASON })
    );
    assert_eq!(
        opened().to_json()["caseId"],
        serde_json::json!(case_id().to_string())
    );
}

#[test]
fn decoding_an_unknown_type_or_version_is_an_error() {
    let bytes = tagged("x").encode();
    assert!(matches!(
        CaseEvent::decode("CaseTeleported", 1, &bytes),
        Err(CodecError::UnknownType(t, 1)) if t == "CaseTeleported"
    ));
    assert!(matches!(
        CaseEvent::decode("CaseTagged", 99, &bytes),
        Err(CodecError::UnknownType(t, 99)) if t == "CaseTagged"
    ));
    assert!(matches!(
        CaseEvent::from_json("CaseTeleported", 1, tagged("x").to_json()),
        Err(CodecError::UnknownType(..))
    ));
}

#[test]
fn decoding_a_malformed_payload_is_an_error() {
    assert!(matches!(
        CaseEvent::decode("CaseOpened", 1, &[0xff, 0xff]),
        Err(CodecError::Payload(t, 1, _)) if t == "CaseOpened"
    ));
    assert!(matches!(
        CaseEvent::decode("CaseEscalated", 1, &[]),
        Err(CodecError::Payload(..))
    ));
    assert!(matches!(
        CaseEvent::from_json("CaseTagged", 1, serde_json::json!({ "label": "x" })),
        Err(CodecError::Payload(..))
    ));
}
