//! Execute once, deliver many: `graphql-transport-ws` subscriptions with the same
//! document, operation and variables, from callers with the same authorization
//! context ([`policy::subscription_sharing_key`]: role, agent, tiers and token), share
//! one execution ([`Hub`]). Each update is executed and serialized once; every member
//! gets the same `next` payload, with only its own subscription id around it.
//!
//! A joiner gets its own beginning ([`crate::api::subscription::shares_start`]). A
//! replay from a fixed position or version keeps what it has sent while that is short
//! ([`REPLAY`] updates): a joiner gets all of it before the live updates, with no gap
//! and no duplicate (the replay and the joining happen under the run's lock). A
//! snapshot-then-changes subscription is joined only while its run has sent nothing
//! but the snapshot, which then is still the state as it is. Past that, a newcomer
//! starts a run of its own; "live from now" subscriptions always run alone.
//!
//! A run ends for all its members together when its stream ends (shutdown, the
//! token's revocation or expiry: the token is part of the key), and stops when its
//! last member leaves. Each member has a bounded queue ([`QUEUE`] updates), never
//! more: a run waits for a member whose queue is full (members are paced by the run,
//! e.g. while replaying history), but one whose queue has stayed full for
//! [`SLOW_GRACE`] while it shares the run with others is dropped, and its connection
//! closed with a reason (`1008`), so it holds the others back for at most that long.
//! A run's only member is waited for as long as it takes, as an unshared subscription
//! would be.
//!
//! How a run hands an update to a member's connection ([`Handoff`]): through the
//! member's queue, read by the connection's task, which frames and sends it; or
//! straight into the member's WebSocket session, framed by the run, with the member's
//! queue (the same bound) used only while the session is backed up, and drained by
//! the connection's task in order.

use async_graphql::parser::types::{DocumentOperations, OperationType, Selection};
use async_graphql::{Request, Value};
use futures_util::stream::{self, Stream, StreamExt};
use futures_util::FutureExt;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;
use tracing::Instrument;

use crate::api::subscription::SharedStart;
use crate::api::{Principal, Slot, SubscriptionSlots, SwarmSchema};
use crate::policy;

/// Updates a run keeps to replay to a joiner; a run that has sent more is not joined.
pub const REPLAY: usize = 256;
/// Updates waiting for one member before the run waits for it.
pub const QUEUE: usize = 1024;
/// Longest a member's queue may stay full while others share its run; then it is dropped.
pub const SLOW_GRACE: Duration = Duration::from_secs(5);

/// How a run hands its updates to its members' connections (chosen as each member
/// joins; the load example measures one against the other, `--fanout-ab handoff`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handoff {
    /// Into the member's queue; its connection's task frames and sends each update
    /// (two task wake-ups per delivery: the connection's, then the socket writer's).
    Queue,
    /// Straight into the member's WebSocket session, framed by the run (one wake-up:
    /// the socket writer's); the queue only holds what a backed-up session cannot
    /// take yet.
    Direct,
    /// As `Queue`, and a connection whose task wakes to several updates (of any of its
    /// shared subscriptions) sends them in one go: one socket write for them all.
    Drain,
}

static HANDOFF: AtomicU8 = AtomicU8::new(0);

/// Sets how members joining from now on get their updates (process-wide; for
/// side-by-side measurements).
pub fn set_handoff(h: Handoff) {
    HANDOFF.store(h as u8, Ordering::Relaxed);
}

/// How members joining now get their updates.
pub fn handoff() -> Handoff {
    match HANDOFF.load(Ordering::Relaxed) {
        1 => Handoff::Direct,
        2 => Handoff::Drain,
        _ => Handoff::Queue,
    }
}

/// The shared runs of one server, by what they execute and for whom.
#[derive(Default)]
pub struct Hub {
    runs: Mutex<HashMap<Key, Arc<Run>>>,
}

#[derive(Clone, Hash, PartialEq, Eq)]
struct Key {
    caller: String,
    query: String,
    operation: Option<String>,
    variables: String,
}

