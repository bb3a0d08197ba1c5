//! Tests of the pure domain, written as given / when / then scenarios:
//!
//! ```text
//! given([opened(), routed("L1")]).when(escalate()).then_events([escalated("L1", "L2", ..)]);
//! ```
//!
//! `given` folds a history (versions 1..n, one second apart), `when` runs `decide`
//! against it, and `then_*` checks what came out. Below the scenarios: the event
//! codec, the v1 golden fixture, and property tests over random command sequences.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::strategy::Union;

use super::command::{MAX_SUBJECT, MAX_TAGS};
use super::event::{
    AgentRef, CaseOpened, CaseResolved, CaseRouted, FirstResponded, MessagePosted, PriorityChanged,
    Reason, SlaApplied, SlaBreached, SlaEscalated, SwarmEnded, SwarmLeadChanged, SwarmStarted,
    TagRef, TeamChanged, TierChanged,
};
use super::*;

// ---------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------

/// An arbitrary fixed instant (2026-09-15), in microseconds.
const T0: i64 = 1_789_500_000_000_000;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_unix_micros(T0).plus_secs(secs)
}

fn agent(id: &str) -> AgentId {
    AgentId::new(id).expect("test agent ids are valid")
}

fn actor(id: &str) -> Actor {
    Actor::new(id, Role::Agent).expect("test agent ids are valid")
}

fn tier(name: &str) -> Tier {
    Tier::new(name)
}

fn case_id() -> CaseId {
    "01HZX3N8Q4T5V6W7X8Y9Z0ABCD".parse().expect("a valid ULID")
}

fn customer() -> Customer {
    Customer {
        id: "cust-42".into(),
        name: "Ada's Bakery".into(),
        segment: Segment::B2b,
        key_account: true,
    }
}

// ---------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------

fn open_case() -> OpenCase {
    OpenCase {
        case_id: case_id(),
        subject: "Why was I charged twice?".into(),
        body: "My card shows two payments for May.".into(),
        channel: Channel::Email,
        customer: customer(),
        language: "en".into(),
        priority: Priority::Normal,
        tags: vec!["billing".into()],
        requested_priority: None,
    }
}

fn open() -> Command {
    Command::Open(open_case())
}

fn route_case(tier_name: &str) -> RouteCase {
    RouteCase {
        tier: tier(tier_name),
        team: None,
        priority: None,
        tags: vec![],
        sensitive: false,
        rule_id: None,
        rule_set_version: None,
    }
}

fn route(tier_name: &str) -> Command {
    Command::Route(route_case(tier_name))
}

const ESCALATION_REASON: &str = "needs a specialist";

fn escalate() -> Command {
    Command::Escalate {
        to: None,
        reason: ESCALATION_REASON.into(),
    }
}

fn escalate_to(tier_name: &str) -> Command {
    Command::Escalate {
        to: Some(tier(tier_name)),
        reason: ESCALATION_REASON.into(),
    }
}

fn deescalate() -> Command {
    Command::Deescalate {
        to: None,
        reason: ESCALATION_REASON.into(),
    }
}

fn deescalate_to(tier_name: &str) -> Command {
    Command::Deescalate {
        to: Some(tier(tier_name)),
        reason: ESCALATION_REASON.into(),
    }
}

fn assign(a: &str) -> Command {
    Command::Assign { agent: agent(a) }
}

fn unassign() -> Command {
    Command::Unassign
}

fn start_swarm(lead: &str) -> Command {
    Command::StartSwarm {
        lead: agent(lead),
        reason: "complex billing bug".into(),
    }
}

fn join(a: &str) -> Command {
    Command::JoinSwarm { agent: agent(a) }
}

fn leave(a: &str) -> Command {
    Command::LeaveSwarm { agent: agent(a) }
}

fn set_lead(a: &str) -> Command {
    Command::SetSwarmLead { agent: agent(a) }
}

fn post(kind: MessageKind, body: &str) -> Command {
    Command::PostMessage {
        kind,
        body: body.into(),
    }
}

fn change_priority(priority: Priority) -> Command {
    Command::ChangePriority {
        priority,
        reason: "customer overcharged".into(),
    }
}

fn tag(t: &str) -> Command {
    Command::Tag { tag: t.into() }
}

fn untag(t: &str) -> Command {
    Command::Untag { tag: t.into() }
}

fn resolve(text: &str) -> Command {
    Command::Resolve {
        resolution: text.into(),
    }
}

fn reopen(reason: &str) -> Command {
    Command::Reopen {
        reason: reason.into(),
    }
}

fn close(reason: &str) -> Command {
    Command::Close {
        reason: reason.into(),
    }
}

fn await_customer(reason: &str) -> Command {
    Command::AwaitCustomer {
        reason: reason.into(),
    }
}

/// One well-formed instance of every command, `open` first.
fn every_command() -> Vec<Command> {
    vec![
        open(),
        route("L1"),
        escalate(),
        deescalate(),
        assign("bob"),
        unassign(),
        start_swarm("alice"),
        join("bob"),
        leave("alice"),
        set_lead("bob"),
        post(MessageKind::PublicReply, "We are on it."),
        change_priority(Priority::Urgent),
        tag("refund"),
        untag("billing"),
        resolve("refunded the duplicate charge"),
        reopen("still charged twice"),
        close("done"),
        await_customer("need the invoice number"),
        Command::Resume,
        Command::RecordSlaBreach {
            kind: SlaKind::FirstResponse,
        },
        Command::RunSlaEscalation { step: 0 },
    ]
}

// ---------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------

/// What `open()` produces.
fn opened() -> CaseEvent {
    CaseEvent::Opened(CaseOpened {
        case_id: case_id(),
        subject: "Why was I charged twice?".into(),
        body: "My card shows two payments for May.".into(),
        channel: Channel::Email,
        customer: customer(),
        language: "en".into(),
        priority: Priority::Normal,
        tags: vec!["billing".into()],
        requested_priority: None,
    })
}

fn routed(tier_name: &str) -> CaseEvent {
    CaseEvent::Routed(CaseRouted {
        tier: tier(tier_name),
        team: None,
        priority: None,
        tags: vec![],
        sensitive: false,
        rule_id: None,
        rule_set_version: None,
    })
}

fn escalated(from: &str, to: &str) -> CaseEvent {
    CaseEvent::Escalated(TierChanged {
        from: tier(from),
        to: tier(to),
        reason: ESCALATION_REASON.into(),
    })
}

fn deescalated(from: &str, to: &str) -> CaseEvent {
    CaseEvent::Deescalated(TierChanged {
        from: tier(from),
        to: tier(to),
        reason: ESCALATION_REASON.into(),
    })
}

fn assigned(a: &str) -> CaseEvent {
    CaseEvent::Assigned(AgentRef { agent: agent(a) })
}

fn unassigned(a: &str) -> CaseEvent {
    CaseEvent::Unassigned(AgentRef { agent: agent(a) })
}

fn swarm_started(lead: &str) -> CaseEvent {
    CaseEvent::SwarmStarted(SwarmStarted {
        lead: agent(lead),
        reason: "complex billing bug".into(),
    })
}

fn joined(a: &str) -> CaseEvent {
    CaseEvent::SwarmJoined(AgentRef { agent: agent(a) })
}

fn left(a: &str) -> CaseEvent {
    CaseEvent::SwarmLeft(AgentRef { agent: agent(a) })
}

