//! A case's state and the value types it is made of. [`Case::apply`] folds one event
//! into the state; `fold` of a whole stream is repeated `apply` from `Case::default()`.
//! Applying never fails: events are facts that `decide` already validated.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::str::FromStr;

use super::error::DomainError;
use super::event::CaseEvent;
use super::ids::{AgentId, CaseId, Timestamp};
use super::sla::SlaClock;
use super::sparse::Sparse;
use super::swarming::{self, Swarming};
use super::tier::Tier;

/// How urgent a case is. Declared most urgent first, so `Ord` sorts queues directly.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Priority {
    #[serde(alias = "Urgent")]
    Urgent,
    #[serde(alias = "High")]
    High,
    #[default]
    #[serde(alias = "Normal")]
    Normal,
    #[serde(alias = "Low")]
    Low,
}

impl Priority {
    /// One level more urgent; `None` at urgent.
    pub fn raised(self) -> Option<Priority> {
        match self {
            Priority::Urgent => None,
            Priority::High => Some(Priority::Urgent),
            Priority::Normal => Some(Priority::High),
            Priority::Low => Some(Priority::Normal),
        }
    }
}

/// Where the customer reached us. Public social posts are visible to everyone, which
/// is why sensitive matters must move off them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Channel {
    #[serde(alias = "Email")]
    Email,
    #[serde(alias = "Chat")]
    Chat,
    #[serde(alias = "Phone")]
    Phone,
    #[serde(alias = "Portal")]
    Portal,
    #[serde(alias = "SocialPublic")]
    SocialPublic,
    #[serde(alias = "SocialDm")]
    SocialDm,
    #[serde(alias = "Bot")]
    Bot,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Segment {
    #[serde(alias = "B2b")]
    B2b,
    #[serde(alias = "B2c")]
    B2c,
}

/// The customer a case is for. B2B customers reach us through several people; the
/// customer id ties their cases into one record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub segment: Segment,
    #[serde(alias = "key_account")]
    pub key_account: bool,
}

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Being worked on (possibly not yet routed).
    #[default]
    #[serde(alias = "Open")]
    Open,
    /// A resolution was given; the customer may still reopen it.
    #[serde(alias = "Resolved")]
    Resolved,
    /// Final. Nothing changes a closed case.
    #[serde(alias = "Closed")]
    Closed,
}

/// Who may read a message: public replies go to the customer; internal notes and
/// swarm chat never do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageKind {
    #[serde(alias = "PublicReply")]
    PublicReply,
    #[serde(alias = "InternalNote")]
    InternalNote,
    #[serde(alias = "SwarmChat")]
    SwarmChat,
}

/// The agents jointly owning a case. `lead` is always one of `members`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Swarm {
    pub lead: AgentId,
    /// Members and when they joined.
    pub members: BTreeMap<AgentId, Timestamp>,
    pub started_at: Timestamp,
}

/// How a case was resolved, and at which tier: the basis of the 80/15/5 tier report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    pub text: String,
    pub tier: Option<Tier>,
    pub by: AgentId,
    pub at: Timestamp,
}

/// A case as `decide` sees it: everything needed to judge the next command.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub id: Option<CaseId>,
    /// The stream version of the last applied event; 0 for a case that does not exist.
    pub version: u64,
    pub status: Status,
    pub subject: String,
    pub body: String,
    pub channel: Option<Channel>,
    pub customer: Option<Customer>,
    pub language: String,
    pub priority: Priority,
    /// The priority the customer asked for, if they opened the case themselves.
    pub requested_priority: Option<Priority>,
    pub tier: Option<Tier>,
    pub team: Option<String>,
    /// Routed to a private channel because it involves billing, account or health data.
    pub sensitive: bool,
    pub assignee: Option<AgentId>,
    /// Sorted, each once (a sorted `Vec` rather than a set: a case has a tag or two,
    /// and a set's first node costs every case view about 280 bytes).
    pub tags: Vec<String>,
    pub swarm: Option<Swarm>,
    pub resolution: Option<Resolution>,
    pub opened_at: Timestamp,
    pub updated_at: Timestamp,
    pub message_count: u32,
    pub escalations: u32,
    /// When someone other than the customer first replied publicly.
    pub first_response_at: Option<Timestamp>,
    /// Since when the case waits on the customer (SLA clocks paused), if it does.
    pub awaiting_customer_since: Option<Timestamp>,
    /// Finished waits on the customer, `[from, to)`, oldest first.
    pub pauses: Vec<(Timestamp, Timestamp)>,
    /// Where the resolution clock starts: `opened_at`, or the last reopen.
    pub resolution_clock_start: Timestamp,
    /// The SLA in force, if a policy applied (see [`super::sla`]). Boxed: most cases
    /// have none, and every case the projections hold would carry its size.
    pub sla: Option<Box<SlaClock>>,
    /// Needed skills, invitations, help requests, the swarm's type and roles. Sparse:
    /// most cases never swarm, and it is about a quarter of a case's size.
    pub swarming: Sparse<Swarming>,
}

