//! Copying a log from one store into another (`swarmdesk migrate`): every event
//! verbatim (positions, versions, ids, metadata, payload) through the target's
//! `import`, page by page, so the target's hash chain matches the source's; then the
//! idempotency keys with their results, so a client's retry after the move is still
//! answered from its key.
//!
//! A copy cut short leaves the target a prefix of the source; running it again
//! continues after the target's head once the two agree on the link there (and
//! refuses a target that holds anything else).

use super::{EventStore, StoreError};

/// Idempotency keys one copy step reads and writes.
const KEYS_PAGE: usize = 4096;

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

/// Copies every idempotency key of `from` into `to` (whose log must already hold the
/// events they answer); keys `to` already has are kept. Returns how many were new.
pub async fn copy_idempotency_keys(
    from: &dyn EventStore,
    to: &dyn EventStore,
) -> Result<u64, StoreError> {
    let mut after: Option<String> = None;
    let mut copied = 0;
    loop {
        let page = from.idempotency_keys(after.as_deref(), KEYS_PAGE).await?;
        let Some((last, _)) = page.last() else {
            return Ok(copied);
        };
        after = Some(last.clone());
        copied += to.import_idempotency_keys(page).await?;
    }
}
