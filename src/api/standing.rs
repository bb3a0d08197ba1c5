//! Standing swarms in the API: a team's `DISPATCH` swarm triages its new, unassigned
//! cases (`dispatchQueue`), its `BACKLOG` swarm works its ageing ones (`backlog`).
//! Agents join and leave them themselves (`joinStandingSwarm`, `leaveStandingSwarm`,
//! events on the swarm's own stream); `standingSwarms` shows who is in which. Cases
//! are taken, routed and swarmed with the case mutations (`assignCase`, `routeCase`,
//! `escalateCase`, `startSwarm`, ...): the queues are indexes the projections keep,
//! so a case leaves the dispatch queue as soon as it is assigned.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, Object, Result, SimpleObject};

use super::guard::{CasePage, Guard};
use super::limits::take_items;
use super::query::{list_complexity, page_size};
use super::types::CaseObj;
use crate::domain::standing::{self as domain, StandingSwarm};

const DEFAULT_PAGE: usize = 50;

/// What a standing swarm works.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::StandingKind")]
pub enum StandingKind {
    /// The team's open cases nobody is assigned (`dispatchQueue`).
    Dispatch,
    /// The team's open cases older than some days (`backlog`).
    Backlog,
}

/// A team's standing swarm and its members.
#[derive(SimpleObject)]
pub struct StandingSwarmObj {
    pub team: String,
    pub kind: StandingKind,
    /// Agent ids, sorted.
    pub members: Vec<String>,
}

impl StandingSwarmObj {
    fn new(team: &str, kind: domain::StandingKind, swarm: &StandingSwarm) -> Self {
        StandingSwarmObj {
            team: team.to_string(),
            kind: kind.into(),
            members: swarm.members.iter().map(|a| a.to_string()).collect(),
        }
    }
}

/// A queue's page as a connection (`previous`: whether the page started after a
/// cursor).
fn connection(page: CasePage, previous: bool) -> Connection<String, CaseObj> {
    let mut conn = Connection::new(previous, page.more);
    conn.edges
        .extend(page.cases.into_iter().map(|(c, case)| Edge::new(c, case)));
    conn
}

#[derive(Default)]
pub struct StandingQuery;

#[Object]
impl StandingQuery {
    /// `team`'s dispatch queue: its open cases assigned to nobody, most urgent first,
    /// then oldest, with cursor pagination. For members of the team's `DISPATCH`
    /// swarm (and admins and auditors); each sees only the cases they may read. A
    /// case leaves it once assigned, resolved or moved to another team. Its
    /// complexity is `first` (default 50) times that of one edge.
    #[graphql(complexity = "list_complexity(first, DEFAULT_PAGE, child_complexity)")]
    async fn dispatch_queue(
        &self,
        ctx: &Context<'_>,
        team: String,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, CaseObj>> {
        let g = Guard::of(ctx)?;
        let n = page_size(first)?;
        let page = g
            .dispatch_queue(&team, n, after.as_deref(), &|n| take_items(ctx, n))
            .await?;
        Ok(connection(page, after.is_some()))
    }

    /// `team`'s backlog: its open cases opened `olderThanDays` days ago or earlier
    /// (0-3650, by the server's clock; 0: every open case), oldest first, with cursor pagination. For
    /// members of the team's `BACKLOG` swarm (and admins and auditors); each sees only
    /// the cases they may read. Its complexity is `first` (default 50) times that of
    /// one edge.
    #[graphql(complexity = "list_complexity(first, DEFAULT_PAGE, child_complexity)")]
    async fn backlog(
        &self,
        ctx: &Context<'_>,
        team: String,
        older_than_days: u32,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, CaseObj>> {
        let g = Guard::of(ctx)?;
        let n = page_size(first)?;
        let page = g
            .backlog(&team, older_than_days, n, after.as_deref(), &|n| {
                take_items(ctx, n)
            })
            .await?;
        Ok(connection(page, after.is_some()))
    }

    /// Every standing swarm that has members, by team then kind (staff).
    async fn standing_swarms(&self, ctx: &Context<'_>) -> Result<Vec<StandingSwarmObj>> {
        let g = Guard::of(ctx)?;
        Ok(g.standing_swarms()?
            .into_iter()
            .map(|(team, kind, members)| StandingSwarmObj {
                team,
                kind: kind.into(),
                members: members.iter().map(|a| a.to_string()).collect(),
            })
            .collect())
    }
}

#[derive(Default)]
pub struct StandingMutation;

#[Object]
impl StandingMutation {
    /// The caller joins `team`'s standing swarm of `kind` (a `StandingSwarmJoined`
    /// on its stream; nothing when already a member). Agents and leads listed in the
    /// directory whose tiers reach the team's tier.
    async fn join_standing_swarm(
        &self,
        ctx: &Context<'_>,
        team: String,
        kind: StandingKind,
    ) -> Result<StandingSwarmObj> {
        change_standing(ctx, team, kind, true).await
    }

    /// The caller leaves `team`'s standing swarm of `kind` (a `StandingSwarmLeft`;
    /// nothing when not a member).
    async fn leave_standing_swarm(
        &self,
        ctx: &Context<'_>,
        team: String,
        kind: StandingKind,
    ) -> Result<StandingSwarmObj> {
        change_standing(ctx, team, kind, false).await
    }
}

/// The caller joins (`join: true`) or leaves `team`'s standing swarm of `kind`
/// (`joinStandingSwarm`, `leaveStandingSwarm`); the swarm after.
async fn change_standing(
    ctx: &Context<'_>,
    team: String,
    kind: StandingKind,
    join: bool,
) -> Result<StandingSwarmObj> {
    let g = Guard::of(ctx)?;
    let swarm = g.change_standing(&team, kind.into(), join).await?;
    Ok(StandingSwarmObj::new(&team, kind.into(), &swarm))
}
