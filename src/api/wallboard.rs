//! The `wallboard` subscription's objects: what a team's big screen shows, live.

use async_graphql::SimpleObject;

use super::types::DateTime;

/// One tier on the wallboard.
#[derive(SimpleObject, Clone, Debug, PartialEq)]
pub struct TierBoard {
    pub tier: String,
    /// Open cases routed to the tier.
    pub open: u64,
    /// Of those, cases with a missed SLA target (recorded, or past due now).
    pub breached: u64,
    /// The open case waiting longest, and for how many seconds since it was opened.
    pub oldest_case_id: Option<String>,
    pub oldest_waiting_secs: Option<i64>,
}

/// The desk at a glance, among the cases the caller may read.
#[derive(SimpleObject, Clone, Debug, PartialEq)]
pub struct Wallboard {
    pub at: DateTime,
    /// The log position the figures are as of.
    pub position: u64,
    pub tiers: Vec<TierBoard>,
    pub active_swarms: u64,
}
