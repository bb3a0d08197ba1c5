//! Agents' presence in the API: `setPresence` (staff of the directory set their own) and
//! `presence` (staff read everyone's). The expert finder reads the same projection.

use async_graphql::{Context, Enum, Object, Result, SimpleObject};

use super::config::agent_id;
use super::guard::Guard;
use super::swarming::Presence;
use super::types::DateTime;
use crate::domain::presence::{self as domain, AgentPresence as State};
use crate::domain::AgentId;

/// Who last changed an agent's presence.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "domain::PresenceSource")]
pub enum PresenceSource {
    /// The agent, with `setPresence`.
    Agent,
    /// The server: all the agent's connections were gone for the configured time.
    Disconnected,
    /// The server: the agent connected again after an automatic `AWAY`.
    Reconnected,
}

/// An agent's presence.
#[derive(SimpleObject, Clone, Debug)]
pub struct AgentPresence {
    pub agent: String,
    pub presence: Presence,
    /// Who set it; `null` when it was never set (every agent starts `AVAILABLE`).
    pub source: Option<PresenceSource>,
    /// When it last changed.
    pub since: Option<DateTime>,
    /// `AWAY` set by the server, undone when the agent connects again.
    pub automatic: bool,
}

impl AgentPresence {
    fn new(agent: &AgentId, s: &State) -> Self {
        AgentPresence {
            agent: agent.to_string(),
            presence: s.presence.into(),
            source: s.source.map(Into::into),
            since: s.since.map(DateTime),
            automatic: s.is_automatic_away(),
        }
    }
}

#[derive(Default)]
pub struct PresenceQuery;

#[Object]
impl PresenceQuery {
    /// The presence of the named agents (at most 100), or of every agent of the
    /// directory. Staff only.
    async fn presence(
        &self,
        ctx: &Context<'_>,
        agents: Option<Vec<String>>,
    ) -> Result<Vec<AgentPresence>> {
        let g = Guard::of(ctx)?;
        let agents = match agents {
            Some(list) => Some(
                list.iter()
                    .map(|a| agent_id(a))
                    .collect::<Result<Vec<_>>>()?,
            ),
            None => None,
        };
        Ok(g.presence(agents)?
            .iter()
            .map(|(a, s)| AgentPresence::new(a, s))
            .collect())
    }
}

#[derive(Default)]
pub struct PresenceMutation;

#[Object]
impl PresenceMutation {
    /// Sets the caller's presence (staff listed in the agent directory). The expert
    /// finder proposes only `AVAILABLE` agents unless asked otherwise. Setting the
    /// presence one already chose writes nothing.
    async fn set_presence(&self, ctx: &Context<'_>, status: Presence) -> Result<AgentPresence> {
        let g = Guard::of(ctx)?;
        let (me, state) = g.set_presence(status.into()).await?;
        Ok(AgentPresence::new(&me, &state))
    }
}
