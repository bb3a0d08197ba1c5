//! Keeps one shared [`Projections`] up to date from the log, and snapshots it.
//!
//! At start the runner loads the last snapshot (if its format matches this build) and
//! subscribes from the position after it: events already in the snapshot are not
//! applied again, events after it are not lost. Without a usable snapshot it replays
//! the whole log. A snapshot is written every [`SNAPSHOT_EVERY`] and at stop.
//!
//! After applying a batch, the runner publishes what it changed ([`Change`]s, one
//! shared batch per apply) on a bounded broadcast channel, but only while someone
//! listens ([`ProjectionRunner::changes`]): with no listener the write path computes
//! nothing. A listener that falls [`CHANGE_BATCHES`] batches behind is told so
//! (`Lagged`) and must start again from the projections.
//!
//! State kept beside the projections (the tokens, the configuration in force) follows
//! the same feed through [observers](ProjectionRunner::observe): each sees every event
//! the runner applies, before the runner reports the batch's position, so a writer
//! waiting for its position (or a node applying another node's write) finds that
//! state up to date too.

use futures_util::{FutureExt, StreamExt};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use super::changes::{mark_append_ends, Change};
use super::listing::Gathered;
use super::{CaseView, Projections};
use crate::domain::CaseId;
use crate::domain::CodecError;
use crate::store::{feed::FeedEvent, subscribe_from, EventStore, RecordedEvent, StoreError};

/// Name of the projections snapshot in the store.
pub const SNAPSHOT_NAME: &str = "projections";
/// Bump when [`Projections`]' serialized shape changes: older snapshots are then
/// ignored and the projections rebuilt from the log.
pub const SNAPSHOT_FORMAT: u32 = 11;
/// How often a changed projection is snapshotted.
pub const SNAPSHOT_EVERY: Duration = Duration::from_secs(30);
/// Batches of changes kept for listeners that are behind.
pub const CHANGE_BATCHES: usize = 1024;

/// The changes of one applied batch, in log order, shared by every listener.
pub type Changes = Arc<Vec<Change>>;

#[derive(Debug, Clone, Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot read event: {0}")]
    Codec(String),
    #[error("projections did not reach position {0} in time")]
    Timeout(u64),
    #[error("projections stopped: {0}")]
    Stopped(String),
}

impl From<CodecError> for ProjectionError {
    fn from(e: CodecError) -> Self {
        ProjectionError::Codec(e.to_string())
    }
}

pub type SharedProjections = Arc<RwLock<Projections>>;

/// Sees every event the runner applies from the live feed, in log order (see
/// [`ProjectionRunner::observe`]). Called outside the projections' lock; must not block.
pub type Observer = Arc<dyn Fn(&RecordedEvent) + Send + Sync>;

/// The observers of a runner, shared with its task.
type Observers = Arc<RwLock<Vec<Observer>>>;

/// Status of the runner, watched by writers waiting for their events to be visible.
#[derive(Clone, Debug, PartialEq)]
enum Progress {
    At(u64),
    Failed(String),
}

pub struct ProjectionRunner {
    shared: SharedProjections,
    store: Arc<dyn EventStore>,
    progress: watch::Receiver<Progress>,
    changes: broadcast::Sender<Changes>,
    observers: Observers,
    task: JoinHandle<()>,
    snapshotter: JoinHandle<()>,
}

/// Replays the whole log into fresh projections.
pub async fn rebuild(store: &dyn EventStore) -> Result<Projections, ProjectionError> {
    let mut p = Projections::new();
    catch_up(store, &mut p).await?;
    Ok(p)
}

/// A replay longer than this many events builds the indexes once at its end
/// ([`Projections::defer_indexes`]) rather than keeping them event by event.
pub const DEFER_INDEXES_AFTER: u64 = 10_000;

/// Applies everything in the log after `p`'s position, reading records in place
/// ([`EventStore::replay`]) rather than copying them.
pub async fn catch_up(store: &dyn EventStore, p: &mut Projections) -> Result<(), ProjectionError> {
    // Already deferred: a snapshot decoded for this catch-up left the listing to it.
    let defer = p.deferred || store.head().saturating_sub(p.position()) > DEFER_INDEXES_AFTER;
    if defer {
        p.defer_indexes();
    }
    let applied = apply_log(store, p).await;
    if defer {
        p.index_all();
    }
    applied
}