fn lead_changed(from: &str, to: &str) -> CaseEvent {
    CaseEvent::SwarmLeadChanged(SwarmLeadChanged {
        from: agent(from),
        to: agent(to),
    })
}

fn swarm_ended(reason: &str) -> CaseEvent {
    CaseEvent::SwarmEnded(SwarmEnded {
        reason: reason.into(),
    })
}

fn posted(kind: MessageKind, author: &str, body: &str) -> CaseEvent {
    CaseEvent::MessagePosted(MessagePosted {
        kind,
        author: agent(author),
        body: body.into(),
    })
}

fn priority_changed(from: Priority, to: Priority) -> CaseEvent {
    CaseEvent::PriorityChanged(PriorityChanged {
        from,
        to,
        reason: "customer overcharged".into(),
    })
}

fn tagged(t: &str) -> CaseEvent {
    CaseEvent::Tagged(TagRef { tag: t.into() })
}

fn untagged(t: &str) -> CaseEvent {
    CaseEvent::Untagged(TagRef { tag: t.into() })
}

fn resolved(text: &str, tier_name: Option<&str>, by: &str) -> CaseEvent {
    CaseEvent::Resolved(CaseResolved {
        resolution: text.into(),
        tier: tier_name.map(tier),
        by: agent(by),
    })
}

fn reopened(reason: &str) -> CaseEvent {
    CaseEvent::Reopened(Reason {
        reason: reason.into(),
    })
}

fn closed(reason: &str) -> CaseEvent {
    CaseEvent::Closed(Reason {
        reason: reason.into(),
    })
}

/// An open case routed to `tier_name`.
fn routed_to(tier_name: &str) -> Vec<CaseEvent> {
    vec![opened(), routed(tier_name)]
}

/// An open case at L1 with a swarm led by `lead`, joined by `others` in that order.
fn swarming(lead: &str, others: &[&str]) -> Vec<CaseEvent> {
    let mut events = routed_to("L1");
    events.push(swarm_started(lead));
    events.extend(others.iter().map(|a| joined(a)));
    events
}

// ---------------------------------------------------------------------------------
// given / when / then
// ---------------------------------------------------------------------------------

struct Given {
    history: Vec<(CaseEvent, Timestamp)>,
    ladder: TierLadder,
    actor: Actor,
    sla: SlaConfig,
    /// The teams in force (none by default).
    teams: TierTeams,
    /// When the command runs; by default one second after the last event.
    now: Option<Timestamp>,
}

/// A case whose stream holds `events`, recorded one second apart; by default the
/// standard ladder and agent `alice` acting.
fn given(events: impl IntoIterator<Item = CaseEvent>) -> Given {
    let history = events
        .into_iter()
        .zip(1..)
        .map(|(e, i)| (e, at(i)))
        .collect();
    Given {
        history,
        ladder: TierLadder::standard(),
        actor: actor("alice"),
        sla: SlaConfig::default(),
        teams: TierTeams::default(),
        now: None,
    }
}

/// A case whose stream holds `events`, each recorded at its own time.
fn given_at(events: impl IntoIterator<Item = (CaseEvent, Timestamp)>) -> Given {
    Given {
        history: events.into_iter().collect(),
        ..given(nothing())
    }
}

/// No case yet.
fn nothing() -> Vec<CaseEvent> {
    Vec::new()
}

impl Given {
    fn on_ladder(mut self, names: &[&str]) -> Self {
        self.ladder = TierLadder::new(names.iter().copied()).expect("a valid ladder");
        self
    }

    fn by(mut self, id: &str) -> Self {
        self.actor = actor(id);
        self
    }

    fn by_customer(mut self, id: &str) -> Self {
        self.actor = Actor::new(id, Role::Customer).expect("a valid id");
        self
    }

    /// The teams in force: (team, tier), each tier's default team first.
    fn with_teams(mut self, teams: &[(&str, &str)]) -> Self {
        self.teams = TierTeams::new(teams.iter().map(|(n, t)| (n.to_string(), tier(t))));
        self
    }

    fn with_sla(mut self, sla: SlaConfig) -> Self {
        self.sla = sla;
        self
    }

    /// The command runs at `now` (the controllable clock).
    fn at(mut self, now: Timestamp) -> Self {
        self.now = Some(now);
        self
    }

    fn now(&self) -> Timestamp {
        self.now.unwrap_or_else(|| match self.history.last() {
            Some((_, t)) => t.plus_secs(1),
            None => at(1),
        })
    }

    fn state(&self) -> Case {
        Case::fold(self.history.iter().zip(1..).map(|((e, t), v)| (e, v, *t)))
    }

    fn when(self, command: Command) -> Then {
        let before = self.state();
        let now = self.now();
        let ctx = Context {
            tiers: &self.ladder,
            teams: &self.teams,
            sla: &self.sla,
            actor: &self.actor,
            now,
        };
        let result = decide(&before, command, &ctx);
        Then {
            before,
            result,
            now,
        }
    }

    fn when_all(self, commands: Vec<Command>) -> Then {
        let before = self.state();
        let now = self.now();
        let ctx = Context {
            tiers: &self.ladder,
            teams: &self.teams,
            sla: &self.sla,
            actor: &self.actor,
            now,
        };
        let result = decide_all(&before, commands, &ctx);
        Then {
            before,
            result,
            now,
        }
    }
}

struct Then {
    before: Case,
    result: Result<Vec<CaseEvent>, DomainError>,
    now: Timestamp,
}

impl Then {
    /// The command was accepted with exactly these events; returns the state after them.
    #[track_caller]
    fn then_events(self, expected: impl Into<Vec<CaseEvent>>) -> Case {
        let expected = expected.into();
        let events = match self.result {
            Ok(events) => events,
            Err(e) => panic!("expected {expected:#?}\nbut the command was refused: {e:?}"),
        };
        assert_eq!(events, expected, "unexpected events");
        let mut case = self.before;
        for e in &events {
            case.apply(e, case.version + 1, self.now);
        }
        case
    }

    #[track_caller]
    fn then_error(self, expected: DomainError) {
        match self.result {
            Ok(events) => panic!("expected {expected:?}, but the command produced {events:#?}"),
            Err(e) => assert_eq!(e, expected),
        }
    }

    /// Refused as an invalid transition of `action`; returns the reason.
    #[track_caller]
    fn then_refused(self, action: &str) -> String {
        match self.result {
            Err(DomainError::InvalidTransition { action: a, reason }) => {
                assert_eq!(a, action, "refused, but for another action ({reason})");
                reason
            }
            other => panic!("expected `{action}` to be refused as a transition, got {other:#?}"),
        }
    }

    /// Refused as malformed input; the message must mention `mentions`.
    #[track_caller]
    fn then_invalid(self, mentions: &str) {
        match self.result {
            Err(DomainError::Invalid(msg)) => {
                assert!(
                    msg.contains(mentions),
                    "`{msg}` does not mention `{mentions}`"
                )
            }
            other => panic!("expected invalid input about `{mentions}`, got {other:#?}"),
        }
    }
}

// ---------------------------------------------------------------------------------
// Open
// ---------------------------------------------------------------------------------

