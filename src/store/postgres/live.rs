//! Live events on one node, whichever node wrote them: this node's head and its
//! broadcast channel, fed in position order, each event exactly once.
//!
//! Two sources feed it: this node's writer, right after each commit, and a follower
//! task that reads the log after the head (by position) whenever another node's
//! commit is announced on the `LISTEN` connection, and at least every
//! [`PgOptions::poll_interval`](super::PgOptions::poll_interval) in case a
//! notification was lost (the connection dropped, or the database restarted).
//! Both publish under one lock that holds the last published position: an event is
//! published only if it is the next one, and a gap before this node's own commit
//! (other nodes committed in between) is read from the log first, so subscribers see
//! the log in order with no gap and no duplicate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use deadpool_postgres::Pool;
use futures_util::StreamExt;
use tokio::sync::{broadcast, mpsc, Mutex, Notify};
use tokio_postgres::{AsyncMessage, NoTls};
use tracing::{debug, info, warn};

use super::reader;
use super::CHANNEL;
use crate::store::{RecordedEvent, StoreError};

pub(super) struct Live {
    /// The last position published here; readers by position stop at it.
    head: AtomicU64,
    sender: broadcast::Sender<Arc<RecordedEvent>>,
    /// The last published position, held while publishing so that the writer and
    /// the follower publish one sequence.
    published: Mutex<u64>,
    pool: Pool,
    /// Wakes the follower (a notification arrived, or a publish could not finish).
    wake: Notify,
}

impl Live {
    pub(super) fn new(pool: Pool, head: u64, buffer: usize) -> Self {
        let (sender, _) = broadcast::channel(buffer.max(16));
        Live {
            head: AtomicU64::new(head),
            sender,
            published: Mutex::new(head),
            pool,
            wake: Notify::new(),
        }
    }

    pub(super) fn head(&self) -> u64 {
        self.head.load(Ordering::Acquire)
    }

    pub(super) fn subscribe(&self) -> broadcast::Receiver<Arc<RecordedEvent>> {
        self.sender.subscribe()
    }

    /// Publishes this node's just-committed events, after whatever other nodes
    /// committed before them.
    pub(super) async fn publish_own(&self, events: Vec<Arc<RecordedEvent>>) {
        let mut published = self.published.lock().await;
        let Some(first) = events.first().map(|e| e.position) else {
            return;
        };
        if first > *published + 1 {
            if let Err(e) = self.catch_up_locked(&mut published, first - 1).await {
                // The follower reads them (and these) from the log later.
                warn!(error = %e, "cannot read other nodes' events; the follower retries");
                self.wake.notify_one();
                return;
            }
        }
        for e in events {
            self.publish_one(&mut published, e);
        }
    }

    fn publish_one(&self, published: &mut u64, e: Arc<RecordedEvent>) -> bool {
        if e.position != *published + 1 {
            return false;
        }
        *published = e.position;
        self.head.store(e.position, Ordering::Release);
        // Nobody listening is fine.
        let _ = self.sender.send(e);
        true
    }

    /// Publishes everything committed after the head.
    pub(super) async fn catch_up(&self) -> Result<(), StoreError> {
        let mut published = self.published.lock().await;
        self.catch_up_locked(&mut published, u64::MAX).await
    }

    async fn catch_up_locked(&self, published: &mut u64, to: u64) -> Result<(), StoreError> {
        while *published < to {
            let page =
                reader::records(&self.pool, *published + 1, to, reader::PAGE as usize).await?;
            if page.is_empty() {
                return Ok(());
            }
            let before = *published;
            for e in page {
                self.publish_one(published, Arc::new(e));
            }
            if *published == before {
                return Err(StoreError::Corrupt(format!(
                    "the log has no event at position {}",
                    before + 1
                )));
            }
        }
        Ok(())
    }

    pub(super) fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Catches up whenever woken, and at least every `poll`, until the store is gone.
pub(super) async fn follow(live: Weak<Live>, poll: Duration) {
    loop {
        let Some(l) = live.upgrade() else { return };
        let woken = async {
            tokio::select! {
                _ = l.wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        };
        woken.await;
        if let Err(e) = l.catch_up().await {
            warn!(error = %e, "cannot read the log after this node's head; retrying");
        }
    }
}

/// Holds a `LISTEN` connection and wakes the follower on every announced commit
/// beyond the head; reconnects (with backoff) when the connection drops.
pub(super) async fn listen(config: tokio_postgres::Config, live: Weak<Live>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                let (tx, mut rx) = mpsc::unbounded_channel();
                let driver = tokio::spawn(async move {
                    let mut messages =
                        futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                    while let Some(message) = messages.next().await {
                        match message {
                            Ok(AsyncMessage::Notification(n)) => {
                                if tx.send(n.payload().to_string()).is_err() {
                                    return;
                                }
                            }
                            Ok(_) => {}
                            Err(e) => {
                                debug!(error = %e, "LISTEN connection ended");
                                return;
                            }
                        }
                    }
                });
                match client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                    Ok(()) => {
                        info!("listening for other nodes' commits");
                        backoff = Duration::from_millis(100);
                        // Whatever was committed while not listening.
                        match live.upgrade() {
                            Some(l) => l.wake(),
                            None => return,
                        }
                        while let Some(payload) = rx.recv().await {
                            let Some(l) = live.upgrade() else { return };
                            let position: u64 = payload.parse().unwrap_or(u64::MAX);
                            if position > l.head() {
                                l.wake();
                            }
                        }
                    }
                    Err(e) => warn!(error = %e, "cannot LISTEN; polling only"),
                }
                driver.abort();
            }
            Err(e) => warn!(error = %e, "cannot open the LISTEN connection; polling only"),
        }
        if live.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
