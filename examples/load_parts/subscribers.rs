//! One WebSocket subscriber of the fan-out (`graphql-transport-ws`): subscribing,
//! reading updates into types, and what it received.

use super::target::{Gql, Target};
use super::{FANOUT_CASES, SUBSCRIBE_SWARM_ROOM, WS_STEP_TIMEOUT};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use swarmdesk::domain::Timestamp;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// A `graphql-transport-ws` message from the server, read into types rather than a
/// `Value` tree: the generator reads 250,000 of them a second at 5,000 subscribers.
#[derive(Deserialize)]
struct WsIn<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(default)]
    payload: Option<WsPayload<'a>>,
}

#[derive(Deserialize)]
struct WsPayload<'a> {
    #[serde(default, borrow)]
    data: Option<WsData<'a>>,
    #[serde(default)]
    errors: Option<Value>,
}

/// The subscription roots the benchmark takes (one is set).
#[derive(Deserialize)]
struct WsData<'a> {
    #[serde(default, borrow)]
    events: Option<WsUpdate<'a>>,
    #[serde(default, borrow, rename = "tierQueue")]
    tier_queue: Option<WsUpdate<'a>>,
    #[serde(default, borrow, rename = "swarmRoom")]
    swarm_room: Option<WsUpdate<'a>>,
}

#[derive(Deserialize)]
struct WsUpdate<'a> {
    #[serde(default)]
    position: Option<u64>,
    #[serde(default)]
    version: Option<u64>,
    #[serde(default, borrow)]
    change: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow, rename = "occurredAt")]
    occurred_at: Option<std::borrow::Cow<'a, str>>,
}

/// What a subscriber subscribes to.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum SubKind {
    /// `events(fromPosition)`: every event, exactly once, in order.
    Events,
    /// `tierQueue(tier)`: one update per command on a case of the tier.
    TierQueue,
    /// `swarmRoom(caseId)` on the fan-out case of this index.
    SwarmRoom(usize),
}

impl SubKind {
    /// Subscriber `i` of a run: all `events`, or a third of each kind with `--mix`.
    pub(crate) fn of(i: usize, mix: bool) -> SubKind {
        match (mix, i % 3) {
            (false, _) | (true, 0) => SubKind::Events,
            (true, 1) => SubKind::TierQueue,
            _ => SubKind::SwarmRoom((i / 3) % FANOUT_CASES),
        }
    }

    pub(crate) fn label(&self) -> &'static str {
        match self {
            SubKind::Events => "events",
            SubKind::TierQueue => "tierQueue",
            SubKind::SwarmRoom(_) => "swarmRoom",
        }
    }
}

/// One update as a subscriber received it.
#[derive(Clone, Copy)]
pub(crate) struct Received {
    pub(crate) position: u64,
    /// The case version (`swarmRoom` updates; 0 otherwise).
    pub(crate) version: u64,
    /// Receive time and the event's `occurredAt` (0 when the update does not carry
    /// it: it is then taken from an `events` subscriber), both in Unix microseconds.
    pub(crate) received_us: i64,
    pub(crate) occurred_us: i64,
}

/// What one subscriber saw.
pub(crate) struct SubOutcome {
    pub(crate) ready: bool,
    pub(crate) error: Option<String>,
    pub(crate) received: Vec<Received>,
}

type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn unix_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

async fn send_json(ws: &mut WsStream, v: Value) -> Result<(), String> {
    ws.send(Message::Text(v.to_string()))
        .await
        .map_err(|e| format!("WebSocket send: {e}"))
}

/// What a text frame meant to a subscriber.
enum Incoming {
    Event(Received),
    Control(String),
    Other,
}

