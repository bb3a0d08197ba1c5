//! Access events: bearer tokens issued and revoked, and auditors' reads. They live in
//! the same log as cases (streams `tokens` and `access-log`), so who could do what, and
//! who looked at what, is as auditable as the cases themselves. A token itself is never
//! stored: only its SHA-256 hash, and a short id derived from it.

use serde::{Deserialize, Serialize};

use super::ids::{AgentId, CaseId, Role, Timestamp};

/// The stream of token events.
pub const TOKENS_STREAM: &str = "tokens";
/// The stream recording auditors' reads.
pub const ACCESS_LOG_STREAM: &str = "access-log";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenIssued {
    #[serde(alias = "token_id")]
    pub token_id: String,
    /// Hex SHA-256 of the token.
    pub hash: String,
    pub user: AgentId,
    pub role: Role,
    /// The tiers an agent or lead works in (a lead also sees the tiers below).
    pub tiers: Vec<String>,
    #[serde(alias = "expires_at")]
    pub expires_at: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRevoked {
    #[serde(alias = "token_id")]
    pub token_id: String,
}

/// An auditor read a case (its view, history or past state).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseViewed {
    #[serde(alias = "case_id")]
    pub case_id: CaseId,
    /// What was read: `case`, `history`, `caseAt`, ...
    pub what: String,
}

/// An auditor read several cases in one request (a list, a queue, swarm rooms, the
/// log, or a subscription's delivery), recorded once for the request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CasesViewed {
    /// The cases read, each once, in the order first read.
    #[serde(alias = "case_ids")]
    pub case_ids: Vec<CaseId>,
    /// What was read: `cases`, `tierQueue`, `swarmRooms`, `events`, ...
    pub what: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccessEvent {
    TokenIssued(TokenIssued),
    TokenRevoked(TokenRevoked),
    CaseViewed(CaseViewed),
    CasesViewed(CasesViewed),
}

crate::event_registry! {
    AccessEvent {
        TokenIssued = "TokenIssued" v 1,
        TokenRevoked = "TokenRevoked" v 1,
        CaseViewed = "CaseViewed" v 1,
        CasesViewed = "CasesViewed" v 1,
    }
}
