//! HTTP and WebSocket: GraphQL over HTTP (`POST`/`GET /graphql`), subscriptions on the
//! same path (`graphql-transport-ws` and the legacy `graphql-ws`), the web console
//! at `/` and GraphiQL at `/graphiql` (embedded files, [`console`]), `/healthz`, `/loghead`, `/schema.graphql` and `/metrics` (each also answering `HEAD`). Media
//! types and status codes of GraphQL responses are [`media`]'s. Handlers
//! are thin: authenticate, enforce request limits (body size and read deadline,
//! operations per batch, every operation against the caller's rate), hand the request
//! to the schema, which executes on the HTTP worker that read it ([`Execution`]).
//! Every request runs in a span with its request id ([`request_id`]).

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use async_graphql::http::parse_query_string;
use async_graphql::BatchRequest;
use futures_util::StreamExt;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

use crate::api::error::{Code, BAD_USER_INPUT, INTERNAL, RATE_LIMITED, TIMEOUT};
use crate::api::{Principal, SwarmSchema};
use crate::app::Desk;
use crate::metrics::Metrics;

pub mod console;
pub mod cors;
pub mod fanout;
mod media;
pub mod request_id;
pub mod takeover;
pub mod workers;
mod ws;

/// Request limits enforced before GraphQL sees a request.
#[derive(Clone, Debug)]
pub struct HttpLimits {
    pub body_bytes: usize,
    /// Operations in one batched request.
    pub batch: usize,
    /// Sustained GraphQL requests per second per token (or per client address
    /// without one), and the burst allowed above it.
    pub rate_per_second: f64,
    pub rate_burst: f64,
    /// Subscriptions one WebSocket connection may hold at once.
    pub subscriptions_per_connection: usize,
    /// WebSocket connections the server holds at once; an upgrade beyond is
    /// refused with `503` (`UNAVAILABLE`).
    pub websocket_connections: usize,
    /// Time a client has to send a request's whole body (`408` beyond).
    pub body_timeout: Duration,
    /// Time a `graphql-transport-ws` client has to send `connection_init` (closed
    /// with `4408` beyond).
    pub connection_init_timeout: Duration,
    /// How often the server pings a WebSocket client.
    pub ping_interval: Duration,
    /// A WebSocket client that sends nothing (not even a pong) for this long is
    /// disconnected (`1008`).
    pub client_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            body_bytes: 256 * 1024,
            batch: 10,
            rate_per_second: 500.0,
            rate_burst: 1000.0,
            subscriptions_per_connection: 32,
            websocket_connections: 50_000,
            body_timeout: Duration::from_secs(10),
            connection_init_timeout: Duration::from_secs(3),
            ping_interval: Duration::from_secs(10),
            client_timeout: Duration::from_secs(30),
        }
    }
}

/// A token bucket per caller.
#[derive(Default)]
pub struct RateLimiter {
    buckets: std::sync::Mutex<std::collections::HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// Takes `cost` operations from `key`'s bucket at once; false (and nothing taken)
    /// when it holds fewer.
    pub fn allow(&self, key: &str, cost: usize, per_second: f64, burst: f64) -> bool {
        let cost = cost.max(1) as f64;
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            // Forget idle callers rather than grow without bound.
            buckets.retain(|_, (_, at)| now.duration_since(*at).as_secs() < 60);
        }
        let (tokens, at) = buckets.entry(key.to_string()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * per_second).min(burst);
        *at = now;
        if *tokens >= cost {
            *tokens -= cost;
            true
        } else {
            false
        }
    }
}

/// Where a GraphQL operation received over HTTP executes.
///
/// On the worker that read it, by default: handing it to the main runtime and its
/// answer back costs two thread wake-ups per request, which on the 2-vCPU machines
/// measured took a sixth of a mutation's time at one client and about 40% of the
/// cheapest query's (see `docs/performance.md`, "GraphQL on the HTTP workers"). The
/// operations that take long compute on blocking threads (reports, time travel,
/// the log's verification), so a worker's other connections do not wait behind them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Execution {
    #[default]
    OnWorker,
    /// Handed to the main runtime and back, as before 2026-12-02: kept to measure
    /// against (`load --ab execute=runtime`).
    OnRuntime,
}

