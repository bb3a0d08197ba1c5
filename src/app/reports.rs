//! Reports: [`crate::report`]'s figures for the cases the caller may see, read from
//! the live facts projection ([`crate::report::fast`]); the scan of the log
//! ([`fold_log`]) stays for the command line, which runs without projections.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::record::decode;
use super::{AppError, Desk};
use crate::domain::{Case, CaseEvent, CaseId, Tier, Timestamp};
use crate::report::{self, fold::Folder, fold::Track, Report, Scope};

/// Which cases a caller may count, judged on each case's current state.
pub type Visible = Arc<dyn Fn(&Case) -> bool + Send + Sync>;

impl Desk {
    /// The report of `[from, to)`: every case event before `to` counts, later ones
    /// are ignored; the cases in `scope` that `visible` accepts (as they are now)
    /// are counted. Read from the projections once they hold the whole log; the few
    /// cases with events on both sides of `to` are folded from their own streams.
    /// The figures are built on a blocking thread: at a million events they take a
    /// few hundred milliseconds, which would otherwise hold up every other request
    /// of the HTTP worker this one executes on.
    pub async fn report(
        &self,
        from: Timestamp,
        to: Timestamp,
        scope: Scope,
        targets: BTreeMap<Tier, f64>,
        visible: Visible,
    ) -> Result<Report, AppError> {
        self.projections.wait_for(self.store.head()).await?;
        let shared = self.projections.shared();
        let vault = self.vault().cloned();
        let mut folded: HashMap<CaseId, Track> = HashMap::new();
        let inputs = Arc::new((scope, targets, visible));
        loop {
            let (shared, inputs, vault) = (shared.clone(), inputs.clone(), vault.clone());
            let built = tokio::task::spawn_blocking(move || {
                let p = shared.read().unwrap_or_else(|p| p.into_inner());
                let missing: Vec<CaseId> = report::fast::to_fold(&p, to)
                    .into_iter()
                    .filter(|id| !folded.contains_key(id))
                    .collect();
                if !missing.is_empty() {
                    return Err((folded, missing));
                }
                // Subjects are kept sealed in the projections and in the log.
                let open = |subject: &str| match &vault {
                    Some(v) => v.open(subject).into_owned(),
                    None => subject.to_owned(),
                };
                let (scope, targets, visible) = &*inputs;
                Ok(report::fast::report(
                    &p,
                    from..to,
                    &folded,
                    scope,
                    targets,
                    visible.as_ref(),
                    &open,
                ))
            })
            .await
            .map_err(|e| AppError::Internal(format!("report: {e}")))?;
            // Events may arrive meanwhile and move more cases across `to`: the next
            // round checks again under the lock it builds the report under.
            let missing;
            (folded, missing) = match built {
                Ok(report) => return Ok(report),
                Err(more) => more,
            };
            for id in missing {
                let track = self.fold_case(id, from, to).await?;
                folded.insert(id, track);
            }
        }
    }

    /// One case's track for `[from, to)`, folded from its stream.
    async fn fold_case(
        &self,
        id: CaseId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Track, AppError> {
        let records = self.store.read_stream(&id.stream(), 1, usize::MAX).await?;
        let events = records
            .iter()
            .map(|r| Ok((decode(r)?, r.version, r.metadata.occurred_at)))
            .collect::<Result<Vec<_>, AppError>>()?;
        Ok(report::fast::fold_case(
            id,
            from,
            to,
            events.iter().map(|(e, v, at)| (e, *v, *at)),
        ))
    }
}

/// Folds every case event of `store` recorded before `to`: the scan the command line
/// reports from, and the reference the fast path is tested against.
pub async fn fold_log(
    store: &dyn crate::store::EventStore,
    from: Timestamp,
    to: Timestamp,
    vault: Option<&crate::shred::Vault>,
) -> Result<HashMap<CaseId, Track>, AppError> {
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
