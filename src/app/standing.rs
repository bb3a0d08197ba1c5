//! Standing swarms for the service: an agent joins or leaves a team's `DISPATCH` or
//! `BACKLOG` swarm. Each change loads the swarm's stream, asks the pure rule of
//! [`crate::domain::standing`] what to append, appends it with the version it was
//! decided on (a race with another writer decides again), then waits for the
//! projections, so the caller's next read of the queue already counts them in.

use super::record::{append_request, Recordable};
use super::{AppError, Desk, MAX_RETRIES};
use crate::domain::standing::{self, standing_stream, StandingEvent, StandingKind, StandingSwarm};
use crate::domain::{Actor, AgentId};
use crate::store::ExpectedVersion;

impl Desk {
    /// `team`'s standing swarm of `kind` folded from its stream (always current).
    pub async fn load_standing(
        &self,
        team: &str,
        kind: StandingKind,
    ) -> Result<StandingSwarm, AppError> {
        let mut state = StandingSwarm::default();
        for r in self
            .store
            .read_stream(&standing_stream(team, kind), 1, usize::MAX)
            .await?
        {
            state.apply(&StandingEvent::from_record(&r)?, r.version);
        }
        Ok(state)
    }

    /// `by` joins (`join: true`) or leaves `team`'s standing swarm of `kind`; returns
    /// the swarm after it. Joining as a member or leaving as a non-member writes
    /// nothing. Who may is the guard's question; the team must exist.
    pub async fn change_standing(
        &self,
        by: &Actor,
        team: &str,
        kind: StandingKind,
        join: bool,
    ) -> Result<StandingSwarm, AppError> {
        if !self.config().teams.contains_key(team) {
            return Err(AppError::Invalid(format!("unknown team `{team}`")));
        }
        let agent: &AgentId = &by.id;
        let mut attempts = 0;
        loop {
            let mut state = self.load_standing(team, kind).await?;
            let decided = if join {
                standing::join(&state, agent)
            } else {
                standing::leave(&state, agent)
            };
            let Some(event) = decided else {
                return Ok(state);
            };
            let request = append_request(
                &standing_stream(team, kind),
                ExpectedVersion::Exact(state.version),
                by,
                self.clock.now(),
                std::slice::from_ref(&event),
            );
            match self.store.append(request).await {
                Ok(outcome) => {
                    self.projections.wait_for(outcome.last_position).await?;
                    state.apply(&event, outcome.last_version);
                    return Ok(state);
                }
                Err(crate::store::StoreError::VersionConflict { .. }) if attempts < MAX_RETRIES => {
                    attempts += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}