#[test]
fn open_starts_a_case_at_version_one_unrouted() {
    let case = given(nothing()).when(open()).then_events([opened()]);
    assert!(case.exists());
    assert_eq!(case.version, 1);
    assert_eq!(case.id, Some(case_id()));
    assert_eq!(case.status, Status::Open);
    assert_eq!(case.tier, None);
    assert_eq!(case.customer, Some(customer()));
    assert_eq!(case.tags, BTreeSet::from(["billing".to_string()]));
    assert_eq!(case.opened_at, at(1));
}

#[test]
fn open_normalises_text_language_and_tags() {
    let command = Command::Open(OpenCase {
        subject: "  Why was I charged twice?\n".into(),
        customer: Customer {
            id: " cust-42 ".into(),
            ..customer()
        },
        language: "EN".into(),
        tags: vec!["Billing".into(), " billing ".into(), "VIP".into()],
        ..open_case()
    });
    let expected = match opened() {
        CaseEvent::Opened(e) => CaseEvent::Opened(CaseOpened {
            tags: vec!["billing".into(), "vip".into()],
            ..e
        }),
        _ => unreachable!(),
    };
    given(nothing()).when(command).then_events([expected]);
}

#[test]
fn open_without_language_defaults_to_english() {
    let command = Command::Open(OpenCase {
        language: "  ".into(),
        ..open_case()
    });
    let case = given(nothing()).when(command).then_events([opened()]);
    assert_eq!(case.language, "en");
}

#[test]
fn open_twice_is_refused() {
    given([opened()])
        .when(open())
        .then_error(DomainError::CaseExists);
}

#[test]
fn open_with_empty_subject_is_invalid() {
    let command = Command::Open(OpenCase {
        subject: " \t ".into(),
        ..open_case()
    });
    given(nothing()).when(command).then_invalid("subject");
}

#[test]
fn open_subject_is_limited_to_max_length() {
    let at_limit = Command::Open(OpenCase {
        subject: "x".repeat(MAX_SUBJECT),
        ..open_case()
    });
    assert!(given(nothing()).when(at_limit).result.is_ok());
    let too_long = Command::Open(OpenCase {
        subject: "x".repeat(MAX_SUBJECT + 1),
        ..open_case()
    });
    given(nothing()).when(too_long).then_invalid("subject");
}

#[test]
fn open_needs_a_customer_id() {
    let command = Command::Open(OpenCase {
        customer: Customer {
            id: "".into(),
            ..customer()
        },
        ..open_case()
    });
    given(nothing()).when(command).then_invalid("customer id");
}

#[test]
fn open_with_a_malformed_tag_is_invalid() {
    let command = Command::Open(OpenCase {
        tags: vec!["two words".into()],
        ..open_case()
    });
    given(nothing()).when(command).then_invalid("two words");
}

#[test]
fn open_with_too_many_tags_is_invalid() {
    let tags = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
    let command = Command::Open(OpenCase {
        tags,
        ..open_case()
    });
    given(nothing()).when(command).then_invalid("tags");
}

#[test]
fn every_other_command_needs_an_existing_case() {
    for command in every_command().into_iter().skip(1) {
        let name = command.name();
        let result = given(nothing()).when(command).result;
        assert_eq!(result, Err(DomainError::CaseNotFound), "{name}");
    }
}

// ---------------------------------------------------------------------------------
// Route
// ---------------------------------------------------------------------------------

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
    assert_eq!(
        case.tags,
        BTreeSet::from(["billing".to_string(), "refund".to_string()])
    );
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

// ---------------------------------------------------------------------------------
// Escalate / de-escalate
// ---------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------
// Configurable ladders
// ---------------------------------------------------------------------------------

#[test]
fn two_tier_ladder_tops_out_at_l1() {
    let small = ["L0", "L1"];
    let case = given([opened()])
        .on_ladder(&small)
        .when(route("L1"))
        .then_events([routed("L1")]);
    assert_eq!(case.tier, Some(tier("L1")));
    given(routed_to("L1"))
        .on_ladder(&small)
        .when(escalate())
        .then_error(DomainError::TopTier(tier("L1")));
    given(routed_to("L1"))
        .on_ladder(&small)
        .when(escalate_to("L2"))
        .then_error(DomainError::UnknownTier("L2".into()));
    given([opened()])
        .on_ladder(&small)
        .when(route("L2"))
        .then_error(DomainError::UnknownTier("L2".into()));
    given(routed_to("L0"))
        .on_ladder(&small)
        .when(escalate())
        .then_events([escalated("L0", "L1")]);
}

#[test]
fn ladder_with_a_vendor_tier_escalates_from_l3_to_l4() {
    let five = ["L0", "L1", "L2", "L3", "L4"];
    given(routed_to("L3"))
        .on_ladder(&five)
        .when(escalate())
        .then_events([escalated("L3", "L4")]);
    given(routed_to("L1"))
        .on_ladder(&five)
        .when(escalate_to("L4"))
        .then_events([escalated("L1", "L4")]);
    given(routed_to("L4"))
        .on_ladder(&five)
        .when(escalate())
        .then_error(DomainError::TopTier(tier("L4")));
    given(routed_to("L4"))
        .on_ladder(&five)
        .when(deescalate())
        .then_events([deescalated("L4", "L3")]);
}

#[test]
fn custom_tier_names_work_like_any_other() {
    let ladder = ["bot", "front", "experts"];
    given(routed_to("front"))
        .on_ladder(&ladder)
        .when(escalate())
        .then_events([escalated("front", "experts")]);
}

#[test]
fn ladder_must_be_non_empty_with_unique_names() {
    assert!(matches!(
        TierLadder::new(Vec::<String>::new()),
        Err(DomainError::Invalid(_))
    ));
    assert!(matches!(
        TierLadder::new(["L0", "L1", "L0"]),
        Err(DomainError::Invalid(_))
    ));
    assert!(matches!(
        TierLadder::new(["L0", " "]),
        Err(DomainError::Invalid(_))
    ));
    assert!(matches!(
        TierLadder::new(["L0", " L0 "]),
        Err(DomainError::Invalid(_))
    ));
    let ladder = TierLadder::new([" L0 ", "L1"]).unwrap();
    assert_eq!(ladder.tiers(), &[tier("L0"), tier("L1")]);
    assert_eq!(ladder.top(), &tier("L1"));
    assert_eq!(ladder.rank(&tier("L1")), Some(1));
    assert_eq!(ladder.rank(&tier("L2")), None);
}

// ---------------------------------------------------------------------------------
// Assign / unassign
// ---------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------
// Swarming
// ---------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------

#[test]
fn post_message_records_the_acting_agent_as_author() {
    let case = given(routed_to("L1"))
        .by("bob")
        .when(post(MessageKind::InternalNote, "  We refunded them.  "))
        .then_events([posted(
            MessageKind::InternalNote,
            "bob",
            "We refunded them.",
        )]);
    assert_eq!(case.message_count, 1);
}

#[test]
fn internal_notes_are_allowed_on_a_resolved_case() {
    given([opened(), resolved("done", None, "alice")])
        .when(post(MessageKind::InternalNote, "follow up next week"))
        .then_events([posted(
            MessageKind::InternalNote,
            "alice",
            "follow up next week",
        )]);
}

#[test]
fn swarm_chat_by_a_member_is_accepted() {
    given(swarming("alice", &["bob"]))
        .by("bob")
        .when(post(MessageKind::SwarmChat, "I know this bug"))
        .then_events([posted(MessageKind::SwarmChat, "bob", "I know this bug")]);
}

