//! Subscriptions over WebSocket. `events`, `caseEvents` and `slaAlerts` sit on the
//! store's catch-up feed, so a client that starts from a past position gets history
//! and then live events, in order, with no gap and no duplicate. `tierQueue` and
//! `swarmRoom` start from the projections (or, for `swarmRoom(fromVersion)`, one fold
//! of the case's history) and then follow the changes the projections publish as
//! they apply events: they read no log and fold nothing per event. Streams end
//! cleanly when the server shuts down, and when the caller's token is revoked or
//! expires; every update is checked against the caller's current directory tiers
//! before it is delivered.

use async_graphql::{Context, Enum, Result, SimpleObject, Subscription, ID};
use futures_util::stream::{self, Stream, StreamExt};
use std::collections::HashSet;
use std::sync::Arc;

use super::guard::live::Live;
use super::guard::Guard;
use super::limits::Position;
use super::parse_case_id;
use super::swarming::{HelpRequest, Invitation};
use super::types::*;
use super::wallboard::Wallboard;
use futures_util::FutureExt;
use std::time::Instant;

/// Least time between two wallboards sent to one subscriber.
const WALLBOARD_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
use crate::app::Recordable;
use crate::domain::{CaseEvent, CaseId, Tier};
use crate::projection::{Change, RoomChangeKind, SwarmRoom};
use crate::store::RecordedEvent;

pub struct SubscriptionRoot;

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

/// What a `tierQueue` subscription has sent so far.
struct QueueState {
    tier: Tier,
    /// The cases in the queue as of the last update sent.
    members: HashSet<CaseId>,
    /// Changes at or below this position are in what was sent already.
    after: u64,
}

impl QueueState {
    /// The snapshot update: the queue as the caller sees it now; the state restarts
    /// from it.
    async fn snapshot(&mut self, g: &Guard) -> Option<TierQueueUpdate> {
        let (queue, members, position) = g.tier_queue_now(&self.tier, QUEUE_UPDATE_SIZE);
        self.members = members;
        self.after = self.after.max(position);
        g.audit_many(queue.case_ids(), "tierQueue subscription")
            .await
            .ok()?;
        Some(TierQueueUpdate {
            position,
            change: QueueChange::Snapshot,
            case_id: None,
            event_type: None,
            queue,
        })
    }

    /// The updates a batch of changes makes (one per command that moved a case into,
    /// out of, or within the queue, that the caller may see); `None` ends the stream.
    async fn updates(&mut self, g: &Guard, batch: &[Change]) -> Option<Vec<TierQueueUpdate>> {
        let mut out = Vec::new();
        for c in batch {
            if c.position <= self.after {
                continue;
            }
            self.after = c.position;
            // One update per command: report an append at its last event.
            if !c.ends_append {
                continue;
            }
            let in_queue = c.queue_after.as_ref() == Some(&self.tier);
            let change = match (self.members.contains(&c.case), in_queue) {
                (false, true) => QueueChange::Entered,
                (true, false) => QueueChange::Left,
                (true, true) => QueueChange::Updated,
                (false, false) => continue,
            };
            if !g.sees_case(c.case) {
                continue;
            }
            if in_queue {
                self.members.insert(c.case);
            } else {
                self.members.remove(&c.case);
            }
            let queue = g.tier_queue_entries(&self.tier, QUEUE_UPDATE_SIZE);
            g.audit_many(queue.case_ids(), "tierQueue subscription")
                .await
                .ok()?;
            out.push(TierQueueUpdate {
                position: c.position,
                change,
                case_id: Some(ID(c.case.to_string())),
                event_type: Some(c.event_type.clone()),
                queue,
            });
        }
        Some(out)
    }
}

/// A swarm room update for a change, if it changed a room.
fn room_update(c: &Change) -> Option<SwarmRoomUpdate> {
    let r = c.room.as_ref()?;
    let change = match r.kind {
        RoomChangeKind::Started => SwarmRoomChange::Started,
        RoomChangeKind::Joined => SwarmRoomChange::Joined,
        RoomChangeKind::Left => SwarmRoomChange::Left,
        RoomChangeKind::LeadChanged => SwarmRoomChange::LeadChanged,
        RoomChangeKind::Chat => SwarmRoomChange::Chat,
        RoomChangeKind::Ended => SwarmRoomChange::Ended,
    };
    Some(SwarmRoomUpdate {
        position: c.position,
        version: c.version,
        change,
        agent: r.agent.as_ref().map(|a| a.to_string()),
        message: r.message.as_ref().map(MessageObj::from),
        room: r
            .room
            .as_ref()
            .and_then(|view| SwarmRoomObj::from_room(&SwarmRoom { view })),
    })
}

