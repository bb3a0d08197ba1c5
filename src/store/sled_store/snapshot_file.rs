//! Projection snapshots as files in the store's directory
//! (`projections-snapshots/<name>`), not values in sled: sled keeps every value it has
//! read or written in its page cache whatever its size, so a snapshot in sled (about
//! 80 bytes per event) stayed in memory for the life of the process, once when it was
//! read at start and again each time one was written. A file is read (mapped) once and
//! dropped.
//!
//! A save writes a temporary file, syncs it, renames it over the previous one and
//! syncs the directory, so a crash leaves the old snapshot or the new one, never half
//! of one. A start maps the file rather than copying it ([`load_mapped`]): since a
//! file is only ever replaced, never written in place, the mapped bytes stay as they
//! were. Snapshots written into sled by earlier builds are still read (and removed
//! from sled once a file replaces them).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::store::{SnapshotBytes, StoreError};

/// The directory, inside the store's, that holds the snapshot files.
pub const SNAPSHOTS_DIR: &str = "projections-snapshots";

fn io(what: &str, e: std::io::Error) -> StoreError {
    StoreError::Io(format!("snapshot {what}: {e}"))
}

/// The file of snapshot `name`. Names are the server's own (`projections`); anything
/// that could leave the directory is refused.
fn path(dir: &Path, name: &str) -> Result<PathBuf, StoreError> {
    let plain = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !plain {
        return Err(StoreError::Io(format!(
            "snapshot name {name:?} is not plain"
        )));
    }
    Ok(dir.join(SNAPSHOTS_DIR).join(name))
}

/// Writes snapshot `name` durably, replacing the previous one at once.
pub(super) fn save(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let target = path(dir, name)?;
    let folder = dir.join(SNAPSHOTS_DIR);
    fs::create_dir_all(&folder).map_err(|e| io("directory", e))?;
    let temporary = folder.join(format!(".{name}.partial"));
    let mut file = fs::File::create(&temporary).map_err(|e| io("create", e))?;
    file.write_all(bytes).map_err(|e| io("write", e))?;
    file.sync_data().map_err(|e| io("sync", e))?;
    drop(file);
    fs::rename(&temporary, &target).map_err(|e| io("rename", e))?;
    fs::File::open(&folder)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("directory sync", e))
}

/// Maps snapshot `name`'s file, if one holds it (an empty file, which cannot be
/// mapped, comes back as no bytes).
pub(super) fn load_mapped(dir: &Path, name: &str) -> Result<Option<SnapshotBytes>, StoreError> {
    let file = match fs::File::open(path(dir, name)?) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("open", e)),
    };
    if file.metadata().map_err(|e| io("read", e))?.len() == 0 {
        return Ok(Some(SnapshotBytes::Owned(Vec::new())));
    }
    // SAFETY: a mapped file that changed underneath would change the bytes being read.
    // The store never writes a snapshot file in place ([`save`] renames a new file over
    // it, and the mapping keeps the old one), and the data directory is this process's
    // alone while the store is open (sled locks it).
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| io("map", e))?;
    Ok(Some(SnapshotBytes::Mapped(map)))
}

/// Reads snapshot `name`, if a file holds it.
pub(super) fn load(dir: &Path, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
    match fs::read(path(dir, name)?) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("read", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_save_replaces_the_previous_snapshot_and_leaves_no_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path(), "projections").unwrap(), None);
        save(dir.path(), "projections", b"first").unwrap();
        save(dir.path(), "projections", b"second").unwrap();
        assert_eq!(
            load(dir.path(), "projections").unwrap().as_deref(),
            Some(&b"second"[..])
        );
        let files: Vec<_> = fs::read_dir(dir.path().join(SNAPSHOTS_DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(files, ["projections"]);
    }

    #[test]
    fn a_mapped_snapshot_reads_as_the_file_and_outlives_its_replacement() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load_mapped(dir.path(), "projections").unwrap().is_none());
        save(dir.path(), "projections", b"").unwrap();
        assert_eq!(
            load_mapped(dir.path(), "projections").unwrap().as_deref(),
            Some(&b""[..])
        );
        save(dir.path(), "projections", b"first").unwrap();
        let mapped = load_mapped(dir.path(), "projections").unwrap().unwrap();
        assert!(matches!(mapped, SnapshotBytes::Mapped(_)));
        save(dir.path(), "projections", b"second, longer").unwrap();
        assert_eq!(&*mapped, b"first");
        assert!(load_mapped(dir.path(), "../x").is_err());
    }

    #[test]
    fn names_that_could_leave_the_directory_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["", "../x", "a/b", ".", "x y"] {
            assert!(save(dir.path(), name, b"x").is_err(), "{name:?}");
            assert!(load(dir.path(), name).is_err(), "{name:?}");
        }
    }
}