#[test]
fn swarm_chat_by_a_non_member_is_refused() {
    given(swarming("alice", &["bob"]))
        .by("carol")
        .when(post(MessageKind::SwarmChat, "hi"))
        .then_refused("post message");
    given(routed_to("L1"))
        .when(post(MessageKind::SwarmChat, "hi"))
        .then_refused("post message");
}

#[test]
fn post_message_with_empty_body_is_invalid() {
    given(routed_to("L1"))
        .when(post(MessageKind::PublicReply, " \n "))
        .then_invalid("message");
}

// ---------------------------------------------------------------------------------
// Priority and tags
// ---------------------------------------------------------------------------------

#[test]
fn change_priority_records_from_and_to() {
    let case = given(routed_to("L1"))
        .when(change_priority(Priority::Urgent))
        .then_events([priority_changed(Priority::Normal, Priority::Urgent)]);
    assert_eq!(case.priority, Priority::Urgent);
}

#[test]
fn change_priority_to_the_same_priority_is_refused() {
    given(routed_to("L1"))
        .when(change_priority(Priority::Normal))
        .then_refused("change priority");
}

#[test]
fn tag_is_normalised_to_lowercase() {
    let case = given([opened()])
        .when(tag(" Refund "))
        .then_events([tagged("refund")]);
    assert!(case.tags.contains("refund"));
}

#[test]
fn tag_twice_is_refused_whatever_the_case() {
    given([opened()]).when(tag("BILLING")).then_refused("tag");
}

#[test]
fn malformed_tags_are_invalid() {
    given([opened()])
        .when(tag("no spaces"))
        .then_invalid("not a valid tag");
    given([opened()])
        .when(tag(""))
        .then_invalid("not a valid tag");
    given([opened()])
        .when(tag(&"x".repeat(65)))
        .then_invalid("not a valid tag");
    given([opened()])
        .when(untag("no spaces"))
        .then_invalid("not a valid tag");
}

#[test]
fn tags_are_capped() {
    let mut history = vec![opened()];
    // `billing` came with the case; add tags up to the cap.
    history.extend((1..MAX_TAGS).map(|i| tagged(&format!("t{i}"))));
    assert_eq!(given(history.clone()).state().tags.len(), MAX_TAGS);
    given(history).when(tag("one-more")).then_invalid("tags");
}

#[test]
fn untag_removes_a_present_tag() {
    let case = given([opened()])
        .when(untag("Billing"))
        .then_events([untagged("billing")]);
    assert!(case.tags.is_empty());
}

#[test]
fn untag_of_a_missing_tag_is_refused() {
    given([opened()])
        .when(untag("refund"))
        .then_refused("untag");
}

#[test]
fn tagging_a_resolved_case_is_allowed() {
    given([opened(), resolved("done", None, "alice")])
        .when(tag("recurring"))
        .then_events([tagged("recurring")]);
}

