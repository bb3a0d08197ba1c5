//! Past views: a case, or its full view with messages, as it was at an earlier
//! version (what auditors' `caseAt` and the command service's replies need).

use super::record::decode;
use super::{AppError, Desk};
use crate::domain::{Case, CaseId};
use crate::store::RecordedEvent;

impl Desk {
    /// The case exactly as it was after stream version `version`.
    pub async fn case_at_version(&self, id: CaseId, version: u64) -> Result<Case, AppError> {
        self.fold_until(id, |r| r.version <= version).await
    }

    /// The case's full view (with messages) built from the events `keep` accepts, or
    /// `None` if none of them opened it: the past state auditors and subscriptions need.
    pub async fn view_where(
        &self,
        id: CaseId,
        keep: impl Fn(&RecordedEvent) -> bool,
    ) -> Result<Option<crate::projection::CaseView>, AppError> {
        let mut past = crate::projection::Projections::with_messages();
        for record in self.store.read_stream(&id.stream(), 1, usize::MAX).await? {
            if keep(&record) {
                past.apply(&record)?;
            }
        }
        Ok(past.case(id).cloned())
    }

    async fn fold_until(
        &self,
        id: CaseId,
        keep: impl Fn(&RecordedEvent) -> bool,
    ) -> Result<Case, AppError> {
        let mut case = Case::default();
        for record in self.store.read_stream(&id.stream(), 1, usize::MAX).await? {
            if !keep(&record) {
                break;
            }
            case.apply(
                &decode(&record)?,
                record.version,
                record.metadata.occurred_at,
            );
        }
        if !case.exists() {
            return Err(AppError::NotFound(format!("case {id}")));
        }
        Ok(case)
    }
}
