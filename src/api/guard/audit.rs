//! The guarded operations of auditing: verifying the log's hash chain and reading its
//! head (see [`crate::store::chain`]), what changed in a case between two versions,
//! and the read models as they were at a past moment. Who may do what is
//! [`policy`]'s; a past answer holds only cases the caller may read both as they
//! were then and as they are now.

use super::*;
use crate::api::types::{QueueEntry, SwarmRoomObj, TierQueue, WorkloadObj};
use crate::app::travel::{FieldChange, Until};
use crate::domain::{AgentId, Tier, Timestamp};
use crate::projection::Projections;
use crate::store::{LogHead, VerifyReport};

impl Guard {
    /// Walks the whole log (admins and auditors: [`policy::can_verify_log`]).
    pub async fn verify_log(&self) -> Result<VerifyReport> {
        policy::can_verify_log(&self.principal).map_err(forbidden)?;
        self.app.store().verify().await.map_err(|e| gql(e.into()))
    }

    /// The log's last event: position, hash and time. Anyone authenticated: it is
    /// also served without a token at `GET /loghead`, for anchoring, and a hash says
    /// nothing of what it covers.
    pub async fn log_head_hashed(&self) -> Result<LogHead> {
        self.app.store().log_head().await.map_err(|e| gql(e.into()))
    }

    /// The event at `position`: its position, hash and time (to compare with an
    /// anchored head); the same audience as [`Guard::log_head`].
    pub async fn link_at(&self, position: u64) -> Result<LogHead> {
        self.app
            .store()
            .link_at(position)
            .await
            .map_err(|e| gql(e.into()))
    }

    /// What changed in a case the caller may see between two of its versions.
    pub async fn case_diff(&self, id: CaseId, from: u64, to: u64) -> Result<Vec<FieldChange>> {
        policy::can_travel(&self.principal).map_err(forbidden)?;
        self.require_visible(id)?;
        let changes = self.app.case_diff(id, from, to).await.map_err(gql)?;
        self.audit(id, "caseDiff").await?;
        Ok(changes)
    }

    /// The queues, swarm rooms and workloads as they were at `at`, folded from the
    /// streams of the cases that were in them then (staff).
    async fn past(&self, at: Timestamp) -> Result<Projections> {
        policy::can_travel(&self.principal).map_err(forbidden)?;
        self.app.indexes_at(Until::Time(at)).await.map_err(gql)
    }

    /// May the caller read this past state of a case, and the case as it is now?
    fn can_read_then_and_now(&self, then: &Case) -> bool {
        let Some(id) = then.id else {
            return false;
        };
        self.can_read(then)
            && self
                .app
                .projections()
                .read()
                .case(id)
                .is_some_and(|now| self.can_read(&now.case))
    }

    /// The tier's queue as it was at `at`: its first `first` entries.
    pub async fn tier_queue_at(
        &self,
        tier: &str,
        at: Timestamp,
        first: usize,
    ) -> Result<TierQueue> {
        let tier: Tier = self
            .app
            .tiers()
            .get(tier)
            .map_err(|e| super::super::error::bad_input(e.to_string()))?;
        let tier = &tier;
        let past = self.past(at).await?;
        let all: Vec<&CaseView> = past
            .tier_queue(tier)
            .filter(|v| self.can_read_then_and_now(&v.case))
            .collect();
        let queue = TierQueue {
            tier: tier.to_string(),
            length: all.len() as u32,
            entries: all
                .iter()
                .take(first)
                .enumerate()
                .map(|(i, v)| QueueEntry {
                    rank: i as u32 + 1,
                    case: self.past_case_obj(v),
                })
                .collect(),
        };
        self.audit_many(queue.case_ids(), "tierQueueAt").await?;
        Ok(queue)
    }

    /// The case's swarm room as it was at `at` (none if it had no active swarm).
    pub async fn swarm_room_at(&self, id: CaseId, at: Timestamp) -> Result<Option<SwarmRoomObj>> {
        let past = self.past(at).await?;
        let room = past
            .swarm_room(id)
            .filter(|r| self.can_read_then_and_now(r.case()))
            .as_ref()
            .and_then(SwarmRoomObj::from_room);
        if room.is_some() {
            self.audit(id, "swarmRoomAt").await?;
        }
        Ok(room)
    }

    /// Agents' open assigned cases and active swarms as they were at `at`: one
    /// agent's, or every agent's the caller may see (agents: only their own).
    pub async fn workload_at(
        &self,
        agent: Option<AgentId>,
        at: Timestamp,
    ) -> Result<Vec<WorkloadObj>> {
        if let Some(a) = &agent {
            if policy::can_see_workload(&self.principal, a).is_err() {
                return Err(forbidden("agents see only their own workload".into()));
            }
        }
        let past = self.past(at).await?;
        let visible = |c: &&CaseId| {
            past.case(**c)
                .is_some_and(|v| self.can_read_then_and_now(&v.case))
        };
        let ids = |cs: Vec<CaseId>| {
            cs.iter()
                .map(|c| async_graphql::ID(c.to_string()))
                .collect()
        };
        let mut seen = Vec::new();
        let mut out = Vec::new();
        for (id, w) in past.workloads() {
            if agent.as_ref().is_some_and(|a| a != id)
                || policy::can_see_workload(&self.principal, id).is_err()
            {
                continue;
            }
            let assigned: Vec<CaseId> = w.assigned.iter().filter(visible).copied().collect();
            let swarms: Vec<CaseId> = w.swarms.iter().filter(visible).copied().collect();
            if assigned.is_empty() && swarms.is_empty() && agent.is_none() {
                continue;
            }
            seen.extend(assigned.iter().chain(&swarms).copied());
            out.push(WorkloadObj {
                agent: id.to_string(),
                assigned: ids(assigned),
                swarms: ids(swarms),
            });
        }
        if let (Some(a), true) = (&agent, out.is_empty()) {
            out.push(WorkloadObj {
                agent: a.to_string(),
                assigned: Vec::new(),
                swarms: Vec::new(),
            });
        }
        self.audit_many(seen, "workloadAt").await?;
        Ok(out)
    }
}
