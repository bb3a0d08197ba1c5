//! Reports for support leads, computed from the log for any past period: volume,
//! tier shares against their targets (80/15/5 by default), escalation paths and
//! ping-pong, swarming against chain escalation, SLA times and breaches, recurring
//! problems, and agent and team load. A report for `[from, to)` counts every event
//! before `to` and ignores the rest, so it reads exactly as the log said then, however
//! the cases went on. [`fold`] gets each case's figures by a scan of the log (the
//! command line, and the reference); [`fast`] reads them from the live facts
//! projection (the server); both hand [`build_rows`] the same [`Row`]s.
//!
//! The report is a read model, not the domain: its types (`model.rs`) are also the GraphQL
//! objects (`SimpleObject`) and the JSON form (`Serialize`), so the three forms of
//! one report cannot disagree. [`csv`] writes the same figures as rows.
//!
//! Definitions (also in the README):
//! - times are wall-clock seconds; percentiles are nearest-rank;
//! - a case resolved on first contact was resolved at the tier it was first routed
//!   to, without escalation, hand-off or reopening;
//! - ping-pong: moved between tiers more than once, at least once in each direction;
//! - among cases resolved in the period, *swarmed* had a swarm (escalated or not),
//!   *escalated* went up the chain without one, *neither* stayed where routed;
//! - hand-offs: tier changes plus new assignees after the first.

pub mod csv;
pub mod fast;
pub mod fold;
pub mod html;
mod model;
pub mod table;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::domain::{Case, CaseId, Priority, Status, Tier, Timestamp};
use fold::{count, Fact, Tally, Track};
pub use model::*;

/// Which cases a report covers: those whose tier (at the end of the period) and
/// team are among these (all when `None`) and that `visible` accepts.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub tiers: Option<BTreeSet<Tier>>,
    pub teams: Option<BTreeSet<String>>,
}

/// The share of resolutions each tier should make. Default: L1 80%, L2 15%, L3 5%.
pub fn default_targets() -> BTreeMap<Tier, f64> {
    [("L1", 0.80), ("L2", 0.15), ("L3", 0.05)]
        .into_iter()
        .map(|(t, s)| (Tier::new(t), s))
        .collect()
}

/// How many rows each ranked list holds.
const TOP: usize = 10;

const COMMON_WORDS: &[&str] = &[
    "with", "from", "that", "this", "have", "when", "after", "what", "your", "cannot", "does",
    "will", "into", "been", "there", "their", "about", "still", "over", "only", "some", "they",
];

/// One case as the report's figures read it, however it was folded: by the scan
/// ([`fold::Folder`]) or from the live facts projection ([`fast`]).
#[derive(Clone, Debug)]
pub struct Row<'a> {
    pub id: CaseId,
    /// The case as it was at the end of the period.
    pub case: &'a Case,
    /// Whether it was open when the period began.
    pub open_at_start: bool,
    /// Its history up to the end of the period.
    pub tally: &'a Tally,
    /// What happened to it inside the period.
    pub facts: std::borrow::Cow<'a, [Fact]>,
}

/// What a subject reads in clear: [`crate::shred::Vault::open`] where personal
/// fields are stored sealed, so that the report counts the words of the subject and
/// not of its ciphertext; [`clear`] where they were opened already.
pub type Open<'a> = &'a (dyn Fn(&str) -> String + Sync);

/// The [`Open`] of subjects that are in clear already.
pub fn clear(subject: &str) -> String {
    subject.to_owned()
}

/// Builds the report of `[from, to)` from the folded tracks.
pub fn build(
    from: Timestamp,
    to: Timestamp,
    tracks: HashMap<CaseId, Track>,
    scope: &Scope,
    targets: &BTreeMap<Tier, f64>,
    visible: &dyn Fn(CaseId) -> bool,
    open: Open<'_>,
) -> Report {
    let rows = tracks
        .iter()
        .filter(|(id, _)| visible(**id))
        .map(|(id, t)| Row {
            id: *id,
            case: &t.case,
            open_at_start: t.open_at_start,
            tally: &t.tally,
            facts: std::borrow::Cow::Borrowed(&t.facts),
        })
        .collect();
    build_rows(from, to, rows, scope, targets, open)
}

