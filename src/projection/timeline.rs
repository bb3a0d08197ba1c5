//! The timeline: which log position a moment falls at, and which cases were in a
//! read model's index (a tier queue, a swarm, an agent's workload) at any position.
//! Time travel (`crate::app::travel`) folds only those cases' streams up to that
//! position instead of the whole log: the queues, swarms and workloads are made of
//! per-case entries, so a fold of the cases that had one gives the same answer.

use foldhash::HashMap;
use serde::{Deserialize, Serialize};

use crate::domain::{CaseId, Timestamp};

/// A case's stay in the indexes: from the event at `start` that put it there to the
/// one at `end` that took it out (`start <= position < end`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stay {
    pub case: CaseId,
    pub start: u64,
    pub end: u64,
}

/// `(time, position)` of each event whose time is later than every earlier event's
/// (its *rises*), stored compactly: on a busy desk nearly every event rises, so this
/// is one entry per event. Rises are kept in blocks of up to [`BLOCK`]: the block's
/// first rise in full, the others as `u32` offsets from it (8 bytes a rise instead
/// of 16); a rise too far from its block's first starts a new block.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rises {
    /// Each block's first rise, and where its offsets start in `offsets`.
    blocks: Vec<(Timestamp, u64, u32)>,
    /// `(time - block time, position - block position)` of the blocks' other rises.
    offsets: Vec<(u32, u32)>,
}

/// Rises per block, at most.
const BLOCK: usize = 256;

impl Rises {
    fn last(&self) -> Option<Timestamp> {
        let &(t, _, start) = self.blocks.last()?;
        Some(
            match self.offsets.get(start as usize..).and_then(|o| o.last()) {
                Some((dt, _)) => Timestamp(t.0 + i64::from(*dt)),
                None => t,
            },
        )
    }

    fn push(&mut self, at: Timestamp, position: u64) {
        if let Some(&(t, p, start)) = self.blocks.last() {
            let dt = u32::try_from(at.0 - t.0);
            let dp = u32::try_from(position - p);
            if let (Ok(dt), Ok(dp)) = (dt, dp) {
                if self.offsets.len() - start as usize + 1 < BLOCK {
                    self.offsets.push((dt, dp));
                    return;
                }
            }
        }
        let start = u32::try_from(self.offsets.len()).unwrap_or(u32::MAX);
        self.blocks.push((at, position, start));
    }

    /// The position of the first rise later than `at`, if any.
    fn first_after(&self, at: Timestamp) -> Option<u64> {
        // The last block starting at or before `at` may hold it; else the next block's first.
        let b = self.blocks.partition_point(|(t, _, _)| *t <= at);
        if b > 0 {
            let (t, p, start) = self.blocks[b - 1];
            let end = self
                .blocks
                .get(b)
                .map_or(self.offsets.len(), |n| n.2 as usize);
            let offsets = &self.offsets[start as usize..end];
            let i = offsets.partition_point(|(dt, _)| t.0 + i64::from(*dt) <= at.0);
            if let Some((_, dp)) = offsets.get(i) {
                return Some(p + u64::from(*dp));
            }
        }
        self.blocks.get(b).map(|(_, p, _)| *p)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    /// Each event whose time is later than every earlier event's: the first event
    /// after a moment is the first of these after it.
    rises: Rises,
    /// Cases in an index now, since the position that put them there.
    indexed: HashMap<CaseId, u64>,
    /// Stays that ended, in the order they ended.
    stays: Vec<Stay>,
}

impl Timeline {
    /// Gives back the room its lists kept for what is to come (grown entry by entry in
    /// a replay, they hold up to twice what they use).
    pub fn shrink_to_fit(&mut self) {
        self.rises.blocks.shrink_to_fit();
        self.rises.offsets.shrink_to_fit();
        self.indexed.shrink_to_fit();
        self.stays.shrink_to_fit();
    }

    /// Notes the event at `position` recorded at `at` (every event, of any stream).
    pub fn record(&mut self, position: u64, at: Timestamp) {
        if self.rises.last().is_none_or(|t| at > t) {
            self.rises.push(at, position);
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
        match self.rises.first_after(at) {
            Some(first_after) => first_after - 1,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `position_at` over the compact rises answers as a scan of every event does,
    /// across block boundaries, big time gaps and times that go back.
    #[test]
    fn position_at_equals_a_scan_of_the_events() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut timeline = Timeline::default();
        let mut events = Vec::new();
        let mut t = 1_000_000i64;
        for position in 1..=3_000u64 {
            t += match next() % 10 {
                0 => -((next() % 5_000) as i64),
                1 => (next() % 10_000_000_000) as i64,
                2 => 0,
                _ => (next() % 2_000) as i64,
            };
            timeline.record(position, Timestamp(t));
            events.push((position, Timestamp(t)));
        }
        let head = events.len() as u64;
        let scan = |at: Timestamp| {
            let mut latest = Timestamp(i64::MIN);
            for (p, t) in &events {
                if *t > latest {
                    if *t > at {
                        return p - 1;
                    }
                    latest = *t;
                }
            }
            head
        };
        assert!(timeline.rises.blocks.len() > 10, "several blocks");
        for (_, t) in events.iter().step_by(7) {
            for at in [t.0 - 1, t.0, t.0 + 1] {
                assert_eq!(
                    timeline.position_at(Timestamp(at), head),
                    scan(Timestamp(at))
                );
            }
        }
        assert_eq!(timeline.position_at(Timestamp(0), head), 0);
        assert_eq!(timeline.position_at(Timestamp(i64::MAX), head), head);
    }
}
