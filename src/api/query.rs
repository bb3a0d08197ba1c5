//! Queries: read models for consoles and portals, and the log itself for auditors.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Object, Result, ID};
use std::sync::Arc;

use super::error::{bad_input, gql, not_found};
use super::types::*;
use super::{app, parse_case_id, principal};
use crate::domain::{AgentId, Tier};
use crate::projection::{CaseFilter, Projections};

/// Most items one page may hold.
pub const MAX_PAGE: usize = 500;
const DEFAULT_PAGE: usize = 50;

pub(crate) fn page_size(first: Option<i32>) -> Result<usize> {
    match first {
        None => Ok(DEFAULT_PAGE),
        Some(n) if n < 0 => Err(bad_input("`first` must not be negative")),
        Some(n) => Ok((n as usize).min(MAX_PAGE)),
    }
}

pub struct QueryRoot;

#[Object]
impl QueryRoot {
    /// One case by id.
    async fn case(&self, ctx: &Context<'_>, id: ID) -> Result<Option<CaseObj>> {
        principal(ctx)?;
        let id = parse_case_id(&id)?;
        let p = app(ctx)?.projections().read();
        Ok(p.case(id).map(CaseObj::from_view))
    }

    /// Cases matching `filter`, newest first, with cursor pagination.
    async fn cases(
        &self,
        ctx: &Context<'_>,
        filter: Option<CaseFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, CaseObj>> {
        principal(ctx)?;
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
        };
        let p = app(ctx)?.projections().read();
        let (page, more) = p.cases(&filter, after, first);
        let mut conn = Connection::new(after.is_some(), more);
        conn.edges.extend(page.into_iter().map(|v| {
            let cursor = v.case.id.map(|i| i.to_string()).unwrap_or_default();
            Edge::new(cursor, CaseObj::from_view(v))
        }));
        Ok(conn)
    }

    /// The open cases of a tier, in the order to work on them.
    async fn tier_queue(
        &self,
        ctx: &Context<'_>,
        tier: String,
        first: Option<i32>,
    ) -> Result<TierQueue> {
        principal(ctx)?;
        let app = app(ctx)?;
        let tier = app
            .tiers()
            .get(&tier)
            .map_err(|e| bad_input(e.to_string()))?;
        let first = page_size(first)?;
        let p = app.projections().read();
        Ok(TierQueue::build(&p, &tier, first))
    }

    /// A case's active swarm room.
    async fn swarm_room(&self, ctx: &Context<'_>, case_id: ID) -> Result<Option<SwarmRoomObj>> {
        principal(ctx)?;
        let id = parse_case_id(&case_id)?;
        let p = app(ctx)?.projections().read();
        Ok(p.swarm_room(id).as_ref().and_then(SwarmRoomObj::from_room))
    }

    /// All active swarm rooms.
    async fn swarm_rooms(&self, ctx: &Context<'_>) -> Result<Vec<SwarmRoomObj>> {
        principal(ctx)?;
        let p = app(ctx)?.projections().read();
        Ok(p.swarm_rooms()
            .filter_map(|r| SwarmRoomObj::from_room(&r))
            .collect())
    }

    /// A case's full history, from `fromVersion` (1 = the beginning).
    async fn case_history(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        #[graphql(default = 1)] from_version: u64,
        first: Option<i32>,
    ) -> Result<Vec<EventObj>> {
        principal(ctx)?;
        let id = parse_case_id(&case_id)?;
        let limit = first
            .map(|_| page_size(first))
            .transpose()?
            .unwrap_or(usize::MAX);
        let events = app(ctx)?
            .history(id, from_version, limit)
            .await
            .map_err(gql)?;
        if events.is_empty() && from_version <= 1 {
            return Err(not_found(format!("case {id}")));
        }
        Ok(events.into_iter().map(|e| EventObj(Arc::new(e))).collect())
    }

    /// The log from `fromPosition` (1 = the beginning), at most `limit` events.
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 1)] from_position: u64,
        limit: Option<i32>,
    ) -> Result<Vec<EventObj>> {
        principal(ctx)?;
        let limit = page_size(limit)?;
        let events = app(ctx)?
            .store()
            .read_all(from_position, limit)
            .await
            .map_err(|e| gql(e.into()))?;
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
        principal(ctx)?;
        let id = parse_case_id(&case_id)?;
        let app = app(ctx)?;
        let records = app.history(id, 1, usize::MAX).await.map_err(gql)?;
        let mut past = Projections::new();
        for r in records.iter().filter(|r| {
            at.is_none_or(|at| r.metadata.occurred_at <= at.0)
                && version.is_none_or(|v| r.version <= v)
        }) {
            past.apply(r).map_err(|e| gql(e.into()))?;
        }
        past.case(id)
            .map(CaseObj::from_view)
            .ok_or_else(|| not_found(format!("case {id} at that point")))
    }

    /// The configured tiers, lowest first.
    async fn tiers(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        Ok(app(ctx)?
            .tiers()
            .tiers()
            .iter()
            .map(|t| t.to_string())
            .collect())
    }

    /// An agent's open assigned cases and active swarms.
    async fn workload(&self, ctx: &Context<'_>, agent: String) -> Result<WorkloadObj> {
        principal(ctx)?;
        let id = AgentId::new(agent).map_err(|e| bad_input(e.to_string()))?;
        let p = app(ctx)?.projections().read();
        let w = p.workload(&id).cloned().unwrap_or_default();
        Ok(WorkloadObj {
            agent: id.to_string(),
            assigned: w.assigned.iter().map(|c| ID(c.to_string())).collect(),
            swarms: w.swarms.iter().map(|c| ID(c.to_string())).collect(),
        })
    }

    /// Counts across all cases.
    async fn stats(&self, ctx: &Context<'_>) -> Result<StatsObj> {
        principal(ctx)?;
        let s = app(ctx)?.projections().read().stats();
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
    async fn me(&self, ctx: &Context<'_>) -> Result<ActorObj> {
        let p = principal(ctx)?;
        Ok(ActorObj {
            id: p.actor.id.to_string(),
            role: p.actor.role.into(),
        })
    }
}
