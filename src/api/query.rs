//! Queries: read models for consoles and portals, and the log itself for auditors.
//! Every resolver reads through the caller's [`Guard`](super::guard::Guard): what the
//! caller may not see is simply absent.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Object, Result, SimpleObject, ID};
use std::sync::Arc;

use super::error::bad_input;
use super::guard::Guard;
use super::limits::{items_left, take_items, Position};
use super::parse_case_id;
use super::types::*;
use crate::domain::{AgentId, CaseId, Tier};
use crate::projection::CaseFilter;

/// Most items one page may hold.
pub const MAX_PAGE: usize = 500;
const DEFAULT_PAGE: usize = 50;

/// The complexity of a list field: the items it may return (`first`/`limit`, else
/// `default`, at most [`MAX_PAGE`]) times the complexity of each, plus one. So the
/// complexity limit also bounds the items one request may return.
pub(crate) fn list_complexity(first: Option<i32>, default: usize, child: usize) -> usize {
    let items = first.map_or(default, |n| (n.max(0) as usize).min(MAX_PAGE));
    items.max(1).saturating_mul(child).saturating_add(1)
}

pub(crate) fn page_size(first: Option<i32>) -> Result<usize> {
    match first {
        None => Ok(DEFAULT_PAGE),
        Some(n) if n < 0 => Err(bad_input("`first` must not be negative")),
        Some(n) => Ok((n as usize).min(MAX_PAGE)),
    }
}

/// The caller, as authenticated.
#[derive(SimpleObject)]
pub struct MeObj {
    pub id: String,
    pub role: super::types::Role,
    /// The tiers they work (the agent directory's, else their token's); empty for
    /// roles that tiers do not limit (admins, auditors, customers).
    pub tiers: Vec<String>,
}

/// A bearer token as listed to admins: never the token itself.
#[derive(SimpleObject)]
pub struct TokenObj {
    pub token_id: String,
    pub user: String,
    pub role: super::types::Role,
    pub tiers: Vec<String>,
    pub expires_at: Option<DateTime>,
    /// Whether the token has expired (listed only with `includeExpired: true`).
    pub expired: bool,
}

/// Queries about cases, queues, swarms and the log.
#[derive(Default)]
pub struct CaseQuery;

#[Object]
impl CaseQuery {
    /// One case by id (null if it does not exist or is not yours to see).
    async fn case(&self, ctx: &Context<'_>, id: ID) -> Result<Option<CaseObj>> {
        let g = Guard::of(ctx)?;
        g.case(parse_case_id(&id)?).await
    }

    /// Cases matching `filter`, newest first, with cursor pagination. Its complexity
    /// is `first` (default 50) times that of one edge.
    #[graphql(complexity = "list_complexity(first, DEFAULT_PAGE, child_complexity)")]
    async fn cases(
        &self,
        ctx: &Context<'_>,
        filter: Option<CaseFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, CaseObj>> {
        let g = Guard::of(ctx)?;
        let first = page_size(first)?;
        let after = after.map(|a| parse_case_id(&ID(a))).transpose()?;
        let f = filter.unwrap_or_default();
        let filter = CaseFilter {
            status: f.status.map(Into::into),
            tier: f.tier.map(Tier::new),
            team: f.team,
            priority: f.priority.map(Into::into),
            tag: f.tag.map(|t| t.to_lowercase()),
            assignee: f
                .assignee
                .map(AgentId::new)
                .transpose()
                .map_err(|e| bad_input(e.to_string()))?,
            customer: f.customer,
            text: f.text,
            vault: None,
        };
        let page = g
            .cases(&filter, after, first, &|n| take_items(ctx, n))
            .await?;
        let mut conn = Connection::new(after.is_some(), page.more);
        conn.edges.extend(
            page.cases
                .into_iter()
                .map(|(cursor, case)| Edge::new(cursor, case)),
        );
        Ok(conn)
    }

    /// The open cases of a tier, in the order to work on them. Its complexity is
    /// `first` (default 50) times that of one entry.
    #[graphql(complexity = "list_complexity(first, DEFAULT_PAGE, child_complexity)")]
    async fn tier_queue(
        &self,
        ctx: &Context<'_>,
        tier: String,
        first: Option<i32>,
    ) -> Result<TierQueue> {
        let first = page_size(first)?;
        Guard::of(ctx)?
            .tier_queue(&tier, first, &|n| take_items(ctx, n))
            .await
    }

    /// A case's active swarm room.
    async fn swarm_room(&self, ctx: &Context<'_>, case_id: ID) -> Result<Option<SwarmRoomObj>> {
        let id = parse_case_id(&case_id)?;
        Guard::of(ctx)?.swarm_room(id).await
    }

    /// The active swarm rooms you may see, oldest case first: the first `first`
    /// (default 50, at most 500) after the case `after` (the last `caseId` of the page
    /// before). Its complexity is `first` times that of one room.
    #[graphql(complexity = "list_complexity(first, DEFAULT_PAGE, child_complexity)")]
    async fn swarm_rooms(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<ID>,
    ) -> Result<Vec<SwarmRoomObj>> {
        let first = page_size(first)?;
        let after = after.map(|a| parse_case_id(&a)).transpose()?;
        let chat = ctx.look_ahead().field("chat").exists();
        Guard::of(ctx)?
            .swarm_rooms(after, first, chat, &|n| take_items(ctx, n))
            .await
    }

    /// A case's full history, from `fromVersion` (1 = the beginning). Its complexity
    /// is `first` (default 50) times that of one event.
    #[graphql(complexity = "list_complexity(first, DEFAULT_PAGE, child_complexity)")]
    async fn case_history(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        #[graphql(default = 1)] from_version: u64,
        first: Option<i32>,
    ) -> Result<Vec<EventObj>> {
        let g = Guard::of(ctx)?;
        let id = parse_case_id(&case_id)?;
        let limit = first
            .map(|_| page_size(first))
            .transpose()?
            .unwrap_or_else(|| items_left(ctx).saturating_add(1));
        let events = g
            .history(id, from_version, limit, &|n| take_items(ctx, n))
            .await?;
        Ok(events.into_iter().map(|e| EventObj(Arc::new(e))).collect())
    }

    /// The log from `fromPosition` (1 = the beginning): the events among the next
    /// `limit` that you may see. Its complexity is `limit` (default 50) times that of
    /// one event.
    #[graphql(complexity = "list_complexity(limit, DEFAULT_PAGE, child_complexity)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Position(1)")] from_position: Position,
        limit: Option<i32>,
    ) -> Result<Vec<EventObj>> {
        let limit = page_size(limit)?;
        let events = Guard::of(ctx)?
            .events(from_position.0, limit, &|n| take_items(ctx, n))
            .await?;
        Ok(events.into_iter().map(|e| EventObj(Arc::new(e))).collect())
    }

