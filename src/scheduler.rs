//! The SLA scheduler: a background task that appends what the SLA clocks make due.
//!
//! Deadlines are projected from each case's own events (see [`crate::domain::sla`]);
//! nothing is stored about them but facts. The scheduler sweeps the open cases whose
//! next SLA instant has passed, asks the pure [`sla_due`] what is due, and runs each
//! command through the command service as the system actor. `decide` refuses a
//! breach or escalation step that was already recorded, so a command runs at most
//! once even when two sweeps (or two servers sharing one log) race, and a restart
//! sweeps at once, catching deadlines that passed while the server was down. The same
//! sweep expires swarm invitations past their expiry (`Desk::expire_invitations`) and
//! records severity-1 swarms' overdue status updates (`Desk::remind_status_updates`).

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, info_span, warn, Instrument};

use crate::app::{AppError, Desk, WriteOptions};
use crate::domain::{sla_due, Actor, Command, DomainError};
use crate::metrics::Metrics;

/// Someone waiting for a sweep that starts after they asked; told what it appended.
type SweepWaiter = oneshot::Sender<Result<usize, String>>;

/// A running scheduler; stop it with [`SlaScheduler::stop`].
pub struct SlaScheduler {
    stop: watch::Sender<bool>,
    requests: mpsc::Sender<SweepWaiter>,
    /// How many sweeps have finished, so a caller can await the first one.
    passes: watch::Receiver<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl SlaScheduler {
    /// Sweeps now, then every `every` (and whenever [`sweep`](Self::sweep) asks).
    pub fn start(app: Arc<Desk>, every: Duration, metrics: Arc<Metrics>) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        let (requests, mut asked) = mpsc::channel::<SweepWaiter>(64);
        let (passes_tx, passes) = watch::channel(0u64);
        let task = tokio::spawn(async move {
            let mut waiting: Vec<SweepWaiter> = Vec::new();
            loop {
                let result = sweep(&app, &metrics).await;
                if let Err(e) = &result {
                    warn!(error = %e, "SLA sweep failed; retrying at the next one");
                }
                passes_tx.send_modify(|n| *n += 1);
                for waiter in waiting.drain(..) {
                    let _ = waiter.send(result.as_ref().map(|n| *n).map_err(|e| e.to_string()));
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    Some(waiter) = asked.recv() => {
                        waiting.push(waiter);
                        while let Ok(more) = asked.try_recv() {
                            waiting.push(more);
                        }
                    }
                    _ = stopped.changed() => break,
                }
            }
        });
        SlaScheduler {
            stop,
            requests,
            passes,
            task,
        }
    }

    /// Runs a sweep that starts after this call and returns how many SLA events it
    /// appended (tests move a manual clock, then await this instead of sleeping).
    pub async fn sweep(&self) -> Result<usize, String> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(reply)
            .await
            .map_err(|_| "the SLA scheduler has stopped".to_string())?;
        answer
            .await
            .map_err(|_| "the SLA scheduler has stopped".to_string())?
    }

    /// Resolves once the first sweep (the one at start) has finished.
    pub async fn first_pass(&self) {
        let mut passes = self.passes.clone();
        let _ = passes.wait_for(|n| *n >= 1).await;
    }

    /// Stops after the sweep in progress, if any.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// One pass over the open cases: runs every SLA command due now. Returns how many
/// were appended.
pub async fn sweep(app: &Desk, metrics: &Metrics) -> Result<usize, AppError> {
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
    // Swarm invitations expire on the same sweep.
    appended += app.expire_invitations().await?;
    // And severity-1 swarms' overdue status updates are recorded.
    appended += app.remind_status_updates().await?;
    Ok(appended)
}