/// Applies everything in the log after `p`'s position, keeping every index event by
/// event (what [`catch_up`] does for a short replay; benchmarks compare the two).
pub async fn apply_log(store: &dyn EventStore, p: &mut Projections) -> Result<(), ProjectionError> {
    loop {
        let mut failed = None;
        let visited = store
            .replay(p.position() + 1, &mut |e| match p.apply_ref(e) {
                Ok(()) => true,
                Err(err) => {
                    failed = Some(err);
                    false
                }
            })
            .await?;
        if let Some(err) = failed {
            return Err(err.into());
        }
        // The log may have grown while we read it: go again until nothing is new.
        if visited == 0 {
            return Ok(());
        }
    }
}

/// A snapshot: the format, then the case views in two parts (1/4 and 3/4, in id order)
/// and the rest of the projections, each postcard-encoded and length-prefixed (the rest
/// runs to the end). The parts decode on two threads, each also gathering its cases'
/// listing keys ([`Gathered`]), and the first's thread then decodes the rest, so a start
/// from the snapshot waits for about half the work.
pub fn encode_snapshot(p: &Projections) -> Vec<u8> {
    let mut cases: Vec<(&CaseId, &CaseView)> = p.cases.iter().map(|(id, v)| (id, &**v)).collect();
    // In id order, the ids a load gathers for each listing key come sorted: each set
    // is then built without sorting, and the first part's ids all precede the second's.
    cases.sort_unstable_by_key(|(id, _)| **id);
    // The first part's thread also decodes the rest (the facts, queues, timeline: about
    // a third of the work now the listing is gathered once per case).
    let (first, second) = cases.split_at(cases.len() / 4);
    let mut out = SNAPSHOT_FORMAT.to_be_bytes().to_vec();
    for half in [first, second] {
        let bytes = postcard::to_allocvec(half).unwrap_or_default();
        out.extend((bytes.len() as u64).to_be_bytes());
        out.extend(bytes);
    }
    out.extend(postcard::to_allocvec(p).unwrap_or_default());
    out
}

/// Reads a snapshot [`encode_snapshot`] wrote; `None` for another format or damaged
/// bytes (the log is then replayed).
pub fn decode_snapshot(bytes: &[u8]) -> Option<Projections> {
    decode(bytes, |_| false)
}

/// [`decode_snapshot`] for a catch-up to `head`: when that catch-up will defer the
/// indexes ([`catch_up`]: more than [`DEFER_INDEXES_AFTER`] events after the
/// snapshot), the listing is not built here, only once at the catch-up's end, and the
/// projections come back with their indexes deferred ([`Projections::defer_indexes`]).
pub fn decode_snapshot_for(bytes: &[u8], head: u64) -> Option<Projections> {
    decode(bytes, |position| {
        head.saturating_sub(position) > DEFER_INDEXES_AFTER
    })
}

/// Decodes a snapshot, the listing left to a catch-up if `deferred(position)`.
fn decode(bytes: &[u8], deferred: impl Fn(u64) -> bool) -> Option<Projections> {
    let [first, second, rest] = snapshot_sections(bytes)?;
    // The position is the rest's first field (a test pins it): known before the
    // threads start, it says whether they gather the listing's keys at all.
    let (position, _) = postcard::take_from_bytes::<u64>(rest).ok()?;
    let defer = deferred(position);
    type Part = (Vec<(CaseId, Box<CaseView>)>, Gathered);
    let part = |bytes: &[u8]| -> Option<Part> {
        let cases: Vec<(CaseId, Box<CaseView>)> = postcard::from_bytes(bytes).ok()?;
        let gathered = match defer {
            true => Gathered::default(),
            false => Gathered::of(cases.iter().map(|(id, v)| (id, &**v))),
        };
        Some((cases, gathered))
    };
    let ((first, p), second) = std::thread::scope(|s| {
        let first = s.spawn(|| (part(first), postcard::from_bytes::<Projections>(rest).ok()));
        let second = part(second);
        (first.join().unwrap_or((None, None)), second)
    });
    let (mut p, (first, mut gathered), (second, other)) = (p?, first?, second?);
    if p.position != position {
        return None;
    }
    p.cases.reserve(first.len() + second.len());
    p.cases.extend(first);
    p.cases.extend(second);
    if defer {
        p.defer_indexes();
    } else {
        gathered.append(other);
        p.listing = gathered.build();
    }
    Some(p)
}

/// A snapshot's three sections as [`encode_snapshot`] lays them out: the case views'
/// two parts and the rest; `None` for another format or a truncated snapshot.
pub fn snapshot_sections(bytes: &[u8]) -> Option<[&[u8]; 3]> {
    let (format, body) = bytes.split_at_checked(4)?;
    if format != SNAPSHOT_FORMAT.to_be_bytes() {
        return None;
    }
    let (first, body) = length_prefixed(body)?;
    let (second, rest) = length_prefixed(body)?;
    Some([first, second, rest])
}

