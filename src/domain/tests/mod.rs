//! Tests of the pure domain, written as given / when / then scenarios:
//!
//! ```text
//! given([opened(), routed("L1")]).when(escalate()).then_events([escalated("L1", "L2", ..)]);
//! ```
//!
//! `given` folds a history (versions 1..n, one second apart), `when` runs `decide`
//! against it, and `then_*` checks what came out. Below the scenarios: the event
//! codec, the v1 golden fixture, and property tests over random command sequences.
//! The shared builders and `given`/`when`/`then` live here; each submodule is one
//! section (one command family, the SLA, the codec, fixtures, properties).

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::strategy::Union;

use super::command::{MAX_SUBJECT, MAX_TAGS};
use super::event::{
    AgentRef, CaseOpened, CaseResolved, CaseRouted, FirstResponded, MessagePosted, PriorityChanged,
    Reason, SlaApplied, SlaBreached, SlaEscalated, SwarmEnded, SwarmLeadChanged, SwarmStarted,
    TagRef, TeamChanged, TierChanged,
};
use super::swarming::decide::{InviteToSwarm, Invitee};
use super::swarming::events::{
    CaseSkillsSet, HelpAccepted, HelpOffered, HelpRequestClosed, HelpRequested, InvitationAccepted,
    InvitationDeclined, InvitationExpired, KnowledgeCaptured, StatusUpdateDue, SwarmInvited,
    SwarmRoleSet, SwarmTypeSet,
};
use super::swarming::knowledge;
use super::swarming::{
    HelpStatus, InvitationStatus, SkillSource, SwarmRole, SwarmType, MAX_SKILLS,
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
        set_skills(&["saml"]),
        invite(&["bob"]),
        Command::AcceptInvitation,
        decline("busy"),
        Command::ExpireInvitation {
            agent: agent("bob"),
        },
        request_help(&["saml"], "IdP loop"),
        Command::OfferHelp { request_id: 1 },
        Command::AcceptHelp {
            request_id: 1,
            helper: agent("bob"),
        },
        Command::CloseHelpRequest {
            request_id: 1,
            reason: "solved".into(),
        },
        Command::SetSwarmType {
            swarm_type: SwarmType::Severity1,
            reason: "outage".into(),
        },
        Command::SetSwarmRole {
            agent: agent("bob"),
            role: SwarmRole::Researcher,
        },
        capture_knowledge("Double charge", "Refund the second capture.", &["billing"]),
        Command::RemindStatusUpdate {
            interval_secs: 1800,
        },
    ]
}

fn capture_knowledge(title: &str, body: &str, tags: &[&str]) -> Command {
    Command::CaptureKnowledge {
        title: title.into(),
        body: body.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
    }
}

fn set_skills(skills: &[&str]) -> Command {
    Command::SetCaseSkills {
        skills: skills.iter().map(|s| s.to_string()).collect(),
        source: SkillSource::Staff,
        rule_id: None,
    }
}

/// Invites agents who work L1 (ids only; see `invite_with` for their tiers).
fn invite(agents: &[&str]) -> Command {
    invite_with(
        agents
            .iter()
            .map(|a| (*a, "L1"))
            .collect::<Vec<_>>()
            .as_slice(),
    )
}

/// Invites (agent, the one tier they work), without expiry or auto-replace.
fn invite_with(agents: &[(&str, &str)]) -> Command {
    Command::InviteToSwarm(InviteToSwarm {
        invitees: agents
            .iter()
            .map(|(a, t)| Invitee {
                agent: agent(a),
                tiers: vec![tier(t)],
            })
            .collect(),
        note: "SSO loops".into(),
        auto_replace: false,
        expires_after_mins: None,
        reason: None,
    })
}

fn decline(reason: &str) -> Command {
    Command::DeclineInvitation {
        reason: reason.into(),
    }
}

fn request_help(skills: &[&str], note: &str) -> Command {
    Command::RequestHelp {
        skills: skills.iter().map(|s| s.to_string()).collect(),
        note: note.into(),
    }
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

mod assign;
mod escalate;
mod knowledge_capture;
mod ladders;
mod messages;
mod open;
mod presence;
mod priority_tags;
mod resolve;
mod route;
mod severity;
mod sla_scenarios;
mod swarming;
mod swarming_method;
use sla_scenarios::*;
mod codec;
mod decide_all;
use codec::golden_v1_events;
mod fixtures;
mod properties;
