//! Rule simulation: replaying past cases through a proposed rule set to show how
//! their routing would have differed. Writes nothing.

use super::record::decode;
use super::{AppError, Desk};
use crate::domain::{Case, CaseEvent, CaseId, OpenCase, Timestamp};
use crate::routing::simulate::{simulate, Placement, Simulation};
use crate::routing::RuleSet;

impl Desk {
    /// Replays the cases opened in `[from, to)` through a proposed rule set (which
    /// must be valid for the configuration in force) and reports how their routing
    /// would have differed from how they were first routed. Only the cases for which
    /// `visible` holds (on their current state) are replayed; the others are only
    /// counted, as `hidden`, so neither their subjects nor their bodies (through a
    /// rule's condition) reach the caller. Writes nothing.
    pub async fn simulate_rules(
        &self,
        rules: RuleSet,
        from: Timestamp,
        to: Timestamp,
        max_changes: usize,
        visible: &(dyn Fn(&Case) -> bool + Sync),
    ) -> Result<Simulation, AppError> {
        let config = self.config();
        let compiled = config.compile_draft(&rules)?;
        let (mut ids, hidden) = {
            let p = self.projections.read();
            let (shown, hidden): (Vec<CaseId>, Vec<CaseId>) = p
                .cases_opened_between(from, to)
                .into_iter()
                .partition(|id| p.case(*id).is_some_and(|v| visible(&v.case)));
            (shown, hidden.len() as u64)
        };
        ids.sort_unstable();
        let mut cases = Vec::with_capacity(ids.len());
        for id in ids {
            let mut opened = None;
            let mut placement = None;
            for r in self.store.read_stream(&id.stream(), 1, 4).await? {
                let mut event = decode(&r)?;
                // Rules match words of the clear subject and body.
                if let Some(vault) = &self.vault {
                    crate::shred::personal::open_case_event(vault, &mut event);
                }
                match event {
                    CaseEvent::Opened(o) => opened = Some(o),
                    CaseEvent::Routed(route) if placement.is_none() => {
                        placement = Some(Placement {
                            tier: route.tier.0.into(),
                            team: route.team,
                            rule_id: route.rule_id,
                        })
                    }
                    _ => {}
                }
            }
            if let (Some(o), Some(p)) = (opened, placement) {
                cases.push((id, OpenCase::from(o), p));
            }
        }
        let mut sim = simulate(
            |open| config.route_with(&compiled, open),
            cases.iter().map(|(id, o, p)| (*id, o, p.clone())),
            max_changes,
        );
        sim.hidden = hidden;
        Ok(sim)
    }
}
