//! The read models as one caller may see them: case pages, tier queues, swarm rooms,
//! a case's history and past states, the log, workload and counts. Each method asks
//! [`crate::policy`] who may read it, leaves out what the caller may not see, and
//! records an auditor's read; the GraphQL resolvers only convert what it returns.
//!
//! `budget` is the request's item budget (see `api::limits::take_items`): it is
//! charged with the items a list holds before anything is recorded or returned.

use async_graphql::Result;

use super::{forbidden, Guard};
use crate::api::error::{bad_input, gql, not_found};
use crate::api::types::{CaseObj, SwarmRoomObj, TierQueue};
use crate::domain::{AgentId, CaseId, Tier, Timestamp};
use crate::policy;
use crate::projection::{CaseFilter, Message, Stats};
use crate::store::RecordedEvent;

/// Charges the request's item budget with `n` items.
pub type Budget<'a> = &'a (dyn Fn(usize) -> Result<()> + Sync);

/// A page of cases: each with its cursor, and whether more follow.
pub struct CasePage {
    pub cases: Vec<(String, CaseObj)>,
    pub more: bool,
}

/// An agent's load as the caller may see it: only cases the caller may read.
pub struct VisibleWorkload {
    pub assigned: Vec<CaseId>,
    pub swarms: Vec<CaseId>,
}

impl Guard {
    /// The configured tiers, lowest first.
    pub fn tiers(&self) -> Vec<Tier> {
        self.app.tiers().tiers().to_vec()
    }

    /// A configured tier by name (`BAD_USER_INPUT` if there is none).
    pub fn tier(&self, name: &str) -> Result<Tier> {
        self.app
            .tiers()
            .get(name)
            .map_err(|e| bad_input(e.to_string()))
    }

    /// The last log position the projections show.
    pub fn projection_position(&self) -> u64 {
        self.app.projections().position()
    }

    /// The server's clock.
    pub fn now(&self) -> Timestamp {
        self.app.clock().now()
    }

    /// Cases matching `filter` that the caller may see, newest first, after the
    /// case `after`. Customers may not filter by what they cannot see.
    pub async fn cases(
        &self,
        filter: &CaseFilter,
        after: Option<CaseId>,
        first: usize,
        budget: Budget<'_>,
    ) -> Result<CasePage> {
        let internal = filter.tier.is_some()
            || filter.team.is_some()
            || filter.assignee.is_some()
            || filter.tag.is_some();
        policy::can_filter_cases(&self.principal, internal).map_err(forbidden)?;
        if filter.text.is_some() {
            self.app.prepare_text_index().await;
        }
        // Text is searched in the clear subjects and bodies.
        let filter = &CaseFilter {
            vault: self.app.vault().cloned(),
            ..filter.clone()
        };
        let page = {
            let among = self.read_scope();
            let visible = self.reader();
            let p = self.app.projections().read();
            let (page, more) = p.cases_visible(filter, &among, after, first, &visible);
            budget(page.len())?;
            let cases: Vec<(String, CaseObj)> = page
                .into_iter()
                .map(|v| {
                    let cursor = v.case.id.map(|i| i.to_string()).unwrap_or_default();
                    (cursor, self.case_obj(v))
                })
                .collect();
            CasePage { cases, more }
        };
        self.audit_many(
            page.cases.iter().filter_map(|(c, _)| c.parse().ok()),
            "cases",
        )
        .await?;
        Ok(page)
    }

    /// The messages of a live case up to `version` that the caller may see, read
    /// from the case's stream (the live projections do not hold them).
    pub async fn live_messages(&self, id: CaseId, version: u64) -> Result<Vec<Message>> {
        let readable = {
            let p = self.app.projections().read();
            p.case(id).is_some_and(|v| self.can_read(&v.case))
        };
        if !readable {
            return Ok(Vec::new());
        }
        let mut messages = self.app.messages(id, version).await.map_err(gql)?;
        messages.retain(|m| self.can_see_message(m.kind));
        Ok(messages)
    }

    /// The first `first` entries of a tier's queue that the caller may see (staff).
    pub async fn tier_queue(
        &self,
        tier: &str,
        first: usize,
        budget: Budget<'_>,
    ) -> Result<TierQueue> {
        self.require_staff()?;
        let tier = self.tier(tier)?;
        budget(first)?;
        let queue = TierQueue::build(&self.app.projections().read(), &tier, first, self);
        self.audit_many(queue.case_ids(), "tierQueue").await?;
        Ok(queue)
    }

