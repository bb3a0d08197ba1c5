//! The per-case facts a report needs, folded from the log up to the end of the
//! period: each case's state as it was at `to` (the domain's own fold), the tiers it
//! went through, hand-offs, swarm timings, and what happened to it inside the period.
//! Events at or after `to` are ignored, so a past period reads exactly as the log
//! said then, whatever came later.
//!
//! This scan is the reference: the live facts projection (`crate::projection::facts`)
//! counts each event with the same [`Tally::observe`] as it is applied, and a test
//! checks that reports from it equal reports from this fold.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::domain::{AgentId, Case, CaseEvent, CaseId, Priority, SlaKind, Tier, Timestamp};

/// Something that happened to a case inside the period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fact {
    Opened,
    Resolved {
        tier: Option<Tier>,
        /// Wall-clock seconds from the start of the resolution clock (opening, or
        /// the last reopening).
        secs: i64,
        priority: Priority,
        /// Whether the case's SLA had a resolution target, and whether it was missed.
        target: Option<bool>,
    },
    Reopened,
    Closed,
    Escalated {
        from: Tier,
        to: Tier,
    },
    Deescalated {
        from: Tier,
        to: Tier,
    },
    FirstResponse {
        secs: i64,
        priority: Priority,
        tier: Option<Tier>,
        target: Option<bool>,
    },
    Breached {
        policy: String,
        kind: SlaKind,
    },
    Assigned {
        agent: AgentId,
    },
    Message {
        author: AgentId,
        staff: bool,
    },
    SwarmJoined {
        agent: AgentId,
    },
}

/// What a report counts of a case's whole history up to the end of the period,
/// whatever the period's start: the same for the scan ([`Folder`]) and for the live
/// facts projection (`crate::projection::facts`), which both call [`Tally::observe`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Tiers it was in, in order (consecutive repeats collapsed).
    pub path: Vec<Tier>,
    pub escalations: u32,
    pub deescalations: u32,
    /// Changes of hands: a tier change, or a new assignee after the first.
    pub handoffs: u32,
    pub reopened: u32,
    pub swarmed: bool,
    /// Most members its swarm(s) had at once.
    pub swarm_size: usize,
    /// Seconds from a swarm's start to the first member other than its lead.
    pub first_join_secs: Option<i64>,
    pub messages: u32,
    /// Staff who posted, were assigned or joined its swarm, sorted, each once (a
    /// sorted `Vec`, not a set: a case has a handful, and every case of the facts
    /// projection keeps one).
    pub participants: Vec<AgentId>,
    /// When it was last resolved (before `to`).
    pub resolved_at: Option<Timestamp>,
    swarm_started: Option<Timestamp>,
    last_assignee: Option<AgentId>,
}

/// Adds `agent` to the sorted `participants` unless it is there.
fn participate(participants: &mut Vec<AgentId>, agent: &AgentId) {
    if let Err(at) = participants.binary_search(agent) {
        participants.insert(at, agent.clone());
    }
}

impl Tally {
    /// Gives back the room its lists kept for more (they grow by inserting, which
    /// leaves room for four; a case has a tier or two and a handful of participants).
    pub fn shrink_to_fit(&mut self) {
        self.path.shrink_to_fit();
        self.participants.shrink_to_fit();
    }

