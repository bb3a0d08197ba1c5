//! A snapshot's bytes as a store hands them to a start: a copy, or the file that holds
//! them mapped into memory (read from the page cache as they are decoded; no copy of
//! the whole snapshot is made first, which at 1 M events is 80 MB to allocate, fault in
//! and fill before decoding can begin).

use std::ops::Deref;

/// Bytes of a snapshot ([`crate::store::EventStore::load_snapshot_mapped`]).
pub enum SnapshotBytes {
    Owned(Vec<u8>),
    /// A snapshot file, mapped read-only. Snapshot files are replaced by renaming a
    /// new file over them, never written in place, so what is mapped does not change.
    Mapped(memmap2::Mmap),
}

impl Deref for SnapshotBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            SnapshotBytes::Owned(bytes) => bytes,
            SnapshotBytes::Mapped(map) => map,
        }
    }
}