impl Case {
    /// Adds `tag` to the sorted tags unless it is there.
    fn tag(&mut self, tag: &String) {
        if let Err(i) = self.tags.binary_search(tag) {
            self.tags.insert(i, tag.clone());
        }
    }

    pub fn exists(&self) -> bool {
        self.version > 0
    }

    /// Folds a stream of events, oldest first.
    pub fn fold<'a>(events: impl IntoIterator<Item = (&'a CaseEvent, u64, Timestamp)>) -> Case {
        let mut case = Case::default();
        for (event, version, at) in events {
            case.apply(event, version, at);
        }
        case
    }

    /// Applies one event recorded at stream `version` and time `at`.
    pub fn apply(&mut self, event: &CaseEvent, version: u64, at: Timestamp) {
        self.version = version;
        self.updated_at = at;
        match event {
            CaseEvent::Opened(e) => {
                self.id = Some(e.case_id);
                self.status = Status::Open;
                self.subject = e.subject.clone();
                self.body = e.body.clone();
                self.channel = Some(e.channel);
                self.customer = Some(e.customer.clone());
                self.language = e.language.clone();
                self.priority = e.priority;
                self.requested_priority = e.requested_priority;
                self.tags = Vec::new();
                e.tags.iter().for_each(|t| self.tag(t));
                self.opened_at = at;
                self.resolution_clock_start = at;
            }
            CaseEvent::Routed(e) => {
                self.tier = Some(e.tier.clone());
                self.team = e.team.clone();
                if let Some(p) = e.priority {
                    self.priority = p;
                }
                self.sensitive |= e.sensitive;
                e.tags.iter().for_each(|t| self.tag(t));
            }
            CaseEvent::Escalated(e) => {
                self.tier = Some(e.to.clone());
                self.escalations += 1;
            }
            CaseEvent::Deescalated(e) => self.tier = Some(e.to.clone()),
            CaseEvent::Assigned(e) => self.assignee = Some(e.agent.clone()),
            CaseEvent::Unassigned(_) => self.assignee = None,
            CaseEvent::SwarmStarted(e) => {
                self.swarm = Some(Swarm {
                    lead: e.lead.clone(),
                    members: BTreeMap::from([(e.lead.clone(), at)]),
                    started_at: at,
                })
            }
            CaseEvent::SwarmJoined(e) => {
                if let Some(s) = &mut self.swarm {
                    s.members.insert(e.agent.clone(), at);
                }
            }
            CaseEvent::SwarmLeft(e) => {
                if let Some(s) = &mut self.swarm {
                    s.members.remove(&e.agent);
                }
            }
            CaseEvent::SwarmLeadChanged(e) => {
                if let Some(s) = &mut self.swarm {
                    s.lead = e.to.clone();
                }
            }
            CaseEvent::SwarmEnded(_) => self.swarm = None,
            CaseEvent::MessagePosted(_) => self.message_count += 1,
            CaseEvent::PriorityChanged(e) => self.priority = e.to,
            CaseEvent::Tagged(e) => {
                self.tag(&e.tag);
            }
            CaseEvent::Untagged(e) => {
                if let Ok(i) = self.tags.binary_search(&e.tag) {
                    self.tags.remove(i);
                }
            }
            CaseEvent::Resolved(e) => {
                self.end_wait(at);
                self.status = Status::Resolved;
                self.resolution = Some(Resolution {
                    text: e.resolution.clone(),
                    tier: e.tier.clone(),
                    by: e.by.clone(),
                    at,
                });
            }
            CaseEvent::Reopened(_) => {
                self.status = Status::Open;
                self.resolution = None;
                self.resolution_clock_start = at;
                if let Some(sla) = &mut self.sla {
                    sla.restart_resolution();
                }
            }
            CaseEvent::Closed(_) => {
                self.end_wait(at);
                self.status = Status::Closed;
            }
            CaseEvent::SlaApplied(e) => {
                self.sla = Some(Box::new(SlaClock::applied(self.sla.take().map(|b| *b), e)))
            }
            CaseEvent::AwaitingCustomer(_) => self.awaiting_customer_since = Some(at),
            CaseEvent::Resumed(_) => self.end_wait(at),
            CaseEvent::FirstResponded(_) => {
                self.first_response_at.get_or_insert(at);
            }
            CaseEvent::SlaBreached(e) => {
                if let Some(sla) = &mut self.sla {
                    sla.breached.insert(e.kind);
                }
            }
            CaseEvent::SlaEscalated(e) => {
                if let Some(sla) = &mut self.sla {
                    sla.escalated.insert(e.step);
                }
            }
            CaseEvent::TeamChanged(e) => self.team = e.to.clone(),
            CaseEvent::SkillsSet(_)
            | CaseEvent::SwarmInvited(_)
            | CaseEvent::InvitationAccepted(_)
            | CaseEvent::InvitationDeclined(_)
            | CaseEvent::InvitationExpired(_)
            | CaseEvent::HelpRequested(_)
            | CaseEvent::HelpOffered(_)
            | CaseEvent::HelpAccepted(_)
            | CaseEvent::HelpRequestClosed(_)
            | CaseEvent::SwarmTypeSet(_)
            | CaseEvent::SwarmRoleSet(_)
            | CaseEvent::KnowledgeCaptured(_)
            | CaseEvent::StatusUpdateDue(_) => {}
        }
        swarming::apply(self, event, at);
        // A write through `swarming` boxes it even when nothing changed.
        self.swarming.settle();
    }

    /// Ends a wait on the customer (resume, resolve, close), keeping it as a pause.
    fn end_wait(&mut self, at: Timestamp) {
        if let Some(from) = self.awaiting_customer_since.take() {
            self.pauses.push((from, at));
        }
    }

    /// Whether `agent` is currently in this case's swarm.
    pub fn is_swarm_member(&self, agent: &AgentId) -> bool {
        self.swarm
            .as_ref()
            .is_some_and(|s| s.members.contains_key(agent))
    }
}

