//! The guarded live feeds subscriptions sit on: the store's catch-up feed of events
//! (`events`, `caseEvents`, `slaAlerts`), and the projections' published changes
//! (`tierQueue`, `swarmRoom`), each re-checked against the caller as it is now (token
//! expiry, revocation, directory tiers) and ended at shutdown. Also the snapshots and
//! history folds those subscriptions start from, read from the projections.

use async_graphql::{Context, Result};
use futures_util::stream::{self, Stream, StreamExt};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

use super::Guard;
use crate::api::error::gql;
use crate::api::types::{SwarmRoomObj, TierQueue};
use crate::api::{Principal, Shutdown, Slot, SubscriptionSlots};
use crate::app::Desk;
use crate::domain::{CaseId, Tier, Timestamp};
use crate::projection::runner::Changes;
use crate::projection::{Change, Projections, SwarmRoom};
use crate::store::feed::FeedEvent;
use crate::store::{subscribe_from, RecordedEvent};

/// The caller of a subscription, re-checked on every event it would deliver: the
/// token's expiry against the server's clock, and the directory's tiers from the
/// configuration in force (an agent moved to another tier stops receiving the old
/// tier's cases at once). Revocation ends the subscription through [`Guard::revoked`].
#[derive(Clone)]
struct Subscriber {
    app: Arc<Desk>,
    /// As authenticated, before the directory's tiers are applied.
    principal: Principal,
    expires_at: Option<Timestamp>,
}

impl Subscriber {
    fn new(ctx: &Context<'_>, app: Arc<Desk>) -> Result<Self> {
        let principal = crate::api::principal(ctx)?.clone();
        let expires_at = principal.token_id.as_ref().and_then(|id| {
            let tokens = app.tokens().list();
            let t = tokens.into_iter().find(|t| &t.token_id == id)?;
            t.grant.expires_at
        });
        Ok(Subscriber {
            app,
            principal,
            expires_at,
        })
    }

    fn expired(&self) -> bool {
        self.expires_at.is_some_and(|t| t <= self.app.clock().now())
    }

    /// The caller's guard as of now; `None` once the token has expired.
    fn current(&self) -> Option<Guard> {
        if self.expired() {
            return None;
        }
        let mut principal = self.principal.clone();
        if let Some(tiers) = crate::policy::directory_tiers(&self.app.config(), &principal) {
            principal.tiers = tiers;
        }
        Some(Guard {
            app: self.app.clone(),
            principal,
        })
    }

    /// Resolves when the token expires by the server's clock. A clock may be moved
    /// by hand (tests), so a distant expiry is re-checked every second.
    fn expiry(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let this = self.clone();
        async move {
            let Some(at) = this.expires_at else {
                return std::future::pending().await;
            };
            loop {
                let now = this.app.clock().now();
                if at <= now {
                    return;
                }
                let left = (at.unix_micros() - now.unix_micros()).max(0) as u64;
                let wait = Duration::from_micros(left).min(Duration::from_secs(1));
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// What a subscription on the projections' changes gets next.
pub enum Live {
    /// A batch of applied changes, with the caller's guard as of now.
    Changes(Guard, Changes),
    /// Changes were missed (the subscriber fell [`CHANGE_BATCHES`] batches behind):
    /// start again from the projections as they are now (read after this item, so
    /// no later change is missed).
    ///
    /// [`CHANGE_BATCHES`]: crate::projection::runner::CHANGE_BATCHES
    Lagged(Guard),
}

/// A subscription to the projections' changes, taken before the snapshot or history
/// it starts from is read, so no change after that read can be missed.
pub struct LiveChanges {
    rx: broadcast::Receiver<Changes>,
    who: Subscriber,
    stop: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    slot: Option<Slot>,
}

impl LiveChanges {
    /// The changes as they are applied, ending at shutdown, when the caller's token is
    /// revoked or expires, or if the projections stop.
    pub fn into_stream(self) -> impl Stream<Item = Live> + Send + 'static {
        let LiveChanges {
            rx,
            who,
            stop,
            slot,
        } = self;
        let items = stream::unfold(rx, move |mut rx| {
            let who = who.clone();
            async move {
                let item = rx.recv().await;
                // An expired token ends the subscription.
                let g = who.current()?;
                match item {
                    Ok(batch) => Some((Live::Changes(g, batch), rx)),
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // What is still buffered is older than the snapshot the caller
                        // reads next: listen from the newest change on instead.
                        Some((Live::Lagged(g), rx.resubscribe()))
                    }
                    Err(broadcast::error::RecvError::Closed) => None,
                }
            }
        })
        .map(move |item| {
            // The slot lives as long as the stream.
            let _held = &slot;
            item
        });
        items.take_until(stop)
    }
}

/// Ends when the server shuts down, the token is revoked or it expires.
fn stop_signal(
    ctx: &Context<'_>,
    g: &Guard,
    who: &Subscriber,
) -> Result<impl std::future::Future<Output = ()> + Send + 'static> {
    let shutdown = ctx.data::<Shutdown>()?.clone();
    let revoked = g.revoked();
    let expiry = who.expiry();
    Ok(async move {
        tokio::select! {
            _ = shutdown.wait() => {}
            _ = revoked => {}
            _ = expiry => {}
        }
    })
}

fn slot(ctx: &Context<'_>) -> Result<Option<Slot>> {
    ctx.data_opt::<SubscriptionSlots>()
        .map(|s| s.acquire())
        .transpose()
}

impl Guard {
    /// The events from `from` on that the caller may see, each with the caller's guard
    /// as of that event, ending at shutdown, when the caller's token is revoked or
    /// expires, or on a store error. Visibility is judged per event with the caller's
    /// current directory tiers.
    pub fn feed(
        &self,
        ctx: &Context<'_>,
        from: u64,
    ) -> Result<impl Stream<Item = (Guard, Arc<RecordedEvent>)> + Send + 'static> {
        let slot = slot(ctx)?;
        let who = Subscriber::new(ctx, self.app.clone())?;
        let stop = stop_signal(ctx, self, &who)?;
        let events = subscribe_from(self.app.store().clone(), from)
            .take_while(|item| std::future::ready(item.is_ok()))
            .then(move |item| {
                // The slot lives as long as the stream.
                let _held = &slot;
                let who = who.clone();
                async move {
                    let Ok(FeedEvent::Event(e)) = item else {
                        return Some(None);
                    };
                    // Visibility is judged on the projections, which may be a moment
                    // behind the live feed: wait until they show this event.
                    if who.app.projections().wait_for(e.position).await.is_err() {
                        return Some(None);
                    }
                    // An expired token ends the subscription (`None`).
                    let g = who.current()?;
                    Some(g.event_visible(&e).then_some((g, e)))
                }
            })
            .take_while(|item| std::future::ready(item.is_some()))
            .filter_map(|item| std::future::ready(item.flatten()));
        Ok(events.take_until(stop))
    }

