//! Agents' presence for the service: each change loads the agent's stream, asks the
//! pure rule of [`crate::domain::presence`] what to append, and appends it with the
//! version it was decided on (a race with another writer decides again), then waits
//! for the projections. The agent sets it (`setPresence`); the server marks an agent
//! away when all their connections are gone, and back when they return
//! ([`crate::presence`] watches the connections).

use super::record::{append_request, Recordable};
use super::{AppError, Desk, MAX_RETRIES};
use crate::domain::presence::{
    self, agent_stream, AgentEvent, AgentPresence, Presence, PresenceSet,
};
use crate::domain::{Actor, AgentId};
use crate::store::ExpectedVersion;

impl Desk {
    /// `agent`'s presence folded from their stream (always current, unlike the projection).
    pub async fn load_presence(&self, agent: &AgentId) -> Result<AgentPresence, AppError> {
        let mut state = AgentPresence::default();
        for r in self
            .store
            .read_stream(&agent_stream(agent), 1, usize::MAX)
            .await?
        {
            state.apply(
                &AgentEvent::from_record(&r)?,
                r.version,
                r.metadata.occurred_at,
            );
        }
        Ok(state)
    }

    /// Runs one presence rule on `agent`'s stream as `by`: appends what it decides
    /// (if anything) and returns the presence after it.
    async fn change_presence(
        &self,
        by: &Actor,
        agent: &AgentId,
        rule: impl Fn(&AgentPresence) -> Option<PresenceSet>,
    ) -> Result<AgentPresence, AppError> {
        let mut attempts = 0;
        loop {
            let mut state = self.load_presence(agent).await?;
            let Some(set) = rule(&state) else {
                return Ok(state);
            };
            let event = AgentEvent::PresenceSet(set);
            let now = self.clock.now();
            let request = append_request(
                &agent_stream(agent),
                ExpectedVersion::Exact(state.version),
                by,
                now,
                std::slice::from_ref(&event),
            );
            match self.store.append(request).await {
                Ok(outcome) => {
                    self.projections.wait_for(outcome.last_position).await?;
                    state.apply(&event, outcome.last_version, now);
                    return Ok(state);
                }
                Err(crate::store::StoreError::VersionConflict { .. }) if attempts < MAX_RETRIES => {
                    attempts += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// `by` sets their own presence (they must be an agent of the directory).
    pub async fn set_presence(
        &self,
        by: &Actor,
        presence: Presence,
    ) -> Result<AgentPresence, AppError> {
        if !self.config().agents.contains_key(&by.id) {
            return Err(AppError::Invalid(format!(
                "`{}` is not an agent of the directory",
                by.id
            )));
        }
        self.change_presence(by, &by.id, |s| presence::set_by_agent(s, presence))
            .await
    }

    /// The server marks `agent` away (all their connections gone for a while),
    /// unless they already are.
    pub async fn mark_away(&self, agent: &AgentId) -> Result<AgentPresence, AppError> {
        self.change_presence(&Actor::system(), agent, presence::mark_away)
            .await
    }

    /// `agent` is connected again: an automatic away returns to what it replaced.
    pub async fn restore_presence(&self, agent: &AgentId) -> Result<AgentPresence, AppError> {
        self.change_presence(&Actor::system(), agent, presence::restore)
            .await
    }
}
