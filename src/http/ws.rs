//! GraphQL subscriptions over WebSocket (`graphql-transport-ws` and the legacy
//! `graphql-ws`), one task per connection, on the WebSocket threads
//! ([`super::takeover`]): [`upgrade`] accepts the HTTP request, the task runs once the
//! socket has moved there.
//!
//! The task owns the connection: it feeds the client's frames to async-graphql's
//! protocol state machine, writes its replies back, answers pings, drops clients that
//! stop answering ours, and closes every connection with `1001 Going Away` when the
//! server shuts down, so a graceful stop never waits on an idle socket.
//!
//! For `graphql-transport-ws` it also enforces the protocol's rules that async-graphql
//! leaves out or closes with other codes ([`TransportRules`]): `4400` for a message
//! that is not one of the protocol's, `4401` for a `subscribe` before the
//! `connection_ack`, `4403` for a rejected `connection_init` (bad token), `4408` when
//! no `connection_init` arrives in time, `4409` for a `subscribe` whose id is in use,
//! `4429` for a second `connection_init`.
//!
//! Subscriptions that can share one execution with others of the same caller
//! ([`super::fanout`]) are taken out of async-graphql's state machine and served
//! from their shared run; everything else goes through it.
//!
//! An agent's authenticated connection is counted for their presence while it is
//! open ([`crate::presence`]); the first one after an automatic `AWAY` undoes it
//! before the `connection_ack`.

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use async_graphql::http::{ClientMessage, WebSocket, WebSocketProtocols, WsMessage};
use async_graphql::Data;
use futures_util::{FutureExt, SinkExt, StreamExt};
use std::borrow::Cow;
use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;
use tracing::Instrument;

use super::fanout::{Delivery, Membership};
use super::takeover::{Accepted, CanTakeOver};
use super::{principal, refuse, HttpState};
use crate::api::error::{coded, BAD_USER_INPUT, RATE_LIMITED, UNAUTHENTICATED, UNAVAILABLE};
use crate::api::{Principal, Shutdown, SubscriptionSlots};
use crate::domain::Role as ActorRole;
use crate::presence::Connected;
use tokio_stream::StreamMap;

/// Largest message a client may send (a subscription document).
const MAX_MESSAGE: usize = 256 * 1024;
/// Client messages buffered before the connection stops reading.
const INBOX: usize = 64;
/// Most shared-run updates written to a connection in one go.
const MAX_BATCH: usize = 64;
/// How long a closing connection waits for the client's answering close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The longest close reason: a control frame carries 125 bytes, 2 of them the code.
const MAX_CLOSE_REASON: usize = 123;

type CloseReason = CloseFrame<'static>;

/// The protocol the client asked for, first supported one wins.
fn protocol(req: &HttpRequest) -> Option<WebSocketProtocols> {
    req.headers()
        .get("sec-websocket-protocol")?
        .to_str()
        .ok()?
        .split(',')
        .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
}

