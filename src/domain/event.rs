//! Case events: facts, named in the past tense, never changed once written.
//!
//! Each event type has a stable name (`CaseOpened`) and a schema version. Payloads are
//! stored in a compact binary form (postcard) keyed by that name and version, and
//! exported as JSON. Because postcard is positional, a payload's shape is frozen per
//! version: to change one, add a new version here, keep the old struct, and map it to
//! the new one in [`CaseEvent::decode`] (an upcast). Old events stay readable forever;
//! `tests/fixtures/` holds bytes written by version 1 (and, for the types that have
//! one, version 2) that every build must decode. `CaseOpened` v2 added the customer's
//! requested priority.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::calendar::Calendar;
use super::case::{Channel, Customer, MessageKind, Priority};
use super::ids::{AgentId, CaseId, Timestamp};
use super::sla::{EscalationStep, SlaKind};
use super::tier::Tier;

pub use super::swarming::events::{
    CaseSkillsSet, HelpAccepted, HelpOffered, HelpRequestClosed, HelpRequested, InvitationAccepted,
    InvitationDeclined, InvitationExpired, KnowledgeCaptured, StatusUpdateDue, SwarmInvited,
    SwarmRoleSet, SwarmTypeSet,
};

#[derive(Debug, Error)]
pub enum CodecError {
    #[error("unknown event type `{0}` (schema version {1})")]
    UnknownType(String, u16),
    #[error("cannot decode {0} v{1}: {2}")]
    Payload(String, u16, String),
}

/// A case was opened. Schema version 2 added `requested_priority`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseOpened {
    #[serde(alias = "case_id")]
    pub case_id: CaseId,
    pub subject: String,
    pub body: String,
    pub channel: Channel,
    /// Segment and key-account status come from the customer directory (or staff),
    /// never from the customer's own input.
    pub customer: Customer,
    pub language: String,
    /// The priority the case starts with: staff's, else `Normal` (rules may change it).
    pub priority: Priority,
    pub tags: Vec<String>,
    /// The priority a customer asked for when opening it themselves: a request that
    /// staff can see, not the case's priority.
    #[serde(alias = "requested_priority")]
    pub requested_priority: Option<Priority>,
}

/// `CaseOpened` as schema version 1 wrote it (no requested priority).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseOpenedV1 {
    #[serde(alias = "case_id")]
    pub case_id: CaseId,
    pub subject: String,
    pub body: String,
    pub channel: Channel,
    pub customer: Customer,
    pub language: String,
    pub priority: Priority,
    pub tags: Vec<String>,
}

impl From<CaseOpenedV1> for CaseOpened {
    fn from(v1: CaseOpenedV1) -> Self {
        CaseOpened {
            case_id: v1.case_id,
            subject: v1.subject,
            body: v1.body,
            channel: v1.channel,
            customer: v1.customer,
            language: v1.language,
            priority: v1.priority,
            tags: v1.tags,
            requested_priority: None,
        }
    }
}

