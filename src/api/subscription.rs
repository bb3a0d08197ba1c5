//! Subscriptions over WebSocket. All sit on the store's catch-up feed, so a client
//! that starts from a past position gets history and then live events, in order,
//! with no gap and no duplicate. Streams end cleanly when the server shuts down, and
//! when the caller's token is revoked or expires; every event is checked against
//! the caller's current directory tiers before it is delivered.

use async_graphql::{Context, Enum, Result, SimpleObject, Subscription, ID};
use futures_util::stream::{self, Stream, StreamExt};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::error::{bad_input, gql};
use super::guard::Guard;
use super::limits::Position;
use super::types::*;
use super::{parse_case_id, Principal, Shutdown};
use crate::app::Desk;
use crate::app::Recordable;
use crate::domain::{CaseEvent, CaseId, Status, Timestamp};
use crate::projection::SwarmRoom;
use crate::store::feed::FeedEvent;
use crate::store::{subscribe_from, RecordedEvent};

pub struct SubscriptionRoot;

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
        let principal = super::principal(ctx)?.clone();
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

/// The events from `from` on that the caller may see, each with the caller's guard
/// as of that event, ending at shutdown, when the caller's token is revoked or
/// expires, or on a store error. Visibility is judged per event with the caller's
/// current directory tiers.
fn feed(
    ctx: &Context<'_>,
    g: &Guard,
    from: u64,
) -> Result<impl Stream<Item = (Guard, Arc<RecordedEvent>)> + Send + 'static> {
    let shutdown = ctx.data::<Shutdown>()?.clone();
    let slot = ctx
        .data_opt::<super::SubscriptionSlots>()
        .map(|s| s.acquire())
        .transpose()?;
    let who = Subscriber::new(ctx, g.app.clone())?;
    let expiry = who.expiry();
    let events = subscribe_from(g.app.store().clone(), from)
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
    let stop = g.revoked();
    Ok(events.take_until(async move {
        tokio::select! {
            _ = shutdown.wait() => {}
            _ = stop => {}
            _ = expiry => {}
        }
    }))
}

/// Events as delivered, with auditors' reads recorded: one access-log entry per
/// batch of events ready together (the whole history at once when catching up), written
/// before the batch is delivered. If it cannot be recorded, the subscription ends.
fn audited(
    events: impl Stream<Item = (Guard, Arc<RecordedEvent>)> + Send + 'static,
    what: &'static str,
) -> impl Stream<Item = EventObj> + Send + 'static {
    events
        .ready_chunks(AUDIT_BATCH)
        .then(move |batch| async move {
            let (g, _) = batch.first()?;
            let ids = batch
                .iter()
                .filter_map(|(_, e)| CaseId::from_stream(&e.stream));
            g.audit_many(ids, what).await.ok()?;
            Some(batch)
        })
        .take_while(|batch| std::future::ready(batch.is_some()))
        .flat_map(|batch| stream::iter(batch.unwrap_or_default()))
        .map(|(_, e)| EventObj(e))
}

/// Most events an auditor's subscription delivers under one access-log entry.
const AUDIT_BATCH: usize = 500;

/// A breach, or an escalation step that asks to notify the lead.
fn is_sla_alert(e: &RecordedEvent) -> bool {
    match CaseEvent::from_record(e) {
        Ok(CaseEvent::SlaBreached(_)) => true,
        Ok(CaseEvent::SlaEscalated(step)) => step.notify_lead,
        _ => false,
    }
}

/// Where a case's stream reaches `from_version`, or the next position if not yet.
async fn case_start(app: &Desk, id: CaseId, from_version: u64) -> Result<u64> {
    // Read the head first: anything appended after it has a later position.
    let head = app.store().head();
    let first = app.history(id, from_version.max(1), 1).await.map_err(gql)?;
    Ok(first.first().map(|e| e.position).unwrap_or(head + 1))
}

/// How a case's change affected a tier queue.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum QueueChange {
    /// The queue as it is when the subscription starts.
    Snapshot,
    Entered,
    Left,
    /// A case in the queue changed (priority, assignee, ...), possibly its rank.
    Updated,
}

/// A change to a tier queue (one per command that moved a case into, out of, or
/// within it), with the queue as it is when the update is sent.
#[derive(SimpleObject, Clone)]
pub struct TierQueueUpdate {
    /// Log position of the event that changed the queue (the head, for the snapshot).
    pub position: u64,
    pub change: QueueChange,
    pub case_id: Option<ID>,
    pub event_type: Option<String>,
    pub queue: TierQueue,
}

