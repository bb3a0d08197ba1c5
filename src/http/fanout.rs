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

use async_graphql::parser::types::{DocumentOperations, OperationType, Selection};
use async_graphql::{Request, Value};
use futures_util::stream::{self, Stream, StreamExt};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
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
    tx: mpsc::Sender<Arc<str>>,
    evicted: Arc<AtomicBool>,
    /// Since when its queue has been full at every update (`None`: it was not, last).
    full_since: Option<Instant>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
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

/// One subscriber's place in a run: its queue, its connection's subscription slot.
pub struct Membership {
    rx: mpsc::Receiver<Arc<str>>,
    evicted: Arc<AtomicBool>,
    _leave: Leave,
    _slot: Slot,
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
        let id_json = serde_json::to_string(id).unwrap_or_else(|_| "\"\"".into());
        let prefix = format!("{{\"type\":\"next\",\"id\":{id_json},\"payload\":");
        Box::pin(stream::unfold(Some(self), move |this| {
            let prefix = prefix.clone();
            async move {
                let mut this = this?;
                match this.rx.recv().await {
                    Some(payload) => {
                        let mut frame = String::with_capacity(prefix.len() + payload.len() + 1);
                        frame.push_str(&prefix);
                        frame.push_str(&payload);
                        frame.push('}');
                        Some((Delivery::Next(frame), Some(this)))
                    }
                    None if this.evicted.load(Ordering::Acquire) => Some((Delivery::TooSlow, None)),
                    None => Some((Delivery::Complete, None)),
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
    ) -> Option<Membership> {
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
        let (tx, rx) = mpsc::channel(QUEUE);
        let member = Member {
            tx,
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
                        let _ = member.tx.try_send(payload.clone());
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
        // Deliver after the tasks already waiting on this runtime (among them the
        // writes whose commit woke this run), not before them.
        tokio::task::yield_now().await;
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
            st.members
                .retain_mut(|m| match m.tx.try_send(payload.clone()) {
                    Ok(()) => {
                        m.full_since = None;
                        true
                    }
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        let since = *m.full_since.get_or_insert(now);
                        let left = SLOW_GRACE.saturating_sub(now - since);
                        if alone {
                            blocked.push((m.clone(), None));
                            true
                        } else if left.is_zero() {
                            m.evicted.store(true, Ordering::Release);
                            false
                        } else {
                            blocked.push((m.clone(), Some(left)));
                            true
                        }
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => false,
                });
            blocked
        };
        // Wait for the members that are behind (each in order, so none misses one);
        // drop those whose queue stays full past their grace.
        for (m, left) in blocked {
            let mut left = left.unwrap_or(SLOW_GRACE);
            let sent = loop {
                match tokio::time::timeout(left, m.tx.send(payload.clone())).await {
                    Ok(sent) => break sent.is_ok(),
                    // Alone, it is waited for as long as it stays alone.
                    Err(_) if lock(&run.state).members.len() == 1 => left = SLOW_GRACE,
                    Err(_) => break false,
                }
            };
            if !sent {
                m.evicted.store(true, Ordering::Release);
                lock(&run.state)
                    .members
                    .retain(|x| !x.tx.same_channel(&m.tx));
            }
        }
    }
    // Ended: every member completes once it has what was sent.
    {
        let mut st = lock(&run.state);
        st.closed = true;
        st.members.clear();
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
