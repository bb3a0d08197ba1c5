//! The expert finder: a pure, deterministic function from a case, the directory and
//! what the log says about agents (load, presence, past help) to a ranked, explained
//! list of agents to invite.
//!
//! 1. Eligible: not already in the swarm or invited, tiers that reach the case's tier
//!    (an L3 agent may help on an L2 case, not the reverse), load below capacity,
//!    and available unless unavailable agents are asked for too.
//! 2. Greedy set cover of the case's needed skills: repeatedly the eligible agent
//!    covering the most still-uncovered skills (ties: speaks the case's language,
//!    lower load ratio, more past contribution, smaller id).
//! 3. Then every other eligible agent with a needed skill, ranked by skills covered,
//!    language, load ratio, past contribution and id.
//! 4. No needed skills, or nobody has one: the least loaded eligible agents who
//!    work the case's own tier.
//!
//! A `SEVERITY_1` swarm gets its rapid responder first: walking the rotation from
//! the responder on call ([`Facts::rotation`]), the first eligible one is proposed
//! ahead of everyone, covering what they cover; a responder already in the swarm
//! or invited means the swarm has one, and none is proposed.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use crate::domain::{AgentId, Case, Tier, TierLadder};

pub use crate::domain::presence::Presence;

/// An agent of the directory as the finder sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expert {
    pub id: AgentId,
    pub name: String,
    /// Every tier they work (their own and their teams').
    pub tiers: Vec<Tier>,
    pub skills: Vec<String>,
    pub languages: Vec<String>,
    /// Most open cases assigned at once.
    pub capacity: u32,
}

/// What the log says about agents, and what the caller asks for.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// Open cases assigned to each agent (absent: none).
    pub loads: BTreeMap<AgentId, u32>,
    /// Each agent's presence (absent: available).
    pub presence: BTreeMap<AgentId, Presence>,
    /// How often each agent helped on similar past cases ([`past_contributions`]).
    pub past: BTreeMap<AgentId, u32>,
    /// Propose busy and away agents too.
    pub include_unavailable: bool,
    /// The rapid-responder rotation, the responder on call first then the next in
    /// rotation (`RapidRotation::order_at`): used for `SEVERITY_1` swarms.
    pub rotation: Vec<AgentId>,
}

/// One proposed agent, with the facts that put them there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suggestion {
    pub agent: AgentId,
    pub name: String,
    /// The needed skills they have (those they were picked to cover come first).
    pub covers: Vec<String>,
    pub load: u32,
    pub capacity: u32,
    pub languages: Vec<String>,
    pub presence: Presence,
    pub past_contribution: u32,
    /// One line: why this agent.
    pub why: String,
}

struct Candidate<'a> {
    expert: &'a Expert,
    load: u32,
    presence: Presence,
    past: u32,
    speaks: bool,
    has: BTreeSet<&'a str>,
}

impl Candidate<'_> {
    /// Lower load ratio first (`load / capacity`, compared by cross-multiplying), then
    /// more past contribution, then the smaller id.
    fn fairness(&self, other: &Self) -> Ordering {
        let mine = u64::from(self.load) * u64::from(other.expert.capacity.max(1));
        let theirs = u64::from(other.load) * u64::from(self.expert.capacity.max(1));
        mine.cmp(&theirs)
            .then(other.past.cmp(&self.past))
            .then(self.expert.id.cmp(&other.expert.id))
    }
}

