//! The facts projection: per case, what a report counts of its history (the
//! report's [`Tally`] folded so far, every [`Fact`] with its time, and when it was
//! open), kept up to date as events are applied, so that a report reads these
//! instead of folding the log (`crate::report::fast`). [`Tally::observe`] is the
//! same code the scan (`crate::report::fold`) runs, so the two cannot count apart.
//!
//! The facts are kept encoded (postcard, each after its time as a varint difference
//! from the previous fact's), about a fifth of their size as values, and decoded
//! when a report reads them.

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
    /// Every fact of its history, in order, each after its time (see [`Self::facts`]).
    encoded: Vec<u8>,
    /// The time of the last fact in `encoded` (what the next one's is relative to).
    last_fact_at: Timestamp,
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
            self.push(at, &fact);
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

    /// Gives back the room kept for facts to come: buffers grown fact by fact (a
    /// replay) hold up to twice what they use, and the tally's lists room for four,
    /// where decoded ones hold just what they use.
    pub fn shrink_to_fit(&mut self) {
        self.encoded.shrink_to_fit();
        self.open.shrink_to_fit();
        self.tally.shrink_to_fit();
    }

    fn push(&mut self, at: Timestamp, fact: &Fact) {
        let delta = at.0.wrapping_sub(self.last_fact_at.0);
        self.last_fact_at = at;
        // Encoding into a Vec cannot fail (every fact is plain data).
        let encoded = std::mem::take(&mut self.encoded);
        let encoded = postcard::to_extend(&delta, encoded)
            .and_then(|e| postcard::to_extend(fact, e))
            .expect("a fact encodes");
        self.encoded = encoded;
    }

    /// Every fact of its history, in order, with its time.
    pub fn facts(&self) -> impl Iterator<Item = (Timestamp, Fact)> + '_ {
        let mut rest = self.encoded.as_slice();
        let mut at = Timestamp::default();
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            // Bytes this type wrote: they decode (a failure would be a bug, not data).
            let (delta, r) = postcard::take_from_bytes::<i64>(rest).expect("a fact's time");
            let (fact, r) = postcard::take_from_bytes::<Fact>(r).expect("a fact");
            rest = r;
            at = Timestamp(at.0.wrapping_add(delta));
            Some((at, fact))
        })
    }

    /// The facts of events at or after `from` and before `to` (times in order).
    pub fn facts_between(&self, from: Timestamp, to: Timestamp) -> Vec<Fact> {
        self.facts()
            .skip_while(|(at, _)| *at < from)
            .take_while(|(at, _)| *at < to)
            .map(|(_, f)| f)
            .collect()
    }

    /// Whether it was open once every event before `at` was applied.
    pub fn open_before(&self, at: Timestamp) -> bool {
        let n = self.open.partition_point(|(t, _)| *t < at);
        n > 0 && self.open[n - 1].1
    }
}
