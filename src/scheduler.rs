//! The SLA scheduler: a background task that appends what the SLA clocks make due.
//!
//! Deadlines are projected from each case's own events (see [`crate::domain::sla`]);
//! nothing is stored about them but facts. The scheduler sweeps the open cases whose
//! next SLA instant has passed, asks the pure [`sla_due`] what is due, and runs each
//! command through the command service as the system actor. `decide` refuses a
//! breach or escalation step that was already recorded, so a command runs at most
//! once even when two sweeps (or two servers sharing one log) race, and a restart
//! sweeps at once, catching deadlines that passed while the server was down.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tracing::{debug, info_span, warn, Instrument};

use crate::app::{App, AppError, WriteOptions};
use crate::domain::{sla_due, Actor, Command, DomainError};
use crate::metrics::Metrics;

/// A running scheduler; stop it with [`SlaScheduler::stop`].
pub struct SlaScheduler {
    stop: watch::Sender<bool>,
    wake: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl SlaScheduler {
    /// Sweeps now, then every `every` (and whenever [`wake`](Self::wake) is called).
    pub fn start(app: Arc<App>, every: Duration, metrics: Arc<Metrics>) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        let wake = Arc::new(Notify::new());
        let woken = wake.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Err(e) = sweep(&app, &metrics).await {
                    warn!(error = %e, "SLA sweep failed; retrying at the next one");
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = woken.notified() => {}
                    _ = stopped.changed() => break,
                }
            }
        });
        SlaScheduler { stop, wake, task }
    }

    /// Asks for a sweep now (e.g. after a test moved its clock).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Stops after the sweep in progress, if any.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// One pass over the open cases: runs every SLA command due now. Returns how many
/// were appended.
pub async fn sweep(app: &App, metrics: &Metrics) -> Result<usize, AppError> {
    let now = app.clock().now();
    let due: Vec<_> = {
        let p = app.projections().read();
        p.open_cases()
            .filter(|c| c.next_sla_wakeup().is_some_and(|t| t <= now))
            .filter_map(|c| Some((c.id?, sla_due(c, now))))
            .collect()
    };
    let mut appended = 0;
    let system = Actor::system();
    for (id, commands) in due {
        for command in commands {
            let name = command.name();
            let kind = match command {
                Command::RecordSlaBreach { .. } => "breach",
                _ => "escalation",
            };
            let run = app.execute(&system, id, command, WriteOptions::default());
            match run
                .instrument(info_span!("sla", case = %id, command = name))
                .await
            {
                Ok(_) => {
                    appended += 1;
                    metrics.sla_event(kind);
                }
                // Already recorded, met or paused meanwhile: nothing to do.
                Err(AppError::Domain(
                    e @ (DomainError::Sla { .. } | DomainError::InvalidTransition { .. }),
                )) => {
                    debug!(case = %id, reason = %e, "SLA command no longer due")
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(appended)
}