/// The snapshot update of a swarm room: the room as the projections show it now.
fn room_snapshot(g: &Guard, id: CaseId) -> (SwarmRoomUpdate, u64) {
    let (room, version, position) = g.swarm_room_now(id);
    let update = SwarmRoomUpdate {
        position,
        version,
        change: SwarmRoomChange::Snapshot,
        agent: None,
        message: None,
        room,
    };
    (update, position)
}

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
        let start = g.case_start(id, from_version).await?;
        Ok(g.feed(ctx, start)?
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
            g.feed(ctx, from_position.0)?,
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
            .unwrap_or_else(|| g.log_head() + 1);
        let alerts = g
            .feed(ctx, from)?
            .filter(|(_, e)| std::future::ready(is_sla_alert(e)));
        Ok(audited(alerts, "slaAlerts subscription"))
    }

    /// A tier queue: its current state first, then one update per change to it. A
    /// subscriber too slow to keep up gets a fresh `SNAPSHOT` instead of the updates
    /// it missed, then continues from there.
    async fn tier_queue(
        &self,
        ctx: &Context<'_>,
        tier: String,
    ) -> Result<impl Stream<Item = TierQueueUpdate>> {
        let g = Guard::of(ctx)?;
        g.require_staff()?;
        let tier = g.tier(&tier)?;
        // Listen before reading the snapshot: every change after it arrives.
        let live = g.live_changes(ctx)?;
        let mut state = QueueState {
            tier,
            members: HashSet::new(),
            after: 0,
        };
        let first = state
            .snapshot(&g)
            .await
            .ok_or_else(|| async_graphql::Error::new("cannot record the access"))?;
        let updates = stream::unfold(
            (Box::pin(live.into_stream()), state),
            |(mut live, mut state)| async move {
                loop {
                    let updates = match live.next().await? {
                        Live::Changes(g, batch) => state.updates(&g, &batch).await?,
                        Live::Lagged(g) => vec![state.snapshot(&g).await?],
                    };
                    if !updates.is_empty() {
                        return Some((updates, (live, state)));
                    }
                }
            },
        )
        .flat_map(stream::iter);
        Ok(stream::once(async move { first }).chain(updates))
    }

    /// The caller's pending swarm invitations: the list now, then the list again
    /// whenever a change to the desk changes it (an invitation arrives, is accepted,
    /// declined or expires, or its swarm ends). Agents and leads.
    async fn invitations(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = InvitationsUpdate>> {
        let g = Guard::of(ctx)?;
        // Listen before the first list: no change after it is missed.
        let live = g.live_changes(ctx)?;
        let position = g.projection_position();
        let first = g.my_invitations()?;
        let update = |position, list: &Vec<(CaseId, crate::domain::swarming::Invitation)>| {
            InvitationsUpdate {
                position,
                invitations: list
                    .iter()
                    .map(|(c, i)| Invitation::new(*c, i.clone()))
                    .collect(),
            }
        };
        let head = update(position, &first);
        let updates = relisted(live, first, |g| g.my_invitations().ok())
            .map(move |(position, list)| update(position, &list));
        Ok(stream::once(async move { head }).chain(updates))
    }

    /// The open help requests the caller could answer (as the `helpRequests` query
    /// lists them): the list now, then again whenever a change to the desk changes
    /// it (a hand raised, an offer, an acceptance, a request closed). Staff.
    async fn help_requests(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = HelpRequestsUpdate>> {
        let g = Guard::of(ctx)?;
        let live = g.live_changes(ctx)?;
        let position = g.projection_position();
        let first = g.help_requests(None)?;
        let update = |position, list: &Vec<(CaseId, crate::domain::swarming::HelpRequest)>| {
            HelpRequestsUpdate {
                position,
                requests: list
                    .iter()
                    .map(|(c, r)| HelpRequest::new(*c, r.clone()))
                    .collect(),
            }
        };
        let head = update(position, &first);
        let updates = relisted(live, first, |g| g.help_requests(None).ok())
            .map(move |(position, list)| update(position, &list));
        Ok(stream::once(async move { head }).chain(updates))
    }

    /// The desk at a glance (open cases per tier, breached ones, active swarms, the
    /// oldest waiting case), over the cases the caller may read: now, then again as
    /// events change it, at most once per second. Staff.
    async fn wallboard(&self, ctx: &Context<'_>) -> Result<impl Stream<Item = Wallboard>> {
        let g = Guard::of(ctx)?;
        // Listen before the first board: every change after it brings a new one.
        let live = g.live_changes(ctx)?;
        let first = g.wallboard().await?;
        let updates = stream::unfold(
            (Box::pin(live.into_stream()), first.clone(), Instant::now()),
            |(mut live, mut last, mut sent)| async move {
                loop {
                    let g = match live.next().await? {
                        Live::Changes(g, _) | Live::Lagged(g) => g,
                    };
                    // At most one board per second: wait out the second, then take
                    // whatever else arrived meanwhile into the same board.
                    tokio::time::sleep_until((sent + WALLBOARD_EVERY).into()).await;
                    let mut g = g;
                    while let Some(Some(item)) = live.next().now_or_never() {
                        g = match item {
                            Live::Changes(g, _) | Live::Lagged(g) => g,
                        };
                    }
                    let board = g.wallboard().await.ok()?;
                    if board.tiers == last.tiers && board.active_swarms == last.active_swarms {
                        continue;
                    }
                    sent = Instant::now();
                    last = board.clone();
                    return Some((board, (live, last, sent)));
                }
            },
        );
        Ok(stream::once(async move { first }).chain(updates))
    }

    /// A case's swarm room: its current state first (`SNAPSHOT`), then live: starts,
    /// joins, leaves, lead changes, chat, end. With `fromVersion`, instead of the
    /// snapshot, the room's changes from that version of the case on (1 = its whole
    /// history), then live, with no gap and no duplicate. A subscriber too slow to
    /// keep up gets a fresh `SNAPSHOT` instead of the changes it missed.
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
        // Listen before reading the snapshot or the history: every later change arrives.
        let live = g.live_changes(ctx)?;
        let (first, mut after, min_version) = match from_version {
            Some(v) => {
                // The history, folded once by the projections' own code.
                let (changes, last) = g.case_changes(id).await?;
                let history: Vec<SwarmRoomUpdate> = changes
                    .iter()
                    .filter(|c| c.version >= v)
                    .filter_map(room_update)
                    .collect();
                (history, last, v)
            }
            None => {
                let (snapshot, position) = room_snapshot(&g, id);
                let version = snapshot.version;
                (vec![snapshot], position, version + 1)
            }
        };
        g.audit(id, "swarmRoom subscription").await?;
        let updates = live
            .into_stream()
            .map(move |item| match item {
                Live::Changes(g, batch) => {
                    let updates: Vec<SwarmRoomUpdate> = batch
                        .iter()
                        .filter(|c| c.case == id && c.position > after && c.version >= min_version)
                        .filter(|_| g.sees_case(id))
                        .filter_map(room_update)
                        .collect();
                    if let Some(last) = batch.last() {
                        after = after.max(last.position);
                    }
                    updates
                }
                Live::Lagged(g) => {
                    let (snapshot, position) = room_snapshot(&g, id);
                    after = after.max(position);
                    vec![snapshot]
                }
            })
            .flat_map(stream::iter);
        Ok(stream::iter(first).chain(updates))
    }
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

/// A caller's list (invitations, help requests), read again with their current guard
/// after every batch of changes and sent, with the batch's last position, only when
/// it changed. Ends when `read` fails (e.g. the caller lost the role).
fn relisted<T: PartialEq + Clone + Send + 'static>(
    live: crate::api::guard::live::LiveChanges,
    first: T,
    read: impl Fn(&Guard) -> Option<T> + Send + Sync + Clone + 'static,
) -> impl Stream<Item = (u64, T)> + Send + 'static {
    stream::unfold(
        (Box::pin(live.into_stream()), first),
        move |(mut live, mut last)| {
            let read = read.clone();
            async move {
                loop {
                    let (g, position) = match live.next().await? {
                        Live::Changes(g, batch) => {
                            let at = batch.last().map_or(0, |c| c.position);
                            (g, at)
                        }
                        Live::Lagged(g) => {
                            let at = g.projection_position();
                            (g, at)
                        }
                    };
                    let now = read(&g)?;
                    if now != last {
                        last = now.clone();
                        return Some(((position, now), (live, last)));
                    }
                }
            }
        },
    )
}