    /// Counts one case event recorded at `at`, read off the case as it was `before`
    /// the event (the caller applies the event to its case afterwards, then calls
    /// [`Tally::observed`]); returns the fact the event is if it falls in a period.
    pub fn observe(&mut self, before: &Case, event: &CaseEvent, at: Timestamp) -> Option<Fact> {
        let t = self;
        match event {
            CaseEvent::Opened(_) => Some(Fact::Opened),
            CaseEvent::Routed(r) => {
                if before.tier.as_ref().is_some_and(|old| old != &r.tier) {
                    t.handoffs += 1;
                }
                push_tier(&mut t.path, &r.tier);
                None
            }
            CaseEvent::Escalated(c) => {
                t.escalations += 1;
                t.handoffs += 1;
                push_tier(&mut t.path, &c.to);
                Some(Fact::Escalated {
                    from: c.from.clone(),
                    to: c.to.clone(),
                })
            }
            CaseEvent::Deescalated(c) => {
                t.deescalations += 1;
                t.handoffs += 1;
                push_tier(&mut t.path, &c.to);
                Some(Fact::Deescalated {
                    from: c.from.clone(),
                    to: c.to.clone(),
                })
            }
            CaseEvent::Assigned(a) => {
                // A new assignee after someone else held it: the case changed hands.
                if t.last_assignee
                    .as_ref()
                    .is_some_and(|prev| prev != &a.agent)
                {
                    t.handoffs += 1;
                }
                t.last_assignee = Some(a.agent.clone());
                participate(&mut t.participants, &a.agent);
                Some(Fact::Assigned {
                    agent: a.agent.clone(),
                })
            }
            CaseEvent::SwarmStarted(s) => {
                t.swarmed = true;
                t.swarm_started = Some(at);
                participate(&mut t.participants, &s.lead);
                t.swarm_size = t.swarm_size.max(1);
                Some(Fact::SwarmJoined {
                    agent: s.lead.clone(),
                })
            }
            CaseEvent::SwarmJoined(a) => {
                if let (Some(start), None) = (t.swarm_started, t.first_join_secs) {
                    t.first_join_secs = Some(secs_between(start, at));
                }
                participate(&mut t.participants, &a.agent);
                Some(Fact::SwarmJoined {
                    agent: a.agent.clone(),
                })
            }
            CaseEvent::MessagePosted(m) => {
                t.messages += 1;
                let customer = before
                    .customer
                    .as_ref()
                    .is_some_and(|c| c.id == m.author.as_str());
                let staff = !customer;
                if staff {
                    participate(&mut t.participants, &m.author);
                }
                Some(Fact::Message {
                    author: m.author.clone(),
                    staff,
                })
            }
            CaseEvent::FirstResponded(_) => {
                let target = before.sla.as_ref().and_then(|s| {
                    s.target_secs(SlaKind::FirstResponse)
                        .map(|_| s.breached.contains(&SlaKind::FirstResponse))
                });
                Some(Fact::FirstResponse {
                    secs: secs_between(before.opened_at, at),
                    priority: before.priority,
                    tier: before.tier.clone(),
                    target,
                })
            }
            CaseEvent::Resolved(r) => {
                t.resolved_at = Some(at);
                let target = before.sla.as_ref().and_then(|s| {
                    s.target_secs(SlaKind::Resolution)
                        .map(|_| s.breached.contains(&SlaKind::Resolution))
                });
                Some(Fact::Resolved {
                    tier: r.tier.clone(),
                    secs: secs_between(before.resolution_clock_start, at),
                    priority: before.priority,
                    target,
                })
            }
            CaseEvent::Reopened(_) => {
                t.reopened += 1;
                Some(Fact::Reopened)
            }
            CaseEvent::Closed(_) => Some(Fact::Closed),
            CaseEvent::SlaBreached(b) => Some(Fact::Breached {
                policy: b.policy_id.clone(),
                kind: b.kind,
            }),
            _ => None,
        }
    }

    /// The part of the count read off the case `after` the event was applied.
    pub fn observed(&mut self, after: &Case, event: &CaseEvent) {
        if let CaseEvent::SwarmJoined(_) = event {
            let members = after.swarm.as_ref().map_or(0, |s| s.members.len());
            self.swarm_size = self.swarm_size.max(members);
        }
    }
}

/// One case as a report sees it.
#[derive(Clone, Debug, Default)]
pub struct Track {
    /// The case as it was at the end of the period.
    pub case: Case,
    /// Whether it was open when the period began.
    pub open_at_start: bool,
    /// Its history up to the end of the period.
    pub tally: Tally,
    /// What happened to it inside the period.
    pub facts: Vec<Fact>,
}

/// Folds case events into [`Track`]s for the period `[from, to)`.
pub struct Folder {
    from: Timestamp,
    to: Timestamp,
    started: bool,
    pub tracks: HashMap<CaseId, Track>,
}

impl Folder {
    pub fn new(from: Timestamp, to: Timestamp) -> Self {
        Folder {
            from,
            to,
            started: false,
            tracks: HashMap::new(),
        }
    }

    /// Marks the cases open when the period begins (once, at the first event at or
    /// after `from`, or at the end if none came).
    fn start(&mut self) {
        if !self.started {
            self.started = true;
            for t in self.tracks.values_mut() {
                t.open_at_start = t.case.exists() && t.case.status == crate::domain::Status::Open;
            }
        }
    }

    /// Applies one case event recorded at `at` with stream `version`.
    pub fn apply(&mut self, id: CaseId, event: &CaseEvent, version: u64, at: Timestamp) {
        if at >= self.to {
            return;
        }
        if at >= self.from {
            self.start();
        }
        let inside = at >= self.from;
        let t = self.tracks.entry(id).or_default();
        // The facts are read off the case as it was before the event, which is
        // applied after them (no copy of the case per event).
        if let Some(fact) = t.tally.observe(&t.case, event, at) {
            if inside {
                t.facts.push(fact);
            }
        }
        t.case.apply(event, version, at);
        t.tally.observed(&t.case, event);
    }

    /// The tracks, once every event before `to` is applied.
    pub fn finish(mut self) -> HashMap<CaseId, Track> {
        self.start();
        self.tracks
    }
}

fn push_tier(path: &mut Vec<Tier>, tier: &Tier) {
    if path.last() != Some(tier) {
        path.push(tier.clone());
    }
}

pub fn secs_between(from: Timestamp, to: Timestamp) -> i64 {
    (to.unix_micros() - from.unix_micros()).max(0) / 1_000_000
}

/// Counts by key, for the report's tables.
pub fn count<K: Ord>(items: impl IntoIterator<Item = K>) -> BTreeMap<K, u64> {
    let mut m = BTreeMap::new();
    for k in items {
        *m.entry(k).or_default() += 1;
    }
    m
}
