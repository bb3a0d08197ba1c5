//! An agent's contributions through the guard: who may ask is
//! [`policy::can_see_contributions`], and only the cases the caller may read (as
//! they are now) are counted, as in reports.

use async_graphql::Result;

use super::{forbidden, Guard};
use crate::api::error::gql;
use crate::domain::{AgentId, Timestamp};
use crate::policy;
use crate::swarming::contributions::Contribution;

impl Guard {
    pub async fn contributions(
        &self,
        agent: AgentId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Contribution> {
        policy::can_see_contributions(&self.principal, &agent).map_err(forbidden)?;
        let visible = |id| {
            self.app
                .projections()
                .read()
                .case(id)
                .is_some_and(|v| self.can_read(&v.case))
        };
        self.app
            .contributions(agent, from, to, &visible)
            .await
            .map_err(gql)
    }
}
