//! End-to-end tests of the GraphQL API: a real server on a loopback port, spoken to
//! over HTTP (reqwest) and WebSocket (tokio-tungstenite).

mod access;
mod archive;
mod audit;
mod authz;
mod binary;
mod busy_case;
mod console;
mod contributions;
mod cors;
mod erasure;
mod errors;
mod examples;
mod fanout;
mod faults;
mod hardening;
mod http_conventions;
mod introspection;
mod knowledge;
mod lifecycle;
mod live_changes;
mod logging;
mod metrics;
mod needed_skills;
mod nodes;
mod nodes_erasure;
mod nodes_live;
mod paging;
mod presence;
mod read_security;
mod reports;
mod rotation;
mod routing;
mod schema;
mod severity;
mod sla;
mod standing;
mod subscriptions;
mod swarming;
mod tour;
mod write_security;
mod ws_protocol;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::TcpListener;
use std::time::Duration;
use swarmdesk::auth::Grant;
use swarmdesk::domain::{Actor, Role, Tier};
use swarmdesk::server::{self, Running, ServerOptions};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

pub const ADMIN: &str = "admin-token";

/// Test users: (token, id, role, tiers).
pub const USERS: &[(&str, &str, Role, &[&str])] = &[
    ("alice-token", "alice", Role::Agent, &["L1"]),
    ("bob-token", "bob", Role::Agent, &["L1"]),
    ("dana-token", "dana", Role::Lead, &["L2"]),
    ("farah-token", "farah", Role::Agent, &["L3"]),
    ("gustav-token", "gustav", Role::Agent, &["L3"]),
    ("audrey-token", "audrey", Role::Auditor, &[]),
    ("sam-token", "sam.okafor", Role::Customer, &[]),
];

pub fn options(dir: &std::path::Path) -> ServerOptions {
    let mut o = ServerOptions::new(dir.to_path_buf());
    o.bootstrap_token = Some(ADMIN.into());
    o.tokens = USERS
        .iter()
        .map(|(t, id, role, tiers)| {
            let grant = Grant {
                actor: Actor::new(id, *role).unwrap(),
                tiers: tiers.iter().map(|t| Tier::new(*t)).collect(),
                expires_at: None,
            };
            (t.to_string(), grant)
        })
        .collect();
    // Test clients read their sockets only when they expect a message, so on a busy
    // machine they can leave the server's pings unanswered for longer than a real
    // client would; `ws_protocol` tests the timeout itself.
    o.http_limits.client_timeout = std::time::Duration::from_secs(600);
    o
}

/// A running server with a temp data dir.
pub struct TestServer {
    pub running: Option<Running>,
    pub url: String,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
}

impl TestServer {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, |_| {}).await
    }

    pub async fn start_in(dir: tempfile::TempDir, tweak: impl FnOnce(&mut ServerOptions)) -> Self {
        let mut o = options(dir.path());
        tweak(&mut o);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let running = server::start(o, listener)
            .await
            .unwrap_or_else(|e| panic!("server start: {e}"));
        let url = format!("http://{}", running.addr);
        TestServer {
            running: Some(running),
            url,
            dir,
            http: reqwest::Client::new(),
        }
    }

    /// Stops gracefully and hands back the data dir (for restart tests).
    pub async fn stop(mut self) -> tempfile::TempDir {
        self.running.take().unwrap().stop().await.unwrap();
        self.dir
    }

    pub fn head(&self) -> u64 {
        self.running.as_ref().unwrap().app.store().head()
    }

    /// POSTs a GraphQL request with `token` and returns the JSON body.
    pub async fn gql_as(&self, token: &str, query: &str, variables: Value) -> Value {
        let res = self
            .http
            .post(format!("{}/graphql", self.url))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "HTTP {}", res.status());
        res.json().await.unwrap()
    }

    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        self.gql_as(ADMIN, query, variables).await
    }

    /// Like `gql_as`, but panics on GraphQL errors and returns `data`.
    pub async fn ok_as(&self, token: &str, query: &str, variables: Value) -> Value {
        let v = self.gql_as(token, query, variables).await;
        assert!(v.get("errors").is_none(), "unexpected errors: {v}");
        v["data"].clone()
    }

    pub async fn ok(&self, query: &str, variables: Value) -> Value {
        self.ok_as(ADMIN, query, variables).await
    }

    pub async fn open_case(&self, subject: &str, priority: &str) -> String {
        let d = self
            .ok(
                "mutation($s: String!, $p: Priority!) { openCase(input: {subject: $s, channel: EMAIL, priority: $p, customer: {id: \"acme\", segment: B2B}}) { id version tier } }",
                json!({ "s": subject, "p": priority }),
            )
            .await;
        d["openCase"]["id"].as_str().unwrap().to_string()
    }

    /// The body of `GET path` (e.g. `/metrics`), which needs no token.
    pub async fn get_text(&self, path: &str) -> String {
        let r = self.http.get(format!("{}{path}", self.url)).send().await;
        r.unwrap().text().await.unwrap()
    }

    /// The case's history as the admin sees it: `type` and `payload` of each event.
    pub async fn history(&self, id: &Value) -> Vec<Value> {
        let h = self
            .ok(
                "query($id: ID!) { caseHistory(caseId: $id) { type payload } }",
                json!({ "id": id }),
            )
            .await;
        h["caseHistory"].as_array().unwrap().clone()
    }

    pub async fn ws(&self, protocol: &str, token: &str) -> Ws {
        Ws::connect(&self.url, protocol, token).await
    }
}