/// Where a case was sent, and by which rule (none when routed by hand or by default).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseRouted {
    pub tier: Tier,
    pub team: Option<String>,
    pub priority: Option<Priority>,
    pub tags: Vec<String>,
    pub sensitive: bool,
    #[serde(alias = "rule_id")]
    pub rule_id: Option<String>,
    #[serde(alias = "rule_set_version")]
    pub rule_set_version: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TierChanged {
    pub from: Tier,
    pub to: Tier,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentRef {
    pub agent: AgentId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwarmStarted {
    pub lead: AgentId,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwarmLeadChanged {
    pub from: AgentId,
    pub to: AgentId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwarmEnded {
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessagePosted {
    pub kind: MessageKind,
    pub author: AgentId,
    pub body: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriorityChanged {
    pub from: Priority,
    pub to: Priority,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagRef {
    pub tag: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseResolved {
    pub resolution: String,
    /// The tier that resolved it.
    pub tier: Option<Tier>,
    pub by: AgentId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reason {
    pub reason: String,
}

/// The case's team changed because the case moved to a tier its team does not work:
/// `to` is the new tier's default team, or `None` when no team works that tier.
/// Recorded in the same append as the tier change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamChanged {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The SLA policy now in force, copied whole (with its calendar) so the case's
/// deadlines follow from its own events even after the policy is edited. Targets are
/// business seconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlaApplied {
    #[serde(alias = "policy_id")]
    pub policy_id: String,
    pub calendar: Calendar,
    #[serde(alias = "first_response_secs")]
    pub first_response_secs: Option<i64>,
    #[serde(alias = "resolution_secs")]
    pub resolution_secs: Option<i64>,
    pub escalation: Vec<EscalationStep>,
}

/// The first public reply by someone other than the customer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FirstResponded {
    pub by: AgentId,
}

/// An SLA target was missed: `deadline` passed without the response or resolution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlaBreached {
    pub kind: SlaKind,
    pub deadline: Timestamp,
    #[serde(alias = "policy_id")]
    pub policy_id: String,
}

/// A time-based escalation step ran (its priority and tier changes, if any, are the
/// events recorded with it). `step` indexes the policy's escalation list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlaEscalated {
    pub step: u32,
    pub clock: SlaKind,
    #[serde(alias = "notify_lead")]
    pub notify_lead: bool,
    #[serde(alias = "policy_id")]
    pub policy_id: String,
}

/// Every event a case stream can hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaseEvent {
    Opened(CaseOpened),
    Routed(CaseRouted),
    Escalated(TierChanged),
    Deescalated(TierChanged),
    Assigned(AgentRef),
    Unassigned(AgentRef),
    SwarmStarted(SwarmStarted),
    SwarmJoined(AgentRef),
    SwarmLeft(AgentRef),
    SwarmLeadChanged(SwarmLeadChanged),
    SwarmEnded(SwarmEnded),
    MessagePosted(MessagePosted),
    PriorityChanged(PriorityChanged),
    Tagged(TagRef),
    Untagged(TagRef),
    Resolved(CaseResolved),
    Reopened(Reason),
    Closed(Reason),
    SlaApplied(SlaApplied),
    /// The case waits on the customer; SLA clocks pause.
    AwaitingCustomer(Reason),
    /// The wait on the customer ended; SLA clocks run again.
    Resumed(Reason),
    FirstResponded(FirstResponded),
    SlaBreached(SlaBreached),
    SlaEscalated(SlaEscalated),
    /// The team changed with the tier, so the team always works the case's tier.
    TeamChanged(TeamChanged),
    /// Intelligent swarming (see [`super::swarming`]).
    SkillsSet(CaseSkillsSet),
    SwarmInvited(SwarmInvited),
    InvitationAccepted(InvitationAccepted),
    InvitationDeclined(InvitationDeclined),
    InvitationExpired(InvitationExpired),
    HelpRequested(HelpRequested),
    HelpOffered(HelpOffered),
    HelpAccepted(HelpAccepted),
    HelpRequestClosed(HelpRequestClosed),
    SwarmTypeSet(SwarmTypeSet),
    SwarmRoleSet(SwarmRoleSet),
    /// A swarm's knowledge, captured at or after resolution.
    KnowledgeCaptured(KnowledgeCaptured),
    /// A severity-1 swarm owes the customer a status update.
    StatusUpdateDue(StatusUpdateDue),
}

/// One table gives every event its stable name and current schema version, and
/// derives encode/decode for both the binary and the JSON form from it. An entry may
/// list older versions with the struct that reads them, `v 2 (1 => OldV1)`; decoding
/// an old version reads that struct and upcasts it with `From`.
#[macro_export]
macro_rules! event_registry {
    ($enum:ident { $($variant:ident = $name:literal v $ver:literal
        $(( $($old:literal => $oldty:ty),* ))?),* $(,)? }) => {
        impl $enum {
            /// Every stable type name, for documentation and validation.
            pub const TYPES: &'static [&'static str] = &[$($name),*];

            /// The stable type name stored with the event.
            pub fn event_type(&self) -> &'static str {
                match self { $($enum::$variant(_) => $name),* }
            }

            /// The schema version this build writes for the event's type.
            pub fn schema_version(&self) -> u16 {
                match self { $($enum::$variant(_) => $ver),* }
            }

            /// The compact binary payload.
            pub fn encode(&self) -> Vec<u8> {
                let r = match self { $($enum::$variant(e) => postcard::to_allocvec(e)),* };
                // Serializing these plain structs into a Vec cannot fail.
                r.unwrap_or_default()
            }

            /// The payload as JSON (exports, the API's `payload` field).
            pub fn to_json(&self) -> serde_json::Value {
                let r = match self { $($enum::$variant(e) => serde_json::to_value(e)),* };
                r.unwrap_or(serde_json::Value::Null)
            }

            /// Decodes a stored binary payload, upcasting old schema versions.
            pub fn decode(event_type: &str, version: u16, payload: &[u8]) -> Result<Self, $crate::domain::CodecError> {
                let err = |e: postcard::Error| $crate::domain::CodecError::Payload(event_type.into(), version, e.to_string());
                match (event_type, version) {
                    $(($name, $ver) => postcard::from_bytes(payload).map($enum::$variant).map_err(err),)*
                    $($($(($name, $old) => postcard::from_bytes::<$oldty>(payload)
                        .map(|old| $enum::$variant(old.into()))
                        .map_err(err),)*)?)*
                    _ => Err($crate::domain::CodecError::UnknownType(event_type.into(), version)),
                }
            }

            /// Reads the JSON form back (imports), upcasting old schema versions.
            pub fn from_json(event_type: &str, version: u16, payload: serde_json::Value) -> Result<Self, $crate::domain::CodecError> {
                let err = |e: serde_json::Error| $crate::domain::CodecError::Payload(event_type.into(), version, e.to_string());
                match (event_type, version) {
                    $(($name, $ver) => serde_json::from_value(payload).map($enum::$variant).map_err(err),)*
                    $($($(($name, $old) => serde_json::from_value::<$oldty>(payload)
                        .map(|old| $enum::$variant(old.into()))
                        .map_err(err),)*)?)*
                    _ => Err($crate::domain::CodecError::UnknownType(event_type.into(), version)),
                }
            }
        }
    };
}

event_registry! {
    CaseEvent {
        Opened = "CaseOpened" v 2 (1 => CaseOpenedV1),
        Routed = "CaseRouted" v 1,
        Escalated = "CaseEscalated" v 1,
        Deescalated = "CaseDeescalated" v 1,
        Assigned = "AgentAssigned" v 1,
        Unassigned = "AgentUnassigned" v 1,
        SwarmStarted = "SwarmStarted" v 1,
        SwarmJoined = "SwarmJoined" v 1,
        SwarmLeft = "SwarmLeft" v 1,
        SwarmLeadChanged = "SwarmLeadChanged" v 1,
        SwarmEnded = "SwarmEnded" v 1,
        MessagePosted = "MessagePosted" v 1,
        PriorityChanged = "PriorityChanged" v 1,
        Tagged = "CaseTagged" v 1,
        Untagged = "CaseUntagged" v 1,
        Resolved = "CaseResolved" v 1,
        Reopened = "CaseReopened" v 1,
        Closed = "CaseClosed" v 1,
        SlaApplied = "SlaApplied" v 1,
        AwaitingCustomer = "CaseAwaitingCustomer" v 1,
        Resumed = "CaseResumed" v 1,
        FirstResponded = "FirstResponded" v 1,
        SlaBreached = "SlaBreached" v 1,
        SlaEscalated = "SlaEscalated" v 1,
        TeamChanged = "CaseTeamChanged" v 1,
        SkillsSet = "CaseSkillsSet" v 1,
        SwarmInvited = "SwarmInvited" v 1,
        InvitationAccepted = "InvitationAccepted" v 1,
        InvitationDeclined = "InvitationDeclined" v 1,
        InvitationExpired = "InvitationExpired" v 1,
        HelpRequested = "HelpRequested" v 1,
        HelpOffered = "HelpOffered" v 1,
        HelpAccepted = "HelpAccepted" v 1,
        HelpRequestClosed = "HelpRequestClosed" v 1,
        SwarmTypeSet = "SwarmTypeSet" v 1,
        SwarmRoleSet = "SwarmRoleSet" v 1,
        KnowledgeCaptured = "KnowledgeCaptured" v 1,
        StatusUpdateDue = "StatusUpdateDue" v 1,
    }
}
