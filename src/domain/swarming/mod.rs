//! Intelligent swarming, the method: what a case needs (skills), who is asked to help
//! (invitations), who raises a hand (help requests), and how a swarm is organised
//! (its type and its members' roles).
//!
//! This module owns the swarming state a case carries ([`Swarming`], the field
//! `Case::swarming`) and how its events fold into it ([`apply`]); the commands'
//! rules live in [`decide`], and their event payloads in [`events`]. The owner
//! (the case's assignee) stays accountable: nothing here ever changes the assignee.
//!
//! - Skills are normalised like tags (lower case, `a-z 0-9 - _ : . /`).
//! - An invitation is per agent and case: at most one pending at a time. It ends
//!   accepted (the invitee joins the swarm), declined, expired (appended once by the
//!   scheduler when due) or lapsed (the swarm ended first).
//! - A help request is numbered within its case (1, 2, ...); others offer help, the
//!   owner accepts one offer (the helper joins) or the request is closed.
//! - Roles: the swarm's lead has `LEAD`, implied by `Swarm::lead`; other members may
//!   hold one other role each. There is never a second lead. A `SEVERITY_1` swarm
//!   needs a `COMMUNICATIONS` member too ([`Case::missing_roles`] reports it).
//! - Status updates: a `SEVERITY_1` swarm owes the customer a public reply every
//!   interval; when one is missed the scheduler records `StatusUpdateDue` once
//!   ([`Swarming::status_update_due`], `decide::remind_status_update`).

pub mod decide;
pub mod events;
pub mod knowledge;

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use super::case::{Case, MessageKind};
use super::error::DomainError;
use super::event::CaseEvent;
use super::ids::{AgentId, Timestamp};
use super::sparse::SharedDefault;

/// Most needed skills on one case, and most skills in one help request.
pub const MAX_SKILLS: usize = 16;
/// Most agents invited at once.
pub const MAX_INVITEES: usize = 10;

macro_rules! api_enum {
    ($(#[$m:meta])* $t:ident { $($(#[$vm:meta])* $v:ident = $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum $t { $($(#[$vm])* $v),* }
        impl $t {
            pub const ALL: &'static [$t] = &[$($t::$v),*];
            pub fn as_str(self) -> &'static str {
                match self { $($t::$v => $s),* }
            }
        }
        impl FromStr for $t {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.to_ascii_uppercase().as_str() {
                    $($s => Ok($t::$v),)*
                    _ => Err(DomainError::Invalid(format!(
                        concat!("unknown ", stringify!($t), " `{}`"), s))),
                }
            }
        }
    };
}

api_enum!(
    /// What a swarm is for.
    #[derive(Default)]
    SwarmType {
        /// Experts pulled in on one case (the default).
        #[default]
        Case = "CASE",
        /// An outage or crisis: a rapid responder, a lead and a communicator.
        #[serde(rename = "SEVERITY_1")]
        Severity1 = "SEVERITY_1",
        /// A standing swarm triaging a team's new, unassigned cases.
        Dispatch = "DISPATCH",
        /// A standing swarm working ageing cases.
        Backlog = "BACKLOG",
    }
);

api_enum!(
    /// A member's part in a swarm.
    SwarmRole {
        Lead = "LEAD",
        /// Keeps the customer (and stakeholders) informed.
        Communications = "COMMUNICATIONS",
        Researcher = "RESEARCHER",
        /// Captures what the swarm learned.
        Knowledge = "KNOWLEDGE",
    }
);

api_enum!(
    /// Where a case's needed skills came from.
    SkillSource {
        /// Set by staff.
        Staff = "STAFF",
        /// A routing rule's `needsSkills` action.
        Rule = "RULE",
        /// The configured mapping of tags and keywords to skills.
        Keywords = "KEYWORDS",
    }
);

api_enum!(
    /// Where an invitation stands.
    InvitationStatus {
        Pending = "PENDING",
        Accepted = "ACCEPTED",
        Declined = "DECLINED",
        Expired = "EXPIRED",
        /// The swarm ended before the invitee answered.
        Lapsed = "LAPSED",
    }
);

api_enum!(
    /// Where a help request stands.
    HelpStatus {
        /// Open for offers.
        Open = "OPEN",
        /// An offer was accepted: the helper joined.
        Accepted = "ACCEPTED",
        Closed = "CLOSED",
    }
);

/// One agent's invitation to a case's swarm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub agent: AgentId,
    pub by: AgentId,
    pub note: String,
    pub invited_at: Timestamp,
    /// When it expires unanswered; `None`: it does not.
    pub expires_at: Option<Timestamp>,
    /// Whether the inviter asked for the finder's next best on decline or expiry.
    pub auto_replace: bool,
    pub status: InvitationStatus,
    /// When it was answered (accepted, declined, expired or lapsed).
    pub answered_at: Option<Timestamp>,
    /// Why the invitee declined.
    pub decline_reason: Option<String>,
}

impl Invitation {
    /// Pending and, at `now`, not yet past its expiry.
    pub fn is_open_at(&self, now: Timestamp) -> bool {
        self.status == InvitationStatus::Pending && self.expires_at.is_none_or(|e| now < e)
    }
}