/// Accepts the upgrade: answers `101` with what runs the connection once it is on
/// the WebSocket runtime ([`super::takeover`]).
pub fn upgrade(state: web::Data<HttpState>, req: HttpRequest) -> HttpResponse {
    let Some(protocol) = protocol(&req) else {
        return refuse(
            BAD_USER_INPUT,
            "Sec-WebSocket-Protocol must be graphql-transport-ws or graphql-ws",
        );
    };
    let can_take_over = req.extensions().get::<CanTakeOver>().copied();
    match can_take_over {
        Some(CanTakeOver::Yes) => {}
        Some(CanTakeOver::Full) => {
            return refuse(
                UNAVAILABLE,
                "the server holds as many WebSocket connections as it may; retry later",
            )
        }
        None => {
            return refuse(
                BAD_USER_INPUT,
                "a WebSocket upgrade needs HTTP/1.1 and a request without a body",
            )
        }
    }
    let mut response = match actix_http::ws::handshake(req.head()) {
        Ok(response) => response,
        Err(e) => return refuse(BAD_USER_INPUT, &e.to_string()),
    };
    response.insert_header((
        actix_web::http::header::SEC_WEBSOCKET_PROTOCOL,
        protocol.sec_websocket_protocol(),
    ));
    let mut response = HttpResponse::from(response.finish()).map_into_boxed_body();
    // A token on the upgrade request itself is accepted too (for clients that can set
    // headers); one in `connection_init` takes precedence.
    let from_header = principal(&state, &req);
    // Operations count against the token's rate once `connection_init` names it;
    // until then (and without one) against the client's address.
    let caller = Arc::new(std::sync::Mutex::new(
        state.caller(from_header.as_ref(), &req),
    ));
    let caller_of_init = caller.clone();
    let tokens = state.app.tokens().clone();
    let app = state.app.clone();
    // An agent's authenticated connection counts for their presence while it is open.
    let connections = state.connections.clone();
    let presence_slot: Arc<std::sync::Mutex<Option<Connected>>> = Arc::default();
    let presence_of_init = presence_slot.clone();
    let max_subscriptions = state.limits.subscriptions_per_connection;
    // Who the connection is and its subscription cap, once `connection_init` says.
    let sharing: Arc<std::sync::Mutex<Option<(Principal, SubscriptionSlots)>>> = Arc::default();
    let sharing_of_init = sharing.clone();
    let on_init = move |init: serde_json::Value| {
        let header = init
            .get("authorization")
            .or_else(|| init.get("Authorization"))
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        let found = match header {
            Some(h) => tokens.authenticate(Some(&h), app.clock().now()),
            None => from_header,
        };
        async move {
            let principal = found.ok_or_else(|| {
                coded(
                    UNAUTHENTICATED,
                    "missing or invalid bearer token in connection_init",
                )
            })?;
            if let Some(token) = &principal.token_id {
                *caller_of_init.lock().unwrap_or_else(|p| p.into_inner()) = token.clone();
            }
            let agent = &principal.actor;
            let watched = matches!(agent.role, ActorRole::Agent | ActorRole::Lead)
                && app.config().agents.contains_key(&agent.id);
            if watched {
                let (connected, first) = connections.connect(agent.id.clone());
                *presence_of_init.lock().unwrap_or_else(|p| p.into_inner()) = Some(connected);
                if first {
                    if let Err(e) = app.restore_presence(&agent.id).await {
                        tracing::warn!(agent = %agent.id, error = %e, "could not restore presence");
                    }
                }
            }
            let slots = SubscriptionSlots::new(max_subscriptions);
            *sharing_of_init.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((principal.clone(), slots.clone()));
            let mut data = Data::default();
            data.insert(principal);
            data.insert(slots);
            Ok(data)
        }
    };
    let (inbox, rx) = mpsc::channel::<Vec<u8>>(INBOX);
    let graphql = WebSocket::new(state.schema.clone(), ReceiverStream::new(rx), protocol)
        .on_connection_init(on_init);
    let metrics = state.metrics.clone();
    let shutdown = state.shutdown.clone();
    let legacy = protocol == WebSocketProtocols::SubscriptionsTransportWS;
    let rate = OperationRate {
        state: state.clone(),
        caller,
        legacy,
        sharing,
    };
    let rules = TransportRules::new(!legacy, state.limits.connection_init_timeout);
    // The connection logs under the upgrade request's id for as long as it lasts.
    let span = tracing::Span::current();
    let run = move |socket: TcpStream, leftover: Vec<u8>| {
        Box::pin(
            async move {
                metrics.websocket_connections.inc();
                let config = WebSocketConfig {
                    max_message_size: Some(MAX_MESSAGE),
                    max_frame_size: Some(MAX_MESSAGE),
                    ..WebSocketConfig::default()
                };
                let socket = WebSocketStream::from_partially_read(
                    socket,
                    leftover,
                    Role::Server,
                    Some(config),
                )
                .await;
                serve(socket, inbox, graphql, shutdown, rate, rules).await;
                presence_slot
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take();
                metrics.websocket_connections.dec();
            }
            .instrument(span),
        ) as futures_util::future::BoxFuture<'static, ()>
    };
    response.extensions_mut().insert(Accepted(Box::new(run)));
    response
}

