//! Presence from connections: the server marks an agent `AWAY` when every WebSocket
//! connection they had has been gone for a while (`--away-after`), and undoes that
//! automatic `AWAY` when they connect again.
//!
//! [`ConnectionWatch`] counts each agent's open connections (the WebSocket task holds a
//! [`Connected`] guard per authenticated connection of an agent of the directory) and
//! notes when the last one closed. [`AwaySweeper`] is the background task that wakes
//! when someone's time is up and appends their `PresenceSet` (`DISCONNECTED`) through
//! the service. An agent leaves the watch when marked, so the mark is appended once,
//! not again on every pass; the domain rule also refuses to mark an agent already
//! away. What is watched lives in memory: connections that were open when the server
//! stopped are not marked away after a restart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::app::Desk;
use crate::domain::AgentId;

/// The default `--away-after`: five minutes without a connection.
pub const DEFAULT_AWAY_AFTER: Duration = Duration::from_secs(300);
/// How long after a failed append (e.g. a full disk) the mark is tried again.
const RETRY: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct Watched {
    open: usize,
    /// When the agent is due to be marked away (set when the last connection closed).
    away_at: Option<Instant>,
}

/// Every agent's open connections, and when those without one fall due.
pub struct ConnectionWatch {
    away_after: Duration,
    agents: Mutex<HashMap<AgentId, Watched>>,
    /// Woken when an agent's last connection closes, so the sweeper's timer is reset.
    changed: Notify,
}

/// One open connection of an agent; dropping it closes it for the watch.
pub struct Connected {
    watch: Arc<ConnectionWatch>,
    agent: AgentId,
}

impl Drop for Connected {
    fn drop(&mut self) {
        self.watch.disconnected(&self.agent);
    }
}

impl ConnectionWatch {
    pub fn new(away_after: Duration) -> Arc<Self> {
        Arc::new(ConnectionWatch {
            away_after,
            agents: Mutex::default(),
            changed: Notify::new(),
        })
    }

    fn agents(&self) -> std::sync::MutexGuard<'_, HashMap<AgentId, Watched>> {
        self.agents.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes a new connection of `agent`; also whether it is now their only one
    /// (then an automatic `AWAY` should be undone).
    pub fn connect(self: &Arc<Self>, agent: AgentId) -> (Connected, bool) {
        let first = {
            let mut agents = self.agents();
            let w = agents.entry(agent.clone()).or_insert(Watched {
                open: 0,
                away_at: None,
            });
            w.open += 1;
            w.away_at = None;
            w.open == 1
        };
        let guard = Connected {
            watch: self.clone(),
            agent,
        };
        (guard, first)
    }

    fn disconnected(&self, agent: &AgentId) {
        let mut agents = self.agents();
        if let Some(w) = agents.get_mut(agent) {
            w.open = w.open.saturating_sub(1);
            if w.open == 0 {
                w.away_at = Some(Instant::now() + self.away_after);
                drop(agents);
                self.changed.notify_one();
            }
        }
    }

    /// Whether `agent` has a connection open now.
    pub fn is_connected(&self, agent: &AgentId) -> bool {
        self.agents().get(agent).is_some_and(|w| w.open > 0)
    }

    /// Agents due at `now`, taken off the watch (each is marked once), and when the
    /// next one falls due.
    fn take_due(&self, now: Instant) -> (Vec<AgentId>, Option<Instant>) {
        let mut agents = self.agents();
        let due: Vec<AgentId> = agents
            .iter()
            .filter(|(_, w)| w.open == 0 && w.away_at.is_some_and(|t| t <= now))
            .map(|(a, _)| a.clone())
            .collect();
        for a in &due {
            agents.remove(a);
        }
        let next = agents.values().filter_map(|w| w.away_at).min();
        (due, next)
    }

