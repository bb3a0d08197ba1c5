//! A group's writes to the log tree, applied as one atomic step: a single key with one
//! `insert`, more with one `apply_batch`.
//!
//! Both are atomic, and both are made durable by the flusher's next flush alike. They
//! differ in what sled does before that flush: `apply_batch` first writes out the I/O
//! buffer it is filling and then the one holding the batch's manifest (two writes, each
//! a job for sled's I/O thread pool), while an `insert` only fills the buffer, which the
//! flush then writes once. A group of a few appends without idempotency keys fits in one
//! page, which is one key (see `docs/performance.md`, "Where one client's write spends
//! its time"); so does one with idempotency keys, which its page then carries
//! ([`Writes::carry_keys_in_page`]: sled makes a batch atomic with a lock of the whole
//! process, which reads of other threads wait on; see "Mutations with an idempotency
//! key" there).

/// Where pages and other entries of a write go: a group's [`Writes`], or a
/// `sled::Batch` built by hand (the fence's roll-back).
pub(super) trait Sink {
    fn put(&mut self, key: impl Into<Vec<u8>>, value: Vec<u8>);
}

impl Sink for sled::Batch {
    fn put(&mut self, key: impl Into<Vec<u8>>, value: Vec<u8>) {
        self.insert(key.into(), value);
    }
}

/// The entries one group writes, in the order staged.
#[derive(Default)]
pub(super) struct Writes {
    entries: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Sink for Writes {
    fn put(&mut self, key: impl Into<Vec<u8>>, value: Vec<u8>) {
        self.entries.push((key.into(), value));
    }
}

impl Writes {
    /// When the group is one page and idempotency keys, moves the keys into the page
    /// (a keyed page, see module `page`), so that the group is one key; returns the
    /// keys moved, which the caller keeps pending until the index gives them entries
    /// of their own. Any other group is left as it is (and nothing is returned).
    pub(super) fn carry_keys_in_page(&mut self) -> Vec<super::page::CarriedKey> {
        let space = |k: &[u8]| k.first().copied();
        let pages = self
            .entries
            .iter()
            .filter(|(k, _)| space(k) == Some(super::keys::EVENT))
            .count();
        let only_keys_beside = self.entries.iter().all(|(k, _)| {
            matches!(
                space(k),
                Some(super::keys::EVENT) | Some(super::keys::IDEMPOTENCY)
            )
        });
        if pages != 1 || self.entries.len() < 2 || !only_keys_beside {
            return Vec::new();
        }
        let (mut page, keys): (Vec<_>, Vec<_>) = std::mem::take(&mut self.entries)
            .into_iter()
            .partition(|(k, _)| space(k) == Some(super::keys::EVENT));
        if let Some((key, value)) = page.pop() {
            if value.first() == Some(&super::page::PAGE) {
                self.entries
                    .push((key, super::page::with_keys(&value, &keys)));
                return keys;
            }
            // Not a page this build writes: left as it was.
            self.entries.push((key, value));
        }
        self.entries.extend(keys);
        Vec::new()
    }

    /// Writes every entry to `log` at once: none or all of them are ever read back.
    pub(super) fn apply(mut self, log: &sled::Tree) -> Result<(), sled::Error> {
        if self.entries.len() == 1 {
            if let Some((key, value)) = self.entries.pop() {
                return log.insert(key, value).map(drop);
            }
        }
        let mut batch = sled::Batch::default();
        for (key, value) in self.entries {
            batch.insert(key, value);
        }
        log.apply_batch(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_and_keys_become_one_keyed_page() {
        let mut pages = super::super::page::Pages::default();
        let mut w = Writes::default();
        pages.push(&mut w, 7, b"\x02record");
        pages.close(&mut w);
        w.put(super::super::keys::idempotency("k1"), b"r1".to_vec());
        w.put(super::super::keys::idempotency("k2"), b"r2".to_vec());
        let moved = w.carry_keys_in_page();
        assert_eq!(moved.len(), 2);
        assert_eq!(w.entries.len(), 1, "one key left to write");
        let (key, value) = &w.entries[0];
        assert_eq!(key.as_slice(), &super::super::keys::event(7));
        assert_eq!(super::super::page::carried_keys(value).unwrap(), moved);
        let (_db, log) = tree();
        w.apply(&log).unwrap();
        assert_eq!(log.len(), 1);
    }

    #[test]
    fn two_pages_and_a_key_stay_a_batch() {
        let mut w = Writes::default();
        w.put(super::super::keys::event(1), vec![super::super::page::PAGE]);
        w.put(super::super::keys::event(2), vec![super::super::page::PAGE]);
        w.put(super::super::keys::idempotency("k"), b"r".to_vec());
        assert!(w.carry_keys_in_page().is_empty());
        assert_eq!(w.entries.len(), 3);
        let mut alone = Writes::default();
        alone.put(super::super::keys::event(1), vec![super::super::page::PAGE]);
        assert!(alone.carry_keys_in_page().is_empty());
        assert_eq!(alone.entries.len(), 1);
    }

    fn tree() -> (sled::Db, sled::Tree) {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let log = db.open_tree("log").unwrap();
        (db, log)
    }

    #[test]
    fn one_entry_and_many_are_all_written() {
        let (_db, log) = tree();
        let mut one = Writes::default();
        one.put(*b"e1", b"page one".to_vec());
        one.apply(&log).unwrap();
        let mut many = Writes::default();
        many.put(*b"e2", b"page two".to_vec());
        many.put(*b"ikey", b"result".to_vec());
        many.put(*b"e2", b"page two, last write wins".to_vec());
        many.apply(&log).unwrap();
        let got: Vec<(Vec<u8>, Vec<u8>)> = log
            .iter()
            .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
            .collect();
        assert_eq!(
            got,
            vec![
                (b"e1".to_vec(), b"page one".to_vec()),
                (b"e2".to_vec(), b"page two, last write wins".to_vec()),
                (b"ikey".to_vec(), b"result".to_vec()),
            ]
        );
    }

    #[test]
    fn nothing_staged_writes_nothing() {
        let (_db, log) = tree();
        Writes::default().apply(&log).unwrap();
        assert_eq!(log.len(), 0);
    }
}