/// What happened in a swarm room.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum SwarmRoomChange {
    /// The room as it is when the subscription starts (`room` null while the case
    /// has no active swarm); live changes follow it.
    Snapshot,
    Started,
    Joined,
    Left,
    LeadChanged,
    Chat,
    Ended,
}

/// One change in a swarm room, with the room after it (null once the swarm ended).
#[derive(SimpleObject, Clone)]
pub struct SwarmRoomUpdate {
    pub position: u64,
    pub version: u64,
    pub change: SwarmRoomChange,
    /// The agent who joined, left or now leads, or the chat's author.
    pub agent: Option<String>,
    pub message: Option<MessageObj>,
    pub room: Option<SwarmRoomObj>,
}

/// Entries shown in each tier queue update.
const QUEUE_UPDATE_SIZE: usize = 50;

#[Subscription]
impl SubscriptionRoot {
    /// A case's events from `fromVersion` (1 = its whole history), then live.
    async fn case_events(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        #[graphql(default = 1)] from_version: u64,
    ) -> Result<impl Stream<Item = EventObj>> {
        let g = Guard::of(ctx)?;
        let id = parse_case_id(&case_id)?;
        g.require_visible(id)?;
        g.audit(id, "caseEvents").await?;
        let stream = id.stream();
        let start = case_start(&g.app, id, from_version).await?;
        Ok(feed(ctx, &g, start)?
            .filter(move |(_, e)| {
                std::future::ready(e.stream == stream && e.version >= from_version)
            })
            .map(|(_, e)| EventObj(e)))
    }