/// Everything the handlers share; built once, outside `HttpServer::new`.
pub struct HttpState {
    pub schema: SwarmSchema,
    /// Resolves when the server shuts down: WebSocket connections close then.
    pub shutdown: crate::api::Shutdown,
    pub app: Arc<Desk>,
    pub metrics: Arc<Metrics>,
    pub limits: HttpLimits,
    pub rate: RateLimiter,
    /// The main (multi-threaded) runtime: shared subscriptions run there, and
    /// GraphQL operations too with [`Execution::OnRuntime`].
    pub runtime: tokio::runtime::Handle,
    pub execution: Execution,
    /// Agents' open WebSocket connections, for their presence.
    pub connections: Arc<crate::presence::ConnectionWatch>,
    /// Subscriptions shared among subscribers of one caller.
    pub fanout: Arc<fanout::Hub>,
}

impl HttpState {
    /// The rate-limit key of a caller: its token, else its address.
    fn caller(&self, principal: Option<&Principal>, req: &HttpRequest) -> String {
        match principal.and_then(|p| p.token_id.clone()) {
            Some(token) => token,
            None => req
                .peer_addr()
                .map(|a| a.ip().to_string())
                .unwrap_or_default(),
        }
    }
}

/// Registers the routes.
pub fn configure(state: web::Data<HttpState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        let body_limit = state.limits.body_bytes;
        // `HEAD` answers like `GET` without the body (actix-web leaves it out).
        cfg.app_data(state)
            .app_data(web::PayloadConfig::new(body_limit))
            .route("/graphql", web::post().to(graphql_post))
            .route("/graphql", web::get().to(graphql_get))
            .route("/healthz", web::get().to(healthz))
            .route("/healthz", web::head().to(healthz))
            .route("/loghead", web::get().to(loghead))
            .route("/loghead", web::head().to(loghead))
            .route("/schema.graphql", web::get().to(schema_sdl))
            .route("/schema.graphql", web::head().to(schema_sdl))
            .route("/metrics", web::get().to(metrics))
            .route("/metrics", web::head().to(metrics))
            .configure(console::configure);
    }
}

/// An error answer with the code's own HTTP status (from the table in `crate::code`).
fn refuse(code: Code, message: &str) -> HttpResponse {
    let status =
        StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    error_body(status, code, message)
}

/// An error answer with a transport status of its own (406, 408, 413, 415, 405), the
/// code saying what kind of refusal it is.
fn error_body(status: actix_web::http::StatusCode, code: Code, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .json(json!({ "errors": [{ "message": message, "extensions": { "code": code.name() } }] }))
}

fn principal(state: &HttpState, req: &HttpRequest) -> Option<Principal> {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    state
        .app
        .tokens()
        .authenticate(header, state.app.clock().now())
}

/// Aborts the task it holds when dropped: a request whose connection goes away (or
/// that the server stops waiting for) stops executing.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn execute(state: &HttpState, req: &HttpRequest, batch: BatchRequest) -> HttpResponse {
    let started = Instant::now();
    let Some(media) = media::negotiate(req) else {
        let msg = "the Accept header allows neither application/graphql-response+json nor application/json";
        return error_body(StatusCode::NOT_ACCEPTABLE, BAD_USER_INPUT, msg);
    };
    let operations = match &batch {
        BatchRequest::Single(_) => 1,
        BatchRequest::Batch(items) => items.len(),
    };
    if operations == 0 {
        return refuse(
            BAD_USER_INPUT,
            "an empty batch: send at least one operation",
        );
    }
    if operations > state.limits.batch {
        let msg = format!("at most {} operations per request", state.limits.batch);
        return refuse(BAD_USER_INPUT, &msg);
    }
    let principal = principal(state, req);
    // Every operation of a batch counts against the caller's rate.
    let caller = state.caller(principal.as_ref(), req);
    if !state.rate.allow(
        &caller,
        operations,
        state.limits.rate_per_second,
        state.limits.rate_burst,
    ) {
        let msg = "rate limit exceeded; slow down and retry";
        return refuse(RATE_LIMITED, msg);
    }
    let batch = match principal {
        Some(p) => batch.data(p),
        None => batch,
    };
    let response = match state.execution {
        Execution::OnWorker => state.schema.execute_batch(batch).await,
        Execution::OnRuntime => {
            let schema = state.schema.clone();
            let mut task = AbortOnDrop(
                state
                    .runtime
                    // The request's span follows it to the runtime (its request id with it).
                    .spawn(
                        async move { schema.execute_batch(batch).await }
                            .instrument(tracing::Span::current()),
                    ),
            );
            match (&mut task.0).await {
                Ok(response) => response,
                Err(e) => {
                    tracing::error!(error = %e, "GraphQL execution failed");
                    return refuse(INTERNAL, "internal error; see the server log");
                }
            }
        }
    };
    let out = media::respond(media, response);
    state.metrics.observe_request(
        "graphql",
        out.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    out
}

