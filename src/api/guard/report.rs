//! Reports through the guard: the tiers a caller may report on come from
//! [`crate::policy::report_tiers`], and only the cases they may read are counted.

use async_graphql::Result;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::{forbidden, Guard};
use crate::api::error::gql;
use crate::app::Visible;
use crate::domain::{Tier, Timestamp};
use crate::policy;
use crate::report::{Report, Scope};

impl Guard {
    /// The report of `[from, to)` for the asked tiers and teams (all when `None`).
    pub async fn report(
        &self,
        from: Timestamp,
        to: Timestamp,
        tiers: Option<Vec<Tier>>,
        teams: Option<Vec<String>>,
        targets: &BTreeMap<Tier, f64>,
    ) -> Result<Report> {
        let ladder = self.app.tiers();
        let tiers = policy::report_tiers(&self.principal, tiers, &ladder).map_err(forbidden)?;
        let scope = Scope {
            tiers: tiers.map(|t| t.into_iter().collect()),
            teams: teams.map(|t| t.into_iter().collect()),
        };
        // Judged on each case's current state, as everywhere else.
        let principal = self.principal.clone();
        let visible: Visible =
            Arc::new(move |case: &crate::domain::Case| policy::can_read(&principal, case, &ladder));
        let report = self
            .app
            .report(from, to, scope, targets.clone(), visible)
            .await
            .map_err(gql)?;
        Ok(report)
    }
}
