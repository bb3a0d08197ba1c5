//! The guarded operations of intelligent swarming: the expert finder, invitations
//! (with the invitees' tiers looked up in the directory), help requests and the
//! caller's own invitations. Commands go through [`Guard::execute`], so the policy
//! decides on the state being written.

use async_graphql::Result;

use super::{forbidden, Guard};
use crate::api::error::{bad_input, not_found};
use crate::app::{WriteOptions, Written};
use crate::domain::swarming::decide::{InviteToSwarm, Invitee};
use crate::domain::swarming::{HelpRequest, HelpStatus, Invitation};
use crate::domain::{AgentId, CaseId, Command, Role};
use crate::swarming::experts::Suggestion;

/// Most suggestions one request may ask for.
pub const MAX_SUGGESTIONS: usize = 50;

impl Guard {
    /// Staff only; and the case must be one the caller may see.
    fn visible_to_staff(&self, id: CaseId) -> Result<crate::domain::Case> {
        self.require_staff()?;
        let p = self.app.projections().read();
        p.case(id)
            .filter(|v| self.can_read(&v.case))
            .map(|v| v.case.clone())
            .ok_or_else(|| not_found(format!("case {id}")))
    }

    /// The case's state for `caseSwarming` (staff who may see it), with the
    /// status-update interval in seconds.
    pub fn swarming_of(&self, id: CaseId) -> Result<(crate::domain::Case, i64)> {
        let case = self.visible_to_staff(id)?;
        let every = i64::try_from(self.app.status_update_interval().as_secs()).unwrap_or(i64::MAX);
        Ok((case, every))
    }

    /// Up to `max` agents to invite to the case, best first ([`experts::suggest`]).
    pub fn suggest_experts(
        &self,
        id: CaseId,
        max: usize,
        include_unavailable: bool,
    ) -> Result<Vec<Suggestion>> {
        if max > MAX_SUGGESTIONS {
            return Err(bad_input(format!("max is at most {MAX_SUGGESTIONS}")));
        }
        let case = self.visible_to_staff(id)?;
        Ok(self.app.suggest_experts(&case, max, include_unavailable))
    }

    /// Invites agents of the directory to the case's swarm; an agent the directory
    /// does not list is `BAD_USER_INPUT`.
    #[allow(clippy::too_many_arguments)]
    pub async fn invite_to_swarm(
        &self,
        id: CaseId,
        agents: Vec<AgentId>,
        note: String,
        auto_replace: bool,
        expires_after_mins: Option<u32>,
        reason: Option<String>,
        opts: WriteOptions,
    ) -> Result<Written> {
        // Auditors are read-only, whatever the case; an invisible case answers as a
        // missing one, before the directory is asked.
        if self.principal.actor.role == Role::Auditor {
            return Err(forbidden("auditors are read-only".into()));
        }
        self.require_visible(id)?;
        let config = self.app.config();
        let mut invitees = Vec::with_capacity(agents.len());
        for agent in agents {
            if !config.agents.contains_key(&agent) {
                return Err(bad_input(format!(
                    "`{agent}` is not an agent of the directory"
                )));
            }
            invitees.push(Invitee {
                tiers: config.agent_tiers(&agent),
                agent,
            });
        }
        let command = Command::InviteToSwarm(InviteToSwarm {
            invitees,
            note,
            auto_replace,
            expires_after_mins,
            reason,
        });
        self.execute(id, command, opts).await
    }

    /// The caller declines their invitation; if the inviter asked for it, the
    /// finder's next best is invited in their place.
    pub async fn decline_invitation(
        &self,
        id: CaseId,
        reason: String,
        opts: WriteOptions,
    ) -> Result<Written> {
        let w = self
            .execute(id, Command::DeclineInvitation { reason }, opts)
            .await?;
        let me = &self.principal.actor.id;
        if let Some(inv) = w.case.swarming.invitation(me) {
            if !w.outcome.deduplicated {
                self.app
                    .replace_invitee(id, inv.clone())
                    .await
                    .map_err(crate::api::error::gql)?;
            }
        }
        Ok(w)
    }

    /// The caller's pending invitations, oldest first.
    pub fn my_invitations(&self) -> Result<Vec<(CaseId, Invitation)>> {
        if !matches!(self.principal.actor.role, Role::Agent | Role::Lead) {
            return Err(forbidden("only agents and leads are invited".into()));
        }
        let me = &self.principal.actor.id;
        let p = self.app.projections().read();
        let mut out: Vec<(CaseId, Invitation)> = p
            .open_cases()
            .filter(|c| c.swarming.is_invited(me) && self.can_read(c))
            .filter_map(|c| Some((c.id?, c.swarming.invitation(me)?.clone())))
            .collect();
        out.sort_by_key(|(id, i)| (i.invited_at, *id));
        Ok(out)
    }

    /// Open help requests on cases the caller may see (one case's, when given),
    /// oldest first. An agent in the directory sees the requests that ask for one of
    /// their skills (or for none in particular); leads and admins see all.
    pub fn help_requests(&self, only: Option<CaseId>) -> Result<Vec<(CaseId, HelpRequest)>> {
        self.require_staff()?;
        let config = self.app.config();
        let skills: Option<Vec<String>> = match self.principal.actor.role {
            Role::Agent => config
                .agents
                .get(&self.principal.actor.id)
                .map(|a| a.skills.iter().map(|s| s.to_lowercase()).collect()),
            _ => None,
        };
        let wanted = |r: &HelpRequest| match &skills {
            Some(mine) => r.skills.is_empty() || r.skills.iter().any(|s| mine.contains(s)),
            None => true,
        };
        let p = self.app.projections().read();
        let mut out: Vec<(CaseId, HelpRequest)> = p
            .open_cases()
            .filter(|c| only.is_none() || c.id == only)
            .filter(|c| self.can_read(c))
            .flat_map(|c| {
                let id = c.id;
                c.swarming
                    .help_requests
                    .iter()
                    .filter(|r| r.status == HelpStatus::Open)
                    .filter(|r| wanted(r) || r.by == self.principal.actor.id)
                    .filter_map(move |r| Some((id?, r.clone())))
            })
            .collect();
        out.sort_by_key(|(id, r)| (r.at, *id, r.id));
        Ok(out)
    }
}