macro_rules! str_enum {
    ($t:ty { $($v:ident = $s:literal),* $(,)? }) => {
        impl $t {
            pub fn as_str(self) -> &'static str {
                match self { $(<$t>::$v => $s),* }
            }
        }
        impl FromStr for $t {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.to_ascii_uppercase().as_str() {
                    $($s => Ok(<$t>::$v),)*
                    _ => Err(DomainError::Invalid(format!(
                        concat!("unknown ", stringify!($t), " `{}`"), s))),
                }
            }
        }
    };
}

str_enum!(Priority { Urgent = "URGENT", High = "HIGH", Normal = "NORMAL", Low = "LOW" });
str_enum!(Status { Open = "OPEN", Resolved = "RESOLVED", Closed = "CLOSED" });
str_enum!(Segment { B2b = "B2B", B2c = "B2C" });
str_enum!(MessageKind { PublicReply = "PUBLIC_REPLY", InternalNote = "INTERNAL_NOTE", SwarmChat = "SWARM_CHAT" });
str_enum!(Channel {
    Email = "EMAIL", Chat = "CHAT", Phone = "PHONE", Portal = "PORTAL",
    SocialPublic = "SOCIAL_PUBLIC", SocialDm = "SOCIAL_DM", Bot = "BOT",
});