/// The caller's pending invitations after a change (the whole list).
#[derive(SimpleObject, Clone)]
pub struct InvitationsUpdate {
    /// Log position the list is as of.
    pub position: u64,
    pub invitations: Vec<Invitation>,
}

/// The open help requests the caller could answer after a change (the whole list).
#[derive(SimpleObject, Clone)]
pub struct HelpRequestsUpdate {
    pub position: u64,
    pub requests: Vec<HelpRequest>,
}

/// How subscribers who join a shared execution (`crate::http::fanout`) at different
/// times can each get their own beginning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedStart {
    /// The updates replay from a fixed position or version: a joiner gets every update
    /// the run has sent (while there are few), then the live ones.
    Replay,
    /// The first update is the state as it is (a snapshot, a list, a board), then the
    /// changes after it: a joiner may join only while the run has sent nothing but
    /// that first update, which then still is the state as it is, changes to come.
    Snapshot,
}

/// Whether subscriptions to the root `field` (with the arguments `given` says were
/// given, not null) may share one execution among subscribers, and how a joiner gets
/// its beginning. `slaAlerts` without `fromPosition` starts at the head as it is when
/// it runs ("live from now"), so it runs alone, as do fields not named here.
pub fn shares_start(field: &str, given: impl Fn(&str) -> bool) -> Option<SharedStart> {
    match field {
        "events" | "caseEvents" => Some(SharedStart::Replay),
        "slaAlerts" if given("fromPosition") => Some(SharedStart::Replay),
        "swarmRoom" if given("fromVersion") => Some(SharedStart::Replay),
        "swarmRoom" | "tierQueue" | "invitations" | "helpRequests" | "wallboard" => {
            Some(SharedStart::Snapshot)
        }
        _ => None,
    }
}
