//! Queries for auditors: whether the log is intact (`verifyLog`), its head for
//! anchoring elsewhere (`logHead`), what changed in a case between two versions
//! (`caseDiff`) and the read models as they were at a past moment (`tierQueueAt`,
//! `swarmRoomAt`, `workloadAt`). Everything goes through the caller's
//! [`Guard`](super::guard::Guard).

use async_graphql::{Context, Json, Object, Result, SimpleObject, ID};

use super::error::bad_input;
use super::guard::Guard;
use super::limits::{take_items, Position};
use super::parse_case_id;
use super::query::{list_complexity, page_size};
use super::types::{DateTime, SwarmRoomObj, TierQueue, WorkloadObj};
use crate::domain::AgentId;
use crate::store::chain::hex;
use crate::store::{LogHead, VerifyReport};

/// The last event of the log, to write down elsewhere: a later `verifyLog` whose
/// chain passes through this position with this hash proves that nothing up to it
/// has changed since.
#[derive(SimpleObject)]
pub struct LogHeadObj {
    /// The last event's position (0 for an empty log).
    pub position: Position,
    /// Its link in the hash chain, SHA-256 as 64 hex digits; null if it was written
    /// by a build before the chain (or the log is empty).
    pub hash: Option<String>,
    /// When it happened.
    pub at: Option<DateTime>,
}

impl From<LogHead> for LogHeadObj {
    fn from(h: LogHead) -> Self {
        LogHeadObj {
            position: Position(h.position),
            hash: h.hash.as_ref().map(hex),
            at: h.occurred_at.map(DateTime),
        }
    }
}

/// What a walk of the whole log found.
#[derive(SimpleObject)]
pub struct LogVerification {
    /// True when every record decodes, positions are gapless, every stream's versions
    /// go 1, 2, 3... and every hash matches its record and the previous hash.
    pub ok: bool,
    /// The events found intact (before the break, if any).
    pub events: Position,
    /// The last intact position.
    pub head_position: Position,
    /// The hash of the last intact event (64 hex digits); null if none carries one.
    pub head_hash: Option<String>,
    /// The first position with a hash; events before it were written by a build
    /// before the chain and are not covered by it. Null if no event has one.
    pub chain_start: Option<Position>,
    /// The first position where the log breaks, if it does.
    pub break_position: Option<Position>,
    /// Why it breaks there.
    pub reason: Option<String>,
    /// One line for people, as `swarmdesk verify` prints it.
    pub summary: String,
}

impl From<VerifyReport> for LogVerification {
    fn from(r: VerifyReport) -> Self {
        LogVerification {
            ok: r.is_ok(),
            events: Position(r.events),
            head_position: Position(r.head_position),
            head_hash: r.head_hash.as_ref().map(hex),
            chain_start: r.chain_start.map(Position),
            break_position: r.broken.as_ref().map(|b| Position(b.position)),
            reason: r.broken.as_ref().map(|b| b.reason.clone()),
            summary: r.summary(),
        }
    }
}

/// One field of a case that differs between two versions.
#[derive(SimpleObject)]
pub struct CaseFieldChange {
    /// The field, as the case's stored state names it (camelCase).
    pub field: String,
    /// Its value at `fromVersion` (null if unset).
    pub before: Json<serde_json::Value>,
    /// Its value at `toVersion` (null if unset).
    pub after: Json<serde_json::Value>,
}

/// What changed in a case between two versions.
#[derive(SimpleObject)]
pub struct CaseDiff {
    pub case_id: ID,
    pub from_version: u64,
    pub to_version: u64,
    /// The fields whose values differ, by name.
    pub changes: Vec<CaseFieldChange>,
}

/// Auditing queries.
#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// Walks the whole log and checks its hash chain, positions, stream versions and
    /// every record's decoding (admins and auditors). Takes time proportional to the
    /// log (about a second per few hundred thousand events).
    async fn verify_log(&self, ctx: &Context<'_>) -> Result<LogVerification> {
        Ok(Guard::of(ctx)?.verify_log().await?.into())
    }

    /// The log's last event: position, hash and time (also `GET /loghead`, without
    /// a token). With `position`, the event at that position instead, to compare with
    /// a head written down earlier (position 0 and positions after the head: an empty
    /// answer, position 0).
    async fn log_head(&self, ctx: &Context<'_>, position: Option<Position>) -> Result<LogHeadObj> {
        let g = Guard::of(ctx)?;
        Ok(match position {
            Some(p) => g.link_at(p.0).await?,
            None => g.log_head_hashed().await?,
        }
        .into())
    }

    /// What changed in a case from `fromVersion` to `toVersion` (0: before it was
    /// opened), field by field, each side folded from the case's events (staff, on a
    /// case they may see).
    async fn case_diff(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        from_version: u64,
        to_version: u64,
    ) -> Result<CaseDiff> {
        let g = Guard::of(ctx)?;
        let id = parse_case_id(&case_id)?;
        let changes = g.case_diff(id, from_version, to_version).await?;
        Ok(CaseDiff {
            case_id,
            from_version,
            to_version,
            changes: changes
                .into_iter()
                .map(|c| CaseFieldChange {
                    field: c.field,
                    before: Json(c.before),
                    after: Json(c.after),
                })
                .collect(),
        })
    }

    /// A tier's queue exactly as it was at `at` (staff): the log folded up to that
    /// moment into fresh read models, so it takes a replay of the log up to there.
    /// Only cases you may read, then and now. Its complexity is `first` (default 50)
    /// times that of one entry.
    #[graphql(complexity = "list_complexity(first, 50, child_complexity)")]
    async fn tier_queue_at(
        &self,
        ctx: &Context<'_>,
        tier: String,
        at: DateTime,
        first: Option<i32>,
    ) -> Result<TierQueue> {
        let g = Guard::of(ctx)?;
        let first = page_size(first)?;
        take_items(ctx, first)?;
        g.tier_queue_at(&tier, at.0, first).await
    }

    /// A case's swarm room exactly as it was at `at` (staff; null if it had no active
    /// swarm then, or is not yours to see).
    async fn swarm_room_at(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        at: DateTime,
    ) -> Result<Option<SwarmRoomObj>> {
        let g = Guard::of(ctx)?;
        g.swarm_room_at(parse_case_id(&case_id)?, at.0).await
    }

    /// Agents' open assigned cases and active swarms exactly as they were at `at`
    /// (staff): one agent's, or every agent's with any case you may see (agents: only
    /// their own).
    async fn workload_at(
        &self,
        ctx: &Context<'_>,
        at: DateTime,
        agent: Option<String>,
    ) -> Result<Vec<WorkloadObj>> {
        let g = Guard::of(ctx)?;
        let agent = agent
            .map(AgentId::new)
            .transpose()
            .map_err(|e| bad_input(e.to_string()))?;
        g.workload_at(agent, at.0).await
    }
}