/// Builds the report of `[from, to)` from the rows of the cases the caller may see
/// (in any order).
pub fn build_rows(
    from: Timestamp,
    to: Timestamp,
    mut rows: Vec<Row<'_>>,
    scope: &Scope,
    targets: &BTreeMap<Tier, f64>,
    open: Open<'_>,
) -> Report {
    rows.sort_unstable_by_key(|r| r.id);
    let in_scope = |r: &Row<'_>| {
        let c = r.case;
        c.exists()
            && scope
                .tiers
                .as_ref()
                .is_none_or(|ts| c.tier.as_ref().is_some_and(|t| ts.contains(t)))
            && scope
                .teams
                .as_ref()
                .is_none_or(|ts| c.team.as_ref().is_some_and(|t| ts.contains(t)))
    };
    rows.retain(in_scope);
    let cases = &rows;
    let facts = || cases.iter().flat_map(|r| r.facts.iter());
    let resolved_in_period: Vec<&Row<'_>> = cases
        .iter()
        .filter(|r| r.facts.iter().any(|f| matches!(f, Fact::Resolved { .. })))
        .collect();

    // One pass over the facts for the four counts.
    let (mut opened, mut resolved, mut reopened, mut closed) = (0u64, 0u64, 0u64, 0u64);
    for f in facts() {
        match f {
            Fact::Opened => opened += 1,
            Fact::Resolved { .. } => resolved += 1,
            Fact::Reopened => reopened += 1,
            Fact::Closed => closed += 1,
            _ => {}
        }
    }
    let volume = Volume {
        opened,
        resolved,
        reopened,
        closed,
        backlog_start: cases.iter().filter(|r| r.open_at_start).count() as u64,
        backlog_end: cases
            .iter()
            .filter(|r| r.case.status == Status::Open)
            .count() as u64,
    };

    Report {
        from: from.to_rfc3339(),
        to: to.to_rfc3339(),
        cases: cases.len() as u64,
        tier_shares: tier_shares(facts(), targets),
        first_contact_resolution: ratio(
            resolved_in_period
                .iter()
                .filter(|r| first_contact(r.tally))
                .count(),
            resolved_in_period.len(),
        ),
        volume,
        escalation: escalation(facts(), &resolved_in_period, cases),
        swarming: swarming(&resolved_in_period),
        sla: sla(facts()),
        problems: problems(cases, &resolved_in_period, open),
        load: load(cases),
    }
}

/// A tier's name in the report ("unrouted" for none).
fn tier_name(t: &Option<Tier>) -> &str {
    t.as_ref().map_or("unrouted", |t| t.0.as_str())
}

/// Counts keyed by borrowed names, with owned keys (counting borrows: one key
/// allocated per distinct name, not per fact).
fn owned(counts: BTreeMap<&str, u64>) -> BTreeMap<String, u64> {
    counts
        .into_iter()
        .map(|(k, n)| (k.to_string(), n))
        .collect()
}

fn ratio(n: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        n as f64 / of as f64
    }
}

/// The nearest-rank percentile `p` (0-100) of `values`.
pub fn percentile(values: &mut [i64], p: usize) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = (p * values.len()).div_ceil(100).max(1);
    Some(values[rank - 1])
}

fn tier_shares<'a>(
    facts: impl Iterator<Item = &'a Fact>,
    targets: &BTreeMap<Tier, f64>,
) -> Vec<TierShare> {
    let by_tier: BTreeMap<String, u64> = owned(count(facts.filter_map(|f| match f {
        Fact::Resolved { tier, .. } => Some(tier_name(tier)),
        _ => None,
    })));
    let total: u64 = by_tier.values().sum();
    let mut tiers: BTreeSet<String> = by_tier.keys().cloned().collect();
    tiers.extend(targets.keys().map(|t| t.to_string()));
    tiers
        .into_iter()
        .map(|tier| {
            let resolved = by_tier.get(&tier).copied().unwrap_or(0);
            let share = ratio(resolved as usize, total as usize);
            let target = targets.get(&Tier::new(tier.clone())).copied();
            TierShare {
                gap: target.map(|t| share - t),
                tier,
                resolved,
                share,
                target,
            }
        })
        .collect()
}