    /// A case exactly as it was at a past moment (`at`) or after a given `version`.
    async fn case_at(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        at: Option<DateTime>,
        version: Option<u64>,
    ) -> Result<CaseObj> {
        let id = parse_case_id(&case_id)?;
        Guard::of(ctx)?.case_at(id, at.map(|a| a.0), version).await
    }

    /// The configured tiers, lowest first.
    async fn tiers(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        Ok(Guard::of(ctx)?
            .tiers()
            .iter()
            .map(|t| t.to_string())
            .collect())
    }

    /// An agent's open assigned cases and active swarms (agents: only their own).
    async fn workload(&self, ctx: &Context<'_>, agent: String) -> Result<WorkloadObj> {
        let id = AgentId::new(agent).map_err(|e| bad_input(e.to_string()))?;
        let load = Guard::of(ctx)?.workload(&id).await?;
        let (assigned, swarms) = (load.assigned, load.swarms);
        let ids = |cs: Vec<CaseId>| cs.iter().map(|c| ID(c.to_string())).collect();
        Ok(WorkloadObj {
            agent: id.to_string(),
            assigned: ids(assigned),
            swarms: ids(swarms),
        })
    }

    /// Counts across all cases (staff only).
    async fn stats(&self, ctx: &Context<'_>) -> Result<StatsObj> {
        let s = Guard::of(ctx)?.stats()?;
        Ok(StatsObj {
            events: s.events,
            cases: s.cases,
            open: s.open,
            resolved: s.resolved,
            closed: s.closed,
            active_swarms: s.active_swarms,
            resolved_by_tier: s
                .resolved_by_tier
                .into_iter()
                .map(|(tier, count)| TierCount { tier, count })
                .collect(),
        })
    }

    /// Who the caller is authenticated as.
    async fn me(&self, ctx: &Context<'_>) -> Result<MeObj> {
        let g = Guard::of(ctx)?;
        Ok(MeObj {
            id: g.actor().id.to_string(),
            role: g.actor().role.into(),
            tiers: g.works_tiers().iter().map(|t| t.to_string()).collect(),
        })
    }

    /// The accepted tokens (admins only; never the tokens themselves). Expired
    /// tokens are left out unless `includeExpired` is true; they are marked `expired`.
    async fn tokens(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] include_expired: bool,
    ) -> Result<Vec<TokenObj>> {
        Ok(Guard::of(ctx)?
            .tokens()?
            .into_iter()
            .filter(|(_, expired)| include_expired || !expired)
            .map(|(t, expired)| TokenObj {
                expired,
                token_id: t.token_id,
                user: t.grant.actor.id.to_string(),
                role: t.grant.actor.role.into(),
                tiers: t.grant.tiers.iter().map(|x| x.to_string()).collect(),
                expires_at: t.grant.expires_at.map(DateTime),
            })
            .collect())
    }
}
