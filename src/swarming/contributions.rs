//! What an agent contributed by helping, for any past period: swarms joined, help
//! offered and accepted, how fast they joined once asked, cases resolved while they
//! helped, and knowledge captured. Deliberately no count of tickets closed: the
//! Intelligent Swarming method values helping, not closing.
//!
//! [`Tally`] folds case events (oldest first, each with its case and time) and
//! counts what happened in `[from, to)`; events at or after `to` are ignored, so a
//! past period reads as the log said then. An event counts in the period it
//! happened in: an invitation sent before `from` and accepted inside it counts as a
//! join inside it, timed from the invitation.

use std::collections::{BTreeMap, HashMap};

use crate::domain::case::Swarm;
use crate::domain::swarming::InvitationStatus;
use crate::domain::{AgentId, Case, CaseEvent, CaseId, Timestamp};

/// One agent's contribution in a period.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Contribution {
    /// Times they became a member of a swarm (joining, or starting one as its lead).
    pub swarms_joined: u32,
    /// Offers of help they made.
    pub help_offered: u32,
    /// Their offers that were accepted (they joined to help).
    pub help_accepted: u32,
    /// Median seconds from being asked (an invitation, or the help request whose
    /// offer was accepted) to joining; `None` without such a join.
    pub median_secs_to_join: Option<f64>,
    /// How many joins `median_secs_to_join` is taken over.
    pub timed_joins: u32,
    /// Cases resolved while they were in the case's swarm, not as its owner.
    pub resolved_while_helping: u32,
    /// Articles they captured.
    pub articles_captured: u32,
}

/// Folds the log for one agent over `[from, to)`.
pub struct Tally {
    agent: AgentId,
    from: Timestamp,
    to: Timestamp,
    /// Each case's state so far (for invitations, requests, members at resolution).
    cases: HashMap<CaseId, Case>,
    /// The last swarm of each case that ended, with the version of its end: its
    /// members when the case was resolved in the same write.
    ended: BTreeMap<CaseId, (u64, Swarm)>,
    out: Contribution,
    waits: Vec<i64>,
    /// The case and time of the last join already timed (accepting help that also
    /// answers an invitation is one join).
    timed: Option<(CaseId, Timestamp)>,
}

impl Tally {
    pub fn new(agent: AgentId, from: Timestamp, to: Timestamp) -> Self {
        Tally {
            agent,
            from,
            to,
            cases: HashMap::new(),
            ended: BTreeMap::new(),
            out: Contribution::default(),
            waits: Vec::new(),
            timed: None,
        }
    }

    /// Applies one event of case `id`, recorded at stream `version` and time `at`.
    /// `counts` says whether the case may be counted (the caller may see it); it is
    /// folded either way.
    pub fn apply(
        &mut self,
        id: CaseId,
        event: &CaseEvent,
        version: u64,
        at: Timestamp,
        counts: bool,
    ) {
        if at >= self.to {
            return;
        }
        let case = self.cases.entry(id).or_default();
        let inside = counts && at >= self.from;
        if inside {
            let me = &self.agent;
            let secs = |since: Timestamp| (at.unix_micros() - since.unix_micros()) / 1_000_000;
            match event {
                CaseEvent::SwarmStarted(e) if &e.lead == me => self.out.swarms_joined += 1,
                CaseEvent::SwarmJoined(e) if &e.agent == me => {
                    self.out.swarms_joined += 1;
                    // Answering an invitation (accepted in the same write, just
                    // before): timed from the invitation.
                    let answered = case
                        .swarming
                        .invitation(me)
                        .filter(|i| i.status == InvitationStatus::Accepted)
                        .filter(|i| i.answered_at == Some(at));
                    if let Some(i) = answered.filter(|_| self.timed != Some((id, at))) {
                        self.waits.push(secs(i.invited_at));
                    }
                }
                CaseEvent::HelpOffered(e) if &e.by == me => self.out.help_offered += 1,
                CaseEvent::HelpAccepted(e) if &e.helper == me => {
                    self.out.help_accepted += 1;
                    let joins = !case.is_swarm_member(me);
                    // Timed from the request, when accepting brings them in.
                    if let Some(r) = case.swarming.help_request(e.request_id).filter(|_| joins) {
                        self.waits.push(secs(r.at));
                        self.timed = Some((id, at));
                    }
                }
                CaseEvent::Resolved(_) => {
                    // Resolving ends the swarm just before, in the same write.
                    let helped = case
                        .swarm
                        .as_ref()
                        .or(last_swarm(&self.ended, id, version))
                        .is_some_and(|s| s.members.contains_key(me));
                    if helped && case.assignee.as_ref() != Some(me) {
                        self.out.resolved_while_helping += 1;
                    }
                }
                CaseEvent::KnowledgeCaptured(e) if &e.by == me => self.out.articles_captured += 1,
                _ => {}
            }
        }
        let case = self.cases.entry(id).or_default();
        if let (CaseEvent::SwarmEnded(_), Some(swarm)) = (event, &case.swarm) {
            self.ended.insert(id, (version, swarm.clone()));
        }
        case.apply(event, version, at);
    }

    pub fn finish(mut self) -> Contribution {
        self.out.timed_joins = u32::try_from(self.waits.len()).unwrap_or(u32::MAX);
        self.out.median_secs_to_join = median(&mut self.waits);
        self.out
    }
}

/// The swarm that ended at the version just before `version`, if any.
fn last_swarm(ended: &BTreeMap<CaseId, (u64, Swarm)>, id: CaseId, version: u64) -> Option<&Swarm> {
    ended
        .get(&id)
        .filter(|(v, _)| v + 1 == version)
        .map(|(_, s)| s)
}

/// The median of `values` (the mean of the two middle ones for an even count).
pub fn median(values: &mut [i64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let n = values.len();
    let mid = n / 2;
    Some(if n % 2 == 1 {
        values[mid] as f64
    } else {
        (values[mid - 1] as f64 + values[mid] as f64) / 2.0
    })
}

#[cfg(test)]
#[path = "contributions_tests.rs"]
mod tests;
