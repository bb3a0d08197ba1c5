//! The stream index: which global positions hold a stream's versions.
//!
//! On disk the index is a set of *runs*: `s` + stream + 0xFF + first version ->
//! the positions of versions `first`, `first + 1`, ... (8 bytes each, big-endian).
//! Earlier builds wrote one run of length 1 per event, in the append's own batch, so
//! every append wrote two keys per event. This build indexes lazily: the writer keeps
//! the runs of recently written events in memory ([`Pending`]) and writes them all at
//! once, one key per stream, after [`SledOptions::index_every`](super::SledOptions)
//! events, together with `x` -> the last position the runs on disk cover. An append
//! thus writes one key per event. The index is derived from the log: at open, the
//! events after `x` are read back into [`Pending`], so a crash loses none of it.
//!
//! Idempotency keys that a group carried in its page (see module `page`) wait in
//! [`Pending`] the same way and get their `i` entries with the same index write; an
//! open reads them back from the pages after `x`. Their readers ask [`Pending`] first.
//!
//! Readers combine the runs on disk with [`Pending`]. They take a stream's pending run
//! first and the disk runs second, and ignore disk entries from the pending run's first
//! version on: the writer writes a run to disk *before* dropping it from memory, so a
//! reader racing with an index write sees every version once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use super::keys;
use crate::store::StoreError;

/// Versions `first..` of one stream, by position.
#[derive(Clone, Debug, Default)]
struct Run {
    first: u64,
    positions: Vec<u64>,
}

impl Run {
    fn next_version(&self) -> u64 {
        self.first + self.positions.len() as u64
    }
}

/// Runs of events written to the log but not yet to the index on disk.
#[derive(Debug, Default)]
pub struct Pending {
    streams: HashMap<String, Run>,
    events: usize,
    /// The last position pushed.
    last: u64,
    /// Idempotency keys carried in pages (full `i` keys and their values).
    keys: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl Pending {
    /// Keeps an idempotency key carried in a page until the index is written.
    pub fn add_key(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.keys.insert(key, value);
    }

    /// The value of a pending idempotency key (a full `i` key).
    pub fn key(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.keys.get(key).cloned()
    }

    /// Pending idempotency keys from `start` on (full `i` keys), in key order.
    pub fn keys_from(&self, start: &[u8], limit: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.keys
            .range(start.to_vec()..)
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Records that `stream`'s `version` is at `position`. Positions come in log
    /// order and each stream's versions without gaps.
    pub fn push(&mut self, stream: &str, version: u64, position: u64) -> Result<(), StoreError> {
        match self.streams.get_mut(stream) {
            Some(run) if run.next_version() == version => run.positions.push(position),
            Some(run) => {
                return Err(StoreError::Corrupt(format!(
                "`{stream}` version {version} at position {position} does not follow version {}",
                run.next_version() - 1
            )))
            }
            None => {
                self.streams.insert(
                    stream.to_owned(),
                    Run {
                        first: version,
                        positions: vec![position],
                    },
                );
            }
        }
        self.events += 1;
        self.last = position;
        Ok(())
    }

    /// How many events are waiting to be indexed on disk.
    pub fn len(&self) -> usize {
        self.events
    }

    /// The runs and the new `x` as one batch.
    pub fn to_batch(&self) -> sled::Batch {
        let mut batch = sled::Batch::default();
        for (stream, run) in &self.streams {
            let mut positions = Vec::with_capacity(run.positions.len() * 8);
            for p in &run.positions {
                positions.extend_from_slice(&p.to_be_bytes());
            }
            batch.insert(keys::stream(stream, run.first), positions);
        }
        for (key, value) in &self.keys {
            batch.insert(key.as_slice(), value.as_slice());
        }
        batch.insert(&keys::INDEXED, &self.last.to_be_bytes());
        batch
    }

    /// Forgets everything, once [`to_batch`](Self::to_batch) is applied.
    pub fn clear(&mut self) {
        self.streams.clear();
        self.events = 0;
        self.keys.clear();
    }
}

fn lock(pending: &Mutex<Pending>) -> std::sync::MutexGuard<'_, Pending> {
    // The writer never panics while holding the lock; if it did, the data is still
    // consistent (each push is complete or absent).
    pending.lock().unwrap_or_else(|p| p.into_inner())
}

fn position_at(run: &[u8], i: usize) -> u64 {
    keys::u64_suffix(&run[i * 8..i * 8 + 8])
}

/// The positions of `stream`'s versions from `from` on, in order, stopping at `limit`
/// entries or at the first position after `bound` (what is not durable yet).
pub fn positions(
    log: &sled::Tree,
    pending: &Mutex<Pending>,
    stream: &str,
    from: u64,
    limit: usize,
    bound: u64,
) -> Result<Vec<u64>, StoreError> {
    let from = from.max(1);
    let tail = lock(pending).streams.get(stream).cloned();
    let tail_first = tail.as_ref().map_or(u64::MAX, |t| t.first);
    let mut out = Vec::new();
    // The next version wanted; versions before it (before `from`, or read twice while
    // the writer moved a run to disk) are skipped.
    let mut expect = from;
    // Takes one entry; false means stop.
    let mut take = |version: u64, position: u64, out: &mut Vec<u64>| {
        if version < expect {
            return Ok(true);
        }
        if out.len() >= limit || position > bound {
            return Ok(false);
        }
        if version != expect {
            return Err(StoreError::Corrupt(format!(
                "the index of `{stream}` lacks version {expect}"
            )));
        }
        out.push(position);
        expect += 1;
        Ok(true)
    };
    if from < tail_first {
        // The run holding `from` starts at or before it; later runs follow.
        let start = match log
            .range(keys::stream(stream, 0)..=keys::stream(stream, from))
            .next_back()
        {
            Some(kv) => keys::u64_suffix(&kv?.0),
            None => from,
        };
        'disk: for kv in log.range(keys::stream(stream, start)..keys::stream(stream, tail_first)) {
            let (k, run) = kv?;
            let first = keys::u64_suffix(&k);
            for i in 0..run.len() / 8 {
                let version = first + i as u64;
                if version >= tail_first {
                    break 'disk;
                }
                if !take(version, position_at(&run, i), &mut out)? {
                    return Ok(out);
                }
            }
        }
    }
    if let Some(tail) = tail {
        for (i, &position) in tail.positions.iter().enumerate() {
            if !take(tail.first + i as u64, position, &mut out)? {
                break;
            }
        }
    }
    Ok(out)
}