// ---------------------------------------------------------------------------------
// Resolve / reopen / close
// ---------------------------------------------------------------------------------

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
fn a_resolved_case_accepts_only_messages_tags_reopen_and_close() {
    let history = [
        opened(),
        routed("L2"),
        assigned("bob"),
        resolved("done", Some("L2"), "bob"),
    ];
    let allowed = ["post message", "tag", "untag", "reopen", "close"];
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
fn a_closed_case_refuses_every_command() {
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

// ---------------------------------------------------------------------------------
// SLA: policies, clocks, waiting on the customer, breaches, time-based escalation
// ---------------------------------------------------------------------------------

fn t(rfc3339: &str) -> Timestamp {
    Timestamp::parse_rfc3339(rfc3339).expect("a valid test time")
}

/// Monday 2026-09-14, 09:00 UTC: the office opens.
fn monday_9() -> Timestamp {
    t("2026-09-14T09:00:00Z")
}

fn mins(base: Timestamp, m: i64) -> Timestamp {
    base.plus_secs(m * 60)
}

/// Monday to Friday 09:00-17:00 UTC; Wednesday 2026-09-16 is a holiday.
fn office() -> Calendar {
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

fn step(
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
fn standard_policy() -> SlaPolicy {
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
fn urgent_policy() -> SlaPolicy {
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
fn sla_config() -> SlaConfig {
    SlaConfig {
        policies: vec![urgent_policy(), standard_policy()],
        calendars: [("office".to_string(), office())].into(),
        team_calendars: [("payments".to_string(), "office".to_string())].into(),
    }
}

fn standard_applied() -> CaseEvent {
    CaseEvent::SlaApplied(standard_policy().applied(Calendar::always()))
}

fn office_applied() -> CaseEvent {
    CaseEvent::SlaApplied(standard_policy().applied(office()))
}

fn urgent_applied() -> CaseEvent {
    CaseEvent::SlaApplied(urgent_policy().applied(Calendar::always()))
}

/// Opened, routed to L1 and put under `applied` on Monday at 09:00.
fn under(applied: CaseEvent) -> Vec<(CaseEvent, Timestamp)> {
    let t0 = monday_9();
    vec![(opened(), t0), (routed("L1"), t0), (applied, t0)]
}

fn and(
    mut history: Vec<(CaseEvent, Timestamp)>,
    more: impl IntoIterator<Item = (CaseEvent, Timestamp)>,
) -> Vec<(CaseEvent, Timestamp)> {
    history.extend(more);
    history
}

fn record_breach(kind: SlaKind) -> Command {
    Command::RecordSlaBreach { kind }
}

fn run_step(step: u32) -> Command {
    Command::RunSlaEscalation { step }
}

fn breached(kind: SlaKind, deadline: Timestamp, policy: &str) -> CaseEvent {
    CaseEvent::SlaBreached(SlaBreached {
        kind,
        deadline,
        policy_id: policy.into(),
    })
}

fn sla_escalated(step: u32, clock: SlaKind, policy: &str) -> CaseEvent {
    CaseEvent::SlaEscalated(SlaEscalated {
        step,
        clock,
        notify_lead: true,
        policy_id: policy.into(),
    })
}

fn escalation_reason(step: u32, policy: &str) -> String {
    format!("SLA escalation step {step} of policy `{policy}`")
}

fn awaiting(reason: &str) -> CaseEvent {
    CaseEvent::AwaitingCustomer(Reason {
        reason: reason.into(),
    })
}

fn resumed(reason: &str) -> CaseEvent {
    CaseEvent::Resumed(Reason {
        reason: reason.into(),
    })
}

fn first_responded(by: &str) -> CaseEvent {
    CaseEvent::FirstResponded(FirstResponded { by: agent(by) })
}

fn sla_refused(action: &'static str, reason: SlaRefusal) -> DomainError {
    DomainError::Sla { action, reason }
}

const BREACH: &str = "record SLA breach";
const STEP: &str = "run SLA escalation";

#[test]
fn routing_applies_the_first_matching_policy_after_the_routed_event() {
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

fn routed_payload(tier_name: &str) -> CaseRouted {
    match routed(tier_name) {
        CaseEvent::Routed(r) => r,
        _ => unreachable!(),
    }
}

#[test]
fn the_policy_uses_its_own_calendar_else_the_team_calendar_else_24x7() {
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
fn policies_match_on_priority_and_segment_in_order() {
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
fn rerouting_reapplies_only_when_the_policy_or_calendar_changes() {
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
fn a_priority_change_applies_the_policy_now_matching() {
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
fn a_breach_is_refused_before_the_deadline_and_recorded_exactly_once_after() {
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
fn the_resolution_deadline_breaches_while_open_only() {
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
fn a_kind_without_a_target_never_breaches() {
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
fn the_first_public_reply_by_a_non_customer_is_the_first_response() {
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
fn a_late_first_response_leaves_the_breach_to_be_recorded() {
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
fn await_customer_and_resume() {
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
fn a_public_reply_by_the_customer_ends_the_wait() {
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
fn waiting_on_the_customer_stops_the_clocks_in_business_time() {
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
fn a_deadline_reached_before_the_wait_began_stands() {
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
fn resolving_or_closing_ends_the_wait() {
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
fn holidays_and_nights_do_not_count() {
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
fn escalation_steps_run_when_due_and_once_each() {
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
fn raising_the_priority_to_urgent_applies_the_urgent_policy() {
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
fn escalation_effects_stop_at_urgent_and_at_the_top_tier() {
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
fn the_first_response_stops_its_escalation_steps() {
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
fn sla_due_lists_what_is_due_and_running_it_leaves_nothing_due() {
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
fn reopening_restarts_the_resolution_clock_only() {
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
fn reapplying_a_policy_keeps_breaches_and_resets_steps_only_for_another_chain() {
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
fn sla_configuration_is_validated() {
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
fn sla_kinds_and_priorities_parse_and_rank() {
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

// ---------------------------------------------------------------------------------
// decide_all and error codes
// ---------------------------------------------------------------------------------

#[test]
fn decide_all_opens_and_routes_as_one_unit() {
    let case = given(nothing())
        .when_all(vec![open(), route("L1"), assign("bob")])
        .then_events([opened(), routed("L1"), assigned("bob")]);
    assert_eq!(case.version, 3);
    assert_eq!(case.tier, Some(tier("L1")));
}

#[test]
fn decide_all_refuses_everything_if_one_command_is_refused() {
    given(nothing())
        .when_all(vec![open(), route("L9"), assign("bob")])
        .then_error(DomainError::UnknownTier("L9".into()));
    given(nothing())
        .when_all(vec![open(), open()])
        .then_error(DomainError::CaseExists);
}

#[test]
fn decide_all_of_nothing_produces_nothing() {
    given([opened()]).when_all(vec![]).then_events(nothing());
}

#[test]
fn error_codes_are_stable() {
    let code = |g: Given, command: Command| g.when(command).result.unwrap_err().code().name();
    assert_eq!(code(given(nothing()), escalate()), "NOT_FOUND");
    assert_eq!(code(given([opened()]), open()), "INVALID_TRANSITION");
    assert_eq!(code(given([opened()]), route("L9")), "BAD_USER_INPUT");
    assert_eq!(code(given([opened()]), tag("a b")), "BAD_USER_INPUT");
    assert_eq!(
        code(given(routed_to("L3")), escalate()),
        "INVALID_TRANSITION"
    );
    assert_eq!(
        code(given(routed_to("L0")), deescalate()),
        "INVALID_TRANSITION"
    );
    assert_eq!(code(given([opened()]), unassign()), "INVALID_TRANSITION");
    assert_eq!(
        code(
            given(routed_to("L1")),
            Command::RecordSlaBreach {
                kind: SlaKind::Resolution
            }
        ),
        "INVALID_TRANSITION"
    );
}

#[test]
fn ids_and_enums_parse_and_reject() {
    assert_eq!(CaseId::from_stream(&case_id().stream()), Some(case_id()));
    assert_eq!(
        CaseId::from_stream("tenant-01HZX3N8Q4T5V6W7X8Y9Z0ABCD"),
        None
    );
    assert!(matches!(
        "not-a-ulid".parse::<CaseId>(),
        Err(DomainError::Invalid(_))
    ));
    assert!(AgentId::new("alice@example.com").is_ok());
    assert!(AgentId::new("").is_err());
    assert!(AgentId::new("has space").is_err());
    assert!(AgentId::new("x".repeat(AgentId::MAX_LEN + 1)).is_err());
    assert_eq!("urgent".parse::<Priority>(), Ok(Priority::Urgent));
    assert!("asap".parse::<Priority>().is_err());
    assert!(
        Priority::Urgent < Priority::Low,
        "queues sort most urgent first"
    );
    let ts = Timestamp::from_unix_micros(1_000_001);
    assert_eq!(ts.to_rfc3339(), "1970-01-01T00:00:01.000001Z");
    assert_eq!(Timestamp::parse_rfc3339(&ts.to_rfc3339()), Ok(ts));
}

// ---------------------------------------------------------------------------------
// Event codec
// ---------------------------------------------------------------------------------

/// One hand-built instance of every event type, as written by schema version 1.
/// FROZEN: `tests/fixtures/case_events_v1.txt` holds exactly these values encoded by
/// v1. Fields of the same type carry different values, so that reordering the fields
/// of a payload struct changes what the fixture decodes to.
fn golden_v1_events() -> Vec<CaseEvent> {
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
    assert_eq!(CaseEvent::TYPES.len(), 25);
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

// ---------------------------------------------------------------------------------
// Golden fixture: events written by v1 stay readable forever
// ---------------------------------------------------------------------------------

const FIXTURE_V1: &str = include_str!("../../tests/fixtures/case_events_v1.txt");

fn from_hex(hex: &str) -> Vec<u8> {
    assert!(hex.len().is_multiple_of(2), "odd-length hex `{hex}`");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digits"))
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// (type, schema version, payload) per fixture line.
fn fixture_lines() -> Vec<(&'static str, u16, Vec<u8>)> {
    FIXTURE_V1
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 3, "malformed fixture line `{line}`");
            let version = fields[1].parse().expect("a schema version");
            (fields[0], version, from_hex(fields[2]))
        })
        .collect()
}

#[test]
fn v1_fixture_decodes_to_the_frozen_values() {
    let golden = golden_v1_events();
    let lines = fixture_lines();
    assert_eq!(
        lines.len(),
        CaseEvent::TYPES.len(),
        "one line per event type"
    );
    for (event_type, version, payload) in lines {
        assert_eq!(version, 1, "{event_type}: this fixture holds v1 payloads");
        let expected = golden
            .iter()
            .find(|e| e.event_type() == event_type)
            .unwrap_or_else(|| panic!("no golden value for `{event_type}`"));
        let decoded = CaseEvent::decode(event_type, version, &payload)
            .unwrap_or_else(|e| panic!("v1 `{event_type}` is no longer readable: {e}"));
        assert_eq!(
            &decoded, expected,
            "v1 `{event_type}` decodes to something else"
        );
        // While v1 is still the version written, the writer must produce the same bytes.
        if expected.schema_version() == 1 {
            assert_eq!(
                to_hex(&expected.encode()),
                to_hex(&payload),
                "{event_type} v1 bytes changed"
            );
        }
    }
}

/// FROZEN: the values `tests/fixtures/case_events_v2.txt` holds, encoded by schema
/// version 2 (one line per event type that has a version 2).
fn golden_v2_events() -> Vec<CaseEvent> {
    vec![CaseEvent::Opened(CaseOpened {
        case_id: case_id(),
        subject: "Site down for everyone".into(),
        body: "Nobody can log in since 9:00".into(),
        channel: Channel::Portal,
        customer: Customer {
            id: "initech".into(),
            name: "Initech".into(),
            segment: Segment::B2b,
            key_account: true,
        },
        language: "fr".into(),
        priority: Priority::Normal,
        tags: vec!["login".into()],
        requested_priority: Some(Priority::Urgent),
    })]
}

const FIXTURE_V2: &str = "tests/fixtures/case_events_v2.txt";

/// Version 2 payloads stay readable, and while v2 is written the bytes do not change.
/// `SWARMDESK_WRITE_FIXTURES=1` writes the file (only ever when v2 is introduced).
#[test]
fn v2_fixture_decodes_to_the_frozen_values() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE_V2);
    let golden = golden_v2_events();
    if std::env::var_os("SWARMDESK_WRITE_FIXTURES").is_some() {
        let lines: Vec<String> = golden
            .iter()
            .map(|e| format!("{}\t2\t{}", e.event_type(), to_hex(&e.encode())))
            .collect();
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), golden.len());
    for (line, expected) in lines.iter().zip(&golden) {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 3, "malformed fixture line `{line}`");
        assert_eq!((f[0], f[1]), (expected.event_type(), "2"));
        let decoded = CaseEvent::decode(f[0], 2, &from_hex(f[2]))
            .unwrap_or_else(|e| panic!("v2 `{}` is no longer readable: {e}", f[0]));
        assert_eq!(&decoded, expected);
        if expected.schema_version() == 2 {
            assert_eq!(
                to_hex(&expected.encode()),
                f[2],
                "{} v2 bytes changed",
                f[0]
            );
        }
    }
}

/// A v1 `CaseOpened` (JSON too) reads as v2 without a requested priority.
#[test]
fn case_opened_v1_is_upcast_to_v2() {
    let (_, _, payload) = fixture_lines()
        .into_iter()
        .find(|(t, _, _)| *t == "CaseOpened")
        .expect("an opening line");
    let Ok(CaseEvent::Opened(o)) = CaseEvent::decode("CaseOpened", 1, &payload) else {
        panic!("v1 CaseOpened unreadable");
    };
    assert_eq!(o.requested_priority, None);
    assert_eq!(o.subject, "Charged twice");
    let mut json = CaseEvent::Opened(o.clone()).to_json();
    json.as_object_mut().unwrap().remove("requestedPriority");
    assert_eq!(
        CaseEvent::from_json("CaseOpened", 1, json).ok(),
        Some(CaseEvent::Opened(o))
    );
}

/// Shows the fixture catches reordered fields: the same bytes read through a struct
/// whose `from` and `to` are swapped give a different (wrong) value.
#[test]
fn v1_fixture_detects_swapped_fields() {
    #[derive(serde::Deserialize)]
    struct Swapped {
        to: Tier,
        from: Tier,
        #[allow(dead_code)]
        reason: String,
    }
    let (_, _, payload) = fixture_lines()
        .into_iter()
        .find(|(t, _, _)| *t == "CaseEscalated")
        .expect("an escalation line");
    let swapped: Swapped = postcard::from_bytes(&payload).expect("same shape");
    assert_eq!((swapped.from, swapped.to), (tier("L2"), tier("L1")));
}

// ---------------------------------------------------------------------------------
// Properties over random command sequences
// ---------------------------------------------------------------------------------

const AGENTS: [&str; 4] = ["alice", "bob", "carol", "dave"];
const TIER_POOL: [&str; 6] = ["L0", "L1", "L2", "L3", "L4", "L9"];
const TAG_POOL: [&str; 7] = ["billing", "refund", "VIP", "vip", "outage", "not a tag", ""];

fn ladders() -> [TierLadder; 3] {
    [
        TierLadder::standard(),
        TierLadder::new(["L0", "L1"]).unwrap(),
        TierLadder::new(["L0", "L1", "L2", "L3", "L4"]).unwrap(),
    ]
}

fn arb_agent() -> impl Strategy<Value = AgentId> {
    prop::sample::select(AGENTS.to_vec()).prop_map(agent)
}

fn arb_tier() -> impl Strategy<Value = Tier> {
    prop::sample::select(TIER_POOL.to_vec()).prop_map(tier)
}

/// The teams of the random scenarios and the tier each works (L0 and L4 have none).
const SCENARIO_TEAMS: &[(&str, &str)] = &[
    ("general", "L1"),
    ("billing", "L2"),
    ("payments", "L2"),
    ("experts", "L3"),
];

fn scenario_teams() -> TierTeams {
    TierTeams::new(
        SCENARIO_TEAMS
            .iter()
            .map(|(team, t)| (team.to_string(), tier(t))),
    )
}

fn arb_team() -> impl Strategy<Value = String> {
    prop::sample::select(SCENARIO_TEAMS.to_vec()).prop_map(|(team, _)| team.to_string())
}

fn arb_tag() -> impl Strategy<Value = String> {
    prop::sample::select(TAG_POOL.to_vec()).prop_map(String::from)
}

/// Mostly real text, sometimes blank (which required fields refuse).
fn arb_text() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["needs work", "done", "  "]).prop_map(String::from)
}

fn arb_priority() -> impl Strategy<Value = Priority> {
    prop::sample::select(vec![
        Priority::Urgent,
        Priority::High,
        Priority::Normal,
        Priority::Low,
    ])
}

fn arb_kind() -> impl Strategy<Value = MessageKind> {
    prop::sample::select(vec![
        MessageKind::PublicReply,
        MessageKind::InternalNote,
        MessageKind::SwarmChat,
    ])
}

fn arb_command() -> impl Strategy<Value = Command> {
    let arms: Vec<(u32, BoxedStrategy<Command>)> = vec![
        (
            1,
            prop::sample::select(vec!["Overcharged", " "])
                .prop_map(|s| {
                    Command::Open(OpenCase {
                        subject: s.into(),
                        ..open_case()
                    })
                })
                .boxed(),
        ),
        (
            4,
            (
                arb_tier(),
                prop::option::of(arb_priority()),
                prop::collection::vec(arb_tag(), 0..3),
                any::<bool>(),
                prop::option::of(arb_team()),
            )
                .prop_map(|(tier, priority, tags, sensitive, team)| {
                    Command::Route(RouteCase {
                        priority,
                        tags,
                        sensitive,
                        team,
                        ..route_case(tier.as_str())
                    })
                })
                .boxed(),
        ),
        (
            4,
            (prop::option::of(arb_tier()), arb_text())
                .prop_map(|(to, reason)| Command::Escalate { to, reason })
                .boxed(),
        ),
        (
            3,
            (prop::option::of(arb_tier()), arb_text())
                .prop_map(|(to, reason)| Command::Deescalate { to, reason })
                .boxed(),
        ),
        (
            2,
            arb_agent()
                .prop_map(|agent| Command::Assign { agent })
                .boxed(),
        ),
        (1, Just(Command::Unassign).boxed()),
        (
            3,
            (arb_agent(), arb_text())
                .prop_map(|(lead, reason)| Command::StartSwarm { lead, reason })
                .boxed(),
        ),
        (
            5,
            arb_agent()
                .prop_map(|agent| Command::JoinSwarm { agent })
                .boxed(),
        ),
        (
            4,
            arb_agent()
                .prop_map(|agent| Command::LeaveSwarm { agent })
                .boxed(),
        ),
        (
            2,
            arb_agent()
                .prop_map(|agent| Command::SetSwarmLead { agent })
                .boxed(),
        ),
        (
            3,
            (arb_kind(), arb_text())
                .prop_map(|(kind, body)| Command::PostMessage { kind, body })
                .boxed(),
        ),
        (
            2,
            (arb_priority(), arb_text())
                .prop_map(|(priority, reason)| Command::ChangePriority { priority, reason })
                .boxed(),
        ),
        (2, arb_tag().prop_map(|tag| Command::Tag { tag }).boxed()),
        (2, arb_tag().prop_map(|tag| Command::Untag { tag }).boxed()),
        (
            2,
            arb_text()
                .prop_map(|resolution| Command::Resolve { resolution })
                .boxed(),
        ),
        (
            2,
            arb_text()
                .prop_map(|reason| Command::Reopen { reason })
                .boxed(),
        ),
        (
            1,
            arb_text()
                .prop_map(|reason| Command::Close { reason })
                .boxed(),
        ),
        (
            2,
            arb_text()
                .prop_map(|reason| Command::AwaitCustomer { reason })
                .boxed(),
        ),
        (2, Just(Command::Resume).boxed()),
        (
            3,
            prop::sample::select(SlaKind::ALL.to_vec())
                .prop_map(|kind| Command::RecordSlaBreach { kind })
                .boxed(),
        ),
        (
            3,
            (0..4u32)
                .prop_map(|step| Command::RunSlaEscalation { step })
                .boxed(),
        ),
    ];
    Union::new_weighted(arms)
}

/// A command and the agent issuing it.
fn arb_step() -> impl Strategy<Value = (&'static str, Command)> {
    (prop::sample::select(AGENTS.to_vec()), arb_command())
}

/// A ladder and up to 40 steps. Most scenarios start with a valid `open`, many also
/// route and start a swarm, so that later steps exercise more than "case not found".
fn arb_scenario() -> impl Strategy<Value = (usize, Vec<(&'static str, Command)>)> {
    let prefix = prop_oneof![
        1 => Just(vec![]),
        2 => Just(vec![("alice", open())]),
        3 => Just(vec![("alice", open()), ("alice", route("L1"))]),
        4 => prop::sample::select(AGENTS.to_vec())
            .prop_map(|lead| vec![("alice", open()), ("alice", route("L1")), (lead, start_swarm(lead))]),
        3 => Just(vec![("alice", open()), ("alice", Command::Route(RouteCase {
            sensitive: true,
            ..route_case("L2")
        }))]),
    ];
    (0..3usize, prefix, prop::collection::vec(arb_step(), 0..40)).prop_map(
        |(ladder, mut steps, rest)| {
            steps.extend(rest);
            (ladder, steps)
        },
    )
}

fn count(log: &[(CaseEvent, u64, Timestamp)], pred: impl Fn(&CaseEvent) -> bool) -> usize {
    log.iter().filter(|(e, _, _)| pred(e)).count()
}

/// Every invariant a case must keep, whatever commands it was sent.
fn check_invariants(
    case: &Case,
    log: &[(CaseEvent, u64, Timestamp)],
    ladder: &TierLadder,
    teams: &TierTeams,
) -> Result<(), TestCaseError> {
    // Versions run 1..n without gaps, and the case is at the last one.
    for (i, (_, v, _)) in log.iter().enumerate() {
        prop_assert_eq!(*v, i as u64 + 1);
    }
    prop_assert_eq!(case.version, log.len() as u64);
    prop_assert_eq!(case.exists(), !log.is_empty());
    if let Some((first, _, _)) = log.first() {
        prop_assert!(
            matches!(first, CaseEvent::Opened(_)),
            "first event is {:?}",
            first
        );
    }
    prop_assert!(
        count(log, |e| matches!(e, CaseEvent::Opened(_))) <= 1,
        "opened twice"
    );

    // Replaying the stream gives exactly the incrementally built state.
    let folded = Case::fold(log.iter().map(|(e, v, t)| (e, *v, *t)));
    prop_assert_eq!(&folded, case);

    // Swarm: at least one member, and the lead is one of them; only open cases swarm.
    if let Some(swarm) = &case.swarm {
        prop_assert!(!swarm.members.is_empty(), "empty swarm");
        prop_assert!(
            swarm.members.contains_key(&swarm.lead),
            "lead {} is not a member of {:?}",
            swarm.lead,
            swarm.members
        );
        prop_assert_eq!(
            case.status,
            Status::Open,
            "a resolved or closed case has a swarm"
        );
    }

    // Status and resolution agree.
    match case.status {
        Status::Open => prop_assert!(case.resolution.is_none()),
        Status::Resolved => prop_assert!(case.resolution.is_some()),
        Status::Closed => {}
    }

    // The tier is always one the ladder knows.
    if let Some(t) = &case.tier {
        prop_assert!(ladder.rank(t).is_some(), "tier {} is not on the ladder", t);
    }
    // A sensitive case never sits below the sensitive floor, whoever asked.
    if case.sensitive {
        let t = case.tier.as_ref();
        prop_assert!(
            t.is_some_and(|t| ladder.allows_sensitive(t)),
            "sensitive case at {:?}, below the floor {}",
            t,
            ladder.sensitive_floor()
        );
    }

    // A case's team, when set, works the case's tier.
    if let Some(team) = &case.team {
        prop_assert!(
            case.tier.as_ref().is_some_and(|t| teams.works(team, t)),
            "team {} does not work tier {:?}",
            team,
            case.tier
        );
    }

    // Tags are normalised and capped.
    prop_assert!(case.tags.len() <= MAX_TAGS);
    for t in &case.tags {
        prop_assert!(
            !t.is_empty() && *t == t.trim().to_lowercase(),
            "tag `{}`",
            t
        );
    }

    // Counters match the stream.
    prop_assert_eq!(
        case.escalations as usize,
        count(log, |e| matches!(e, CaseEvent::Escalated(_)))
    );
    prop_assert_eq!(
        case.message_count as usize,
        count(log, |e| matches!(e, CaseEvent::MessagePosted(_)))
    );

    // SLA: one first response, at the time of its event; breaches at most once per
    // kind (resolution: per reopen cycle), never before their deadline.
    let first_responses: Vec<Timestamp> = log
        .iter()
        .filter(|(e, _, _)| matches!(e, CaseEvent::FirstResponded(_)))
        .map(|(_, _, t)| *t)
        .collect();
    prop_assert!(first_responses.len() <= 1);
    prop_assert_eq!(case.first_response_at, first_responses.first().copied());
    let breaches = |kind| {
        count(
            log,
            |e| matches!(e, CaseEvent::SlaBreached(b) if b.kind == kind),
        )
    };
    prop_assert!(breaches(SlaKind::FirstResponse) <= 1);
    prop_assert!(
        breaches(SlaKind::Resolution) <= 1 + count(log, |e| matches!(e, CaseEvent::Reopened(_)))
    );
    for (e, _, t) in log {
        if let CaseEvent::SlaBreached(b) = e {
            prop_assert!(b.deadline <= *t, "breach recorded before its deadline");
        }
    }
    if let Some(i) = log
        .iter()
        .position(|(e, _, _)| matches!(e, CaseEvent::SlaApplied(_)))
    {
        prop_assert!(log[..i]
            .iter()
            .any(|(e, _, _)| matches!(e, CaseEvent::Routed(_))));
    }
    // Waits: only open cases wait; finished waits are ordered and disjoint.
    if case.awaiting_customer_since.is_some() {
        prop_assert_eq!(case.status, Status::Open);
    }
    for (i, (from, to)) in case.pauses.iter().enumerate() {
        prop_assert!(from <= to);
        if let Some((next, _)) = case.pauses.get(i + 1) {
            prop_assert!(to <= next);
        }
    }
    // A pending deadline exists only for an open case with an SLA.
    if case.next_deadline().is_some() {
        prop_assert!(case.status == Status::Open && case.sla.is_some());
    }
    Ok(())
}

/// Two policies on 24x7 with targets a scenario's steps (five minutes apart) pass.
fn scenario_sla() -> SlaConfig {
    let step = |after_mins, clock, raise_priority, escalate_tier| EscalationStep {
        after_mins,
        clock,
        raise_priority,
        notify_lead: true,
        escalate_tier,
    };
    SlaConfig {
        policies: vec![
            SlaPolicy {
                id: "urgent".into(),
                name: "Urgent".into(),
                priorities: vec![Priority::Urgent],
                segments: vec![],
                first_response_mins: Some(10),
                resolution_mins: Some(30),
                calendar: None,
                escalation: vec![step(5, SlaKind::Resolution, false, true)],
            },
            SlaPolicy {
                id: "standard".into(),
                name: "Standard".into(),
                priorities: vec![],
                segments: vec![],
                first_response_mins: Some(15),
                resolution_mins: Some(60),
                calendar: None,
                escalation: vec![
                    step(10, SlaKind::FirstResponse, true, false),
                    step(30, SlaKind::Resolution, false, true),
                    step(45, SlaKind::Resolution, true, true),
                ],
            },
        ],
        ..SlaConfig::default()
    }
}

/// The SLA commands `decide` accepts at `now` are exactly the ones `sla_due` lists.
fn check_sla_due(case: &Case, ctx: &Context<'_>) -> Result<(), TestCaseError> {
    let due = sla_due(case, ctx.now);
    let candidates = SlaKind::ALL
        .into_iter()
        .map(|kind| Command::RecordSlaBreach { kind })
        .chain((0..4).map(|step| Command::RunSlaEscalation { step }));
    for command in candidates {
        let accepted = decide(case, command.clone(), ctx).is_ok();
        prop_assert_eq!(accepted, due.contains(&command), "{:?}", command);
    }
    if let Some(wake) = case.next_sla_wakeup() {
        prop_assert!(
            !sla_due(case, wake).is_empty(),
            "nothing due at the wake-up time"
        );
    } else {
        prop_assert!(sla_due(case, Timestamp(i64::MAX)).is_empty());
    }
    Ok(())
}

fn run_scenario(ladder: &TierLadder, steps: Vec<(&str, Command)>) -> Result<(), TestCaseError> {
    let sla = scenario_sla();
    let teams = scenario_teams();
    let system = Actor::system();
    let mut case = Case::default();
    let mut log: Vec<(CaseEvent, u64, Timestamp)> = Vec::new();
    for (i, (who, command)) in steps.into_iter().enumerate() {
        // `dave` is the customer.
        let me = match who {
            "dave" => Actor::new(who, Role::Customer).expect("a valid id"),
            _ => actor(who),
        };
        let now = at(i as i64 * 300 + 1);
        let ctx = Context {
            tiers: ladder,
            teams: &teams,
            sla: &sla,
            actor: &me,
            now,
        };
        let before = case.clone();
        let was_closed = case.status == Status::Closed;
        let is_open = matches!(command, Command::Open(_));
        let result = decide(&case, command.clone(), &ctx);
        prop_assert_eq!(
            &result,
            &decide(&case, command.clone(), &ctx),
            "decide is not deterministic"
        );

        match result {
            Err(err) => {
                if before.exists() && is_open {
                    prop_assert_eq!(err, DomainError::CaseExists);
                } else if !before.exists() && !is_open {
                    prop_assert_eq!(err, DomainError::CaseNotFound);
                }
                // Nothing was recorded and nothing changed.
                prop_assert_eq!(&case, &before);
                prop_assert_eq!(case.version, log.len() as u64);
            }
            Ok(events) => {
                prop_assert!(
                    !was_closed,
                    "closed case accepted {:?}: {:?}",
                    command,
                    events
                );
                prop_assert!(
                    !events.is_empty(),
                    "{:?} was accepted without events",
                    command
                );
                for event in events.iter() {
                    // Every event the domain produces survives both codecs.
                    let bytes = event.encode();
                    let decoded =
                        CaseEvent::decode(event.event_type(), event.schema_version(), &bytes);
                    prop_assert_eq!(decoded.ok(), Some(event.clone()));
                    let json = CaseEvent::from_json(
                        event.event_type(),
                        event.schema_version(),
                        event.to_json(),
                    );
                    prop_assert_eq!(json.ok(), Some(event.clone()));

                    let version = log.len() as u64 + 1;
                    case.apply(event, version, now);
                    log.push((event.clone(), version, now));
                }
                // A lead who leaves hands over to the longest-standing remaining member.
                if let (Command::LeaveSwarm { agent }, Some(old)) = (&command, &before.swarm) {
                    if &old.lead == agent {
                        if let Some(new) = &case.swarm {
                            let earliest = new.members.values().min().copied();
                            prop_assert_eq!(new.members.get(&new.lead).copied(), earliest);
                        }
                    }
                }
            }
        }
        if was_closed {
            prop_assert_eq!(case.status, Status::Closed, "a closed case was reopened");
        }
        // An SLA breach or step, once recorded, is not accepted again.
        let sla_command = matches!(
            command,
            Command::RecordSlaBreach { .. } | Command::RunSlaEscalation { .. }
        );
        let same_policy =
            case.sla.as_ref().map(|s| &s.policy_id) == before.sla.as_ref().map(|s| &s.policy_id);
        if sla_command && case.version > before.version && same_policy {
            prop_assert!(decide(&case, command.clone(), &ctx).is_err());
        }
        check_sla_due(
            &case,
            &Context {
                actor: &system,
                ..ctx.clone()
            },
        )?;
        check_invariants(&case, &log, ladder, &teams)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_command_sequences_keep_every_invariant((ladder, steps) in arb_scenario()) {
        let ladder = &ladders()[ladder];
        run_scenario(ladder, steps)?;
    }

    /// `decide_all` is `decide` applied in sequence, with any refusal refusing all.
    #[test]
    fn decide_all_equals_sequential_decide(commands in prop::collection::vec(arb_command(), 0..8)) {
        let ladder = TierLadder::standard();
        let me = actor("alice");
        let no_sla = SlaConfig::default();
        let no_teams = TierTeams::default();
        let ctx = Context { tiers: &ladder, teams: &no_teams, sla: &no_sla, actor: &me, now: at(100) };
        let base = given(swarming("alice", &["bob"])).state();

        let mut expected = Ok(Vec::new());
        let mut state = base.clone();
        for command in commands.iter().cloned() {
            match decide(&state, command, &ctx) {
                Ok(events) => {
                    for e in &events {
                        state.apply(e, state.version + 1, ctx.now);
                    }
                    if let Ok(all) = &mut expected {
                        all.extend(events);
                    }
                }
                Err(e) => {
                    expected = Err(e);
                    break;
                }
            }
        }
        prop_assert_eq!(decide_all(&base, commands, &ctx), expected);
    }
}