/// Reads a request body of at most `limit` bytes within `timeout`: `413` beyond the
/// size, `408` when the client is too slow to send it.
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
    timeout: Duration,
) -> Result<web::BytesMut, HttpResponse> {
    let too_large = || {
        error_body(
            StatusCode::PAYLOAD_TOO_LARGE,
            BAD_USER_INPUT,
            &format!("the request body exceeds {limit} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(0));
    loop {
        match tokio::time::timeout_at(deadline, payload.next()).await {
            Err(_) => {
                let msg = format!("the request body was not received within {timeout:?}");
                let mut res = error_body(StatusCode::REQUEST_TIMEOUT, TIMEOUT, &msg);
                res.head_mut()
                    .set_connection_type(actix_web::http::ConnectionType::Close);
                return Err(res);
            }
            Ok(None) => return Ok(body),
            Ok(Some(Ok(chunk))) => {
                if body.len() + chunk.len() > limit {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Some(Err(e))) => {
                return Err(refuse(
                    BAD_USER_INPUT,
                    &format!("reading the request body: {e}"),
                ))
            }
        }
    }
}

async fn graphql_post(
    state: web::Data<HttpState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    if !media::is_json_body(&req) {
        let msg = "a GraphQL POST body must be sent as Content-Type: application/json";
        return error_body(StatusCode::UNSUPPORTED_MEDIA_TYPE, BAD_USER_INPUT, msg);
    }
    let body = match read_body(
        &req,
        payload,
        state.limits.body_bytes,
        state.limits.body_timeout,
    )
    .await
    {
        Ok(body) => body,
        Err(res) => return res,
    };
    match parse_batch(&body) {
        Ok(batch) => execute(&state, &req, batch).await,
        Err(e) => refuse(
            BAD_USER_INPUT,
            &format!("the body is not a GraphQL request: {e}"),
        ),
    }
}

/// A POST body as one request (a JSON object) or a batch (an array of them), read
/// straight into the one or the other by its first character. (`BatchRequest`'s own
/// deserializer tries both shapes on a buffered copy of the whole document, which
/// costs a mutation's request more than the rest of its reading.)
fn parse_batch(body: &[u8]) -> serde_json::Result<BatchRequest> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        serde_json::from_slice(body).map(BatchRequest::Batch)
    } else {
        serde_json::from_slice(body).map(BatchRequest::Single)
    }
}

async fn graphql_get(state: web::Data<HttpState>, req: HttpRequest) -> HttpResponse {
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok());
    if upgrade.is_some_and(|u| u.eq_ignore_ascii_case("websocket")) {
        return ws::upgrade(state, req);
    }
    let request = match parse_query_string(req.query_string()) {
        Ok(r) => r,
        Err(e) => return refuse(BAD_USER_INPUT, &e.to_string()),
    };
    // GET must not change anything (it may be cached or prefetched). Parsing comes
    // after the nesting check, like for every other request.
    if !crate::api::limits::text_nesting_within(&request.query, crate::api::limits::MAX_NESTING) {
        return refuse(BAD_USER_INPUT, "the query nests brackets too deep");
    }
    let is_mutation = async_graphql::parser::parse_query(&request.query).is_ok_and(|doc| {
        doc.operations
            .iter()
            .any(|(_, op)| op.node.ty == async_graphql::parser::types::OperationType::Mutation)
    });
    if is_mutation {
        return error_body(
            actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
            BAD_USER_INPUT,
            "mutations need POST",
        );
    }
    execute(&state, &req, BatchRequest::Single(request)).await
}

/// 503 while the store refuses writes (a full disk: nothing can be written, so a load
/// balancer should send writes elsewhere); 200 with `"degraded"` when some streams
/// cannot be read (every other case works, and a restart would not repair them);
/// 200 `"ok"` otherwise. Counts only: this route needs no token.
async fn healthz(state: web::Data<HttpState>) -> HttpResponse {
    use crate::store::{IntegrityCheck, WriteState};
    let health = state.app.store().health();
    let (check, checked, unreadable) = match health.integrity {
        IntegrityCheck::NotStarted => ("notStarted", 0, 0),
        IntegrityCheck::Running { checked } => ("running", checked, 0),
        IntegrityCheck::Done {
            checked,
            unreadable_events,
        } => ("done", checked, unreadable_events),
    };
    let damaged = health.damaged_streams > 0 || unreadable > 0;
    let (status, reason, writes) = match &health.writes {
        WriteState::Refusing { reason, since } => (
            "unavailable",
            Some(format!("every write is refused: {reason}")),
            json!({ "accepted": false, "reason": reason, "since": since.to_rfc3339() }),
        ),
        WriteState::Writable if damaged => (
            "degraded",
            Some(format!(
                "damaged log data: {} stream(s) cannot be read back and refuse writes \
                 ({unreadable} unreadable event(s) found by the integrity check); every other \
                 stream works; the server log names them",
                health.damaged_streams
            )),
            json!({ "accepted": true }),
        ),
        WriteState::Writable => ("ok", None, json!({ "accepted": true })),
    };
    let log_head = state.app.store().head();
    let projected = state.app.projections().position();
    let body = json!({
        "status": status,
        "reason": reason,
        "store": state.app.store().backend(),
        "logHead": log_head,
        "projectionPosition": projected,
        "projectionsCaughtUp": projected >= log_head,
        "writes": writes,
        "integrity": {
            "check": check,
            "checkedTo": checked,
            "unreadableEvents": unreadable,
            "damagedStreams": health.damaged_streams,
        },
    });
    if status == "unavailable" {
        HttpResponse::ServiceUnavailable().json(body)
    } else {
        HttpResponse::Ok().json(body)
    }
}

/// The log's last event, for anchoring it outside the server (a daily `curl` into an
/// append-only place): `{"position", "hash", "at"}`, the same as the GraphQL query
/// `logHead`. A hash says nothing of what it covers: this route needs no token.
async fn loghead(state: web::Data<HttpState>) -> HttpResponse {
    match state.app.store().log_head().await {
        Ok(head) => HttpResponse::Ok().json(json!({
            "position": head.position,
            "hash": head.hash.as_ref().map(crate::store::chain::hex),
            "at": head.occurred_at.map(|t| t.to_rfc3339()),
        })),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the log head");
            refuse(Code::Unavailable, "cannot read the log head now; retry")
        }
    }
}