fn first_contact(t: &Tally) -> bool {
    t.escalations == 0 && t.deescalations == 0 && t.handoffs == 0 && t.reopened == 0
}

fn moves(counts: BTreeMap<(&Tier, &Tier), u64>) -> Vec<TierMove> {
    counts
        .into_iter()
        .map(|((from, to), count)| TierMove {
            from: from.to_string(),
            to: to.to_string(),
            count,
        })
        .collect()
}

fn escalation<'a>(
    facts: impl Iterator<Item = &'a Fact> + Clone,
    resolved: &[&Row<'_>],
    cases: &[Row<'_>],
) -> Escalation {
    let up = count(facts.clone().filter_map(|f| match f {
        Fact::Escalated { from, to } => Some((from, to)),
        _ => None,
    }));
    let down = count(facts.filter_map(|f| match f {
        Fact::Deescalated { from, to } => Some((from, to)),
        _ => None,
    }));
    let paths = count(resolved.iter().map(|r| r.tally.path.as_slice()));
    let mut joined: BTreeMap<String, u64> = BTreeMap::new();
    for (path, n) in paths {
        let names: Vec<&str> = path.iter().map(|t| t.0.as_str()).collect();
        *joined.entry(names.join(" -> ")).or_default() += n;
    }
    let paths = joined;
    let mut paths: Vec<PathCount> = paths
        .into_iter()
        .map(|(path, cases)| PathCount { path, cases })
        .collect();
    paths.sort_by(|a, b| b.cases.cmp(&a.cases).then(a.path.cmp(&b.path)));
    Escalation {
        escalations: moves(up),
        deescalations: moves(down),
        paths,
        ping_pong_cases: cases
            .iter()
            .filter(|r| {
                let t = r.tally;
                t.escalations + t.deescalations > 1 && t.escalations > 0 && t.deescalations > 0
            })
            .map(|r| r.id.to_string())
            .collect(),
    }
}

fn resolution_secs(r: &Row<'_>) -> Option<i64> {
    r.facts.iter().rev().find_map(|f| match f {
        Fact::Resolved { .. } => r
            .tally
            .resolved_at
            .map(|at| fold::secs_between(r.case.opened_at, at)),
        _ => None,
    })
}

fn group(tracks: &[&Row<'_>]) -> ResolutionGroup {
    let mut secs: Vec<i64> = tracks.iter().filter_map(|r| resolution_secs(r)).collect();
    ResolutionGroup {
        cases: tracks.len() as u64,
        median_secs: percentile(&mut secs, 50),
        p90_secs: percentile(&mut secs, 90),
        mean_handoffs: if tracks.is_empty() {
            0.0
        } else {
            tracks.iter().map(|r| r.tally.handoffs as f64).sum::<f64>() / tracks.len() as f64
        },
        reopen_rate: ratio(
            tracks.iter().filter(|r| r.tally.reopened > 0).count(),
            tracks.len(),
        ),
    }
}

fn swarming(resolved: &[&Row<'_>]) -> SwarmingVsEscalation {
    let tracks = resolved;
    let swarmed: Vec<&Row<'_>> = tracks.iter().copied().filter(|r| r.tally.swarmed).collect();
    let escalated: Vec<&Row<'_>> = tracks
        .iter()
        .copied()
        .filter(|r| !r.tally.swarmed && r.tally.escalations > 0)
        .collect();
    let neither: Vec<&Row<'_>> = tracks
        .iter()
        .copied()
        .filter(|r| !r.tally.swarmed && r.tally.escalations == 0)
        .collect();
    let mut joins: Vec<i64> = swarmed
        .iter()
        .filter_map(|r| r.tally.first_join_secs)
        .collect();
    SwarmingVsEscalation {
        mean_swarm_size: if swarmed.is_empty() {
            0.0
        } else {
            swarmed
                .iter()
                .map(|r| r.tally.swarm_size as f64)
                .sum::<f64>()
                / swarmed.len() as f64
        },
        median_first_join_secs: percentile(&mut joins, 50),
        swarmed: group(&swarmed),
        escalated: group(&escalated),
        neither: group(&neither),
    }
}

fn priority_name(p: Priority) -> &'static str {
    match p {
        Priority::Urgent => "URGENT",
        Priority::High => "HIGH",
        Priority::Normal => "NORMAL",
        Priority::Low => "LOW",
    }
}

fn time_stats(pairs: Vec<(&str, i64)>) -> Vec<TimeStat> {
    let mut by: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for (k, v) in pairs {
        by.entry(k).or_default().push(v);
    }
    by.into_iter()
        .map(|(key, mut v)| TimeStat {
            key: key.to_string(),
            count: v.len() as u64,
            p50_secs: percentile(&mut v, 50).unwrap_or(0),
            p90_secs: percentile(&mut v, 90).unwrap_or(0),
        })
        .collect()
}

fn met(targets: impl Iterator<Item = Option<bool>>) -> Option<f64> {
    let breached: Vec<bool> = targets.flatten().collect();
    (!breached.is_empty()).then(|| ratio(breached.iter().filter(|b| !**b).count(), breached.len()))
}

fn sla<'a>(facts: impl Iterator<Item = &'a Fact> + Clone) -> SlaReport {
    let mut fr_p = Vec::new();
    let mut fr_t = Vec::new();
    let mut res_p = Vec::new();
    let mut res_t = Vec::new();
    let mut breaches: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for f in facts.clone() {
        match f {
            Fact::FirstResponse {
                secs,
                priority,
                tier,
                ..
            } => {
                fr_p.push((priority_name(*priority), *secs));
                fr_t.push((tier_name(tier), *secs));
            }
            Fact::Resolved {
                secs,
                priority,
                tier,
                ..
            } => {
                res_p.push((priority_name(*priority), *secs));
                res_t.push((tier_name(tier), *secs));
            }
            Fact::Breached { policy, kind } => {
                let e = breaches.entry(policy.as_str()).or_default();
                match kind {
                    crate::domain::SlaKind::FirstResponse => e.0 += 1,
                    crate::domain::SlaKind::Resolution => e.1 += 1,
                }
            }
            _ => {}
        }
    }
    SlaReport {
        first_response_by_priority: time_stats(fr_p),
        first_response_by_tier: time_stats(fr_t),
        resolution_by_priority: time_stats(res_p),
        resolution_by_tier: time_stats(res_t),
        breaches: breaches
            .into_iter()
            .map(|(policy, (fr, res))| BreachCount {
                policy: policy.to_string(),
                first_response: fr,
                resolution: res,
            })
            .collect(),
        first_response_met: met(facts.clone().filter_map(|f| match f {
            Fact::FirstResponse { target, .. } => Some(*target),
            _ => None,
        })),
        resolution_met: met(facts.filter_map(|f| match f {
            Fact::Resolved { target, .. } => Some(*target),
            _ => None,
        })),
    }
}

fn ranked(counts: BTreeMap<String, u64>) -> Vec<TermCount> {
    let mut v: Vec<TermCount> = counts
        .into_iter()
        .map(|(term, cases)| TermCount { term, cases })
        .collect();
    v.sort_by(|a, b| b.cases.cmp(&a.cases).then(a.term.cmp(&b.term)));
    v.truncate(TOP);
    v
}

/// The distinct words of a subject that may name a problem (lowercased; borrowed
/// when already lowercase).
fn keywords(subject: &str) -> BTreeSet<Cow<'_, str>> {
    subject
        .split(|c: char| !c.is_alphanumeric())
        .map(|w| {
            if w.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            {
                Cow::Borrowed(w)
            } else {
                Cow::Owned(w.to_lowercase())
            }
        })
        .filter(|w| w.chars().count() >= 4 && !COMMON_WORDS.contains(&w.as_ref()))
        .collect()
}

