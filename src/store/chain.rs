//! The log's hash chain and its verification.
//!
//! Every record this build writes ([`FORMAT_V3`](super::envelope::FORMAT_V3)) ends
//! with a *link*: SHA-256 of the previous record's link followed by every byte of this
//! record before its link (format, position, version, id, time, correlation and
//! causation, stream, type, actor, payload). One chain runs over the whole log in
//! position order. The first record with a link (the *chain start*: position 1 for a
//! log this build created, the first position this build wrote for an older log)
//! follows a link of 32 zero bytes; records before it, written by earlier builds,
//! carry no link and are not covered.
//!
//! Changing any byte of a linked record, removing one or reordering them changes a
//! link from there on, so a link written down elsewhere (an *anchor*) proves that
//! nothing up to its position has changed since. Removing events from the end of the
//! log leaves a valid, shorter chain: only an anchor beyond the new end reveals it.
//!
//! [`Verifier`] walks records in stored order and reports the first position where the
//! chain, a position, a stream's version sequence or a record's decoding breaks.

use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

use super::envelope::{link_of, EventRef, LINK_BYTES};
use crate::domain::Timestamp;

/// A link of the chain (SHA-256).
pub type Link = [u8; LINK_BYTES];

/// What the first linked record follows.
pub const GENESIS: Link = [0u8; LINK_BYTES];

/// The link of a record whose bytes before its link are `body`, after `previous`.
pub fn link(previous: &Link, body: &[u8]) -> Link {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(body);
    h.finalize().into()
}

/// A link as lowercase hex, the way it is printed and compared by people.
pub fn hex(link: &Link) -> String {
    use std::fmt::Write;
    link.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The last event of the log: where it is, its link and when it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogHead {
    /// 0 for an empty log.
    pub position: u64,
    /// `None` if the last record has no link (written by an earlier build) or the log
    /// is empty.
    pub hash: Option<Link>,
    pub occurred_at: Option<Timestamp>,
}

/// The first place where the log is not what its writer wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Break {
    /// The position where the log breaks (the position that is missing, misplaced,
    /// undecodable or whose link does not match).
    pub position: u64,
    pub reason: String,
}

/// What [`Verifier`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records read and found intact (all of them when nothing broke; those before
    /// the break otherwise).
    pub events: u64,
    /// The last intact position.
    pub head_position: u64,
    /// The link of the last intact linked record.
    pub head_hash: Option<Link>,
    /// The first position with a link, if any.
    pub chain_start: Option<u64>,
    pub broken: Option<Break>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.broken.is_none()
    }

    /// One line for people: "ok, N events, head hash H" or where it breaks.
    pub fn summary(&self) -> String {
        let start = match self.chain_start {
            Some(p) if p > 1 => format!(
                " (the chain starts at position {p}; positions 1 to {} were written by an \
                 earlier build and carry no hash)",
                p - 1
            ),
            Some(_) => String::new(),
            None if self.events == 0 => String::new(),
            None => " (no event carries a hash: all were written by an earlier build)".into(),
        };
        let head = self.head_hash.as_ref().map_or("none".into(), hex);
        match &self.broken {
            None => format!("ok, {} events, head hash {head}{start}", self.events),
            Some(b) => format!(
                "broken at position {}: {} ({} events before it are intact, head hash {head}{start})",
                b.position, b.reason, self.events
            ),
        }
    }
}

/// Checks records one by one, in stored order, and stops at the first break.
#[derive(Debug)]
pub struct Verifier {
    /// The position the next record must have.
    next: u64,
    previous: Option<Link>,
    chain_start: Option<u64>,
    /// Each stream's last version seen.
    versions: HashMap<String, u64>,
    broken: Option<Break>,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            next: 1,
            previous: None,
            chain_start: None,
            versions: HashMap::new(),
            broken: None,
        }
    }
}

impl Verifier {
    /// The position the next record must have.
    pub fn next_position(&self) -> u64 {
        self.next
    }

    pub fn is_broken(&self) -> bool {
        self.broken.is_some()
    }

    /// Records a break at the next position (e.g. a page that cannot be read).
    pub fn fail(&mut self, reason: impl Into<String>) {
        if self.broken.is_none() {
            self.broken = Some(Break {
                position: self.next,
                reason: reason.into(),
            });
        }
    }