/// A raised hand: someone on the case asks for help with some skills.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelpRequest {
    /// Numbered within the case, from 1.
    pub id: u32,
    pub by: AgentId,
    pub skills: Vec<String>,
    pub note: String,
    pub at: Timestamp,
    /// Who offered help, in the order they offered.
    pub offers: Vec<AgentId>,
    pub status: HelpStatus,
    /// The helper whose offer was accepted.
    pub helper: Option<AgentId>,
    /// Why it was closed without a helper.
    pub closed_reason: Option<String>,
}

/// The swarming state of a case.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Swarming {
    /// The skills the case needs, sorted.
    pub skills: BTreeSet<String>,
    pub skills_source: Option<SkillSource>,
    /// The active swarm's type (`CASE` when there is no swarm).
    pub swarm_type: SwarmType,
    /// Roles of members other than the lead (whose role is `LEAD`).
    pub roles: BTreeMap<AgentId, SwarmRole>,
    /// The latest invitation of each agent ever invited.
    pub invitations: BTreeMap<AgentId, Invitation>,
    pub help_requests: Vec<HelpRequest>,
    /// Agents a lead pulled into this private case past its tier rule, with the
    /// recorded reason; they keep access while invited or a member.
    pub cleared: BTreeMap<AgentId, String>,
    /// While the swarm is `SEVERITY_1`: when the status-update clock last started
    /// (the type was set, or the last public reply to the customer).
    pub status_since: Option<Timestamp>,
    /// The due time of the last `StatusUpdateDue` since then.
    pub reminded_due: Option<Timestamp>,
}

/// What a case's [`Swarming`] is until it swarms (see [`Sparse`](super::sparse::Sparse)).
static NOT_SWARMING: Swarming = Swarming {
    skills: BTreeSet::new(),
    skills_source: None,
    swarm_type: SwarmType::Case,
    roles: BTreeMap::new(),
    invitations: BTreeMap::new(),
    help_requests: Vec::new(),
    cleared: BTreeMap::new(),
    status_since: None,
    reminded_due: None,
};

impl SharedDefault for Swarming {
    fn shared_default() -> &'static Self {
        &NOT_SWARMING
    }
}

impl Swarming {
    pub fn invitation(&self, agent: &AgentId) -> Option<&Invitation> {
        self.invitations.get(agent)
    }

    /// Whether `agent` has an invitation awaiting an answer (expired ones included
    /// until the scheduler records the expiry).
    pub fn is_invited(&self, agent: &AgentId) -> bool {
        self.invitation(agent)
            .is_some_and(|i| i.status == InvitationStatus::Pending)
    }

    pub fn help_request(&self, id: u32) -> Option<&HelpRequest> {
        self.help_requests.iter().find(|r| r.id == id)
    }

    /// Pending invitations past their expiry at `now`: what the scheduler expires.
    pub fn expired_at(&self, now: Timestamp) -> Vec<AgentId> {
        self.invitations
            .values()
            .filter(|i| i.status == InvitationStatus::Pending)
            .filter(|i| i.expires_at.is_some_and(|e| e <= now))
            .map(|i| i.agent.clone())
            .collect()
    }

    /// The earliest expiry among pending invitations: when the scheduler should look.
    pub fn next_expiry(&self) -> Option<Timestamp> {
        self.invitations
            .values()
            .filter(|i| i.status == InvitationStatus::Pending)
            .filter_map(|i| i.expires_at)
            .min()
    }

    /// When the next status update to the customer is due, given the interval, for
    /// a `SEVERITY_1` swarm: an interval after the clock started, then an interval
    /// after each reminder. `None` for other swarms.
    pub fn status_update_due(&self, interval_secs: i64) -> Option<Timestamp> {
        let since = self.status_since?;
        Some(self.reminded_due.unwrap_or(since).plus_secs(interval_secs))
    }

    fn answer(&mut self, agent: &AgentId, status: InvitationStatus, at: Timestamp) {
        if let Some(i) = self.invitations.get_mut(agent) {
            if i.status == InvitationStatus::Pending {
                i.status = status;
                i.answered_at = Some(at);
            }
        }
    }

    fn request_mut(&mut self, id: u32) -> Option<&mut HelpRequest> {
        self.help_requests.iter_mut().find(|r| r.id == id)
    }
}

impl Case {
    /// The roles a `SEVERITY_1` swarm needs and nobody holds: it needs a `LEAD` (its
    /// lead) and a `COMMUNICATIONS` member. Empty for other swarms and without one.
    /// "Required" means reported (`caseSwarming.missingRoles`), not enforced: a
    /// crisis swarm is never refused work for lack of a communicator.
    pub fn missing_roles(&self) -> Vec<SwarmRole> {
        let Some(swarm) = &self.swarm else {
            return Vec::new();
        };
        if self.swarming.swarm_type != SwarmType::Severity1 {
            return Vec::new();
        }
        [SwarmRole::Lead, SwarmRole::Communications]
            .into_iter()
            .filter(|role| {
                !swarm
                    .members
                    .keys()
                    .any(|a| self.swarm_role(a) == Some(*role))
            })
            .collect()
    }

