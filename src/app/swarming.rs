//! Swarming's work for the service: the expert finder fed from the directory and the
//! projections (loads, presence, past help), expiring invitations that fell due (the scheduler's sweep calls it,
//! appending each `InvitationExpired` once, like SLA breaches), and inviting the
//! finder's next best when an invitation asked for a replacement (`autoReplace`) is
//! declined or expires.

use tracing::debug;

use super::{AppError, Desk, WriteOptions};
use crate::domain::swarming::decide::{InviteToSwarm, Invitee};
use crate::domain::swarming::{Invitation, InvitationStatus};
use crate::domain::{Actor, AgentId, Case, CaseId, Command, DomainError};
use crate::projection::CaseFilter;
use crate::swarming::experts::{self, Expert, Facts, Suggestion};

impl Desk {
    /// The finder's suggestions for `case` ([`experts::suggest`]): the directory as
    /// experts (their tiers include their teams'), loads from the workload
    /// projection, past help from every projected case, and the rapid-responder
    /// rotation as it stands on the clock now.
    pub fn suggest_experts(
        &self,
        case: &Case,
        max: usize,
        include_unavailable: bool,
    ) -> Vec<Suggestion> {
        let config = self.config();
        let directory: Vec<Expert> = config
            .agents
            .values()
            .map(|a| Expert {
                id: a.id.clone(),
                name: a.name.clone(),
                tiers: config.agent_tiers(&a.id),
                skills: a.skills.iter().map(|s| s.to_lowercase()).collect(),
                languages: a.languages.clone(),
                capacity: a.max_cases,
            })
            .collect();
        let p = self.projections().read();
        let loads = directory
            .iter()
            .map(|e| {
                let n = p.workload(&e.id).map_or(0, |w| w.assigned.len());
                (e.id.clone(), u32::try_from(n).unwrap_or(u32::MAX))
            })
            .collect();
        let (all, _) = p.cases(&CaseFilter::default(), None, usize::MAX);
        let past = experts::past_contributions(case, all.iter().map(|v| &v.case));
        let presence = directory
            .iter()
            .map(|e| (e.id.clone(), p.presence(&e.id)))
            .collect();
        let facts = Facts {
            loads,
            presence,
            past,
            include_unavailable,
            rotation: config.rapid_rotation.order_at(self.clock().now()),
        };
        experts::suggest(case, &directory, &facts, &self.tiers(), max)
    }

    /// Appends `InvitationExpired` for every pending invitation past its expiry, then
    /// replaces those that asked for it. Returns how many expired.
    pub async fn expire_invitations(&self) -> Result<usize, AppError> {
        let now = self.clock().now();
        let due: Vec<(CaseId, Vec<AgentId>)> = {
            let p = self.projections().read();
            p.open_cases()
                .filter(|c| c.swarming.next_expiry().is_some_and(|t| t <= now))
                .filter_map(|c| Some((c.id?, c.swarming.expired_at(now))))
                .collect()
        };
        let system = Actor::system();
        let mut expired = 0;
        for (id, agents) in due {
            for agent in agents {
                let command = Command::ExpireInvitation {
                    agent: agent.clone(),
                };
                match self
                    .execute(&system, id, command, WriteOptions::default())
                    .await
                {
                    Ok(w) => {
                        expired += 1;
                        if let Some(inv) = w.case.swarming.invitation(&agent) {
                            self.replace_invitee(id, inv.clone()).await?;
                        }
                    }
                    // Answered or expired meanwhile: nothing to do.
                    Err(AppError::Domain(e @ DomainError::InvalidTransition { .. })) => {
                        debug!(case = %id, reason = %e, "invitation no longer due to expire")
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(expired)
    }

    /// After `answered` was declined or expired: if it asked for a replacement,
    /// invites the finder's best agent never invited to the case, preferring one who
    /// has a needed skill the answered invitee had, with the same note and expiry
    /// window. Returns whom it invited.
    pub async fn replace_invitee(
        &self,
        id: CaseId,
        answered: Invitation,
    ) -> Result<Option<AgentId>, AppError> {
        let ended = matches!(
            answered.status,
            InvitationStatus::Declined | InvitationStatus::Expired
        );
        if !answered.auto_replace || !ended {
            return Ok(None);
        }
        let case = self.load(id).await?;
        // The needed skills the answered invitee had: a replacement covering one of
        // them comes first.
        let theirs: Vec<String> = self
            .config()
            .agents
            .get(&answered.agent)
            .map(|a| {
                a.skills
                    .iter()
                    .map(|s| s.to_lowercase())
                    .filter(|s| case.swarming.skills.contains(s))
                    .collect()
            })
            .unwrap_or_default();
        let fresh: Vec<Suggestion> = self
            .suggest_experts(&case, usize::MAX, false)
            .into_iter()
            .filter(|s| case.swarming.invitation(&s.agent).is_none())
            .collect();
        let same_skill = fresh
            .iter()
            .position(|s| s.covers.iter().any(|c| theirs.contains(c)));
        let pick = fresh.into_iter().nth(same_skill.unwrap_or(0));
        let Some(pick) = pick else {
            return Ok(None);
        };
        let minutes = answered.expires_at.map(|e| {
            let secs = (e.unix_micros() - answered.invited_at.unix_micros()) / 1_000_000;
            u32::try_from(secs / 60).unwrap_or(u32::MAX).max(1)
        });
        let command = Command::InviteToSwarm(InviteToSwarm {
            invitees: vec![Invitee {
                tiers: self.config().agent_tiers(&pick.agent),
                agent: pick.agent.clone(),
            }],
            note: answered.note,
            auto_replace: true,
            expires_after_mins: minutes,
            reason: None,
        });
        match self
            .execute(&Actor::system(), id, command, WriteOptions::default())
            .await
        {
            Ok(_) => Ok(Some(pick.agent)),
            Err(AppError::Domain(e @ DomainError::InvalidTransition { .. })) => {
                debug!(case = %id, reason = %e, "no replacement invited");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}