/// Counts each operation a client starts (`subscribe`, or `start` in the legacy
/// protocol) against its rate limit, like an HTTP request.
struct OperationRate {
    state: web::Data<HttpState>,
    caller: Arc<std::sync::Mutex<String>>,
    legacy: bool,
    /// The connection's caller and subscription cap, once authenticated.
    sharing: Arc<std::sync::Mutex<Option<(Principal, SubscriptionSlots)>>>,
}

impl OperationRate {
    /// `None` to pass the message on; else the error to answer it with.
    fn check(&self, message: &[u8]) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct Envelope {
            #[serde(rename = "type")]
            kind: String,
            id: Option<String>,
        }
        // Anything else (or anything unreadable) is the protocol's to handle.
        let envelope: Envelope = serde_json::from_slice(message).ok()?;
        if envelope.kind != "subscribe" && envelope.kind != "start" {
            return None;
        }
        let caller = self
            .caller
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let limits = &self.state.limits;
        if self
            .state
            .rate
            .allow(&caller, 1, limits.rate_per_second, limits.rate_burst)
        {
            return None;
        }
        let error = serde_json::json!({
            "message": "rate limit exceeded; slow down and retry",
            "extensions": { "code": RATE_LIMITED.name() },
        });
        let payload = if self.legacy {
            error
        } else {
            serde_json::json!([error])
        };
        let reply = serde_json::json!({ "type": "error", "id": envelope.id, "payload": payload });
        Some(reply.to_string())
    }

    /// The shared run a `subscribe` message joins, with its id, if it can share one
    /// ([`super::fanout::Hub::join`]); `None` leaves the message to async-graphql.
    fn join_shared(&self, message: &[u8]) -> Option<(String, Membership)> {
        if self.legacy {
            return None;
        }
        let ClientMessage::Start { id, payload } = ClientMessage::from_bytes(message).ok()? else {
            return None;
        };
        let (principal, slots) = self
            .sharing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()?;
        let state = &self.state;
        let membership =
            state
                .fanout
                .join(&principal, &slots, payload, &state.schema, &state.runtime)?;
        Some((id, membership))
    }
}

/// The rules of `graphql-transport-ws` that async-graphql's state machine does not
/// enforce, or closes with other codes than the protocol's. Inactive for the legacy
/// protocol.
struct TransportRules {
    active: bool,
    init_timeout: Duration,
    init_received: bool,
    acknowledged: bool,
    /// Ids of the subscriptions running now.
    running: HashSet<String>,
}

/// A close frame; its reason cut to what a control frame holds (123 bytes).
fn close(code: u16, why: impl Into<String>) -> CloseReason {
    let mut why = why.into();
    if why.len() > MAX_CLOSE_REASON {
        let mut end = MAX_CLOSE_REASON;
        while !why.is_char_boundary(end) {
            end -= 1;
        }
        why.truncate(end);
    }
    CloseFrame {
        code: CloseCode::from(code),
        reason: Cow::Owned(why),
    }
}

impl TransportRules {
    fn new(active: bool, init_timeout: Duration) -> Self {
        TransportRules {
            active,
            init_timeout,
            init_received: false,
            acknowledged: false,
            running: HashSet::new(),
        }
    }

    /// Whether the connection still waits for its `connection_init`.
    fn awaiting_init(&self) -> bool {
        self.active && !self.init_received
    }