fn problems(cases: &[Row<'_>], resolved: &[&Row<'_>], open: Open<'_>) -> Problems {
    let opened: Vec<&Case> = cases
        .iter()
        .filter(|r| r.facts.contains(&Fact::Opened))
        .map(|r| r.case)
        .collect();
    // Only the costliest survive: rank by time first, then describe those.
    let mut costly: Vec<(i64, &Row<'_>)> = resolved
        .iter()
        .filter_map(|r| Some((resolution_secs(r)?, *r)))
        .collect();
    costly.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.id.cmp(&b.1.id)));
    costly.truncate(TOP);
    // ULIDs sort as their strings do: the same order as by `case_id`.
    let costliest: Vec<CostlyCase> = costly
        .into_iter()
        .map(|(secs, r)| CostlyCase {
            case_id: r.id.to_string(),
            subject: open(&r.case.subject),
            tags: r.case.tags.to_vec(),
            resolution_secs: secs,
            messages: r.tally.messages,
            participants: r.tally.participants.len() as u32,
        })
        .collect();
    Problems {
        top_tags: ranked(owned(count(
            opened
                .iter()
                .flat_map(|c| c.tags.iter().map(String::as_str)),
        ))),
        // Subjects may be sealed: their words are counted as they read in clear.
        top_keywords: ranked(count(opened.iter().flat_map(|c| {
            keywords(&open(&c.subject))
                .into_iter()
                .map(Cow::into_owned)
                .collect::<Vec<_>>()
        }))),
        costliest,
    }
}

