//! The `report` query: leads' figures for any past period (see [`crate::report`]).

use async_graphql::{Context, InputObject, Object, Result};
use std::collections::BTreeMap;

use super::error::bad_input;
use super::guard::Guard;
use super::types::DateTime;
use crate::domain::Tier;
use crate::report::{default_targets, Report};

/// The share of resolutions a tier should make (0 to 1).
#[derive(InputObject)]
pub struct TierTargetInput {
    pub tier: String,
    pub share: f64,
}

#[derive(Default)]
pub struct ReportQuery;

#[Object]
impl ReportQuery {
    /// Figures for `[from, to)` as the log says, whatever happened later: volume,
    /// tier shares against their targets (default L1 0.80, L2 0.15, L3 0.05; pass
    /// `targets` to set others), escalation and swarming, SLAs, recurring problems,
    /// load. Leads (their tiers and below), admins and auditors; only cases the
    /// caller may read are counted.
    async fn report(
        &self,
        ctx: &Context<'_>,
        from: DateTime,
        to: DateTime,
        tiers: Option<Vec<String>>,
        teams: Option<Vec<String>>,
        targets: Option<Vec<TierTargetInput>>,
    ) -> Result<Report> {
        if to.0 <= from.0 {
            return Err(bad_input("`to` must be after `from`"));
        }
        let g = Guard::of(ctx)?;
        let tiers = tiers
            .map(|ts| ts.iter().map(|t| g.tier(t)).collect::<Result<Vec<Tier>>>())
            .transpose()?;
        let targets = match targets {
            None => default_targets(),
            Some(ts) => {
                let mut m = BTreeMap::new();
                for t in ts {
                    if !(0.0..=1.0).contains(&t.share) {
                        return Err(bad_input("a target share is between 0 and 1"));
                    }
                    m.insert(g.tier(&t.tier)?, t.share);
                }
                m
            }
        };
        g.report(from.0, to.0, tiers, teams, &targets).await
    }
}
