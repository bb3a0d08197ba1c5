//! One stream's events, applied once each and in version order, when they arrive from
//! two sources that overlap: a read of the stream (at start, or after a lost race) and
//! the live feed (every node's appends, this node's own included). Earlier versions
//! than the last applied are dropped; later ones wait until the gap before them is
//! filled.

use std::collections::BTreeMap;

/// The version last applied, and what arrived ahead of a gap.
#[derive(Debug)]
pub struct InOrder<T> {
    applied: u64,
    ahead: BTreeMap<u64, T>,
}

impl<T> Default for InOrder<T> {
    fn default() -> Self {
        InOrder {
            applied: 0,
            ahead: BTreeMap::new(),
        }
    }
}

impl<T> InOrder<T> {
    /// The last version applied (0: none).
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Offers the event at `version`; returns what may be applied now, in order
    /// (nothing for a version already applied, or one after a gap).
    pub fn offer(&mut self, version: u64, event: T) -> Vec<(u64, T)> {
        if version > self.applied {
            self.ahead.insert(version, event);
        }
        self.drain()
    }

    /// Marks everything up to `version` applied (a whole fold of the stream replaced
    /// the state); returns what was waiting just after it.
    pub fn skip_to(&mut self, version: u64) -> Vec<(u64, T)> {
        if version > self.applied {
            self.applied = version;
            self.ahead.retain(|v, _| *v > version);
        }
        self.drain()
    }

    fn drain(&mut self) -> Vec<(u64, T)> {
        let mut ready = Vec::new();
        while let Some(event) = self.ahead.remove(&(self.applied + 1)) {
            self.applied += 1;
            ready.push((self.applied, event));
        }
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::InOrder;

    #[test]
    fn each_version_once_in_order_whatever_the_arrival() {
        let mut o = InOrder::default();
        assert!(o.offer(3, 'c').is_empty(), "waits for 1 and 2");
        assert_eq!(o.offer(1, 'a'), vec![(1, 'a')]);
        assert_eq!(o.offer(2, 'b'), vec![(2, 'b'), (3, 'c')]);
        assert!(o.offer(2, 'b').is_empty(), "applied already");
        assert!(o.offer(5, 'e').is_empty());
        assert_eq!(o.skip_to(4), vec![(5, 'e')]);
        assert!(o.skip_to(3).is_empty(), "never back");
        assert_eq!(o.applied(), 5);
    }
}
