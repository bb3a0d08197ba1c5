//! The routing tools: `previewRoute` (which rule would route a case, and why) and
//! `simulateRules` (how a proposed rule set would have routed past cases), with the
//! case-to-route conversion they share with `openCase`.

use async_graphql::{Result, SimpleObject, ID};

use super::rules::{RuleActionsObj, RuleSetInput};
use crate::api::error::bad_input;
use crate::api::types::OpenCaseInput;
use crate::config::Config;
use crate::domain::{CaseId, Customer, OpenCase};
use crate::routing::simulate::{Counts, Placement, Simulation};
use crate::routing::RuleSet;

/// Most changed cases a simulation lists.
pub(super) const MAX_CHANGES: usize = 200;

/// The domain's view of a case to route, from the API's input.
pub(crate) fn open_case(input: OpenCaseInput, customer_id: String) -> OpenCase {
    OpenCase {
        case_id: CaseId(ulid::Ulid::nil()),
        subject: input.subject,
        body: input.body,
        channel: input.channel.into(),
        customer: Customer {
            id: customer_id,
            name: input.customer.name,
            segment: input.customer.segment.into(),
            key_account: input.customer.key_account,
        },
        language: input.language,
        priority: input.priority.into(),
        tags: input.tags,
        requested_priority: None,
    }
}

/// Which rule would route `open`: by the draft `rules` when given (refused unless
/// valid against the configuration in force), else by the rule set in force.
pub(super) fn preview(
    config: &Config,
    open: &OpenCase,
    rules: Option<RuleSetInput>,
) -> Result<RoutePreview> {
    let decision = match rules {
        Some(r) => {
            let compiled = config
                .compile_draft(&RuleSet::from(r))
                .map_err(|e| bad_input(e.to_string()))?;
            config.route_with(&compiled, open)
        }
        None => config.route(open),
    };
    Ok(RoutePreview {
        rule_id: decision.rule_id,
        rule_name: decision.rule_name,
        rule_set_version: decision.rule_set_version,
        actions: (&decision.actions).into(),
        explanation: decision.explanation,
    })
}

/// Which rule would route a case, and why.
#[derive(SimpleObject)]
pub struct RoutePreview {
    /// The matching rule; null when the default route applies.
    pub rule_id: Option<String>,
    pub rule_name: Option<String>,
    pub rule_set_version: u64,
    pub actions: RuleActionsObj,
    /// One line per rule checked, in order, then the route taken.
    pub explanation: Vec<String>,
}

/// Where a case went, or would go.
#[derive(SimpleObject)]
pub struct PlacementObj {
    pub tier: String,
    pub team: Option<String>,
    pub rule_id: Option<String>,
}

impl From<&Placement> for PlacementObj {
    fn from(p: &Placement) -> Self {
        PlacementObj {
            tier: p.tier.clone(),
            team: p.team.clone(),
            rule_id: p.rule_id.clone(),
        }
    }
}

#[derive(SimpleObject)]
pub struct ChangedCaseObj {
    pub case_id: ID,
    pub subject: String,
    pub before: PlacementObj,
    pub after: PlacementObj,
}

/// Cases per tier or team: as routed, and as the proposed rules would route them.
#[derive(SimpleObject)]
pub struct RoutingCount {
    /// A tier or team name (`""` for cases without a team).
    pub name: String,
    pub before: u64,
    pub after: u64,
}

fn counts(m: &std::collections::BTreeMap<String, Counts>) -> Vec<RoutingCount> {
    m.iter()
        .map(|(name, c)| RoutingCount {
            name: name.clone(),
            before: c.before,
            after: c.after,
        })
        .collect()
}

/// How a proposed rule set would have routed the cases of a past period.
#[derive(SimpleObject)]
pub struct SimulationReport {
    /// Cases replayed: those opened in the period that you may see.
    pub cases: u64,
    /// Cases opened in the period that you may not see: not replayed, and counted
    /// nowhere else in this report.
    pub hidden_cases: u64,
    /// Cases whose tier, team or deciding rule would differ.
    pub changed: u64,
    pub by_tier: Vec<RoutingCount>,
    pub by_team: Vec<RoutingCount>,
    /// The changed cases, oldest first (at most 200).
    pub changes: Vec<ChangedCaseObj>,
}

impl From<Simulation> for SimulationReport {
    fn from(s: Simulation) -> Self {
        SimulationReport {
            cases: s.cases,
            hidden_cases: s.hidden,
            changed: s.changed,
            by_tier: counts(&s.by_tier),
            by_team: counts(&s.by_team),
            changes: s
                .changes
                .iter()
                .map(|c| ChangedCaseObj {
                    case_id: ID(c.case_id.to_string()),
                    subject: c.subject.clone(),
                    before: (&c.before).into(),
                    after: (&c.after).into(),
                })
                .collect(),
        }
    }
}
