//! What-if routing: replays past cases through a proposed rule set and reports how
//! their routing would have differed, so an admin can test rules against history
//! before switching them on. Pure: the caller supplies the cases and how each was
//! actually routed (only those the person asking may see: the others are a count).

use serde::Serialize;
use std::collections::BTreeMap;

use super::engine::RouteDecision;
use crate::domain::{CaseId, OpenCase};

/// Where a case went (or would go).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Placement {
    pub tier: String,
    pub team: Option<String>,
    /// The rule that decided; `None` for the default route or a hand-made route.
    pub rule_id: Option<String>,
}

/// One past case whose routing would change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChangedCase {
    pub case_id: CaseId,
    pub subject: String,
    pub before: Placement,
    pub after: Placement,
}

/// How many cases a tier (or team) got, and would get.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub before: u64,
    pub after: u64,
}

/// The outcome of a simulation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Simulation {
    /// Cases replayed.
    pub cases: u64,
    /// Cases in the period the caller may not see: not replayed, not counted
    /// anywhere else, only this number.
    pub hidden: u64,
    /// Cases whose tier, team or deciding rule would differ.
    pub changed: u64,
    pub by_tier: BTreeMap<String, Counts>,
    /// Per team; cases without a team count under `""`.
    pub by_team: BTreeMap<String, Counts>,
    /// The changed cases, oldest first, at most the limit asked for.
    pub changes: Vec<ChangedCase>,
}

/// Routes every case with `route` (the proposed rules) and compares with how it was
/// routed. `cases` yields each case's id, what it was opened with, and its first route.
pub fn simulate<'a>(
    route: impl Fn(&OpenCase) -> RouteDecision,
    cases: impl IntoIterator<Item = (CaseId, &'a OpenCase, Placement)>,
    max_changes: usize,
) -> Simulation {
    let mut sim = Simulation::default();
    for (id, open, before) in cases {
        let decision = route(open);
        let after = Placement {
            tier: decision.actions.tier.clone().unwrap_or_default(),
            team: decision.actions.team.clone(),
            rule_id: decision.rule_id.clone(),
        };
        sim.cases += 1;
        sim.by_tier.entry(before.tier.clone()).or_default().before += 1;
        sim.by_tier.entry(after.tier.clone()).or_default().after += 1;
        let team = |p: &Placement| p.team.clone().unwrap_or_default();
        sim.by_team.entry(team(&before)).or_default().before += 1;
        sim.by_team.entry(team(&after)).or_default().after += 1;
        if before != after {
            sim.changed += 1;
            if sim.changes.len() < max_changes {
                sim.changes.push(ChangedCase {
                    case_id: id,
                    subject: open.subject.clone(),
                    before,
                    after,
                });
            }
        }
    }
    sim
}