    /// Subscribes to the projections' changes from now on (see [`LiveChanges`]).
    pub fn live_changes(&self, ctx: &Context<'_>) -> Result<LiveChanges> {
        let slot = slot(ctx)?;
        let rx = self.app.projections().changes();
        let who = Subscriber::new(ctx, self.app.clone())?;
        let stop = Box::pin(stop_signal(ctx, self, &who)?);
        Ok(LiveChanges {
            rx,
            who,
            stop,
            slot,
        })
    }

    /// Where a case's stream reaches `from_version`, or the next position if not yet.
    pub async fn case_start(&self, id: CaseId, from_version: u64) -> Result<u64> {
        // Read the head first: anything appended after it has a later position.
        let head = self.app.store().head();
        let first = self
            .app
            .history(id, from_version.max(1), 1)
            .await
            .map_err(gql)?;
        Ok(first.first().map(|e| e.position).unwrap_or(head + 1))
    }

    /// The last position in the log.
    pub fn log_head(&self) -> u64 {
        self.app.store().head()
    }

    /// Can the caller see the case as the projections show it now?
    pub fn sees_case(&self, id: CaseId) -> bool {
        self.app
            .projections()
            .read()
            .case(id)
            .is_some_and(|v| self.can_read(&v.case))
    }

    /// The tier's queue as the caller may see it now (its first `first` entries), the
    /// cases in it, and the projections' position.
    pub fn tier_queue_now(&self, tier: &Tier, first: usize) -> (TierQueue, HashSet<CaseId>, u64) {
        let p = self.app.projections().read();
        let members = p.tier_queue(tier).filter_map(|v| v.case.id).collect();
        (
            TierQueue::build(&p, tier, first, self),
            members,
            p.position(),
        )
    }

    /// The tier's queue as the caller may see it now.
    pub fn tier_queue_entries(&self, tier: &Tier, first: usize) -> TierQueue {
        TierQueue::build(&self.app.projections().read(), tier, first, self)
    }

    /// The case's swarm room now (`None` while it has no active swarm), its version and
    /// the projections' position.
    pub fn swarm_room_now(&self, id: CaseId) -> (Option<SwarmRoomObj>, u64, u64) {
        let p = self.app.projections().read();
        let view = p.case(id);
        let version = view.map_or(0, |v| v.case.version);
        let room = view
            .filter(|v| v.case.swarm.is_some())
            .and_then(|v| SwarmRoomObj::from_room(&SwarmRoom { view: v }));
        (room, version, p.position())
    }

    /// The case's history folded once, locally, by the projections' own code: the
    /// change of each of its events (append ends marked), and the position of the last.
    pub async fn case_changes(&self, id: CaseId) -> Result<(Vec<Change>, u64)> {
        let events: Vec<Arc<RecordedEvent>> = self
            .app
            .history(id, 1, usize::MAX)
            .await
            .map_err(gql)?
            .into_iter()
            .map(Arc::new)
            .collect();
        let mut past = Projections::new();
        let mut changes = Vec::with_capacity(events.len());
        for e in &events {
            past.apply_with(e.view(), Some(&mut changes))
                .map_err(|err| gql(crate::app::AppError::from(err)))?;
        }
        // A case's events are not contiguous in the log: the successor of each is
        // looked up among its stream's (an append never spans streams).
        for (i, c) in changes.iter_mut().enumerate() {
            c.ends_append = !events.get(i + 1).is_some_and(|n| c.continued_by(n));
        }
        let last = events.last().map_or(0, |e| e.position);
        Ok((changes, last))
    }
}