/// Splits a big-endian `u64` length and that many bytes off the front of `bytes`.
fn length_prefixed(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = bytes.split_at_checked(8)?;
    let len = usize::try_from(u64::from_be_bytes(len.try_into().ok()?)).ok()?;
    rest.split_at_checked(len)
}

/// Loads the snapshot, if there is one this build can read and it is not ahead of
/// the log (a snapshot from another data directory would be), for a [`catch_up`] to
/// the log's head ([`decode_snapshot_for`]). The store maps the snapshot's file where
/// it can ([`EventStore::load_snapshot_mapped`]): decoded where it lies, not copied.
pub async fn load_snapshot(store: &dyn EventStore) -> Result<Option<Projections>, StoreError> {
    let Some(bytes) = store.load_snapshot_mapped(SNAPSHOT_NAME).await? else {
        return Ok(None);
    };
    match decode_snapshot_for(&bytes, store.head()) {
        Some(p) if p.position() <= store.head() => Ok(Some(p)),
        _ => {
            warn!("ignoring a projections snapshot this build cannot use; replaying the log");
            Ok(None)
        }
    }
}

impl ProjectionRunner {
    /// Loads the snapshot and starts following the log.
    pub async fn start(store: Arc<dyn EventStore>) -> Result<Self, ProjectionError> {
        let started = std::time::Instant::now();
        let mut initial = load_snapshot(store.as_ref()).await?.unwrap_or_default();
        let from_snapshot = initial.position();
        let long = store.head().saturating_sub(from_snapshot) > DEFER_INDEXES_AFTER;
        catch_up(store.as_ref(), &mut initial).await?;
        if long {
            initial.shrink_to_fit();
            // Before anything follows the log or writes to it.
            store.release_read_state().await?;
        }
        crate::allocator::release_freed_memory();
        info!(
            snapshot_position = from_snapshot,
            position = initial.position(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "projections ready"
        );
        let (tx, progress) = watch::channel(Progress::At(initial.position()));
        let feed = subscribe_from(store.clone(), initial.position() + 1);
        let shared: SharedProjections = Arc::new(RwLock::new(initial));
        let (changes, _) = broadcast::channel(CHANGE_BATCHES);
        let observers = Observers::default();
        let follower = Follower {
            store: store.clone(),
            shared: shared.clone(),
            progress: tx,
            changes: changes.clone(),
            observers: observers.clone(),
        };
        let task = tokio::spawn(follower.follow(feed));
        let snapshotter = tokio::spawn(snapshot_periodically(store.clone(), shared.clone()));
        Ok(ProjectionRunner {
            shared,
            store,
            progress,
            changes,
            observers,
            task,
            snapshotter,
        })
    }

    /// Calls `observer` with every event applied from now on, in log order, before
    /// the position of its batch is reported to [`wait_for`](Self::wait_for). Events
    /// the runner applied before (at start) are not shown: read them from the store
    /// after registering, and let the observer skip what it has already seen.
    pub fn observe(&self, observer: Observer) {
        self.observers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(observer);
    }

    /// Listens to the changes of every batch applied from now on. Subscribe *before*
    /// reading the projections: every change after the position read then arrives.
    pub fn changes(&self) -> broadcast::Receiver<Changes> {
        self.changes.subscribe()
    }

    pub fn shared(&self) -> SharedProjections {
        self.shared.clone()
    }

    /// A read lock on the current projections. Do not hold it across an `.await`.
    pub fn read(&self) -> RwLockReadGuard<'_, Projections> {
        self.shared.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn position(&self) -> u64 {
        match &*self.progress.borrow() {
            Progress::At(p) => *p,
            Progress::Failed(_) => self.read().position(),
        }
    }

    /// Waits until every event up to `position` is visible in the projections, so a
    /// client reads its own writes.
    pub async fn wait_for(&self, position: u64) -> Result<(), ProjectionError> {
        // Already there (the projections got the events while the writer's task woke):
        // no timer to arm.
        if matches!(&*self.progress.borrow(), Progress::At(at) if *at >= position) {
            return Ok(());
        }
        let mut rx = self.progress.clone();
        let wait = async move {
            match rx
                .wait_for(|p| !matches!(p, Progress::At(at) if *at < position))
                .await
            {
                Ok(p) => match &*p {
                    Progress::Failed(e) => Err(ProjectionError::Stopped(e.clone())),
                    Progress::At(_) => Ok(()),
                },
                Err(_) => Err(ProjectionError::Stopped("runner ended".into())),
            }
        };
        tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .unwrap_or(Err(ProjectionError::Timeout(position)))
    }

    /// Writes a snapshot now.
    pub async fn snapshot(&self) -> Result<(), ProjectionError> {
        let bytes = encode_snapshot(&self.read());
        self.store.save_snapshot(SNAPSHOT_NAME, bytes).await?;
        Ok(())
    }

    /// Stops following the log and writes a final snapshot.
    pub async fn stop(self) -> Result<(), ProjectionError> {
        self.task.abort();
        self.snapshotter.abort();
        self.snapshot().await
    }
}

impl Drop for ProjectionRunner {
    /// A runner dropped without [`stop`](Self::stop) (e.g. with the `Desk` that owns it)
    /// must not leave its tasks running: they hold the store, which would then never
    /// close (no final flush, the data directory stays locked).
    fn drop(&mut self) {
        self.task.abort();
        self.snapshotter.abort();
    }
}

/// The runner's task: applies the live feed, reports progress, publishes changes.
struct Follower {
    store: Arc<dyn EventStore>,
    shared: SharedProjections,
    progress: watch::Sender<Progress>,
    changes: broadcast::Sender<Changes>,
    observers: Observers,
}

impl Follower {
    async fn follow(self, mut feed: crate::store::FeedStream) {
        while let Some(item) = feed.next().await {
            let mut batch = vec![item];
            // Apply whatever else is ready under the same lock.
            while batch.len() < 1024 {
                match feed.next().now_or_never() {
                    Some(Some(item)) => batch.push(item),
                    _ => break,
                }
            }
            let mut events = Vec::with_capacity(batch.len());
            let mut changes = Vec::new();
            let observers = self
                .observers
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            let mut observed = Vec::new();
            let result = {
                let mut p = self.shared.write().unwrap_or_else(|p| p.into_inner());
                // Checked under the lock: a listener that subscribed before it gets
                // this batch's changes; one after it reads projections that have it.
                let listening = self.changes.receiver_count() > 0;
                let mut result = Ok(p.position());
                for item in batch {
                    match item {
                        Ok(FeedEvent::Event(e)) => {
                            let sink = listening.then_some(&mut changes);
                            if let Err(err) = p.apply_with(e.view(), sink) {
                                result = Err(err.to_string());
                                break;
                            }
                            if !observers.is_empty() {
                                observed.push(e.clone());
                            }
                            if listening {
                                events.push(e);
                            }
                        }
                        Ok(FeedEvent::Lagged { last_position }) => {
                            warn!(
                                last_position,
                                "projections fell behind the live feed; catching up from the log"
                            )
                        }
                        Err(err) => {
                            result = Err(err.to_string());
                            break;
                        }
                    }
                }
                result.map(|_| p.position())
            };
            for e in &observed {
                for observer in &observers {
                    observer(e);
                }
            }
            match result {
                Ok(position) => {
                    let _ = self.progress.send(Progress::At(position));
                }
                Err(e) => {
                    error!(error = %e, "projections stopped");
                    let _ = self.progress.send(Progress::Failed(e));
                    return;
                }
            }
            if !changes.is_empty() {
                self.publish(changes, &events).await;
            }
        }
    }