fn parse_incoming(text: &str, received_us: i64) -> Result<Incoming, String> {
    let msg: WsIn = serde_json::from_str(text).map_err(|e| format!("bad JSON `{text}`: {e}"))?;
    match msg.kind.as_ref() {
        "next" => {
            let payload = msg
                .payload
                .ok_or_else(|| format!("update without payload: {text}"))?;
            if let Some(errors) = payload.errors {
                return Err(format!("subscription error: {errors}"));
            }
            let e = payload
                .data
                .and_then(|d| d.events.or(d.tier_queue).or(d.swarm_room))
                .ok_or_else(|| format!("unexpected update: {text}"))?;
            // Snapshots state where a subscription starts; only changes are measured.
            if e.change.as_deref() == Some("SNAPSHOT") {
                return Ok(Incoming::Other);
            }
            let position = e
                .position
                .ok_or_else(|| format!("update without position: {text}"))?;
            let occurred_us = match e.occurred_at.as_deref() {
                Some(at) => Timestamp::parse_rfc3339(at)
                    .map_err(|e| e.to_string())?
                    .unix_micros(),
                None => 0,
            };
            Ok(Incoming::Event(Received {
                position,
                version: e.version.unwrap_or(0),
                received_us,
                occurred_us,
            }))
        }
        "error" | "complete" | "connection_error" => Err(format!("server sent {text}")),
        "ka" => Ok(Incoming::Other),
        other => Ok(Incoming::Control(other.to_string())),
    }
}

/// Connects, authenticates and subscribes; a pong after the subscribe message shows
/// the server has read it. Events that already arrive are kept in `received`.
async fn subscribe_ws(
    ws_url: &str,
    token: &str,
    subscription: &(String, Value),
    received: &mut Vec<Received>,
) -> Result<WsStream, String> {
    let mut req = ws_url
        .into_client_request()
        .map_err(|e| format!("WebSocket URL: {e}"))?;
    let protocol = "graphql-transport-ws"
        .parse()
        .map_err(|e| format!("header: {e}"))?;
    req.headers_mut().insert("Sec-WebSocket-Protocol", protocol);
    let (mut ws, _) = tokio::time::timeout(WS_STEP_TIMEOUT, tokio_tungstenite::connect_async(req))
        .await
        .map_err(|_| "WebSocket connect timed out".to_string())?
        .map_err(|e| format!("WebSocket connect: {e}"))?;
    send_json(
        &mut ws,
        json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }),
    )
    .await?;
    wait_control(&mut ws, "connection_ack", received).await?;
    let (query, variables) = subscription;
    send_json(
        &mut ws,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": query, "variables": variables } }),
    )
    .await?;
    send_json(&mut ws, json!({ "type": "ping" })).await?;
    wait_control(&mut ws, "pong", received).await?;
    Ok(ws)
}

/// Reads until a message of type `want` arrives, answering pings on the way.
async fn wait_control(
    ws: &mut WsStream,
    want: &str,
    received: &mut Vec<Received>,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + WS_STEP_TIMEOUT;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| format!("timed out waiting for {want}"))?;
        let now = unix_us();
        let text = match msg {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(f))) => {
                return Err(format!("closed while waiting for {want}: {f:?}"))
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(format!("WebSocket: {e}")),
            None => return Err(format!("closed while waiting for {want}")),
        };
        match parse_incoming(&text, now)? {
            Incoming::Event(r) => received.push(r),
            Incoming::Control(k) if k == want => return Ok(()),
            Incoming::Control(k) if k == "ping" => send_json(ws, json!({ "type": "pong" })).await?,
            Incoming::Control(k) => return Err(format!("expected {want}, got {k}: {text}")),
            Incoming::Other => {}
        }
    }
}

pub(crate) struct SubscriberCtx {
    pub(crate) ws_url: String,
    pub(crate) token: String,
    pub(crate) subscription: (String, Value),
    /// Progress is tracked by case version (`swarmRoom`) rather than log position.
    pub(crate) by_version: bool,
    pub(crate) gate: Arc<Semaphore>,
    pub(crate) ready: mpsc::Sender<(usize, Result<(), String>)>,
    pub(crate) last: Arc<Vec<AtomicU64>>,
    pub(crate) stop: watch::Receiver<bool>,
    pub(crate) hard_deadline: tokio::time::Instant,
}

