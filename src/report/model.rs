//! What a report holds: one set of types that are at once the GraphQL objects,
//! the JSON form and (flattened) the CSV form.

use async_graphql::SimpleObject;
use serde::Serialize;

#[derive(SimpleObject, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub from: String,
    pub to: String,
    /// Cases the report covers (with any activity before the end of the period).
    pub cases: u64,
    pub volume: Volume,
    /// Share of the period's resolutions per tier, next to its target; the shares add up to 1.
    pub tier_shares: Vec<TierShare>,
    /// Share of resolved cases resolved on first contact.
    pub first_contact_resolution: f64,
    pub escalation: Escalation,
    pub swarming: SwarmingVsEscalation,
    pub sla: SlaReport,
    pub problems: Problems,
    pub load: Load,
}

#[derive(SimpleObject, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    pub opened: u64,
    pub resolved: u64,
    pub reopened: u64,
    pub closed: u64,
    pub backlog_start: u64,
    pub backlog_end: u64,
}

#[derive(SimpleObject, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TierShare {
    pub tier: String,
    pub resolved: u64,
    pub share: f64,
    pub target: Option<f64>,
    /// `share - target`.
    pub gap: Option<f64>,
}

#[derive(SimpleObject, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TierMove {
    pub from: String,
    pub to: String,
    pub count: u64,
}

#[derive(SimpleObject, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PathCount {
    /// Tiers in order, e.g. `L1 -> L2 -> L3`.
    pub path: String,
    pub cases: u64,
}

#[derive(SimpleObject, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Escalation {
    pub escalations: Vec<TierMove>,
    pub deescalations: Vec<TierMove>,
    /// The tier paths of the cases resolved in the period.
    pub paths: Vec<PathCount>,
    pub ping_pong_cases: Vec<String>,
}

#[derive(SimpleObject, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ResolutionGroup {
    pub cases: u64,
    pub median_secs: Option<i64>,
    pub p90_secs: Option<i64>,
    pub mean_handoffs: f64,
    pub reopen_rate: f64,
}

#[derive(SimpleObject, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct SwarmingVsEscalation {
    pub swarmed: ResolutionGroup,
    pub escalated: ResolutionGroup,
    pub neither: ResolutionGroup,
    pub mean_swarm_size: f64,
    /// Median seconds from a swarm's start until the first expert joined.
    pub median_first_join_secs: Option<i64>,
}

#[derive(SimpleObject, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TimeStat {
    /// A priority (`URGENT`...) or a tier.
    pub key: String,
    pub count: u64,
    pub p50_secs: i64,
    pub p90_secs: i64,
}

#[derive(SimpleObject, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BreachCount {
    pub policy: String,
    pub first_response: u64,
    pub resolution: u64,
}

#[derive(SimpleObject, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct SlaReport {
    pub first_response_by_priority: Vec<TimeStat>,
    pub first_response_by_tier: Vec<TimeStat>,
    pub resolution_by_priority: Vec<TimeStat>,
    pub resolution_by_tier: Vec<TimeStat>,
    pub breaches: Vec<BreachCount>,
    /// Of the first responses and resolutions in the period that had an SLA target,
    /// the share that met it.
    pub first_response_met: Option<f64>,
    pub resolution_met: Option<f64>,
}

#[derive(SimpleObject, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TermCount {
    pub term: String,
    pub cases: u64,
}

#[derive(SimpleObject, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CostlyCase {
    pub case_id: String,
    pub subject: String,
    pub tags: Vec<String>,
    pub resolution_secs: i64,
    pub messages: u32,
    pub participants: u32,
}

#[derive(SimpleObject, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Problems {
    /// Tags of the cases opened in the period, most frequent first.
    pub top_tags: Vec<TermCount>,
    /// Words of their subjects (four letters or more, common words left out).
    pub top_keywords: Vec<TermCount>,
    /// Cases resolved in the period that took longest, with their messages and
    /// participants: candidates for knowledge articles.
    pub costliest: Vec<CostlyCase>,
}

#[derive(SimpleObject, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AgentLoad {
    pub agent: String,
    pub assigned: u64,
    pub messages: u64,
    pub swarms_joined: u64,
    /// Open cases assigned to them at the end of the period.
    pub open_at_end: u64,
}

#[derive(SimpleObject, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TeamLoad {
    pub team: String,
    pub opened: u64,
    pub resolved: u64,
    pub open_at_end: u64,
}

/// Agent and team load, by name (no leaderboard).
#[derive(SimpleObject, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Load {
    pub agents: Vec<AgentLoad>,
    pub teams: Vec<TeamLoad>,
}