    /// Marks which changes end their command's append (reading the next event from
    /// the log when the batch ends with it), then publishes them.
    async fn publish(&self, mut changes: Vec<Change>, events: &[Arc<crate::store::RecordedEvent>]) {
        for i in mark_append_ends(&mut changes, events) {
            let c = &mut changes[i];
            // The head covers whole appends: nothing after it, nothing continues it.
            if self.store.head() <= c.position {
                continue;
            }
            // Appends are durable before they are published, so the next is readable.
            match self.store.read_all(c.position + 1, 1).await {
                Ok(next) => c.ends_append = !next.first().is_some_and(|n| c.continued_by(n)),
                Err(e) => warn!(error = %e, position = c.position, "cannot read the next event"),
            }
        }
        let _ = self.changes.send(Arc::new(changes));
    }
}

async fn snapshot_periodically(store: Arc<dyn EventStore>, shared: SharedProjections) {
    let mut saved = shared.read().map(|p| p.position()).unwrap_or(0);
    let mut tick = tokio::time::interval(SNAPSHOT_EVERY);
    tick.tick().await;
    loop {
        tick.tick().await;
        let (position, bytes) = {
            let p = shared.read().unwrap_or_else(|p| p.into_inner());
            if p.position() == saved {
                continue;
            }
            (p.position(), encode_snapshot(&p))
        };
        match store.save_snapshot(SNAPSHOT_NAME, bytes).await {
            Ok(()) => saved = position,
            Err(e) => warn!(error = %e, "projection snapshot failed"),
        }
    }
}