pub(crate) async fn subscriber(i: usize, cx: SubscriberCtx) -> SubOutcome {
    let mut received = Vec::new();
    let progress = |r: &Received| if cx.by_version { r.version } else { r.position };
    let setup = {
        let _permit = cx.gate.acquire().await;
        subscribe_ws(&cx.ws_url, &cx.token, &cx.subscription, &mut received).await
    };
    let mut ws = match setup {
        Ok(ws) => {
            let _ = cx.ready.send((i, Ok(()))).await;
            ws
        }
        Err(e) => {
            let _ = cx.ready.send((i, Err(e.clone()))).await;
            return SubOutcome {
                ready: false,
                error: Some(e),
                received,
            };
        }
    };
    drop(cx.ready);
    if let Some(r) = received.last() {
        cx.last[i].store(progress(r), Ordering::Release);
    }
    let mut error = None;
    let mut stop = cx.stop.clone();
    let stopped = async move {
        // The guard is dropped at once: it must not live across an await.
        let _ = stop.wait_for(|s| *s).await.is_ok();
    };
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            msg = ws.next() => {
                let now = unix_us();
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(f))) => {
                        error = Some(format!("closed by the server: {f:?}"));
                        break;
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        error = Some(format!("WebSocket: {e}"));
                        break;
                    }
                    None => {
                        error = Some("closed by the server".into());
                        break;
                    }
                };
                match parse_incoming(&text, now) {
                    Ok(Incoming::Event(r)) => {
                        received.push(r);
                        cx.last[i].store(progress(&r), Ordering::Release);
                    }
                    Ok(Incoming::Control(k)) if k == "ping" => {
                        if let Err(e) = send_json(&mut ws, json!({ "type": "pong" })).await {
                            error = Some(e);
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
            _ = &mut stopped => break,
            _ = tokio::time::sleep_until(cx.hard_deadline) => {
                error = Some("gave up at the hard deadline".into());
                break;
            }
        }
    }
    // End politely; never wait long for it.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = send_json(&mut ws, json!({ "id": "1", "type": "complete" })).await;
        let _ = ws.close(None).await;
    })
    .await;
    SubOutcome {
        ready: true,
        error,
        received,
    }
}

/// A `swarmRoom` subscriber on a case nobody writes to, left unread (it gets nothing).
pub(crate) async fn idle_listener(gql: &Gql, target: &Target) -> Result<WsStream, String> {
    let case = gql.open_case("load bench listener".into()).await?;
    let ws_url = target.base.replacen("http://", "ws://", 1) + "/graphql";
    let subscription = (SUBSCRIBE_SWARM_ROOM.to_string(), json!({ "id": case.id }));
    let mut received = Vec::new();
    let ws = subscribe_ws(&ws_url, &target.token, &subscription, &mut received).await?;
    println!("listener: one swarmRoom subscriber on an idle case");
    Ok(ws)
}

/// Waits until every ready subscriber has reached its target (a position, or a case
/// version for `swarmRoom`); returns how many had.
pub(crate) async fn wait_reached(
    last: &[AtomicU64],
    ready: &[bool],
    targets: &[u64],
    timeout: Duration,
) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        let reached = last
            .iter()
            .zip(ready)
            .zip(targets)
            .filter(|((l, r), t)| **r && l.load(Ordering::Acquire) >= **t)
            .count();
        let want = ready.iter().filter(|r| **r).count();
        if reached == want || Instant::now() >= deadline {
            return reached;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Where each subscriber should have got to: the log `head`, or for a `swarmRoom`
/// subscriber its case's last acknowledged version.
pub(crate) fn targets(kinds: &[SubKind], head: u64, case_versions: &[u64]) -> Vec<u64> {
    kinds
        .iter()
        .map(|k| match k {
            SubKind::SwarmRoom(c) => case_versions[*c],
            _ => head,
        })
        .collect()
}
