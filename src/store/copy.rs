//! Copying a log from one store into another (`swarmdesk migrate`): every event
//! verbatim (positions, versions, ids, metadata, payload) through the target's
//! `import`, page by page, so the target's hash chain matches the source's.
//!
//! A copy cut short leaves the target a prefix of the source; running it again
//! continues after the target's head once the two agree on the link there (and
//! refuses a target that holds anything else).

use super::{EventStore, StoreError};

/// Events one `import` writes.
const PAGE: usize = 4096;

/// Copies what `from` holds after `to`'s head into `to`; returns how many events it
/// copied. `progress` is called after each page with the target's head.
pub async fn copy_log(
    from: &dyn EventStore,
    to: &dyn EventStore,
    mut progress: impl FnMut(u64),
) -> Result<u64, StoreError> {
    let start = to.head();
    if start > 0 {
        let (theirs, ours) = (from.link_at(start).await?, to.link_at(start).await?);
        if theirs.position != start || theirs.hash != ours.hash {
            return Err(StoreError::InvalidImport(format!(
                "the target already holds {start} events that are not the source's first \
                 {start}: copy into an empty database"
            )));
        }
    }
    let mut copied = 0;
    loop {
        let page = from.read_all(start + copied + 1, PAGE).await?;
        if page.is_empty() {
            return Ok(copied);
        }
        copied += to.import(page).await?;
        progress(to.head());
    }
}