/// One execution and the members it delivers to.
struct Run {
    state: Mutex<RunState>,
    /// Told when the last member leaves.
    stop: Notify,
}

struct RunState {
    /// Every payload sent so far, while a joiner may still get them all (at most
    /// `joinable` of them); `None` after.
    history: Option<Vec<Arc<str>>>,
    /// Most updates a run may have sent and still be joined.
    joinable: usize,
    members: Vec<Member>,
    /// Members not yet gone (their receivers alive).
    alive: usize,
    /// Ended or abandoned: no one joins it any more.
    closed: bool,
}

#[derive(Clone)]
struct Member {
    sink: Sink,
    evicted: Arc<AtomicBool>,
    /// Since when its queue has been full at every update (`None`: it was not, last).
    full_since: Option<Instant>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Where a run puts a member's updates.
#[derive(Clone)]
enum Sink {
    Queue(mpsc::Sender<Arc<str>>),
    Direct(Arc<Line>),
}

/// What became of an update offered to a member.
enum Offer {
    Taken,
    Full,
    Gone,
}

impl Sink {
    /// Hands `payload` over without waiting.
    fn offer(&self, payload: &Arc<str>) -> Offer {
        match self {
            Sink::Queue(tx) => match tx.try_send(payload.clone()) {
                Ok(()) => Offer::Taken,
                Err(mpsc::error::TrySendError::Full(_)) => Offer::Full,
                Err(mpsc::error::TrySendError::Closed(_)) => Offer::Gone,
            },
            Sink::Direct(line) => line.offer(payload),
        }
    }

    /// Hands `payload` over once there is room; `false` if the member is gone.
    async fn send(&self, payload: Arc<str>) -> bool {
        match self {
            Sink::Queue(tx) => tx.send(payload).await.is_ok(),
            Sink::Direct(line) => loop {
                // Told after every update the connection takes from the queue.
                let room = line.room.notified();
                match line.offer(&payload) {
                    Offer::Taken => return true,
                    Offer::Gone => return false,
                    Offer::Full => room.await,
                }
            },
        }
    }

    /// The run is done with this member: it completes (or, `evicted`, is closed as too
    /// slow) once it has what it was sent. A queue's end is its sender dropped.
    fn end(&self) {
        if let Sink::Direct(line) = self {
            lock(&line.slot).ended = true;
            line.ready.notify_one();
        }
    }