/// `stream`'s last version whose position is at most `bound` (0 if none).
pub fn last_version(
    log: &sled::Tree,
    pending: &Mutex<Pending>,
    stream: &str,
    bound: u64,
) -> Result<u64, StoreError> {
    let tail_first = {
        let pending = lock(pending);
        match pending.streams.get(stream) {
            Some(run) => {
                if let Some(i) = run.positions.iter().rposition(|&p| p <= bound) {
                    return Ok(run.first + i as u64);
                }
                run.first
            }
            None => u64::MAX,
        }
    };
    // Newest run first; within a run, newest version first.
    for kv in log
        .range(keys::stream(stream, 0)..keys::stream(stream, tail_first))
        .rev()
    {
        let (k, run) = kv?;
        let first = keys::u64_suffix(&k);
        for i in (0..run.len() / 8).rev() {
            let version = first + i as u64;
            if version < tail_first && position_at(&run, i) <= bound {
                return Ok(version);
            }
        }
    }
    Ok(0)
}

/// The streams owning positions in `ranges` (inclusive, sorted), each with the first
/// of its versions there, and how many of those positions no stream owns. Reads the
/// whole index: for the integrity check, not for requests.
pub fn owners(
    log: &sled::Tree,
    pending: &Mutex<Pending>,
    ranges: &[(u64, u64)],
) -> Result<(HashMap<String, u64>, u64), StoreError> {
    let inside = |p: u64| ranges.iter().any(|(a, b)| (*a..=*b).contains(&p));
    let mut owners: HashMap<String, u64> = HashMap::new();
    let mut owned = std::collections::HashSet::new();
    let mut own = |stream: &str, version: u64, position: u64| {
        if inside(position) {
            owned.insert(position);
            let first = owners.entry(stream.to_string()).or_insert(version);
            *first = (*first).min(version);
        }
    };
    for kv in log.scan_prefix([keys::STREAM]) {
        let (k, run) = kv?;
        // `s` + stream + 0xFF + version.
        let Some(name) = k.len().checked_sub(9).and_then(|end| k.get(1..end)) else {
            continue;
        };
        let stream = String::from_utf8_lossy(name);
        let first = keys::u64_suffix(&k);
        for i in 0..run.len() / 8 {
            own(&stream, first + i as u64, position_at(&run, i));
        }
    }
    for (stream, run) in &lock(pending).streams {
        for (i, &position) in run.positions.iter().enumerate() {
            own(stream, run.first + i as u64, position);
        }
    }
    let total: u64 = ranges.iter().map(|(a, b)| b - a + 1).sum();
    Ok((owners, total - owned.len() as u64))
}
