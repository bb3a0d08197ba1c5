//! Running totals of the events operators alert on (SLA breaches, SLA escalation
//! steps, tier escalations, swarms started), counted as the projections apply them.
//! They are part of the projections' state (and so of their snapshot), so after a
//! restart they are the log's totals again, not the totals since the process started.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::domain::{CaseEvent, SlaKind};

/// Totals over the whole log up to the projections' position.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventCounts {
    /// `SlaBreached` events by SLA clock.
    pub sla_breaches: BTreeMap<SlaKind, u64>,
    /// `SlaEscalated` events (time-based escalation steps that ran).
    pub sla_escalation_steps: u64,
    /// `CaseEscalated` events by (from tier, to tier): configured tiers only, so the
    /// pairs are bounded.
    pub escalations: BTreeMap<(String, String), u64>,
    /// `SwarmStarted` events.
    pub swarms_started: u64,
}

impl EventCounts {
    /// Counts one applied case event.
    pub fn count(&mut self, event: &CaseEvent) {
        match event {
            CaseEvent::SlaBreached(b) => *self.sla_breaches.entry(b.kind).or_default() += 1,
            CaseEvent::SlaEscalated(_) => self.sla_escalation_steps += 1,
            CaseEvent::Escalated(t) => {
                *self
                    .escalations
                    .entry((t.from.0.to_string(), t.to.0.to_string()))
                    .or_default() += 1
            }
            CaseEvent::SwarmStarted(_) => self.swarms_started += 1,
            _ => {}
        }
    }
}
