//! Reports: [`crate::report`]'s figures for the cases the caller may see, read from
//! the live facts projection ([`crate::report::fast`]); the scan of the log
//! ([`fold_log`]) stays for the command line, which runs without projections.

use std::collections::{BTreeMap, HashMap};

use super::record::decode;
use super::{AppError, Desk};
use crate::domain::{Case, CaseEvent, CaseId, Tier, Timestamp};
use crate::report::{self, fold::Folder, fold::Track, Report, Scope};

impl Desk {
    /// The report of `[from, to)`: every case event before `to` counts, later ones
    /// are ignored; the cases in `scope` that `visible` accepts (as they are now)
    /// are counted. Read from the projections once they hold the whole log; the few
    /// cases with events on both sides of `to` are folded from their own streams.
    pub async fn report(
        &self,
        from: Timestamp,
        to: Timestamp,
        scope: &Scope,
        targets: &BTreeMap<Tier, f64>,
        visible: &(dyn Fn(&Case) -> bool + Sync),
    ) -> Result<Report, AppError> {
        self.projections.wait_for(self.store.head()).await?;
        // Subjects are kept sealed in the projections and in the log.
        let vault = self.vault().cloned();
        let open = |subject: &str| match &vault {
            Some(v) => v.open(subject).into_owned(),
            None => subject.to_owned(),
        };
        let mut folded: HashMap<CaseId, Track> = HashMap::new();
        loop {
            let missing: Vec<CaseId> = {
                let p = self.projections.read();
                let missing: Vec<CaseId> = report::fast::to_fold(&p, to)
                    .into_iter()
                    .filter(|id| !folded.contains_key(id))
                    .collect();
                if missing.is_empty() {
                    return Ok(report::fast::report(
                        &p,
                        from..to,
                        &folded,
                        scope,
                        targets,
                        visible,
                        &open,
                    ));
                }
                missing
            };
            // Events may arrive meanwhile and move more cases across `to`: the loop
            // checks again under the lock it builds the report under.
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
