//! GraphQL output and input types. The `///` comments become the schema's
//! descriptions, so the API is documented where it is defined.
//!
//! Over 600 lines because the case-side schema is wide: each type is a plain mapping
//! from the read model, with no logic to split by.

use async_graphql::{
    ComplexObject, Enum, InputObject, Json, Object, Scalar, ScalarType, SimpleObject, Value, ID,
};
use std::sync::Arc;

use crate::domain::{self, CaseId, Timestamp};
use crate::projection::{self, CaseView, Message, SwarmRoom};
use crate::store::RecordedEvent;

/// A point in time, as an RFC 3339 string in UTC with microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime(pub Timestamp);

#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> async_graphql::InputValueResult<Self> {
        match &value {
            Value::String(s) => Timestamp::parse_rfc3339(s)
                .map(DateTime)
                .map_err(|e| e.to_string().into()),
            _ => Err(async_graphql::InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339())
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::Priority")]
/// How urgent a case is; queues put urgent first.
pub enum Priority {
    Urgent,
    High,
    Normal,
    Low,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::Status")]
/// Where a case is in its life cycle.
pub enum Status {
    Open,
    Resolved,
    Closed,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::Channel")]
/// Where the customer reached us.
pub enum Channel {
    Email,
    Chat,
    Phone,
    Portal,
    SocialPublic,
    SocialDm,
    Bot,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::Segment")]
/// Business or consumer customer.
pub enum Segment {
    #[graphql(name = "B2B")]
    B2b,
    #[graphql(name = "B2C")]
    B2c,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::MessageKind")]
/// Who may read a message: public replies reach the customer; internal notes and
/// swarm chat never do.
pub enum MessageKind {
    PublicReply,
    InternalNote,
    SwarmChat,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::Role")]
/// What kind of user acted.
pub enum Role {
    Admin,
    Lead,
    Agent,
    Auditor,
    Customer,
    System,
}

/// The customer a case is for.
#[derive(SimpleObject, Clone)]
pub struct CustomerObj {
    pub id: String,
    pub name: String,
    pub segment: Segment,
    pub key_account: bool,
}

impl From<&domain::Customer> for CustomerObj {
    fn from(c: &domain::Customer) -> Self {
        CustomerObj {
            id: c.id.clone(),
            name: c.name.clone(),
            segment: c.segment.into(),
            key_account: c.key_account,
        }
    }
}

/// A message on a case.
#[derive(SimpleObject, Clone)]
#[graphql(name = "Message")]
pub struct MessageObj {
    /// The stream version of the event that posted it: unique within the case.
    pub id: u64,
    pub kind: MessageKind,
    pub author: String,
    pub body: String,
    pub at: DateTime,
}

impl From<&Message> for MessageObj {
    fn from(m: &Message) -> Self {
        MessageObj {
            id: m.id,
            kind: m.kind.into(),
            author: m.author.to_string(),
            body: m.body.clone(),
            at: DateTime(m.at),
        }
    }
}

/// A member of a swarm.
#[derive(SimpleObject, Clone)]
pub struct SwarmMember {
    pub agent: String,
    pub joined_at: DateTime,
    pub is_lead: bool,
}

/// The agents jointly owning a case.
#[derive(SimpleObject, Clone)]
pub struct Swarm {
    /// The accountable owner; always a member.
    pub lead: String,
    pub members: Vec<SwarmMember>,
    pub started_at: DateTime,
}

impl From<&domain::Swarm> for Swarm {
    fn from(s: &domain::Swarm) -> Self {
        let mut members: Vec<SwarmMember> = s
            .members
            .iter()
            .map(|(a, at)| SwarmMember {
                agent: a.to_string(),
                joined_at: DateTime(*at),
                is_lead: *a == s.lead,
            })
            .collect();
        members.sort_by(|a, b| (a.joined_at.0, &a.agent).cmp(&(b.joined_at.0, &b.agent)));
        Swarm {
            lead: s.lead.to_string(),
            members,
            started_at: DateTime(s.started_at),
        }
    }
}

/// How a case was resolved, and by which tier.
#[derive(SimpleObject, Clone)]
pub struct Resolution {
    pub text: String,
    pub tier: Option<String>,
    pub by: String,
    pub at: DateTime,
}

/// A support case.
#[derive(SimpleObject, Clone)]
#[graphql(complex, name = "Case")]
pub struct CaseObj {
    pub id: ID,
    /// The stream version: the number of events in the case's history. Pass it as
    /// `expectedVersion` to make a write conditional on nobody else having changed it.
    pub version: u64,
    pub status: Status,
    pub subject: String,
    pub body: String,
    pub channel: Option<Channel>,
    pub customer: Option<CustomerObj>,
    pub language: String,
    /// The priority staff and routing rules set (`NORMAL` until they do).
    pub priority: Priority,
    /// The priority the customer asked for when opening the case themselves: a
    /// request for staff to weigh, not the case's priority.
    pub requested_priority: Option<Priority>,
    pub tier: Option<String>,
    pub team: Option<String>,
    /// Involves billing, account or health data: kept on a private channel.
    /// (Null for customers, like every field of the support team's bookkeeping:
    /// tier, team, assignee, tags, swarm, escalations, SLA.)
    pub sensitive: Option<bool>,
    pub assignee: Option<String>,
    pub tags: Option<Vec<String>>,
    /// The active swarm, if the case is being swarmed.
    pub swarm: Option<Swarm>,
    pub resolution: Option<Resolution>,
    pub opened_at: DateTime,
    pub updated_at: DateTime,
    pub escalations: Option<u32>,
    /// When an agent first replied publicly.
    pub first_response_at: Option<DateTime>,
    /// Since when the case waits on the customer (its SLA clocks are paused).
    pub awaiting_customer_since: Option<DateTime>,
    /// The SLA applied to the case, if a policy matched.
    pub sla: Option<SlaStatus>,
    #[graphql(skip)]
    pub messages: CaseMessages,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::SlaKind")]
/// Which SLA clock.
pub enum SlaKind {
    FirstResponse,
    Resolution,
}

/// A case's SLA: the policy copied onto it, and its deadlines in business time.
#[derive(SimpleObject, Clone)]
pub struct SlaStatus {
    pub policy_id: String,
    /// The calendar its clocks follow.
    pub calendar: String,
    /// Null when there is no such target, it was met, or the case waits on the customer.
    pub first_response_due: Option<DateTime>,
    pub resolution_due: Option<DateTime>,
    /// The nearest unmet deadline: what the tier queue orders by.
    pub next_deadline: Option<DateTime>,
    /// Clocks whose deadline passed unmet (each recorded once, as `SlaBreached`).
    pub breached: Vec<SlaKind>,
}

impl SlaStatus {
    fn of(case: &domain::Case) -> Option<Self> {
        let sla = case.sla.as_ref()?;
        Some(SlaStatus {
            policy_id: sla.policy_id.clone(),
            calendar: sla.calendar.id.clone(),
            first_response_due: case.deadline(domain::SlaKind::FirstResponse).map(DateTime),
            resolution_due: case.deadline(domain::SlaKind::Resolution).map(DateTime),
            next_deadline: case.next_deadline().map(DateTime),
            breached: sla.breached.iter().map(|k| (*k).into()).collect(),
        })
    }
}

/// Where a [`CaseObj`]'s messages come from. Most clients never ask for them after a
/// write, so the live case reads them only when the field is selected, instead of
/// copying a long thread for every mutation.
#[derive(Clone)]
pub enum CaseMessages {
    /// From the live projection when asked: those up to the object's `version` that
    /// the caller may see.
    Live,
    /// A past view, already filtered for the caller.
    Fixed(Vec<Message>),
}

#[ComplexObject]
impl CaseObj {
    /// Messages, oldest first; `kinds` restricts them.
    async fn messages(
        &self,
        ctx: &async_graphql::Context<'_>,
        kinds: Option<Vec<MessageKind>>,
    ) -> async_graphql::Result<Vec<MessageObj>> {
        let kinds: Option<Vec<domain::MessageKind>> =
            kinds.map(|k| k.into_iter().map(Into::into).collect());
        let wanted = |m: &&Message| kinds.as_ref().is_none_or(|k| k.contains(&m.kind));
        match &self.messages {
            CaseMessages::Fixed(all) => {
                Ok(all.iter().filter(wanted).map(MessageObj::from).collect())
            }
            CaseMessages::Live => {
                let g = super::guard::Guard::of(ctx)?;
                let id = super::parse_case_id(&self.id)?;
                Ok(g.live_messages(id, self.version)
                    .await?
                    .iter()
                    .filter(wanted)
                    .map(MessageObj::from)
                    .collect())
            }
        }
    }

    /// Articles captured on other cases that share this case's tags or the words of
    /// its subject, best first: what a swarm already learned (empty for customers).
    async fn related_articles(
        &self,
        ctx: &async_graphql::Context<'_>,
        #[graphql(default = 5)] first: u32,
    ) -> async_graphql::Result<Vec<super::knowledge::ArticleObj>> {
        super::knowledge::related(ctx, &self.id, first)
    }
}

impl CaseObj {
    pub fn new(case: &domain::Case, messages: CaseMessages) -> Self {
        CaseObj {
            id: ID(case.id.map(|i| i.to_string()).unwrap_or_default()),
            version: case.version,
            status: case.status.into(),
            subject: case.subject.clone(),
            body: case.body.clone(),
            channel: case.channel.map(Into::into),
            customer: case.customer.as_ref().map(Into::into),
            language: case.language.clone(),
            priority: case.priority.into(),
            requested_priority: case.requested_priority.map(Into::into),
            tier: case.tier.as_ref().map(|t| t.to_string()),
            team: case.team.clone(),
            sensitive: Some(case.sensitive),
            assignee: case.assignee.as_ref().map(|a| a.to_string()),
            tags: Some(case.tags.to_vec()),
            swarm: case.swarm.as_ref().map(Into::into),
            resolution: case.resolution.as_ref().map(|r| Resolution {
                text: r.text.clone(),
                tier: r.tier.as_ref().map(|t| t.to_string()),
                by: r.by.to_string(),
                at: DateTime(r.at),
            }),
            opened_at: DateTime(case.opened_at),
            updated_at: DateTime(case.updated_at),
            escalations: Some(case.escalations),
            first_response_at: case.first_response_at.map(DateTime),
            awaiting_customer_since: case.awaiting_customer_since.map(DateTime),
            sla: SlaStatus::of(case),
            messages,
        }
    }
}

impl CaseObj {
    /// The customer's view of the case: the fields of
    /// [`policy::CUSTOMER_CASE_FIELDS`](crate::policy::CUSTOMER_CASE_FIELDS) and
    /// nothing else (the resolution without the tier that solved it).
    pub fn customer_view(self) -> Self {
        CaseObj {
            id: self.id,
            version: self.version,
            status: self.status,
            subject: self.subject,
            body: self.body,
            channel: self.channel,
            customer: self.customer,
            language: self.language,
            priority: self.priority,
            requested_priority: self.requested_priority,
            tier: None,
            team: None,
            sensitive: None,
            assignee: None,
            tags: None,
            swarm: None,
            resolution: self.resolution.map(|r| Resolution { tier: None, ..r }),
            opened_at: self.opened_at,
            updated_at: self.updated_at,
            escalations: None,
            first_response_at: self.first_response_at,
            awaiting_customer_since: self.awaiting_customer_since,
            sla: None,
            messages: self.messages,
        }
    }
}

/// One entry of a tier queue.
#[derive(SimpleObject, Clone)]
pub struct QueueEntry {
    /// 1 for the case to work on first.
    pub rank: u32,
    pub case: CaseObj,
}

/// The open cases of one tier, most urgent first, then oldest first.
#[derive(SimpleObject, Clone)]
pub struct TierQueue {
    pub tier: String,
    /// All open cases in the tier (the entries may be limited by `first`).
    pub length: u32,
    pub entries: Vec<QueueEntry>,
}

impl TierQueue {
    /// The queue as `g`'s caller may see it.
    pub fn build(
        p: &projection::Projections,
        tier: &domain::Tier,
        first: usize,
        g: &super::guard::Guard,
    ) -> Self {
        // A caller who reads the whole tier needs no check per case; others see only
        // their own cases in it, counted over the queue (its open cases, not the log).
        let (length, shown): (usize, Vec<&CaseView>) = if g.reads_whole_tier(tier) {
            (
                p.tier_queue_len(tier),
                p.tier_queue(tier).take(first).collect(),
            )
        } else {
            let visible = g.reader();
            let all: Vec<&CaseView> = p.tier_queue(tier).filter(|v| visible(&v.case)).collect();
            (all.len(), all.into_iter().take(first).collect())
        };
        TierQueue {
            tier: tier.to_string(),
            length: length as u32,
            entries: shown
                .into_iter()
                .enumerate()
                .map(|(i, v)| QueueEntry {
                    rank: i as u32 + 1,
                    case: g.case_obj(v),
                })
                .collect(),
        }
    }
}

impl TierQueue {
    /// The cases listed in the queue's entries.
    pub fn case_ids(&self) -> Vec<CaseId> {
        self.entries
            .iter()
            .filter_map(|e| e.case.id.parse().ok())
            .collect()
    }
}

/// A swarm's shared room: who is in it, who leads, and its chat.
#[derive(SimpleObject, Clone)]
#[graphql(name = "SwarmRoom")]
pub struct SwarmRoomObj {
    pub case_id: ID,
    pub subject: String,
    pub tier: Option<String>,
    pub lead: String,
    pub members: Vec<SwarmMember>,
    pub started_at: DateTime,
    /// Chat of the current swarm, oldest first.
    pub chat: Vec<MessageObj>,
}

impl SwarmRoomObj {
    pub fn from_room(room: &SwarmRoom<'_>) -> Option<Self> {
        Self::from_room_with(room, true)
    }

    /// The room, with its chat only if `chat` (a listing that does not ask for the
    /// chat does not copy it).
    pub fn from_room_with(room: &SwarmRoom<'_>, chat: bool) -> Option<Self> {
        let case = room.case();
        let swarm = Swarm::from(case.swarm.as_ref()?);
        Some(SwarmRoomObj {
            case_id: ID(case.id?.to_string()),
            subject: case.subject.clone(),
            tier: case.tier.as_ref().map(|t| t.to_string()),
            lead: swarm.lead,
            members: swarm.members,
            started_at: swarm.started_at,
            chat: if chat {
                room.chat().map(MessageObj::from).collect()
            } else {
                Vec::new()
            },
        })
    }
}

/// Who performed an event.
#[derive(SimpleObject, Clone)]
pub struct ActorObj {
    pub id: String,
    pub role: Role,
}

/// One event of the log: a fact, never changed once written.
pub struct EventObj(pub Arc<RecordedEvent>);

#[Object(name = "Event")]
impl EventObj {
    /// Global position: gapless and strictly increasing across the whole log.
    async fn position(&self) -> u64 {
        self.0.position
    }
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The stream the event belongs to (`case-<id>` for cases).
    async fn stream(&self) -> &str {
        &self.0.stream
    }
    /// The case: for events of a case stream, and for an auditor's `CaseViewed`.
    async fn case_id(&self) -> Option<ID> {
        crate::events::case_of(&self.0).map(|c| ID(c.to_string()))
    }
    /// Version within the stream: 1, 2, 3...
    async fn version(&self) -> u64 {
        self.0.version
    }
    /// The stable event type name, e.g. `CaseEscalated`.
    #[graphql(name = "type")]
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }
    async fn schema_version(&self) -> u16 {
        self.0.schema_version
    }
    async fn occurred_at(&self) -> DateTime {
        DateTime(self.0.metadata.occurred_at)
    }
    async fn actor(&self) -> ActorObj {
        let a = &self.0.metadata.actor;
        ActorObj {
            id: a.id.to_string(),
            role: a.role.into(),
        }
    }
    async fn correlation_id(&self) -> ID {
        ID(self.0.metadata.correlation_id.to_string())
    }
    async fn causation_id(&self) -> Option<ID> {
        self.0.metadata.causation_id.map(|c| ID(c.to_string()))
    }
    /// The event's payload as JSON (its shape depends on `type` and `schemaVersion`).
    /// Customers see only the fields of their view of the event.
    async fn payload(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> async_graphql::Result<Json<serde_json::Value>> {
        let payload = decode_payload(&self.0);
        // The resolver that produced the event authenticated the caller; only the
        // role matters here (no principal: the most restricted view).
        let role = ctx.data_opt::<super::Principal>().map(|p| p.actor.role);
        if role.is_some_and(|r| r != domain::Role::Customer) {
            return Ok(Json(payload));
        }
        Ok(Json(
            crate::policy::customer_payload(&self.0.event_type, payload)
                .unwrap_or(serde_json::Value::Null),
        ))
    }
}

/// The payload of any event as JSON.
pub fn decode_payload(r: &RecordedEvent) -> serde_json::Value {
    crate::events::payload_json(&r.event_type, r.schema_version, &r.payload)
        .unwrap_or(serde_json::Value::Null)
}

/// The customer of a new case, or a customer directory entry (`setCustomer`). When
/// opening a case, a customer listed in the directory gets the directory's name,
/// segment and key-account status whatever is sent here; staff may state them for an
/// unlisted customer; a customer opening their own case cannot (unlisted: `B2C`, not
/// a key account).
#[derive(InputObject)]
pub struct CustomerInput {
    pub id: String,
    #[graphql(default)]
    pub name: String,
    #[graphql(default_with = "Segment::B2c")]
    pub segment: Segment,
    #[graphql(default)]
    pub key_account: bool,
}

/// A new case.
#[derive(InputObject)]
pub struct OpenCaseInput {
    pub subject: String,
    #[graphql(default)]
    pub body: String,
    pub channel: Channel,
    pub customer: CustomerInput,
    /// BCP 47 language tag; `en` when empty.
    #[graphql(default)]
    pub language: String,
    /// Staff: the case's priority. A customer's choice is only a request, kept as
    /// `requestedPriority`; their case starts `NORMAL` for rules and staff to raise.
    #[graphql(default_with = "Priority::Normal")]
    pub priority: Priority,
    #[graphql(default)]
    pub tags: Vec<String>,
}

/// Which cases to list. Every field that is set must match. Customers may filter by
/// status, priority, customer and text only.
#[derive(InputObject, Default)]
pub struct CaseFilterInput {
    pub status: Option<Status>,
    pub tier: Option<String>,
    pub team: Option<String>,
    pub priority: Option<Priority>,
    pub tag: Option<String>,
    pub assignee: Option<String>,
    pub customer: Option<String>,
    /// Case-insensitive text in the subject or body.
    pub text: Option<String>,
}

/// Counts across all cases.
#[derive(SimpleObject)]
pub struct StatsObj {
    pub events: u64,
    pub cases: u64,
    pub open: u64,
    pub resolved: u64,
    pub closed: u64,
    pub active_swarms: u64,
    /// Resolutions per tier, to compare with the 80 / 15-20 / 5 targets.
    pub resolved_by_tier: Vec<TierCount>,
}

#[derive(SimpleObject)]
pub struct TierCount {
    pub tier: String,
    pub count: u64,
}

/// An agent's current load.
#[derive(SimpleObject)]
pub struct WorkloadObj {
    pub agent: String,
    pub assigned: Vec<ID>,
    pub swarms: Vec<ID>,
}
