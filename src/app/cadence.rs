//! The status-update cadence of `SEVERITY_1` swarms: the customer is owed a public
//! reply every interval; the scheduler's sweep records `StatusUpdateDue` for each
//! swarm whose update is overdue, once per missed interval (the domain refuses a
//! second reminder for the same interval, so racing sweeps append one).

use std::sync::atomic::Ordering;
use std::time::Duration;
use tracing::debug;

use super::{AppError, Desk, WriteOptions};
use crate::domain::{Actor, CaseId, Command, DomainError};

/// The interval when none is configured: 30 minutes.
pub const DEFAULT_STATUS_UPDATE_SECS: u32 = 30 * 60;

impl Desk {
    /// Sets the status-update interval (at least a second).
    pub fn set_status_update_interval(&self, every: Duration) {
        let secs = u32::try_from(every.as_secs()).unwrap_or(u32::MAX).max(1);
        self.status_update_secs.store(secs, Ordering::Relaxed);
    }

    pub fn status_update_interval(&self) -> Duration {
        Duration::from_secs(u64::from(self.status_update_secs.load(Ordering::Relaxed)))
    }

    /// Appends `StatusUpdateDue` for every `SEVERITY_1` swarm whose status update is
    /// overdue now. Returns how many it appended.
    pub async fn remind_status_updates(&self) -> Result<usize, AppError> {
        let now = self.clock().now();
        let secs = self.status_update_secs.load(Ordering::Relaxed);
        let due: Vec<CaseId> = {
            let p = self.projections().read();
            p.open_cases()
                .filter(|c| c.swarm.is_some())
                .filter(|c| {
                    c.swarming
                        .status_update_due(i64::from(secs))
                        .is_some_and(|t| t <= now)
                })
                .filter_map(|c| c.id)
                .collect()
        };
        let system = Actor::system();
        let mut appended = 0;
        for id in due {
            let command = Command::RemindStatusUpdate {
                interval_secs: secs,
            };
            match self
                .execute(&system, id, command, WriteOptions::default())
                .await
            {
                Ok(_) => appended += 1,
                // Replied to, recorded by another sweep, or the swarm changed meanwhile.
                Err(AppError::Domain(e @ DomainError::InvalidTransition { .. })) => {
                    debug!(case = %id, reason = %e, "status update no longer due")
                }
                Err(e) => return Err(e),
            }
        }
        Ok(appended)
    }
}