/// Up to `max` agents to invite to `case`, best first.
pub fn suggest(
    case: &Case,
    directory: &[Expert],
    facts: &Facts,
    ladder: &TierLadder,
    max: usize,
) -> Vec<Suggestion> {
    if max == 0 {
        return Vec::new();
    }
    let needed: BTreeSet<&str> = case.swarming.skills.iter().map(String::as_str).collect();
    let case_rank = case.tier.as_ref().and_then(|t| ladder.rank(t));
    let mut pool: Vec<Candidate<'_>> = directory
        .iter()
        .filter(|e| !case.is_swarm_member(&e.id) && !case.swarming.is_invited(&e.id))
        .filter(|e| {
            let reach = e.tiers.iter().filter_map(|t| ladder.rank(t)).max();
            match case_rank {
                None => true,
                Some(c) => reach.is_some_and(|r| r >= c),
            }
        })
        .map(|e| Candidate {
            expert: e,
            load: facts.loads.get(&e.id).copied().unwrap_or(0),
            presence: facts.presence.get(&e.id).copied().unwrap_or_default(),
            past: facts.past.get(&e.id).copied().unwrap_or(0),
            speaks: e
                .languages
                .iter()
                .any(|l| l.eq_ignore_ascii_case(&case.language)),
            has: e
                .skills
                .iter()
                .map(String::as_str)
                .filter(|s| needed.contains(s))
                .collect(),
        })
        .filter(|c| c.load < c.expert.capacity)
        .filter(|c| facts.include_unavailable || c.presence == Presence::Available)
        .collect();
    // A stable starting order, so every tie below resolves the same way.
    pool.sort_by(|a, b| a.expert.id.cmp(&b.expert.id));

    let mut out = Vec::new();
    let mut uncovered = needed.clone();
    if let Some((i, mut why)) = rapid_responder(case, &pool, &facts.rotation) {
        let c = pool.remove(i);
        if !c.has.is_empty() {
            let has: Vec<&str> = c.has.iter().copied().collect();
            why.push_str(&format!(", covers {}", has.join(", ")));
        }
        for s in &c.has {
            uncovered.remove(s);
        }
        out.push(suggestion(&c, why, case));
        if out.len() >= max {
            return out;
        }
    }
    while !uncovered.is_empty() && out.len() < max {
        let best = pool
            .iter()
            .enumerate()
            .filter(|(_, c)| c.has.iter().any(|s| uncovered.contains(s)))
            .min_by(|(_, a), (_, b)| {
                let gain = |c: &Candidate<'_>| c.has.intersection(&uncovered).count();
                gain(b)
                    .cmp(&gain(a))
                    .then(b.speaks.cmp(&a.speaks))
                    .then(a.fairness(b))
            })
            .map(|(i, _)| i);
        let Some(i) = best else { break };
        let c = pool.remove(i);
        let picked: Vec<String> = c
            .has
            .intersection(&uncovered)
            .map(|s| s.to_string())
            .collect();
        for s in &picked {
            uncovered.remove(s.as_str());
        }
        let why = format!("covers {}", picked.join(", "));
        out.push(suggestion(&c, why, case));
    }
    // The greedy step picks someone whenever anyone has a needed skill.
    if out.iter().any(|s| !s.covers.is_empty()) {
        let mut rest: Vec<&Candidate<'_>> = pool.iter().filter(|c| !c.has.is_empty()).collect();
        rest.sort_by(|a, b| {
            b.has
                .len()
                .cmp(&a.has.len())
                .then(b.speaks.cmp(&a.speaks))
                .then(a.fairness(b))
        });
        for c in rest.into_iter().take(max.saturating_sub(out.len())) {
            let why = format!(
                "also has {} (already covered)",
                c.has.iter().copied().collect::<Vec<_>>().join(", ")
            );
            out.push(suggestion(c, why, case));
        }
        return out;
    }
    // Degraded: nobody to cover skills with; the least loaded in the case's tier.
    let mut in_tier: Vec<&Candidate<'_>> = pool
        .iter()
        .filter(|c| {
            case.tier
                .as_ref()
                .is_none_or(|t| c.expert.tiers.contains(t))
        })
        .collect();
    in_tier.sort_by(|a, b| a.fairness(b));
    let tier = case.tier.as_ref().map_or("any tier", |t| t.as_str());
    let because = if needed.is_empty() {
        "the case needs no particular skill"
    } else {
        "nobody available has a needed skill"
    };
    out.extend(
        in_tier
            .into_iter()
            .take(max - out.len())
            .map(|c| suggestion(c, format!("least loaded in {tier} ({because})"), case)),
    );
    out
}

/// For a `SEVERITY_1` swarm: the index in `pool` of the first eligible responder
/// walking the rotation from the one on call, and why. `None` for other swarms,
/// without a rotation, when a responder is already in the swarm or invited, or
/// when none is eligible.
fn rapid_responder(
    case: &Case,
    pool: &[Candidate<'_>],
    rotation: &[AgentId],
) -> Option<(usize, String)> {
    use crate::domain::swarming::SwarmType;
    if case.swarming.swarm_type != SwarmType::Severity1 {
        return None;
    }
    let on_call = rotation.first()?;
    if rotation
        .iter()
        .any(|a| case.is_swarm_member(a) || case.swarming.is_invited(a))
    {
        return None;
    }
    for agent in rotation {
        if let Some(i) = pool.iter().position(|c| &c.expert.id == agent) {
            let why = if agent == on_call {
                "rapid responder on call".to_string()
            } else {
                format!("next rapid responder in rotation (on call: {on_call}, not eligible now)")
            };
            return Some((i, why));
        }
    }
    None
}

fn suggestion(c: &Candidate<'_>, why: String, case: &Case) -> Suggestion {
    let e = c.expert;
    let mut why = format!("{why}; {} of {} cases", c.load, e.capacity);
    if c.speaks {
        why.push_str(&format!("; speaks {}", case.language));
    }
    if c.past > 0 {
        why.push_str(&format!("; helped on {} similar case(s)", c.past));
    }
    if c.presence != Presence::Available {
        why.push_str(&format!("; {}", c.presence.as_str().to_lowercase()));
    }
    Suggestion {
        agent: e.id.clone(),
        name: e.name.clone(),
        covers: c.has.iter().map(|s| s.to_string()).collect(),
        load: c.load,
        capacity: e.capacity,
        languages: e.languages.clone(),
        presence: c.presence,
        past_contribution: c.past,
        why,
    }
}

/// How often each agent helped on cases similar to `case` (sharing a needed skill or
/// a tag; the case itself excluded): accepted invitations and accepted help offers.
pub fn past_contributions<'a>(
    case: &Case,
    others: impl IntoIterator<Item = &'a Case>,
) -> BTreeMap<AgentId, u32> {
    use crate::domain::swarming::{HelpStatus, InvitationStatus};
    let mut out: BTreeMap<AgentId, u32> = BTreeMap::new();
    for other in others {
        if other.id == case.id {
            continue;
        }
        let similar = other
            .swarming
            .skills
            .iter()
            .any(|s| case.swarming.skills.contains(s))
            || other.tags.iter().any(|t| case.tags.contains(t));
        if !similar {
            continue;
        }
        let joined = other
            .swarming
            .invitations
            .values()
            .filter(|i| i.status == InvitationStatus::Accepted)
            .map(|i| &i.agent);
        let helped = other
            .swarming
            .help_requests
            .iter()
            .filter(|r| r.status == HelpStatus::Accepted)
            .filter_map(|r| r.helper.as_ref());
        for a in joined.chain(helped) {
            *out.entry(a.clone()).or_default() += 1;
        }
    }
    out
}

#[cfg(test)]
#[path = "experts_tests.rs"]
mod tests;