    /// A case's active swarm room, if the caller may see the case (staff).
    pub async fn swarm_room(&self, id: CaseId) -> Result<Option<SwarmRoomObj>> {
        self.require_staff()?;
        let room = {
            let p = self.app.projections().read();
            p.swarm_room(id)
                .filter(|r| self.can_read(r.case()))
                .as_ref()
                .and_then(SwarmRoomObj::from_room)
        };
        if room.is_some() {
            self.audit(id, "swarmRoom").await?;
        }
        Ok(room)
    }

    /// The first `first` active swarm rooms the caller may see after the case `after`,
    /// oldest case first (staff); with their chat only if `chat`.
    pub async fn swarm_rooms(
        &self,
        after: Option<CaseId>,
        first: usize,
        chat: bool,
        budget: Budget<'_>,
    ) -> Result<Vec<SwarmRoomObj>> {
        self.require_staff()?;
        budget(first)?;
        let rooms: Vec<SwarmRoomObj> = {
            let visible = self.reader();
            let p = self.app.projections().read();
            p.swarm_rooms_after(after)
                .filter(|r| visible(r.case()))
                .filter_map(|r| SwarmRoomObj::from_room_with(&r, chat))
                .take(first)
                .collect()
        };
        self.audit_many(
            rooms.iter().filter_map(|r| r.case_id.parse().ok()),
            "swarmRooms",
        )
        .await?;
        Ok(rooms)
    }

    /// A visible case's events from `from_version`, at most `limit`, those the
    /// caller may see.
    pub async fn history(
        &self,
        id: CaseId,
        from_version: u64,
        limit: usize,
        budget: Budget<'_>,
    ) -> Result<Vec<RecordedEvent>> {
        self.require_visible(id)?;
        let events = self
            .app
            .history(id, from_version, limit)
            .await
            .map_err(gql)?;
        budget(events.len())?;
        self.audit(id, "history").await?;
        Ok(events
            .into_iter()
            .filter(|e| self.event_visible(e))
            .collect())
    }

    /// The events among the log's `limit` from `from` that the caller may see.
    pub async fn events(
        &self,
        from: u64,
        limit: usize,
        budget: Budget<'_>,
    ) -> Result<Vec<RecordedEvent>> {
        let events = self
            .app
            .store()
            .read_all(from, limit)
            .await
            .map_err(|e| gql(e.into()))?;
        budget(events.len())?;
        let visible: Vec<_> = events
            .into_iter()
            .filter(|e| self.event_visible(e))
            .collect();
        self.audit_many(
            visible
                .iter()
                .filter_map(|e| CaseId::from_stream(&e.stream)),
            "events",
        )
        .await?;
        Ok(visible)
    }

    /// A visible case as it was at the moment `at` and/or after `version`.
    pub async fn case_at(
        &self,
        id: CaseId,
        at: Option<Timestamp>,
        version: Option<u64>,
    ) -> Result<CaseObj> {
        self.require_visible(id)?;
        let view = self
            .app
            .view_where(id, |r| {
                at.is_none_or(|at| r.metadata.occurred_at <= at)
                    && version.is_none_or(|v| r.version <= v)
            })
            .await
            .map_err(gql)?
            .ok_or_else(|| not_found(format!("case {id} at that point")))?;
        self.audit(id, "caseAt").await?;
        Ok(self.past_case_obj(&view))
    }

    /// An agent's open assigned cases and active swarms, among the cases the caller
    /// may see: a lead asking about an agent who works a private case above the
    /// lead's tiers learns nothing of it. Staff; agents only their own.
    pub async fn workload(&self, agent: &AgentId) -> Result<VisibleWorkload> {
        policy::can_see_workload(&self.principal, agent).map_err(forbidden)?;
        let load = self.visible_workload(agent);
        self.audit_many(
            load.assigned.iter().chain(&load.swarms).copied(),
            "workload",
        )
        .await?;
        Ok(load)
    }

    /// An agent's load among the cases the caller may see, without access-log entry
    /// (counts in the directory listing).
    pub fn visible_workload(&self, agent: &AgentId) -> VisibleWorkload {
        let p = self.app.projections().read();
        let visible = |c: &&CaseId| p.case(**c).is_some_and(|v| self.can_read(&v.case));
        match p.workload(agent) {
            Some(w) => VisibleWorkload {
                assigned: w.assigned.iter().filter(visible).copied().collect(),
                swarms: w.swarms.iter().filter(visible).copied().collect(),
            },
            None => VisibleWorkload {
                assigned: Vec::new(),
                swarms: Vec::new(),
            },
        }
    }

    /// Counts across all cases (staff).
    pub fn stats(&self) -> Result<Stats> {
        self.require_staff()?;
        Ok(self.app.projections().read().stats())
    }
}
