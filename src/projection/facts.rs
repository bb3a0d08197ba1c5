//! The facts projection: per case, what a report counts of its history (the
//! report's [`Tally`] folded so far, every [`Fact`] with its time, and when it was
//! open), kept up to date as events are applied, so that a report reads these
//! instead of folding the log (`crate::report::fast`). [`Tally::observe`] is the
//! same code the scan (`crate::report::fold`) runs, so the two cannot count apart.

use serde::{Deserialize, Serialize};

use crate::domain::{Case, CaseEvent, Status, Timestamp};
use crate::report::fold::{Fact, Tally};

/// One case's report facts, over every event applied so far.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFacts {
    /// Events applied.
    pub events: u64,
    /// The times of its first and last events.
    pub first_at: Timestamp,
    pub last_at: Timestamp,
    /// Whether its events' times never went backwards (what reading `facts` by time
    /// relies on; a case whose clock stepped back is folded from the log instead).
    pub in_order: bool,
    pub tally: Tally,
    /// Every fact of its history, in order, and the time of each.
    pub facts: Vec<Fact>,
    pub times: Vec<Timestamp>,
    /// Each time it became open (existing and `Open`) or stopped being open.
    pub open: Vec<(Timestamp, bool)>,
}

fn is_open(c: &Case) -> bool {
    c.exists() && c.status == Status::Open
}

impl CaseFacts {
    /// Counts `event`, about to be applied at `at` to the case as it is `before` it.
    pub fn observe(&mut self, before: &Case, event: &CaseEvent, at: Timestamp) {
        if self.events == 0 {
            self.first_at = at;
            self.in_order = true;
        } else if at < self.last_at {
            self.in_order = false;
        }
        self.events += 1;
        self.last_at = self.last_at.max(at);
        if let Some(fact) = self.tally.observe(before, event, at) {
            self.facts.push(fact);
            self.times.push(at);
        }
    }

    /// Completes the count once the event is applied (`after`).
    pub fn observed(&mut self, after: &Case, event: &CaseEvent, at: Timestamp) {
        self.tally.observed(after, event);
        let open = is_open(after);
        if self.open.last().is_some_and(|(_, o)| *o) != open {
            self.open.push((at, open));
        }
    }

    /// The facts of events at or after `from` and before `to` (times in order).
    pub fn facts_between(&self, from: Timestamp, to: Timestamp) -> &[Fact] {
        let lo = self.times.partition_point(|t| *t < from);
        let hi = self.times.partition_point(|t| *t < to);
        &self.facts[lo..hi.max(lo)]
    }

    /// Whether it was open once every event before `at` was applied.
    pub fn open_before(&self, at: Timestamp) -> bool {
        let n = self.open.partition_point(|(t, _)| *t < at);
        n > 0 && self.open[n - 1].1
    }
}