    fn same(&self, other: &Sink) -> bool {
        match (self, other) {
            (Sink::Queue(a), Sink::Queue(b)) => a.same_channel(b),
            (Sink::Direct(a), Sink::Direct(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// A member served straight into its WebSocket session.
struct Line {
    /// `{"type":"next","id":<id>,"payload":`: a `next` message up to its payload.
    prefix: String,
    slot: Mutex<LineState>,
    /// Told when the queue has something, or the run ended.
    ready: Notify,
    /// Told when the connection took an update from the queue.
    room: Notify,
}

struct LineState {
    /// The run's own handle on the member's session.
    session: actix_ws::Session,
    /// Updates the session could not take yet, oldest first (at most [`QUEUE`]); the
    /// connection's task sends them. While any wait (or one is being sent), newer
    /// ones queue behind them, so the order holds.
    queue: VecDeque<Arc<str>>,
    /// The connection's task is sending one it took from the queue.
    sending: bool,
    /// The member left (its subscription stopped, its connection closed): nothing
    /// more is sent for it.
    left: bool,
    /// The run is done with it.
    ended: bool,
}

/// A whole `next` message: `prefix`, the payload, the closing brace.
fn frame(prefix: &str, payload: &str) -> String {
    let mut frame = String::with_capacity(prefix.len() + payload.len() + 1);
    frame.push_str(prefix);
    frame.push_str(payload);
    frame.push('}');
    frame
}

fn next_prefix(id: &str) -> String {
    let id_json = serde_json::to_string(id).unwrap_or_else(|_| "\"\"".into());
    format!("{{\"type\":\"next\",\"id\":{id_json},\"payload\":")
}

impl Line {
    fn offer(&self, payload: &Arc<str>) -> Offer {
        let mut slot = lock(&self.slot);
        if slot.left || slot.ended {
            return Offer::Gone;
        }
        if slot.queue.is_empty() && !slot.sending {
            // Into the session's own channel if it has room now (under the slot's
            // lock, so nothing is sent once the member has left).
            match slot
                .session
                .text(frame(&self.prefix, payload))
                .now_or_never()
            {
                Some(Ok(())) => return Offer::Taken,
                Some(Err(_closed)) => {
                    slot.left = true;
                    return Offer::Gone;
                }
                // Backed up: the connection's task takes over, from the queue.
                None => {}
            }
        }
        if slot.queue.len() >= QUEUE {
            return Offer::Full;
        }
        slot.queue.push_back(payload.clone());
        drop(slot);
        self.ready.notify_one();
        Offer::Taken
    }
}

/// Marks a direct member gone when its membership ends.
struct Left(Arc<Line>);

impl Drop for Left {
    fn drop(&mut self) {
        lock(&self.0.slot).left = true;
        // A run waiting for room hears it is gone.
        self.0.room.notify_one();
    }
}

/// What a member's connection sends next.
pub enum Delivery {
    /// A whole `next` message, ready to send.
    Next(String),
    /// The run ended: send `complete`.
    Complete,
    /// The member fell too far behind and was dropped: close the connection.
    TooSlow,
}

/// Who joins: the subscription's id on its connection's WebSocket session.
pub struct Subscriber<'a> {
    pub session: &'a actix_ws::Session,
    pub id: &'a str,
}

/// One subscriber's place in a run: its queue, its connection's subscription slot.
pub struct Membership {
    rx: Rx,
    evicted: Arc<AtomicBool>,
    _leave: Leave,
    _slot: Slot,
}

/// Where a membership's updates come from.
enum Rx {
    Queue(mpsc::Receiver<Arc<str>>),
    /// Sent straight into the session by the run; only the queue is left to send.
    Direct(Left),
}

/// Leaves the run when the membership is dropped; the last one out stops it.
struct Leave {
    hub: Arc<Hub>,
    key: Key,
    run: Arc<Run>,
}

impl Drop for Leave {
    fn drop(&mut self) {
        let last = {
            let mut st = lock(&self.run.state);
            st.alive = st.alive.saturating_sub(1);
            if st.alive == 0 && !st.closed {
                st.closed = true;
                st.members.clear();
                true
            } else {
                false
            }
        };
        if last {
            self.run.stop.notify_one();
            self.hub.forget(&self.key, &self.run);
        }
    }
}

impl Membership {
    /// The member's deliveries, each `next` framed with its subscription `id`; ends
    /// after `Complete` or `TooSlow`.
    pub fn into_stream(self, id: &str) -> impl Stream<Item = Delivery> + Unpin + Send + 'static {
        let prefix = next_prefix(id);
        Box::pin(stream::unfold(Some(self), move |this| {
            let prefix = prefix.clone();
            async move {
                let mut this = this?;
                let end = |this: &Membership| {
                    if this.evicted.load(Ordering::Acquire) {
                        Delivery::TooSlow
                    } else {
                        Delivery::Complete
                    }
                };
                match &mut this.rx {
                    Rx::Queue(rx) => match rx.recv().await {
                        Some(payload) => {
                            Some((Delivery::Next(frame(&prefix, &payload)), Some(this)))
                        }
                        None => Some((end(&this), None)),
                    },
                    Rx::Direct(Left(line)) => {
                        let line = line.clone();
                        loop {
                            let ready = line.ready.notified();
                            {
                                let mut slot = lock(&line.slot);
                                // Asked again: the one handed out before has been sent.
                                slot.sending = false;
                                if let Some(payload) = slot.queue.pop_front() {
                                    slot.sending = true;
                                    drop(slot);
                                    line.room.notify_one();
                                    let next = Delivery::Next(frame(&prefix, &payload));
                                    return Some((next, Some(this)));
                                }
                                if slot.ended {
                                    drop(slot);
                                    return Some((end(&this), None));
                                }
                            }
                            ready.await;
                        }
                    }
                }
            }
        }))
    }
}

impl Hub {
    /// Joins (or starts) the shared run of `request` for `principal`, if it may be
    /// shared: a subscription whose start is shareable, from a caller who may share,
    /// within the connection's subscription cap. `None`: run it alone.
    pub fn join(
        self: &Arc<Self>,
        principal: &Principal,
        slots: &SubscriptionSlots,
        request: Request,
        schema: &SwarmSchema,
        runtime: &tokio::runtime::Handle,
        to: Subscriber<'_>,
    ) -> Option<Membership> {
        let Subscriber { session, id } = to;
        let caller = policy::subscription_sharing_key(principal)?;
        let joinable = match shareable(&request)? {
            SharedStart::Replay => REPLAY,
            SharedStart::Snapshot => 1,
        };
        // A full connection runs it alone, to be refused as ever.
        let slot = slots.acquire().ok()?;
        let key = Key {
            caller,
            query: request.query.clone(),
            operation: request.operation_name.clone(),
            variables: serde_json::to_string(&request.variables).ok()?,
        };
        let evicted = Arc::new(AtomicBool::new(false));
        let (sink, rx) = match handoff() {
            Handoff::Queue | Handoff::Drain => {
                let (tx, rx) = mpsc::channel(QUEUE);
                (Sink::Queue(tx), Rx::Queue(rx))
            }
            Handoff::Direct => {
                let line = Arc::new(Line {
                    prefix: next_prefix(id),
                    slot: Mutex::new(LineState {
                        session: session.clone(),
                        queue: VecDeque::new(),
                        sending: false,
                        left: false,
                        ended: false,
                    }),
                    ready: Notify::new(),
                    room: Notify::new(),
                });
                (Sink::Direct(line.clone()), Rx::Direct(Left(line)))
            }
        };
        let member = Member {
            sink,
            evicted: evicted.clone(),
            full_since: None,
        };
        let mut runs = lock(&self.runs);
        if let Some(run) = runs.get(&key) {
            let mut st = lock(&run.state);
            if !st.closed {
                if let Some(history) = &st.history {
                    // The replay fits: REPLAY <= QUEUE.
                    for payload in history {
                        let _ = member.sink.offer(payload);
                    }
                    st.members.push(member);
                    st.alive += 1;
                    drop(st);
                    return Some(Membership {
                        rx,
                        evicted,
                        _leave: Leave {
                            hub: self.clone(),
                            key,
                            run: run.clone(),
                        },
                        _slot: slot,
                    });
                }
            }
        }
        let run = Arc::new(Run {
            state: Mutex::new(RunState {
                history: Some(Vec::new()),
                joinable,
                members: vec![member],
                alive: 1,
                closed: false,
            }),
            stop: Notify::new(),
        });
        runs.insert(key.clone(), run.clone());
        drop(runs);
        let request = request
            .data(principal.clone())
            .data(SubscriptionSlots::new(usize::MAX));
        // The run logs under the span (request id) of the connection that started it.
        runtime.spawn(
            drive(
                self.clone(),
                key.clone(),
                run.clone(),
                schema.clone(),
                request,
            )
            .instrument(tracing::Span::current()),
        );
        Some(Membership {
            rx,
            evicted,
            _leave: Leave {
                hub: self.clone(),
                key,
                run,
            },
            _slot: slot,
        })
    }

    /// Forgets `run` under `key` (if it is still the one there).
    fn forget(&self, key: &Key, run: &Arc<Run>) {
        let mut runs = lock(&self.runs);
        if runs.get(key).is_some_and(|r| Arc::ptr_eq(r, run)) {
            runs.remove(key);
        }
    }

    /// Runs being shared now (for tests and metrics).
    pub fn runs(&self) -> usize {
        lock(&self.runs).len()
    }
}

/// Executes the run's subscription once and hands every payload to its members.
async fn drive(hub: Arc<Hub>, key: Key, run: Arc<Run>, schema: SwarmSchema, request: Request) {
    let mut responses = schema.execute_stream(request);
    loop {
        let response = tokio::select! {
            r = responses.next() => r,
            _ = run.stop.notified() => return,
        };
        let Some(response) = response else { break };
        let payload: Arc<str> = match serde_json::to_string(&response) {
            Ok(p) => p.into(),
            Err(e) => {
                tracing::error!(error = %e, "cannot serialize a subscription update");
                break;
            }
        };
        // Members whose queue is full, with how long they may still take.
        let blocked: Vec<(Member, Option<Duration>)> = {
            let mut st = lock(&run.state);
            if st.closed {
                return;
            }
            let joinable = st.joinable;
            match &mut st.history {
                Some(h) if h.len() < joinable => h.push(payload.clone()),
                _ => st.history = None,
            }
            let alone = st.members.len() == 1;
            let now = Instant::now();
            let mut blocked = Vec::new();
            st.members.retain_mut(|m| match m.sink.offer(&payload) {
                Offer::Taken => {
                    m.full_since = None;
                    true
                }
                Offer::Full => {
                    let since = *m.full_since.get_or_insert(now);
                    let left = SLOW_GRACE.saturating_sub(now - since);
                    if alone {
                        blocked.push((m.clone(), None));
                        true
                    } else if left.is_zero() {
                        m.evicted.store(true, Ordering::Release);
                        m.sink.end();
                        false
                    } else {
                        blocked.push((m.clone(), Some(left)));
                        true
                    }
                }
                Offer::Gone => false,
            });
            blocked
        };
        // Wait for the members that are behind (each in order, so none misses one);
        // drop those whose queue stays full past their grace.
        for (m, left) in blocked {
            let mut left = left.unwrap_or(SLOW_GRACE);
            let sent = loop {
                match tokio::time::timeout(left, m.sink.send(payload.clone())).await {
                    Ok(sent) => break sent,
                    // Alone, it is waited for as long as it stays alone.
                    Err(_) if lock(&run.state).members.len() == 1 => left = SLOW_GRACE,
                    Err(_) => break false,
                }
            };
            if !sent {
                m.evicted.store(true, Ordering::Release);
                m.sink.end();
                lock(&run.state).members.retain(|x| !x.sink.same(&m.sink));
            }
        }
    }
    // Ended: every member completes once it has what was sent.
    {
        let mut st = lock(&run.state);
        st.closed = true;
        for m in st.members.drain(..) {
            m.sink.end();
        }
    }
    hub.forget(&key, &run);
}

/// Whether `request` is one subscription field that can be shared, and how a joiner
/// gets its beginning (see [`crate::api::subscription::shares_start`]).
fn shareable(request: &Request) -> Option<SharedStart> {
    if !request.extensions.is_empty() {
        return None;
    }
    let doc = async_graphql::parser::parse_query(&request.query).ok()?;
    let op = match (&doc.operations, &request.operation_name) {
        (DocumentOperations::Single(op), None) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => {
            ops.iter().find(|(n, _)| n.as_str() == name)?.1
        }
        // One named operation needs no name to be picked.
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next()?,
        _ => return None,
    };
    if op.node.ty != OperationType::Subscription || !op.node.directives.is_empty() {
        return None;
    }
    let [item] = op.node.selection_set.node.items.as_slice() else {
        return None;
    };
    let Selection::Field(field) = &item.node else {
        return None;
    };
    if !field.node.directives.is_empty() {
        return None;
    }
    // Given and not null, as written or through a variable.
    let given = |name: &str| {
        field.node.get_argument(name).is_some_and(|v| {
            v.node
                .clone()
                .into_const_with(|var| request.variables.get(&var).cloned().ok_or(()))
                .is_ok_and(|v| v != Value::Null)
        })
    };
    crate::api::subscription::shares_start(field.node.name.node.as_str(), given)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WebSocket session whose socket writer (the response body) is polled only
    /// when the test reads it, so the session's own channel fills up.
    async fn session() -> (actix_ws::Session, actix_web::body::BoxBody) {
        use actix_web::FromRequest;
        let (req, mut pl) = actix_web::test::TestRequest::get()
            .insert_header(("upgrade", "websocket"))
            .insert_header(("connection", "upgrade"))
            .insert_header(("sec-websocket-version", "13"))
            .insert_header(("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="))
            .to_http_parts();
        let payload = actix_web::web::Payload::from_request(&req, &mut pl)
            .await
            .unwrap();
        let (response, session, _messages) = actix_ws::handle(&req, payload).unwrap();
        (session, response.into_body())
    }

    /// Reads what the session writes: short unmasked text frames, as the test sends.
    struct Reader {
        body: actix_web::body::BoxBody,
        buf: Vec<u8>,
        texts: VecDeque<String>,
    }

    impl Reader {
        /// The texts of the next `n` frames.
        async fn take(&mut self, n: usize) -> Vec<String> {
            use actix_web::body::MessageBody;
            while self.texts.len() < n {
                let body = &mut self.body;
                let chunk = std::future::poll_fn(|cx| std::pin::Pin::new(&mut *body).poll_next(cx))
                    .await
                    .expect("the session ended")
                    .unwrap();
                self.buf.extend_from_slice(&chunk);
                while self.buf.len() >= 2 && self.buf.len() >= 2 + usize::from(self.buf[1]) {
                    assert_eq!(self.buf[0], 0x81, "a final text frame");
                    assert!(self.buf[1] < 126, "short frames only");
                    let len = usize::from(self.buf[1]);
                    let text = String::from_utf8(self.buf[2..2 + len].to_vec()).unwrap();
                    self.texts.push_back(text);
                    self.buf.drain(..2 + len);
                }
            }
            self.texts.drain(..n).collect()
        }
    }

    fn update(n: usize) -> Arc<str> {
        format!("{{\"n\":{n}}}").into()
    }

    /// A member served straight into its session, whose session backs up: the rest
    /// waits in its queue and its connection sends it; every update arrives once, in
    /// order, newer ones behind the queued ones; then `complete`; nothing once gone.
    #[tokio::test]
    async fn a_backed_up_session_gets_every_update_once_in_order() {
        let (session, body) = session().await;
        let mut body = Reader {
            body,
            buf: Vec::new(),
            texts: VecDeque::new(),
        };
        let hub = Arc::new(Hub::default());
        let key = Key {
            caller: "c".into(),
            query: "q".into(),
            operation: None,
            variables: "{}".into(),
        };
        let run = Arc::new(Run {
            state: Mutex::new(RunState {
                history: None,
                joinable: 0,
                members: Vec::new(),
                alive: 1,
                closed: false,
            }),
            stop: Notify::new(),
        });
        let line = Arc::new(Line {
            prefix: next_prefix("7"),
            slot: Mutex::new(LineState {
                session: session.clone(),
                queue: VecDeque::new(),
                sending: false,
                left: false,
                ended: false,
            }),
            ready: Notify::new(),
            room: Notify::new(),
        });
        let sink = Sink::Direct(line.clone());
        let membership = Membership {
            rx: Rx::Direct(Left(line.clone())),
            evicted: Arc::new(AtomicBool::new(false)),
            _leave: Leave { hub, key, run },
            _slot: SubscriptionSlots::new(1).acquire().ok().unwrap(),
        };
        // The connection: sends what its stream gives, as `ws::serve` does.
        let (done_tx, mut done_rx) = mpsc::channel(1);
        let connection = tokio::spawn(async move {
            let mut deliveries = membership.into_stream("7");
            let mut session = session;
            while let Some(d) = deliveries.next().await {
                match d {
                    Delivery::Next(frame) => session.text(frame).await.unwrap(),
                    Delivery::Complete => {
                        session.text("complete").await.unwrap();
                        done_tx.send(deliveries).await.unwrap();
                        return;
                    }
                    Delivery::TooSlow => panic!("not evicted"),
                }
            }
        });
        // More than the session's channel holds, with nobody writing to the socket.
        for n in 0..100 {
            assert!(matches!(sink.offer(&update(n)), Offer::Taken));
        }
        assert!(!lock(&line.slot).queue.is_empty(), "the session backed up");
        let want = |r: std::ops::Range<usize>| -> Vec<String> {
            r.map(|n| format!("{{\"type\":\"next\",\"id\":\"7\",\"payload\":{{\"n\":{n}}}}}"))
                .collect()
        };
        assert_eq!(body.take(50).await, want(0..50));
        // Newer updates while older ones still wait go behind them.
        for n in 100..150 {
            assert!(matches!(sink.offer(&update(n)), Offer::Taken));
        }
        assert_eq!(body.take(100).await, want(50..150));
        // Drained: straight into the session again.
        for n in 150..160 {
            assert!(matches!(sink.offer(&update(n)), Offer::Taken));
        }
        assert_eq!(body.take(10).await, want(150..160));
        sink.end();
        assert_eq!(body.take(1).await, ["complete"]);
        assert!(matches!(sink.offer(&update(160)), Offer::Gone));
        let deliveries = tokio::time::timeout(Duration::from_secs(10), done_rx.recv())
            .await
            .unwrap()
            .unwrap();
        connection.await.unwrap();
        // Gone: nothing more is sent for it, even before the run ends it.
        lock(&line.slot).ended = false;
        drop(deliveries);
        assert!(matches!(sink.offer(&update(161)), Offer::Gone));
    }

    fn req(query: &str, variables: serde_json::Value) -> Request {
        Request::new(query).variables(async_graphql::Variables::from_json(variables))
    }

    #[test]
    fn only_one_subscription_field_with_a_shareable_start_is_shared() {
        let replay = [
            req(
                "subscription { events(fromPosition: 3) { position } }",
                serde_json::json!({}),
            ),
            req(
                "subscription { events { position } }",
                serde_json::json!({}),
            ),
            req(
                "subscription($p: Position!) { slaAlerts(fromPosition: $p) { position } }",
                serde_json::json!({ "p": 4 }),
            ),
            req(
                "subscription($v: Int) { swarmRoom(caseId: \"C-1\", fromVersion: $v) { version } }",
                serde_json::json!({ "v": 1 }),
            ),
        ];
        for r in &replay {
            assert_eq!(shareable(r), Some(SharedStart::Replay), "{}", r.query);
        }
        let snapshot = [
            req(
                "subscription($t: String!) { tierQueue(tier: $t) { position } }",
                serde_json::json!({ "t": "L1" }),
            ),
            req(
                "subscription($v: Int) { swarmRoom(caseId: \"C-1\", fromVersion: $v) { version } }",
                serde_json::json!({ "v": null }),
            ),
            req(
                "subscription Mine { invitations { position } }",
                serde_json::json!({}),
            ),
        ];
        for r in &snapshot {
            assert_eq!(shareable(r), Some(SharedStart::Snapshot), "{}", r.query);
        }
        let no = [
            // Live from now: its start depends on when it runs.
            req(
                "subscription { slaAlerts { position } }",
                serde_json::json!({}),
            ),
            req(
                "subscription($p: Position) { slaAlerts(fromPosition: $p) { position } }",
                serde_json::json!({ "p": null }),
            ),
            req("query { __typename }", serde_json::json!({})),
            req("mutation { __typename }", serde_json::json!({})),
            req(
                "subscription { events { position } events2: events { position } }",
                serde_json::json!({}),
            ),
            req(
                "subscription { ...F } fragment F on SubscriptionRoot { events { position } }",
                serde_json::json!({}),
            ),
            req("subscription { events(", serde_json::json!({})),
            req("subscription { __typename }", serde_json::json!({})),
        ];
        for r in &no {
            assert_eq!(shareable(r), None, "{}", r.query);
        }
    }
}
