//! Queries: read models for consoles and portals, and the log itself for auditors.
//! Every resolver reads through the caller's [`Guard`](super::guard::Guard): what the
//! caller may not see is simply absent.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Object, Result, SimpleObject, ID};
use std::sync::Arc;

use super::error::{bad_input, gql, not_found};
use super::guard::Guard;
use super::limits::{items_left, take_items, Position};
use super::parse_case_id;
use super::types::*;
use crate::domain::{AgentId, CaseId, Role, Tier};
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
        // Filtering by what a customer may not see would reveal it by the answer.
        let internal = f.tier.is_some() || f.team.is_some() || f.assignee.is_some();
        if g.is_customer() && (internal || f.tag.is_some()) {
            return Err(super::error::coded(
                super::error::FORBIDDEN,
                "forbidden: customers filter by status, priority, customer and text only",
            ));
        }
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
        let conn = {
            let p = g.app.projections().read();
            let (page, more) = p.cases_visible(&filter, after, first, &|c| g.can_read(c));
            take_items(ctx, page.len())?;
            let mut conn = Connection::new(after.is_some(), more);
            conn.edges.extend(page.into_iter().map(|v| {
                let cursor = v.case.id.map(|i| i.to_string()).unwrap_or_default();
                Edge::new(cursor, g.case_obj(v))
            }));
            conn
        };
        g.audit_many(
            conn.edges.iter().filter_map(|e| e.cursor.parse().ok()),
            "cases",
        )
        .await?;
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
        let g = Guard::of(ctx)?;
        g.require_staff()?;
        let tier = g
            .app
            .tiers()
            .get(&tier)
            .map_err(|e| bad_input(e.to_string()))?;
        let first = page_size(first)?;
        take_items(ctx, first)?;
        let queue = TierQueue::build(&g.app.projections().read(), &tier, first, &g);
        g.audit_many(queue.case_ids(), "tierQueue").await?;
        Ok(queue)
    }

    /// A case's active swarm room.
    async fn swarm_room(&self, ctx: &Context<'_>, case_id: ID) -> Result<Option<SwarmRoomObj>> {
        let g = Guard::of(ctx)?;
        g.require_staff()?;
        let id = parse_case_id(&case_id)?;
        let room = {
            let p = g.app.projections().read();
            p.swarm_room(id)
                .filter(|r| g.can_read(r.case()))
                .as_ref()
                .and_then(SwarmRoomObj::from_room)
        };
        if room.is_some() {
            g.audit(id, "swarmRoom").await?;
        }
        Ok(room)
    }

    /// All active swarm rooms you may see.
    async fn swarm_rooms(&self, ctx: &Context<'_>) -> Result<Vec<SwarmRoomObj>> {
        let g = Guard::of(ctx)?;
        g.require_staff()?;
        let rooms: Vec<SwarmRoomObj> = {
            let p = g.app.projections().read();
            p.swarm_rooms()
                .filter(|r| g.can_read(r.case()))
                .filter_map(|r| SwarmRoomObj::from_room(&r))
                .collect()
        };
        g.audit_many(
            rooms.iter().filter_map(|r| r.case_id.parse().ok()),
            "swarmRooms",
        )
        .await?;
        Ok(rooms)
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
        g.require_visible(id)?;
        let limit = first
            .map(|_| page_size(first))
            .transpose()?
            .unwrap_or_else(|| items_left(ctx).saturating_add(1));
        let events = g.app.history(id, from_version, limit).await.map_err(gql)?;
        take_items(ctx, events.len())?;
        g.audit(id, "history").await?;
        Ok(events
            .into_iter()
            .filter(|e| g.event_visible(e))
            .map(|e| EventObj(Arc::new(e)))
            .collect())
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
        let g = Guard::of(ctx)?;
        let limit = page_size(limit)?;
        let events = g
            .app
            .store()
            .read_all(from_position.0, limit)
            .await
            .map_err(|e| gql(e.into()))?;
        take_items(ctx, events.len())?;
        let visible: Vec<_> = events.into_iter().filter(|e| g.event_visible(e)).collect();
        g.audit_many(
            visible
                .iter()
                .filter_map(|e| CaseId::from_stream(&e.stream)),
            "events",
        )
        .await?;
        Ok(visible.into_iter().map(|e| EventObj(Arc::new(e))).collect())
    }

    /// A case exactly as it was at a past moment (`at`) or after a given `version`.
    async fn case_at(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        at: Option<DateTime>,
        version: Option<u64>,
    ) -> Result<CaseObj> {
        let g = Guard::of(ctx)?;
        let id = parse_case_id(&case_id)?;
        g.require_visible(id)?;
        let view = g
            .app
            .view_where(id, |r| {
                at.is_none_or(|at| r.metadata.occurred_at <= at.0)
                    && version.is_none_or(|v| r.version <= v)
            })
            .await
            .map_err(gql)?
            .ok_or_else(|| not_found(format!("case {id} at that point")))?;
        g.audit(id, "caseAt").await?;
        Ok(g.past_case_obj(&view))
    }

    /// The configured tiers, lowest first.
    async fn tiers(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        Ok(Guard::of(ctx)?
            .app
            .tiers()
            .tiers()
            .iter()
            .map(|t| t.to_string())
            .collect())
    }

    /// An agent's open assigned cases and active swarms (agents: only their own).
    async fn workload(&self, ctx: &Context<'_>, agent: String) -> Result<WorkloadObj> {
        let g = Guard::of(ctx)?;
        g.require_staff()?;
        let id = AgentId::new(agent).map_err(|e| bad_input(e.to_string()))?;
        if g.principal.actor.role == Role::Agent && g.principal.actor.id != id {
            return Err(super::error::coded(
                super::error::FORBIDDEN,
                "forbidden: agents see only their own workload",
            ));
        }
        // Only the cases the caller may see: a lead asking about an agent who works
        // a private case above the lead's tiers learns nothing of it.
        let (assigned, swarms): (Vec<CaseId>, Vec<CaseId>) = {
            let p = g.app.projections().read();
            let visible = |c: &&CaseId| p.case(**c).is_some_and(|v| g.can_read(&v.case));
            match p.workload(&id) {
                Some(w) => (
                    w.assigned.iter().filter(visible).copied().collect(),
                    w.swarms.iter().filter(visible).copied().collect(),
                ),
                None => (Vec::new(), Vec::new()),
            }
        };
        g.audit_many(assigned.iter().chain(&swarms).copied(), "workload")
            .await?;
        let ids = |cs: Vec<CaseId>| cs.iter().map(|c| ID(c.to_string())).collect();
        Ok(WorkloadObj {
            agent: id.to_string(),
            assigned: ids(assigned),
            swarms: ids(swarms),
        })
    }

    /// Counts across all cases (staff only).
    async fn stats(&self, ctx: &Context<'_>) -> Result<StatsObj> {
        let g = Guard::of(ctx)?;
        g.require_staff()?;
        let s = g.app.projections().read().stats();
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
        let g = Guard::of(ctx)?;
        Ok(ActorObj {
            id: g.principal.actor.id.to_string(),
            role: g.principal.actor.role.into(),
        })
    }

    /// The accepted tokens (admins only; never the tokens themselves). Expired
    /// tokens are left out unless `includeExpired` is true; they are marked `expired`.
    async fn tokens(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] include_expired: bool,
    ) -> Result<Vec<TokenObj>> {
        let g = Guard::of(ctx)?;
        g.require_admin()?;
        let now = g.app.clock().now();
        Ok(g.app
            .tokens()
            .list()
            .into_iter()
            .map(|t| (t.grant.expires_at.is_some_and(|e| e <= now), t))
            .filter(|(expired, _)| include_expired || !expired)
            .map(|(expired, t)| TokenObj {
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