    /// `agent`'s role in the active swarm: `LEAD` for its lead, the role set for a
    /// member, `None` for a member without one and for non-members.
    pub fn swarm_role(&self, agent: &AgentId) -> Option<SwarmRole> {
        let swarm = self.swarm.as_ref()?;
        if &swarm.lead == agent {
            return Some(SwarmRole::Lead);
        }
        self.swarming.roles.get(agent).copied()
    }
}

/// Folds one event into the swarming state. Called by `Case::apply` for every event
/// after the rest of the case has been updated (so `case.swarm` is already current).
pub(super) fn apply(case: &mut Case, event: &CaseEvent, at: Timestamp) {
    let s = &mut case.swarming;
    match event {
        CaseEvent::SkillsSet(e) => {
            s.skills = e.skills.iter().cloned().collect();
            s.skills_source = Some(e.source);
        }
        CaseEvent::SwarmInvited(e) => {
            for agent in &e.agents {
                s.invitations.insert(
                    agent.clone(),
                    Invitation {
                        agent: agent.clone(),
                        by: e.by.clone(),
                        note: e.note.clone(),
                        invited_at: at,
                        expires_at: e.expires_at,
                        auto_replace: e.auto_replace,
                        status: InvitationStatus::Pending,
                        answered_at: None,
                        decline_reason: None,
                    },
                );
            }
            if let Some(reason) = &e.reason {
                for agent in &e.cleared {
                    s.cleared.insert(agent.clone(), reason.clone());
                }
            }
        }
        CaseEvent::InvitationAccepted(e) => s.answer(&e.agent, InvitationStatus::Accepted, at),
        CaseEvent::InvitationDeclined(e) => {
            s.answer(&e.agent, InvitationStatus::Declined, at);
            if let Some(i) = s.invitations.get_mut(&e.agent) {
                i.decline_reason = Some(e.reason.clone());
            }
            s.cleared.remove(&e.agent);
        }
        CaseEvent::InvitationExpired(e) => {
            s.answer(&e.agent, InvitationStatus::Expired, at);
            s.cleared.remove(&e.agent);
        }
        CaseEvent::HelpRequested(e) => s.help_requests.push(HelpRequest {
            id: e.request_id,
            by: e.by.clone(),
            skills: e.skills.clone(),
            note: e.note.clone(),
            at,
            offers: Vec::new(),
            status: HelpStatus::Open,
            helper: None,
            closed_reason: None,
        }),
        CaseEvent::HelpOffered(e) => {
            if let Some(r) = s.request_mut(e.request_id) {
                r.offers.push(e.by.clone());
            }
        }
        CaseEvent::HelpAccepted(e) => {
            if let Some(r) = s.request_mut(e.request_id) {
                r.status = HelpStatus::Accepted;
                r.helper = Some(e.helper.clone());
            }
        }
        CaseEvent::HelpRequestClosed(e) => {
            if let Some(r) = s.request_mut(e.request_id) {
                r.status = HelpStatus::Closed;
                r.closed_reason = Some(e.reason.clone());
            }
        }
        CaseEvent::SwarmTypeSet(e) => {
            s.swarm_type = e.swarm_type;
            s.status_since = (e.swarm_type == SwarmType::Severity1).then_some(at);
            s.reminded_due = None;
        }
        CaseEvent::MessagePosted(m) if m.kind == MessageKind::PublicReply => {
            let customer = case.customer.as_ref().map(|c| c.id.as_str());
            if s.status_since.is_some() && customer != Some(m.author.as_str()) {
                s.status_since = Some(at);
                s.reminded_due = None;
            }
        }
        CaseEvent::StatusUpdateDue(e) => s.reminded_due = Some(e.due),
        CaseEvent::SwarmRoleSet(e) => {
            s.roles.insert(e.agent.clone(), e.role);
        }
        CaseEvent::SwarmLeft(e) => {
            s.roles.remove(&e.agent);
            s.cleared.remove(&e.agent);
        }
        CaseEvent::SwarmLeadChanged(e) => {
            s.roles.remove(&e.to);
        }
        CaseEvent::SwarmEnded(_) => {
            s.swarm_type = SwarmType::Case;
            s.status_since = None;
            s.reminded_due = None;
            s.roles.clear();
            s.cleared.clear();
            let pending: Vec<AgentId> = s
                .invitations
                .values()
                .filter(|i| i.status == InvitationStatus::Pending)
                .map(|i| i.agent.clone())
                .collect();
            for agent in pending {
                s.answer(&agent, InvitationStatus::Lapsed, at);
            }
        }
        CaseEvent::Resolved(_) | CaseEvent::Closed(_) => {
            for r in s.help_requests.iter_mut() {
                if r.status == HelpStatus::Open {
                    r.status = HelpStatus::Closed;
                    r.closed_reason = Some("case resolved or closed".into());
                }
            }
        }
        _ => {}
    }
}
