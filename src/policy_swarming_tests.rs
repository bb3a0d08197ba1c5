//! Tests of the swarming rules of [`super`]: access through invitations and
//! membership, the private-case rule, and who may run each swarming command.

use super::*;
use crate::domain::event::{AgentRef, CaseOpened, CaseRouted, SwarmInvited, SwarmStarted};
use crate::domain::swarming::decide::{InviteToSwarm, Invitee};
use crate::domain::{Actor, CaseEvent, Channel, Customer, Priority, Segment, Timestamp};

fn agent(id: &str) -> AgentId {
    AgentId::new(id).unwrap()
}

fn principal(id: &str, role: Role, tiers: &[&str]) -> Principal {
    Principal {
        actor: Actor::new(id, role).unwrap(),
        tiers: tiers.iter().map(|t| Tier::new(*t)).collect(),
        token_id: None,
    }
}

/// A case at `tier` (private when `sensitive`), assigned to `owner`, whose swarm
/// `owner` leads, with `events` after that.
fn case(tier: &str, sensitive: bool, events: Vec<CaseEvent>) -> Case {
    let opened = CaseEvent::Opened(CaseOpened {
        case_id: "01HZX3N8Q4T5V6W7X8Y9Z0ABCD".parse().unwrap(),
        subject: "SSO loops".into(),
        body: String::new(),
        channel: Channel::Email,
        customer: Customer {
            id: "initech".into(),
            name: "Initech".into(),
            segment: Segment::B2b,
            key_account: false,
        },
        language: "en".into(),
        priority: Priority::Normal,
        tags: vec![],
        requested_priority: None,
    });
    let routed = CaseEvent::Routed(CaseRouted {
        tier: Tier::new(tier),
        team: None,
        priority: None,
        tags: vec![],
        sensitive,
        rule_id: None,
        rule_set_version: None,
    });
    let base = vec![
        opened,
        routed,
        CaseEvent::Assigned(AgentRef {
            agent: agent("olivia"),
        }),
        CaseEvent::SwarmStarted(SwarmStarted {
            lead: agent("olivia"),
            reason: "hard".into(),
        }),
    ];
    let all: Vec<CaseEvent> = base.into_iter().chain(events).collect();
    Case::fold(
        all.iter()
            .zip(1..)
            .map(|(e, v)| (e, v, Timestamp::from_unix_micros(v as i64))),
    )
}

fn invited(agents: &[&str], cleared: &[&str]) -> CaseEvent {
    CaseEvent::SwarmInvited(SwarmInvited {
        agents: agents.iter().map(|a| agent(a)).collect(),
        by: agent("olivia"),
        note: String::new(),
        auto_replace: false,
        expires_at: None,
        cleared: cleared.iter().map(|a| agent(a)).collect(),
        reason: (!cleared.is_empty()).then(|| "only expert on shift".into()),
    })
}

fn joined(a: &str) -> CaseEvent {
    CaseEvent::SwarmJoined(AgentRef { agent: agent(a) })
}

fn accepted(a: &str) -> CaseEvent {
    CaseEvent::InvitationAccepted(crate::domain::event::InvitationAccepted { agent: agent(a) })
}

#[test]
fn an_l3_agent_invited_to_an_l2_case_may_read_and_accept_it() {
    let ladder = TierLadder::standard();
    let l3 = principal("xena", Role::Agent, &["L3"]);
    assert!(!can_read(&l3, &case("L2", false, vec![]), &ladder));
    let invited_case = case("L2", false, vec![invited(&["xena"], &[])]);
    assert!(can_read(&l3, &invited_case, &ladder));
    assert_eq!(
        can_execute(&l3, &invited_case, &Command::AcceptInvitation, &ladder),
        Ok(())
    );
    // A member keeps access; once they leave it is gone.
    let member = case(
        "L2",
        false,
        vec![invited(&["xena"], &[]), accepted("xena"), joined("xena")],
    );
    assert!(can_read(&l3, &member, &ladder));
    let left = case(
        "L2",
        false,
        vec![
            invited(&["xena"], &[]),
            accepted("xena"),
            joined("xena"),
            CaseEvent::SwarmLeft(AgentRef {
                agent: agent("xena"),
            }),
        ],
    );
    assert!(!can_read(&l3, &left, &ladder));
}

#[test]
fn a_private_case_admits_an_invitee_below_its_tier_only_when_cleared() {
    let ladder = TierLadder::standard();
    let l1 = principal("lou", Role::Agent, &["L1"]);
    // Invited (somehow) without clearance: the private case stays closed to them.
    let not_cleared = case("L2", true, vec![invited(&["lou"], &[])]);
    assert!(!can_read(&l1, &not_cleared, &ladder));
    let cleared = case("L2", true, vec![invited(&["lou"], &["lou"])]);
    assert!(can_read(&l1, &cleared, &ladder));
    let joined_cleared = case(
        "L2",
        true,
        vec![invited(&["lou"], &["lou"]), accepted("lou"), joined("lou")],
    );
    assert!(can_read(&l1, &joined_cleared, &ladder));
}

#[test]
fn who_may_invite_organise_and_accept_help() {
    let ladder = TierLadder::standard();
    let c = case("L1", false, vec![joined("bob")]);
    let invite = Command::InviteToSwarm(InviteToSwarm {
        invitees: vec![Invitee {
            agent: agent("carol"),
            tiers: vec![Tier::new("L1")],
        }],
        note: String::new(),
        auto_replace: false,
        expires_after_mins: None,
        reason: None,
    });
    let owner = principal("olivia", Role::Agent, &["L1"]);
    let member = principal("bob", Role::Agent, &["L1"]);
    let lead = principal("lana", Role::Lead, &["L2"]);
    assert_eq!(can_execute(&owner, &c, &invite, &ladder), Ok(()));
    assert_eq!(can_execute(&lead, &c, &invite, &ladder), Ok(()));
    let refused = can_execute(&member, &c, &invite, &ladder).unwrap_err();
    assert!(refused.contains("invite to swarm needs"), "{refused}");
    let role = Command::SetSwarmRole {
        agent: agent("bob"),
        role: crate::domain::swarming::SwarmRole::Knowledge,
    };
    assert!(can_execute(&member, &c, &role, &ladder).is_err());
    assert_eq!(can_execute(&owner, &c, &role, &ladder), Ok(()));
    // Only the scheduler expires invitations, not even an admin.
    let expire = Command::ExpireInvitation {
        agent: agent("carol"),
    };
    let admin = principal("ada", Role::Admin, &[]);
    assert!(can_execute(&admin, &c, &expire, &ladder).is_err());
    let system = Principal::internal(Actor::system());
    assert_eq!(can_execute(&system, &c, &expire, &ladder), Ok(()));
    // Skills from rules or keywords are routing's.
    let by_rule = Command::SetCaseSkills {
        skills: vec!["saml".into()],
        source: crate::domain::swarming::SkillSource::Rule,
        rule_id: None,
    };
    assert!(can_execute(&lead, &c, &by_rule, &ladder).is_err());
}
