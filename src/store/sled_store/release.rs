//! Handing back the memory a long read leaves in sled: sled 0.34 keeps state for
//! every page of its tree a process has read, whatever its cache size (about 276 MB
//! after a full read of a 1 M-event log), and cannot be told to drop it. So after a
//! start's long replay the open of sled is dropped and made again, as the recovery
//! after a failed write does (`recovery`): the writer is stopped, readers are waited
//! for, sled is closed and opened anew with a writer.

use super::*;

impl Core {
    /// Reopens sled with a writer, dropping the page state the old open kept. Meant
    /// for a start, before anything writes: an append in between is refused (`Closed`).
    /// Nothing is done while writes are refused (the recovery thread owns the open).
    pub(super) fn reopen(&self) -> Result<(), StoreError> {
        if self.common.failed.load(Ordering::Acquire) {
            return Ok(());
        }
        self.replace_open(false, true)
    }
}