    /// The close a client message calls for, if any.
    fn incoming(&mut self, message: &[u8]) -> Option<CloseReason> {
        if !self.active {
            return None;
        }
        match ClientMessage::from_bytes(message) {
            Err(e) => Some(close(4400, format!("invalid message: {e}"))),
            Ok(ClientMessage::ConnectionInit { .. }) if self.init_received => {
                Some(close(4429, "too many initialisation requests"))
            }
            Ok(ClientMessage::ConnectionInit { .. }) => {
                self.init_received = true;
                None
            }
            Ok(ClientMessage::Start { .. }) if !self.acknowledged => {
                Some(close(4401, "unauthorized"))
            }
            Ok(ClientMessage::Start { id, .. }) => (!self.running.insert(id.clone()))
                .then(|| close(4409, format!("subscriber for {id} already exists"))),
            Ok(ClientMessage::Stop { id }) => {
                self.running.remove(&id);
                None
            }
            Ok(_) => None,
        }
    }

    /// Notes what a server message says: the ack, or the end of a subscription.
    fn outgoing(&mut self, text: &str) {
        // async-graphql writes the type first: `next` messages change nothing here,
        // and are not parsed again.
        if !self.active || text.starts_with("{\"type\":\"next\"") {
            return;
        }
        #[derive(serde::Deserialize)]
        struct Envelope<'a> {
            #[serde(rename = "type")]
            kind: &'a str,
            id: Option<String>,
        }
        let Ok(envelope) = serde_json::from_str::<Envelope>(text) else {
            return;
        };
        match (envelope.kind, envelope.id) {
            ("connection_ack", _) => self.acknowledged = true,
            ("complete" | "error", Some(id)) => {
                self.running.remove(&id);
            }
            _ => {}
        }
    }

    /// The protocol's code for a close async-graphql asks for: its `1002` is, once
    /// [`Self::incoming`] has refused malformed messages, a rejected `connection_init`.
    fn close_code(&self, code: u16) -> u16 {
        if self.active && code == 1002 {
            4403
        } else {
            code
        }
    }
}