    /// Checks the next stored record; returns `false` once the log is broken.
    pub fn record(&mut self, bytes: &[u8]) -> bool {
        if self.broken.is_some() {
            return false;
        }
        let expected = self.next;
        let e = match EventRef::decode(bytes) {
            Ok(e) => e,
            Err(err) => {
                self.fail(format!("the record does not decode ({err})"));
                return false;
            }
        };
        if e.position != expected {
            self.fail(format!(
                "the record stored here has position {} (an event is missing or out of order)",
                e.position
            ));
            return false;
        }
        let last = self.versions.get(e.stream).copied().unwrap_or(0);
        if e.version != last + 1 {
            self.fail(format!(
                "stream `{}` goes from version {last} to version {}",
                e.stream, e.version
            ));
            return false;
        }
        match link_of(bytes) {
            Ok(Some((body, stored))) => {
                let previous = match self.previous {
                    Some(p) => p,
                    None => {
                        self.chain_start = Some(expected);
                        GENESIS
                    }
                };
                if link(&previous, body) != *stored {
                    self.fail(
                        "the hash does not match the record's content and the previous hash \
                         (the record, or one before it, was changed)",
                    );
                    return false;
                }
                self.previous = Some(*stored);
            }
            Ok(None) => {
                if let Some(start) = self.chain_start {
                    self.fail(format!(
                        "the record carries no hash, but the chain started at position {start}"
                    ));
                    return false;
                }
            }
            Err(err) => {
                self.fail(format!("the record does not decode ({err})"));
                return false;
            }
        }
        match self.versions.get_mut(e.stream) {
            Some(v) => *v = e.version,
            None => {
                self.versions.insert(e.stream.to_string(), e.version);
            }
        }
        self.next += 1;
        true
    }

    pub fn finish(self) -> VerifyReport {
        VerifyReport {
            events: self.next - 1,
            head_position: self.next - 1,
            head_hash: self.previous,
            chain_start: self.chain_start,
            broken: self.broken,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Actor, Role};
    use crate::store::envelope::{seal, Metadata, RecordedEvent};
    use ulid::Ulid;

    fn event(position: u64, stream: &str, version: u64) -> RecordedEvent {
        RecordedEvent {
            position,
            id: Ulid(position as u128),
            stream: stream.into(),
            version,
            event_type: "Noted".into(),
            schema_version: 1,
            metadata: Metadata {
                actor: Actor::new("dara", Role::Agent).unwrap(),
                occurred_at: Timestamp(position as i64 * 1000),
                correlation_id: Ulid(7),
                causation_id: None,
            },
            payload: vec![position as u8; 10],
        }
    }

    /// `old` records without links, then `new` linked ones, as the writer makes them.
    fn log(old: u64, new: u64) -> Vec<Vec<u8>> {
        let mut previous = GENESIS;
        (1..=old + new)
            .map(|p| {
                let e = event(p, ["a", "b"][(p % 2) as usize], p.div_ceil(2));
                if p <= old {
                    e.to_v2_bytes()
                } else {
                    let mut bytes = e.to_bytes();
                    previous = seal(&mut bytes, &previous);
                    bytes
                }
            })
            .collect()
    }

    fn verify(records: &[Vec<u8>]) -> VerifyReport {
        let mut v = Verifier::default();
        for r in records {
            if !v.record(r) {
                break;
            }
        }
        v.finish()
    }

    #[test]
    fn an_intact_log_is_ok_with_its_head_hash() {
        let records = log(0, 6);
        let report = verify(&records);
        assert!(report.is_ok(), "{report:?}");
        assert_eq!((report.events, report.chain_start), (6, Some(1)));
        let (_, last) = link_of(&records[5]).unwrap().unwrap();
        assert_eq!(report.head_hash, Some(*last));
        assert!(report.summary().starts_with("ok, 6 events, head hash "));
    }

    #[test]
    fn the_chain_starts_at_the_first_linked_record() {
        let report = verify(&log(3, 4));
        assert!(report.is_ok(), "{report:?}");
        assert_eq!((report.events, report.chain_start), (7, Some(4)));
        assert!(report.summary().contains("starts at position 4"));
        let old = verify(&log(3, 0));
        assert_eq!(
            (old.is_ok(), old.chain_start, old.head_hash),
            (true, None, None)
        );
    }

    #[test]
    fn each_kind_of_damage_is_found_where_it_is() {
        let records = log(0, 8);
        let mut changed = records.clone();
        let n = changed[4].len();
        changed[4][n - 40] ^= 0x20;
        assert_eq!(verify(&changed).broken.unwrap().position, 5);

        let mut removed = records.clone();
        removed.remove(2);
        assert_eq!(verify(&removed).broken.unwrap().position, 3);

        let mut swapped = records.clone();
        swapped.swap(5, 6);
        assert_eq!(verify(&swapped).broken.unwrap().position, 6);

        let mut unlinked = records.clone();
        unlinked[6] = event(7, "b", 4).to_v2_bytes();
        let b = verify(&unlinked).broken.unwrap();
        assert_eq!(b.position, 7, "{b:?}");

        let mut garbage = records;
        garbage[1] = vec![4, 1, 2];
        assert_eq!(verify(&garbage).broken.unwrap().position, 2);
    }
}
