//! The wallboard as one caller may see it: counts over the open cases they may read,
//! computed from the projections as they are now.

use async_graphql::Result;

use super::Guard;
use crate::api::wallboard::{TierBoard, Wallboard};
use crate::domain::CaseId;

impl Guard {
    /// Open cases per tier, breached ones, active swarms and the oldest waiting case,
    /// among the cases the caller may read (staff).
    pub async fn wallboard(&self) -> Result<Wallboard> {
        self.require_staff()?;
        let now = self.now();
        let (board, shown) = {
            let p = self.app.projections().read();
            let mut tiers = Vec::new();
            let mut shown: Vec<CaseId> = Vec::new();
            for tier in self.app.tiers().tiers() {
                let open: Vec<_> = p
                    .tier_queue(tier)
                    .filter(|v| self.can_read(&v.case))
                    .collect();
                let breached = open
                    .iter()
                    .filter(|v| {
                        v.case.sla.as_ref().is_some_and(|s| !s.breached.is_empty())
                            || v.case.next_deadline().is_some_and(|d| d <= now)
                    })
                    .count();
                // A tier's queue holds only open cases.
                let oldest = open.iter().min_by_key(|v| (v.case.opened_at, v.case.id));
                let oldest_id = oldest.and_then(|v| v.case.id);
                shown.extend(oldest_id);
                tiers.push(TierBoard {
                    tier: tier.to_string(),
                    open: open.len() as u64,
                    breached: breached as u64,
                    oldest_case_id: oldest_id.map(|i| i.to_string()),
                    oldest_waiting_secs: oldest.map(|v| {
                        (now.unix_micros() - v.case.opened_at.unix_micros()).max(0) / 1_000_000
                    }),
                });
            }
            let active_swarms = p.swarm_rooms().filter(|r| self.can_read(r.case())).count() as u64;
            (
                Wallboard {
                    at: crate::api::types::DateTime(now),
                    position: p.position(),
                    tiers,
                    active_swarms,
                },
                shown,
            )
        };
        self.audit_many(shown, "wallboard").await?;
        Ok(board)
    }
}