    /// A mark that failed: try again after [`RETRY`], unless the agent came back.
    fn retry_later(&self, agent: AgentId) {
        self.agents().entry(agent).or_insert(Watched {
            open: 0,
            away_at: Some(Instant::now() + RETRY),
        });
    }
}

/// The task that marks agents away when their time is up; stop it with
/// [`AwaySweeper::stop`] (it holds the service).
pub struct AwaySweeper {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl AwaySweeper {
    pub fn start(app: Arc<Desk>, connections: Arc<ConnectionWatch>) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                let (due, next) = connections.take_due(Instant::now());
                for agent in due {
                    mark(&app, &connections, agent).await;
                }
                // Nobody due: wait for a disconnection (a day is just "a long time").
                let until = next.unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
                tokio::select! {
                    _ = tokio::time::sleep_until(until) => {}
                    _ = connections.changed.notified() => {}
                    _ = stopped.changed() => break,
                }
            }
        });
        AwaySweeper { stop, task }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Marks `agent` away; should they have connected meanwhile, undoes it at once.
async fn mark(app: &Desk, connections: &ConnectionWatch, agent: AgentId) {
    match app.mark_away(&agent).await {
        Ok(p) => {
            debug!(%agent, presence = p.presence.as_str(), "no connection left: marked away");
            if connections.is_connected(&agent) {
                if let Err(e) = app.restore_presence(&agent).await {
                    warn!(%agent, error = %e, "could not restore the presence of a returning agent");
                }
            }
        }
        Err(e) => {
            warn!(%agent, error = %e, "could not mark a disconnected agent away; retrying");
            connections.retry_later(agent);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The watch is given the instant to judge by, so these run without waiting.

    use super::*;

    fn agent(id: &str) -> AgentId {
        AgentId::new(id).unwrap()
    }

    const MINUTE: Duration = Duration::from_secs(60);
    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn an_agent_falls_due_once_when_their_last_connection_has_been_gone_long_enough() {
        let watch = ConnectionWatch::new(MINUTE);
        let (one, first) = watch.connect(agent("farah"));
        assert!(first);
        let (two, first) = watch.connect(agent("farah"));
        assert!(!first, "a second connection is not a return");
        drop(one);
        let later = Instant::now() + 10 * MINUTE;
        assert_eq!(watch.take_due(later), (vec![], None), "one is still open");
        let before = Instant::now();
        drop(two);
        let gone = Instant::now();
        let (due, next) = watch.take_due(gone);
        assert!(due.is_empty());
        let next = next.expect("due once the time is up");
        assert!(next >= before + MINUTE && next <= gone + MINUTE);
        assert!(watch.take_due(next - MS).0.is_empty());
        assert_eq!(watch.take_due(next).0, vec![agent("farah")]);
        // Taken off the watch: later passes find nobody.
        assert_eq!(watch.take_due(next + 10 * MINUTE), (vec![], None));
    }

    #[test]
    fn returning_in_time_cancels_the_mark_and_a_failed_mark_is_retried() {
        let watch = ConnectionWatch::new(MINUTE);
        let (c, _) = watch.connect(agent("gustav"));
        drop(c);
        let (back, first) = watch.connect(agent("gustav"));
        assert!(first, "the only open connection again");
        assert!(watch.take_due(Instant::now() + 10 * MINUTE).0.is_empty());
        assert!(watch.is_connected(&agent("gustav")));
        drop(back);
        let due = Instant::now() + MINUTE;
        assert_eq!(watch.take_due(due).0, vec![agent("gustav")]);
        let before = Instant::now();
        watch.retry_later(agent("gustav"));
        assert!(watch.take_due(before).0.is_empty());
        assert_eq!(
            watch.take_due(Instant::now() + RETRY).0,
            vec![agent("gustav")]
        );
        // A retry for an agent who came back meanwhile is dropped.
        let (_again, _) = watch.connect(agent("gustav"));
        watch.retry_later(agent("gustav"));
        assert!(watch.take_due(Instant::now() + 10 * MINUTE).0.is_empty());
    }
}