fn load(cases: &[Row<'_>]) -> Load {
    let mut agents: BTreeMap<String, AgentLoad> = BTreeMap::new();
    let mut teams: BTreeMap<String, TeamLoad> = BTreeMap::new();
    for t in cases {
        for f in t.facts.iter() {
            let (agent, field): (&str, fn(&mut AgentLoad)) = match f {
                Fact::Assigned { agent } => (agent.as_str(), |l| l.assigned += 1),
                Fact::Message {
                    author,
                    staff: true,
                } => (author.as_str(), |l| l.messages += 1),
                Fact::SwarmJoined { agent } => (agent.as_str(), |l| l.swarms_joined += 1),
                _ => continue,
            };
            add(&mut agents, agent, field);
        }
        if t.case.status == Status::Open {
            if let Some(a) = &t.case.assignee {
                add(&mut agents, a.as_str(), |l| l.open_at_end += 1);
            }
        }
        if let Some(team) = &t.case.team {
            if !teams.contains_key(team) {
                teams.insert(
                    team.clone(),
                    TeamLoad {
                        team: team.clone(),
                        opened: 0,
                        resolved: 0,
                        open_at_end: 0,
                    },
                );
            }
            let Some(l) = teams.get_mut(team) else {
                continue;
            };
            l.opened += t.facts.iter().filter(|f| **f == Fact::Opened).count() as u64;
            l.resolved += t
                .facts
                .iter()
                .filter(|f| matches!(f, Fact::Resolved { .. }))
                .count() as u64;
            l.open_at_end += u64::from(t.case.status == Status::Open);
        }
    }
    Load {
        agents: agents.into_values().collect(),
        teams: teams.into_values().collect(),
    }
}

fn add(agents: &mut BTreeMap<String, AgentLoad>, agent: &str, f: fn(&mut AgentLoad)) {
    // Most calls find the agent: look up by `&str` before allocating a key.
    if let Some(l) = agents.get_mut(agent) {
        f(l);
        return;
    }
    let l = agents
        .entry(agent.to_string())
        .or_insert_with(|| AgentLoad {
            agent: agent.to_string(),
            assigned: 0,
            messages: 0,
            swarms_joined: 0,
            open_at_end: 0,
        });
    f(l);
}

#[cfg(test)]
mod tests;
