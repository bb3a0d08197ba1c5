//! The standing swarms' read models: each team's and kind's members (folded from
//! the `standing-<team>-<kind>` streams) and the two indexes their members work,
//! kept as case events arrive like the tier queues (never a scan of the log):
//!
//! - the dispatch queue: per team, its open cases nobody is assigned, most urgent
//!   first, then oldest ([`DispatchKey`]); a case leaves it the moment it is
//!   assigned, resolved, closed or moved to another team;
//! - the backlog: per team, its open cases, oldest first ([`AgeKey`]); a query asks
//!   for those opened at or before a cutoff.
//!
//! Pages continue after a cursor that is the last entry's key, so a case that left
//! the index meanwhile never breaks a page.

use serde::{Deserialize, Serialize};
use std::ops::Bound;

use super::{CaseView, Projections};
use crate::domain::standing::{StandingKind, StandingSwarm};
use crate::domain::{AgentId, Case, CaseId, Priority, Status, Timestamp};

const PRIORITIES: [Priority; 4] = [
    Priority::Urgent,
    Priority::High,
    Priority::Normal,
    Priority::Low,
];

/// A dispatch queue entry's sort key: most urgent, then oldest, then the case id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DispatchKey {
    pub priority: Priority,
    pub opened_at: Timestamp,
    pub case: CaseId,
}

/// A backlog entry's sort key: oldest first, then the case id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AgeKey {
    pub opened_at: Timestamp,
    pub case: CaseId,
}

impl DispatchKey {
    /// The case's entry in its team's dispatch queue, if it belongs there: open,
    /// with a team, assigned to nobody.
    pub(super) fn of(c: &Case, id: CaseId) -> Option<(&str, DispatchKey)> {
        let team = c.team.as_deref()?;
        (c.status == Status::Open && c.assignee.is_none()).then_some((
            team,
            DispatchKey {
                priority: c.priority,
                opened_at: c.opened_at,
                case: id,
            },
        ))
    }

    /// The cursor after this entry: `<priority 0-3>.<opened-at micros>.<case id>`.
    pub fn cursor(&self) -> String {
        let p = PRIORITIES
            .iter()
            .position(|p| *p == self.priority)
            .unwrap_or(0);
        format!("{p}.{}.{}", self.opened_at.0, self.case)
    }

    pub fn from_cursor(s: &str) -> Option<DispatchKey> {
        let mut parts = s.splitn(3, '.');
        let priority = *PRIORITIES.get(parts.next()?.parse::<usize>().ok()?)?;
        let opened_at = Timestamp(parts.next()?.parse().ok()?);
        let case = parts.next()?.parse().ok()?;
        Some(DispatchKey {
            priority,
            opened_at,
            case,
        })
    }
}

impl AgeKey {
    /// The case's entry in its team's backlog, if it belongs there: open, with a team.
    pub(super) fn of(c: &Case, id: CaseId) -> Option<(&str, AgeKey)> {
        let team = c.team.as_deref()?;
        (c.status == Status::Open).then_some((
            team,
            AgeKey {
                opened_at: c.opened_at,
                case: id,
            },
        ))
    }

    /// The cursor after this entry: `<opened-at micros>.<case id>`.
    pub fn cursor(&self) -> String {
        format!("{}.{}", self.opened_at.0, self.case)
    }

    pub fn from_cursor(s: &str) -> Option<AgeKey> {
        let (at, case) = s.split_once('.')?;
        Some(AgeKey {
            opened_at: Timestamp(at.parse().ok()?),
            case: case.parse().ok()?,
        })
    }
}

/// Whether an index entry (team, key) is the one wanted.
pub(super) fn same_entry<K: PartialEq>(
    have: &Option<(String, K)>,
    want: Option<(&str, K)>,
) -> bool {
    match (have, want) {
        (None, None) => true,
        (Some((t, k)), Some((team, key))) => t == team && *k == key,
        _ => false,
    }
}

impl Projections {
    /// The members of `team`'s standing swarm of `kind` (none before anyone joins).
    pub fn standing_members(&self, team: &str, kind: StandingKind) -> Vec<AgentId> {
        self.standing
            .get(&(team.to_string(), kind))
            .map(|s| s.members.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether `agent` is a member of `team`'s standing swarm of `kind`.
    pub fn is_standing_member(&self, team: &str, kind: StandingKind, agent: &AgentId) -> bool {
        self.standing
            .get(&(team.to_string(), kind))
            .is_some_and(|s| s.members.contains(agent))
    }

    /// Every standing swarm with its members, by team then kind.
    pub fn standing_swarms(&self) -> impl Iterator<Item = (&str, StandingKind, &StandingSwarm)> {
        self.standing.iter().map(|((t, k), s)| (t.as_str(), *k, s))
    }

    pub(super) fn apply_standing(
        &mut self,
        team: String,
        kind: StandingKind,
        event: &crate::domain::standing::StandingEvent,
        version: u64,
    ) {
        self.standing
            .entry((team, kind))
            .or_default()
            .apply(event, version);
    }

    /// `team`'s dispatch queue after the entry `after` (exclusive): its open,
    /// unassigned cases, most urgent then oldest first.
    pub fn dispatch_queue(
        &self,
        team: &str,
        after: Option<DispatchKey>,
    ) -> impl Iterator<Item = (DispatchKey, &CaseView)> {
        let from = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.dispatch
            .get(team)
            .into_iter()
            .flat_map(move |q| q.range((from, Bound::Unbounded)))
            .map(|k| (*k, &*self.cases[&k.case]))
    }

    /// `team`'s open cases opened at or before `before`, oldest first, after the entry
    /// `after` (exclusive).
    pub fn backlog(
        &self,
        team: &str,
        before: Timestamp,
        after: Option<AgeKey>,
    ) -> impl Iterator<Item = (AgeKey, &CaseView)> {
        let from = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.backlog
            .get(team)
            .into_iter()
            .flat_map(move |q| q.range((from, Bound::Unbounded)))
            .take_while(move |k| k.opened_at <= before)
            .map(|k| (*k, &*self.cases[&k.case]))
    }
}
