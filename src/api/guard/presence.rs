//! The guarded operations of agents' presence: staff of the directory set their own
//! (`setPresence`), staff read everyone's (`presence`).

use async_graphql::Result;

use super::{forbidden, Guard};
use crate::api::error::{bad_input, gql};
use crate::domain::presence::{AgentPresence, Presence};
use crate::domain::AgentId;
use crate::policy;

/// Most agents one `presence` query may name.
pub const MAX_PRESENCE_AGENTS: usize = 100;

impl Guard {
    /// Sets the caller's own presence; returns who they are and their presence after.
    pub async fn set_presence(&self, presence: Presence) -> Result<(AgentId, AgentPresence)> {
        policy::can_set_presence(&self.principal).map_err(forbidden)?;
        let me = &self.principal.actor;
        let after = self.app.set_presence(me, presence).await.map_err(gql)?;
        Ok((me.id.clone(), after))
    }

    /// The presence of `agents` (every agent of the directory when `None`), by id.
    pub fn presence(&self, agents: Option<Vec<AgentId>>) -> Result<Vec<(AgentId, AgentPresence)>> {
        policy::can_see_presence(&self.principal).map_err(forbidden)?;
        let agents = match agents {
            Some(a) if a.len() > MAX_PRESENCE_AGENTS => {
                return Err(bad_input(format!(
                    "at most {MAX_PRESENCE_AGENTS} agents at once"
                )))
            }
            Some(a) => a,
            None => self.app.config().agents.keys().cloned().collect(),
        };
        let p = self.app.projections().read();
        Ok(agents
            .into_iter()
            .map(|a| {
                let state = p.agent_presence(&a);
                (a, state)
            })
            .collect())
    }
}
