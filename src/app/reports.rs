//! Reports: the log folded up to the end of a period into [`crate::report`]'s
//! figures, for the cases the caller may see.

use std::collections::BTreeMap;

use super::{AppError, Desk};
use crate::domain::{CaseEvent, CaseId, Tier, Timestamp};
use crate::report::{self, fold::Folder, Report, Scope};

impl Desk {
    /// The report of `[from, to)`: every case event before `to` is folded (later ones
    /// are ignored), then the cases in `scope` that `visible` accepts are counted.
    pub async fn report(
        &self,
        from: Timestamp,
        to: Timestamp,
        scope: &Scope,
        targets: &BTreeMap<Tier, f64>,
        visible: &(dyn Fn(CaseId) -> bool + Sync),
    ) -> Result<Report, AppError> {
        let tracks = fold_log(self.store().as_ref(), from, to, self.vault().map(|v| &**v)).await?;
        Ok(report::build(from, to, tracks, scope, targets, visible))
    }
}

/// Folds every case event of `store` recorded before `to`, personal fields opened
/// with `vault` (subjects are reported and their words counted).
pub async fn fold_log(
    store: &dyn crate::store::EventStore,
    from: Timestamp,
    to: Timestamp,
    vault: Option<&crate::shred::Vault>,
) -> Result<std::collections::HashMap<CaseId, report::fold::Track>, AppError> {
    let mut folder = Folder::new(from, to);
    let mut failed = None;
    store
        .replay(1, &mut |e| {
            let Some(id) = CaseId::from_stream(e.stream) else {
                return true;
            };
            match CaseEvent::decode(e.event_type, e.schema_version, e.payload) {
                Ok(mut event) => {
                    if let Some(vault) = vault {
                        crate::shred::personal::open_case_event(vault, &mut event);
                    }
                    folder.apply(id, &event, e.version, e.occurred_at);
                    true
                }
                Err(err) => {
                    failed = Some(err);
                    false
                }
            }
        })
        .await?;
    if let Some(err) = failed {
        return Err(err.into());
    }
    Ok(folder.finish())
}
