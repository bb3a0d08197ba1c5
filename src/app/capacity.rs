//! Agent capacity, enforced by the log rather than by one process's lock, so that
//! nodes sharing a log cannot together assign an agent more cases than their
//! `max_cases`.
//!
//! Before an assignment is appended to its case, the command claims a slot on the
//! agent's own stream: it reads the stream's recent events, counts the agent's load
//! (the open cases the projections show assigned to them, plus every claim whose
//! assignment the projections do not show yet), and if that leaves room appends a
//! [`CaseClaimed`] at the version it read. Two nodes claiming the last slot at once
//! both read the same version; the store lets one append through and gives the other
//! a version conflict, on which its command decides again and now counts the
//! winner's claim: it is refused as at capacity. A claim whose case append then
//! loses a race (the case moves past the version the claim names without it) stops
//! counting, so a lost race frees its slot.

use super::record::{append_request, Recordable};
use super::{AppError, Desk};
use crate::config::Config;
use crate::domain::presence::{agent_stream, AgentEvent, CaseClaimed};
use crate::domain::{Actor, AgentId, Case, CaseId};
use crate::store::{ExpectedVersion, StoreError};

/// How many of the agent stream's latest events are read for claims. A claim
/// matters only until this node's projections show its assignment (moments), so
/// only the latest few can still count.
const CLAIMS_READ: usize = 256;

impl Desk {
    /// Takes a slot of `agent`'s capacity for assigning `case_id` (decided on the
    /// case at `case.version`). `Ok(false)`: another claim got in first; decide again.
    pub(super) async fn claim_slot(
        &self,
        by: &Actor,
        agent: &AgentId,
        case_id: CaseId,
        case: &Case,
        config: &Config,
    ) -> Result<bool, AppError> {
        // Without a directory nobody has a capacity (anyone may be assigned).
        if config.agents.is_empty() {
            return Ok(true);
        }
        let stream = agent_stream(agent);
        let head = self.store.stream_version(&stream).await?;
        let from = head.saturating_sub(CLAIMS_READ as u64 - 1).max(1);
        let recent = self.store.read_stream(&stream, from, CLAIMS_READ).await?;
        let read_version = recent.last().map_or(0, |r| r.version);
        let mut claims = Vec::new();
        for r in &recent {
            if let AgentEvent::CaseClaimed(c) = AgentEvent::from_record(r)? {
                claims.push(c);
            }
        }
        let load = {
            let p = self.projections.read();
            let assigned = p.workload(agent).map(|w| w.assigned.clone());
            let assigned = assigned.unwrap_or_default();
            let mut pending: Vec<CaseId> = claims
                .iter()
                .filter(|c| c.case_id != case_id && !assigned.contains(&c.case_id))
                .filter(|c| p.case(c.case_id).map_or(0, |v| v.case.version) <= c.case_version)
                .map(|c| c.case_id)
                .collect();
            pending.sort();
            pending.dedup();
            assigned.iter().filter(|id| **id != case_id).count() + pending.len()
        };
        config.check_assignable(agent, case.tier.as_ref(), load)?;
        let event = AgentEvent::CaseClaimed(CaseClaimed {
            case_id,
            case_version: case.version,
        });
        let request = append_request(
            &stream,
            ExpectedVersion::Exact(read_version),
            by,
            self.clock.now(),
            std::slice::from_ref(&event),
        );
        match self.store.append(request).await {
            Ok(_) => Ok(true),
            Err(StoreError::VersionConflict { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
