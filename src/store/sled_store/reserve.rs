//! The space reserve: a file of [`RESERVE_BYTES`] written at open, deleted as soon as
//! a write fails, so that reopening sled for reads has room on a full disk, and
//! written again before writes resume.
//!
//! Why reads need room: after a failed write sled 0.34.7 is fail-stop (it keeps the
//! I/O error and fails every later write to its log with it), and its reads write
//! too: a traversal that meets a node due to be split or merged restructures it in
//! the log first. A read that meets such a node (e.g. the leaf the refused group made
//! too big) on the failed open of sled fails with the stored error ("No space left on
//! device"). So the recovery thread reopens sled at once for reads (see `recovery`),
//! which itself writes a little (sled's recovery and snapshot, the fence's roll-back),
//! as do the splits and merges of the reads after it: the reserve is that room.

use super::*;

/// The file holding the reserve, in the data directory.
pub const RESERVE_FILE: &str = "space-reserve";
/// Bytes set aside: enough for reopening sled and restructuring nodes while reading.
pub const RESERVE_BYTES: usize = 4 * 1024 * 1024;

/// Writes (and syncs) the reserve if it is not whole; on failure (e.g. a full disk)
/// removes what it wrote, so that a partial reserve never takes space unnoticed.
pub(super) fn ensure(dir: &Path) -> std::io::Result<()> {
    let path = dir.join(RESERVE_FILE);
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == RESERVE_BYTES as u64) {
        return Ok(());
    }
    let written = (|| {
        std::fs::create_dir_all(dir)?;
        // Real bytes, not `set_len`: a sparse file would reserve nothing.
        let mut f = std::fs::File::create(&path)?;
        f.write_all(&vec![0u8; RESERVE_BYTES])?;
        f.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&path);
    }
    written
}

/// Deletes the reserve, giving its space back to the filesystem.
pub(super) fn release(dir: &Path) {
    match std::fs::remove_file(dir.join(RESERVE_FILE)) {
        Ok(()) => warn!(
            bytes = RESERVE_BYTES,
            "released the space reserve so that reads go on"
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => error!(error = %e, "cannot delete the space reserve"),
    }
}