    /// Every event of the log from `fromPosition` (1 = the beginning), then live.
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Position(1)")] from_position: Position,
    ) -> Result<impl Stream<Item = EventObj>> {
        let g = Guard::of(ctx)?;
        Ok(audited(
            feed(ctx, &g, from_position.0)?,
            "events subscription",
        ))
    }

    /// SLA alerts on the cases the caller may see: every `SlaBreached`, and every
    /// `SlaEscalated` step that notifies the lead. Live from now, or replayed from
    /// `fromPosition`. Staff only.
    async fn sla_alerts(
        &self,
        ctx: &Context<'_>,
        from_position: Option<Position>,
    ) -> Result<impl Stream<Item = EventObj>> {
        let g = Guard::of(ctx)?;
        g.require_staff()?;
        let from = from_position
            .map(|p| p.0)
            .unwrap_or_else(|| g.app.store().head() + 1);
        let alerts = feed(ctx, &g, from)?.filter(|(_, e)| std::future::ready(is_sla_alert(e)));
        Ok(audited(alerts, "slaAlerts subscription"))
    }

    /// A tier queue: its current state first, then one update per change to it.
    async fn tier_queue(
        &self,
        ctx: &Context<'_>,
        tier: String,
    ) -> Result<impl Stream<Item = TierQueueUpdate>> {
        let g = Guard::of(ctx)?;
        g.require_staff()?;
        let app_arc = g.app.clone();
        let tier = app_arc
            .tiers()
            .get(&tier)
            .map_err(|e| bad_input(e.to_string()))?;
        let (snapshot, members, position) = {
            let p = app_arc.projections().read();
            let members: HashSet<CaseId> = p.tier_queue(&tier).filter_map(|v| v.case.id).collect();
            (
                TierQueue::build(&p, &tier, QUEUE_UPDATE_SIZE, &g),
                members,
                p.position(),
            )
        };
        g.audit_many(snapshot.case_ids(), "tierQueue subscription")
            .await?;
        let first = TierQueueUpdate {
            position,
            change: QueueChange::Snapshot,
            case_id: None,
            event_type: None,
            queue: snapshot,
        };
        let events = Box::pin(feed(ctx, &g, position + 1)?);
        let updates = stream::unfold((events, members), move |(mut events, mut members)| {
            let app = app_arc.clone();
            let tier = tier.clone();
            async move {
                loop {
                    // The caller's guard as of this event (current directory tiers).
                    let (g, e) = events.next().await?;
                    let Some(id) = CaseId::from_stream(&e.stream) else {
                        continue;
                    };
                    // One update per command: report an append at its last event.
                    if app.continues_in_same_append(&e).await.ok()? {
                        continue;
                    }
                    // Whether the case is in the queue is judged at exactly this version.
                    let case = app.case_at_version(id, e.version).await.ok()?;
                    let in_queue = case.status == Status::Open && case.tier.as_ref() == Some(&tier);
                    let change = match (members.contains(&id), in_queue) {
                        (false, true) => QueueChange::Entered,
                        (true, false) => QueueChange::Left,
                        (true, true) => QueueChange::Updated,
                        (false, false) => continue,
                    };
                    if in_queue {
                        members.insert(id);
                    } else {
                        members.remove(&id);
                    }
                    app.projections().wait_for(e.position).await.ok()?;
                    let update = TierQueueUpdate {
                        position: e.position,
                        change,
                        case_id: Some(ID(id.to_string())),
                        event_type: Some(e.event_type.clone()),
                        queue: TierQueue::build(
                            &app.projections().read(),
                            &tier,
                            QUEUE_UPDATE_SIZE,
                            &g,
                        ),
                    };
                    g.audit_many(update.queue.case_ids(), "tierQueue subscription")
                        .await
                        .ok()?;
                    return Some((update, (events, members)));
                }
            }
        });
        Ok(stream::once(async move { first }).chain(updates))
    }

    /// A case's swarm room: its current state first (`SNAPSHOT`), then live: starts,
    /// joins, leaves, lead changes, chat, end. With `fromVersion`, instead of the
    /// snapshot, the room's changes from that version of the case on (1 = its whole
    /// history), then live, with no gap and no duplicate.
    async fn swarm_room(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        from_version: Option<u64>,
    ) -> Result<impl Stream<Item = SwarmRoomUpdate>> {
        let g = Guard::of(ctx)?;
        g.require_staff()?;
        let id = parse_case_id(&case_id)?;
        g.require_visible(id)?;
        let app_arc = g.app.clone();
        let stream_name = id.stream();
        let (snapshot, start, after_version) = match from_version {
            Some(v) => (
                None,
                case_start(&app_arc, id, v).await?,
                v.saturating_sub(1),
            ),
            None => {
                // One read of the projections: the room as of their position, and
                // the feed from just after it, so nothing falls in between.
                let p = app_arc.projections().read();
                let position = p.position();
                let view = p.case(id);
                let version = view.map_or(0, |v| v.case.version);
                let room = view
                    .filter(|v| v.case.swarm.is_some())
                    .and_then(|v| SwarmRoomObj::from_room(&SwarmRoom { view: v }));
                let first = SwarmRoomUpdate {
                    position,
                    version,
                    change: SwarmRoomChange::Snapshot,
                    agent: None,
                    message: None,
                    room,
                };
                (Some(first), position + 1, version)
            }
        };
        g.audit(id, "swarmRoom subscription").await?;
        let live = feed(ctx, &g, start)?
            .filter(move |(_, e)| {
                std::future::ready(e.stream == stream_name && e.version > after_version)
            })
            .filter_map(move |(_, e)| {
                let app = app_arc.clone();
                async move {
                    let event = CaseEvent::from_record(&e).ok()?;
                    let at = DateTime(e.metadata.occurred_at);
                    let (change, agent, message) = match event {
                        CaseEvent::SwarmStarted(s) => {
                            (SwarmRoomChange::Started, Some(s.lead.to_string()), None)
                        }
                        CaseEvent::SwarmJoined(a) => {
                            (SwarmRoomChange::Joined, Some(a.agent.to_string()), None)
                        }
                        CaseEvent::SwarmLeft(a) => {
                            (SwarmRoomChange::Left, Some(a.agent.to_string()), None)
                        }
                        CaseEvent::SwarmLeadChanged(l) => {
                            (SwarmRoomChange::LeadChanged, Some(l.to.to_string()), None)
                        }
                        CaseEvent::SwarmEnded(_) => (SwarmRoomChange::Ended, None, None),
                        CaseEvent::MessagePosted(m)
                            if m.kind == crate::domain::MessageKind::SwarmChat =>
                        {
                            let msg = MessageObj {
                                id: e.version,
                                kind: MessageKind::SwarmChat,
                                author: m.author.to_string(),
                                body: m.body,
                                at,
                            };
                            (SwarmRoomChange::Chat, Some(msg.author.clone()), Some(msg))
                        }
                        _ => return None,
                    };
                    // The room exactly as it was after this event.
                    let view = app.view_at_version(id, e.version).await.ok()?;
                    let room = view
                        .case
                        .swarm
                        .as_ref()
                        .and_then(|_| SwarmRoomObj::from_room(&SwarmRoom { view: &view }));
                    Some(SwarmRoomUpdate {
                        position: e.position,
                        version: e.version,
                        change,
                        agent,
                        message,
                        room,
                    })
                }
            });
        Ok(stream::iter(snapshot).chain(live))
    }
}