async fn schema_sdl() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(crate::api::sdl())
}

async fn metrics(state: web::Data<HttpState>) -> HttpResponse {
    let head = state.app.store().head();
    let (position, counts) = {
        let p = state.app.projections().read();
        (p.position(), p.counts().clone())
    };
    let m = &state.metrics;
    m.log_head.set(head as i64);
    m.projection_position.set(position as i64);
    m.projection_lag.set(head.saturating_sub(position) as i64);
    m.set_event_counts(&counts);
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        ))
        .body(state.metrics.render())
}

#[cfg(test)]
mod tests {
    use super::parse_batch;
    use async_graphql::BatchRequest;

    /// An object is one request, an array a batch (leading whitespace allowed), each
    /// read as async-graphql's own deserializer reads it; anything else is an error.
    #[test]
    fn a_body_is_one_request_or_a_batch_by_its_first_character() {
        let body = br#"{"query":"query Q($n: Int) { a }","operationName":"Q","variables":{"n":1}}"#;
        let BatchRequest::Single(one) = parse_batch(body).unwrap() else {
            panic!("an object is one request");
        };
        assert_eq!(one.query, "query Q($n: Int) { a }");
        assert_eq!(one.operation_name.as_deref(), Some("Q"));
        assert_eq!(
            serde_json::to_value(&one.variables).unwrap(),
            serde_json::json!({ "n": 1 })
        );
        let body = b" \n\t[{\"query\":\"{ a }\"},{\"query\":\"{ b }\"}]";
        let BatchRequest::Batch(many) = parse_batch(body).unwrap() else {
            panic!("an array is a batch");
        };
        let queries: Vec<&str> = many.iter().map(|r| r.query.as_str()).collect();
        assert_eq!(queries, ["{ a }", "{ b }"]);
        for body in [
            &b""[..],
            b"\"{ a }\"",
            b"{\"query\":1}",
            b"[{\"query\":\"{ a }\"},2]",
            b"{} x",
        ] {
            assert!(
                parse_batch(body).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        // One request reads as async-graphql's own deserializer reads it.
        let body = br#"{"query":"{ a }","extensions":{"x":[1]}}"#;
        let ours = parse_batch(body).unwrap().into_single().unwrap();
        let theirs = serde_json::from_slice::<BatchRequest>(body).unwrap();
        assert_eq!(
            serde_json::to_value(ours).unwrap(),
            serde_json::to_value(theirs.into_single().unwrap()).unwrap()
        );
        // An empty array is an empty batch (which `execute` refuses), not one request
        // without a query as async-graphql read it.
        assert!(matches!(parse_batch(b"[]").unwrap(), BatchRequest::Batch(b) if b.is_empty()));
    }
}
