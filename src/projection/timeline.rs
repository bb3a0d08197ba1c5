//! The timeline: which log position a moment falls at, and which cases were in a
//! read model's index (a tier queue, a swarm, an agent's workload) at any position.
//! Time travel (`crate::app::travel`) folds only those cases' streams up to that
//! position instead of the whole log: the queues, swarms and workloads are made of
//! per-case entries, so a fold of the cases that had one gives the same answer.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use crate::domain::{CaseId, Timestamp};

/// A case's stay in the indexes: from the event at `start` that put it there to the
/// one at `end` that took it out (`start <= position < end`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stay {
    pub case: CaseId,
    pub start: u64,
    pub end: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    /// `(time, position)` at each event whose time is later than every earlier
    /// event's: the first event after a moment is the first of these after it.
    rises: Vec<(Timestamp, u64)>,
    /// Cases in an index now, since the position that put them there.
    indexed: HashMap<CaseId, u64>,
    /// Stays that ended, in the order they ended.
    stays: Vec<Stay>,
}

impl Timeline {
    /// Notes the event at `position` recorded at `at` (every event, of any stream).
    pub fn record(&mut self, position: u64, at: Timestamp) {
        if self.rises.last().is_none_or(|(t, _)| at > *t) {
            self.rises.push((at, position));
        }
    }

    /// Notes whether the event at `position` put `case` in or took it out of the
    /// indexes (`was` and `is`: whether it had entries before and after).
    pub fn moved(&mut self, case: CaseId, position: u64, was: bool, is: bool) {
        match (was, is) {
            (false, true) => {
                self.indexed.insert(case, position);
            }
            (true, false) => {
                if let Some(start) = self.indexed.remove(&case) {
                    self.stays.push(Stay {
                        case,
                        start,
                        end: position,
                    });
                }
            }
            _ => {}
        }
    }

    /// The last position of the log's prefix up to `at`: every event before the first
    /// one that happened after `at` (`head` if none did).
    pub fn position_at(&self, at: Timestamp, head: u64) -> u64 {
        let i = self.rises.partition_point(|(t, _)| *t <= at);
        match self.rises.get(i) {
            Some((_, first_after)) => first_after - 1,
            None => head,
        }
    }

    /// The cases that had entries in an index once every event up to `position`
    /// was applied.
    pub fn indexed_at(&self, position: u64) -> Vec<CaseId> {
        let ended_after = self.stays.partition_point(|s| s.end <= position);
        let mut out: Vec<CaseId> = self.stays[ended_after..]
            .iter()
            .filter(|s| s.start <= position)
            .map(|s| s.case)
            .chain(
                self.indexed
                    .iter()
                    .filter(|(_, start)| **start <= position)
                    .map(|(id, _)| *id),
            )
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}