/// A GraphQL WebSocket client speaking `graphql-transport-ws` or legacy `graphql-ws`.
pub struct Ws {
    pub stream: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    legacy: bool,
}

impl Ws {
    pub async fn connect_raw(url: &str, protocol: &str, init: Value) -> (Self, Value) {
        let mut req = format!("{}/graphql", url.replace("http", "ws"))
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
        let (stream, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        let mut ws = Ws {
            stream,
            legacy: protocol == "graphql-ws",
        };
        ws.send(json!({ "type": "connection_init", "payload": init }))
            .await;
        let ack = ws.next_json().await;
        (ws, ack)
    }

    pub async fn connect(url: &str, protocol: &str, token: &str) -> Self {
        let (ws, ack) = Self::connect_raw(
            url,
            protocol,
            json!({ "authorization": format!("Bearer {token}") }),
        )
        .await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        ws
    }

    pub async fn send(&mut self, v: Value) {
        self.stream
            .send(Message::Text(v.to_string()))
            .await
            .unwrap();
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        let kind = if self.legacy { "start" } else { "subscribe" };
        self.send(json!({ "id": id, "type": kind, "payload": { "query": query, "variables": variables } })).await;
    }

    /// The next JSON message (pings answered, keep-alives skipped), or panics after 10 s.
    pub async fn next_json(&mut self) -> Value {
        // One deadline for the whole wait: heartbeats must not extend it.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let msg = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .expect("timed out waiting for a WebSocket message")
                .expect("WebSocket closed")
                .expect("WebSocket error");
            match msg {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    match v["type"].as_str() {
                        Some("ka") => continue,
                        Some("ping") => self.send(json!({ "type": "pong" })).await,
                        _ => return v,
                    }
                }
                Message::Close(frame) => {
                    return json!({ "type": "closed", "frame": format!("{frame:?}") })
                }
                _ => continue,
            }
        }
    }

    /// The next subscription payload's `data`, panicking on anything else.
    pub async fn next_data(&mut self) -> Value {
        let v = self.next_json().await;
        let kind = if self.legacy { "data" } else { "next" };
        assert_eq!(v["type"], kind, "expected {kind}: {v}");
        assert!(
            v["payload"].get("errors").is_none(),
            "subscription error: {v}"
        );
        v["payload"]["data"].clone()
    }
}

impl TestServer {
    /// POSTs a GraphQL request with an optional token; returns the HTTP status and the
    /// body (as JSON, or as a JSON string when it is not JSON). Never panics on errors,
    /// so matrix tests can collect every violation.
    pub async fn gql_raw(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}/graphql", self.url))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }
}

impl Ws {
    /// The next JSON message, or `None` if none arrives by `deadline` (pings answered,
    /// keep-alives skipped; a closed socket is reported as `{"type": "closed"}`).
    pub async fn next_json_until(&mut self, deadline: tokio::time::Instant) -> Option<Value> {
        loop {
            let msg = match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return None,
                Ok(None) | Ok(Some(Err(_))) => return Some(json!({ "type": "closed" })),
                Ok(Some(Ok(m))) => m,
            };
            match msg {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t)
                        .unwrap_or(json!({ "type": "text", "text": t.to_string() }));
                    match v["type"].as_str() {
                        Some("ka") => continue,
                        Some("ping") => self.send(json!({ "type": "pong" })).await,
                        _ => return Some(v),
                    }
                }
                Message::Close(frame) => {
                    return Some(json!({ "type": "closed", "frame": format!("{frame:?}") }))
                }
                _ => continue,
            }
        }
    }
}