/// Runs one connection until the client leaves, the protocol ends it, the client
/// stops answering pings, or the server shuts down.
async fn serve(
    socket: WebSocketStream<TcpStream>,
    inbox: mpsc::Sender<Vec<u8>>,
    graphql: impl futures_util::Stream<Item = WsMessage> + Unpin,
    shutdown: Shutdown,
    rate: OperationRate,
    mut rules: TransportRules,
) {
    let (mut session, mut messages) = socket.split();
    let mut graphql = graphql;
    let init_deadline = tokio::time::sleep(rules.init_timeout);
    tokio::pin!(init_deadline);
    let (ping_interval, client_timeout) = (
        rate.state.limits.ping_interval,
        rate.state.limits.client_timeout,
    );
    let mut heartbeat = tokio::time::interval(ping_interval);
    heartbeat.tick().await;
    let mut last_heard = tokio::time::Instant::now();
    let shutdown = shutdown.wait();
    tokio::pin!(shutdown);
    // The subscriptions served from shared runs, by id.
    let mut shared = StreamMap::new();
    let close = loop {
        tokio::select! {
            incoming = messages.next() => {
                last_heard = tokio::time::Instant::now();
                let bytes = match incoming {
                    Some(Ok(Message::Text(text))) => text.into_bytes(),
                    Some(Ok(Message::Binary(bytes))) => bytes,
                    // The WebSocket layer answers pings itself.
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                    Some(Ok(Message::Close(_))) | None => break None,
                    Some(Err(WsError::Capacity(e))) => break Some(close(1009, e.to_string())),
                    Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed | WsError::Io(_))) => {
                        return;
                    }
                    Some(Err(e)) => break Some(close(1002, e.to_string())),
                };
                if let Some(close) = rules.incoming(&bytes) {
                    break Some(close);
                }
                if let Some(refusal) = rate.check(&bytes) {
                    // The refused subscription does not run.
                    rules.outgoing(&refusal);
                    if session.send(Message::Text(refusal)).await.is_err() {
                        return;
                    }
                    continue;
                }
                if rules.acknowledged {
                    if let Some((id, membership)) = rate.join_shared(&bytes) {
                        shared.insert(id.clone(), membership.into_stream(&id));
                        continue;
                    }
                    if let Ok(ClientMessage::Stop { id }) = ClientMessage::from_bytes(&bytes) {
                        // Leaving a shared run sends nothing back, as async-graphql does
                        // not for an id it does not run.
                        if shared.remove(&id).is_some() {
                            continue;
                        }
                    }
                }
                if inbox.send(bytes).await.is_err() {
                    break None;
                }
            }
            Some((id, delivery)) = shared.next(), if !shared.is_empty() => {
                // This delivery and those already waiting go out in one write.
                let mut next = Some((id, delivery));
                let mut written = 0;
                let mut too_slow = None;
                while let Some((id, delivery)) = next.take() {
                    let text = match delivery {
                        Delivery::Next(frame) => frame,
                        Delivery::Complete => {
                            rules.running.remove(&id);
                            complete_message(&id)
                        }
                        Delivery::TooSlow => {
                            too_slow = Some(id);
                            break;
                        }
                    };
                    if session.feed(Message::Text(text)).await.is_err() {
                        return;
                    }
                    written += 1;
                    if written < MAX_BATCH {
                        next = shared.next().now_or_never().flatten();
                    }
                }
                if session.flush().await.is_err() {
                    return;
                }
                if let Some(id) = too_slow {
                    break Some(close(
                        1008,
                        format!(
                            "too slow: subscription {id} stayed {} updates behind for {} s",
                            super::fanout::QUEUE,
                            super::fanout::SLOW_GRACE.as_secs()
                        ),
                    ));
                }
            }
            outgoing = graphql.next() => match outgoing {
                Some(WsMessage::Text(text)) => {
                    rules.outgoing(&text);
                    if session.send(Message::Text(text)).await.is_err() {
                        return;
                    }
                }
                Some(WsMessage::Close(code, why)) => break Some(close(rules.close_code(code), why)),
                None => break None,
            },
            _ = &mut init_deadline, if rules.awaiting_init() => {
                break Some(close(4408, "connection initialisation timeout"));
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > client_timeout {
                    break Some(close(1008, "no answer to pings"));
                }
                if session.send(Message::Ping(Vec::new())).await.is_err() {
                    return;
                }
            }
            _ = &mut shutdown => {
                // Subscriptions end at shutdown too: send their `complete` messages
                // that are ready, then say goodbye.
                let drain = tokio::time::sleep(Duration::from_millis(100));
                tokio::pin!(drain);
                loop {
                    tokio::select! {
                        Some(WsMessage::Text(text)) = graphql.next() => {
                            if session.send(Message::Text(text)).await.is_err() {
                                return;
                            }
                        }
                        Some((id, delivery)) = shared.next(), if !shared.is_empty() => {
                            let text = match delivery {
                                Delivery::Next(frame) => frame,
                                Delivery::Complete => complete_message(&id),
                                Delivery::TooSlow => continue,
                            };
                            if session.send(Message::Text(text)).await.is_err() {
                                return;
                            }
                        }
                        _ = &mut drain => break,
                    }
                }
                break Some(close(1001, "server shutting down"));
            }
        }
    };
    // Our close frame (or the answer to the client's), then the client's answer, so
    // that the close frame is not lost to a connection reset.
    let _ = session.send(Message::Close(close)).await;
    let _ = session.flush().await;
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while let Some(Ok(_)) = messages.next().await {}
    })
    .await;
}

/// The `complete` message of subscription `id`.
fn complete_message(id: &str) -> String {
    serde_json::json!({ "type": "complete", "id": id }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_close_reason_is_cut_to_what_a_control_frame_holds_on_a_char_boundary() {
        let frame = close(4400, "é".repeat(100));
        assert_eq!(frame.reason.len(), 122);
        assert_eq!(u16::from(frame.code), 4400);
        assert_eq!(close(1001, "short").reason, "short");
    }
}
