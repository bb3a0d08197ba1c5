//! The payloads of the swarming events. Like every case event they are frozen per
//! schema version (postcard is positional): see `super::super::event`.

use serde::{Deserialize, Serialize};

use super::{SkillSource, SwarmRole, SwarmType};
use crate::domain::ids::{AgentId, Timestamp};

/// The skills a case needs (replacing the previous set), and where they came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseSkillsSet {
    pub skills: Vec<String>,
    pub source: SkillSource,
    /// The routing rule that asked for them, when `source` is `RULE`.
    #[serde(alias = "rule_id")]
    pub rule_id: Option<String>,
}

/// Agents were invited to the case's swarm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwarmInvited {
    pub agents: Vec<AgentId>,
    pub by: AgentId,
    pub note: String,
    /// Invite the finder's next best when one of them declines or lets it expire.
    #[serde(alias = "auto_replace")]
    pub auto_replace: bool,
    #[serde(alias = "expires_at")]
    pub expires_at: Option<Timestamp>,
    /// Invitees whose tiers do not reach this private case's tier, pulled in by a
    /// lead anyway for `reason`.
    pub cleared: Vec<AgentId>,
    pub reason: Option<String>,
}

/// An invitee accepted (the `SwarmJoined` recorded with it adds them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvitationAccepted {
    pub agent: AgentId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvitationDeclined {
    pub agent: AgentId,
    pub reason: String,
}

/// An invitation was not answered by its deadline (the scheduler records it once).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvitationExpired {
    pub agent: AgentId,
    pub deadline: Timestamp,
}

/// Someone on the case raised their hand. `requestId` numbers requests within the case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelpRequested {
    #[serde(alias = "request_id")]
    pub request_id: u32,
    pub by: AgentId,
    pub skills: Vec<String>,
    pub note: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelpOffered {
    #[serde(alias = "request_id")]
    pub request_id: u32,
    pub by: AgentId,
}

/// An offer was accepted; the `SwarmJoined` recorded with it adds the helper.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelpAccepted {
    #[serde(alias = "request_id")]
    pub request_id: u32,
    pub helper: AgentId,
    pub by: AgentId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelpRequestClosed {
    #[serde(alias = "request_id")]
    pub request_id: u32,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwarmTypeSet {
    #[serde(alias = "swarm_type")]
    pub swarm_type: SwarmType,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwarmRoleSet {
    pub agent: AgentId,
    pub role: SwarmRole,
}

/// What a swarm learned on a case, written up for reuse (at or after resolution).
/// The article's id is the global log position of this event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KnowledgeCaptured {
    pub title: String,
    pub body: String,
    /// Normalised like case tags, without duplicates.
    pub tags: Vec<String>,
    pub by: AgentId,
}

/// A `SEVERITY_1` swarm's customer had no public reply for a whole status-update
/// interval: `due` is when one was due (the scheduler records it once per missed
/// interval), `lastUpdate` when the clock last started (the swarm became
/// `SEVERITY_1`, or the last public reply).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusUpdateDue {
    pub due: Timestamp,
    #[serde(alias = "last_update")]
    pub last_update: Timestamp,
}
