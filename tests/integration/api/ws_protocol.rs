//! `graphql-transport-ws` close codes, each over a real WebSocket: 4400 invalid
//! message, 4401 subscribe before the ack, 4403 rejected `connection_init`, 4408 no
//! `connection_init` in time, 4409 duplicate subscription id, 4429 second init; 1009
//! for a message over the size limit. And the upgrade requests the server refuses
//! (malformed, or beyond its cap on connections): answered like any request, then
//! the connection closed.

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use super::{TestServer, Ws, ADMIN};

/// A `graphql-transport-ws` connection on which nothing has been sent yet.
async fn open(s: &TestServer) -> Ws {
    try_open(s)
        .await
        .unwrap_or_else(|status| panic!("the upgrade was refused with {status}"))
}

/// The code the server closes the connection with (messages before it skipped), or
/// a panic if it does not close within 10 s.
async fn close_code(ws: &mut Ws) -> u16 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.stream.next())
            .await
            .expect("the server did not close the connection")
            .expect("the connection ended without a close frame")
            .expect("WebSocket error");
        if let Message::Close(frame) = msg {
            return frame.map(|f| u16::from(f.code)).unwrap_or(1005);
        }
    }
}

const EVENTS: &str = "subscription { events { position } }";

/// An authenticated connection whose `events` subscription (id `1`) has delivered an
/// update.
async fn delivering(s: &TestServer) -> Ws {
    let mut ws = s.ws("graphql-transport-ws", ADMIN).await;
    ws.subscribe("1", EVENTS, json!({})).await;
    s.open_case("printer on fire", "HIGH").await;
    let v = ws.next_json().await;
    assert_eq!(
        (v["type"].as_str(), v["id"].as_str()),
        (Some("next"), Some("1")),
        "{v}"
    );
    ws
}

#[tokio::test]
async fn a_rejected_connection_init_closes_with_4403() {
    let s = TestServer::start().await;
    let mut ws = open(&s).await;
    ws.send(json!({ "type": "connection_init", "payload": { "authorization": "Bearer nope" } }))
        .await;
    assert_eq!(close_code(&mut ws).await, 4403);
    // Without any token too.
    let mut ws = open(&s).await;
    ws.send(json!({ "type": "connection_init" })).await;
    assert_eq!(close_code(&mut ws).await, 4403);
}

#[tokio::test]
async fn subscribe_before_the_ack_closes_with_4401() {
    let s = TestServer::start().await;
    let mut ws = open(&s).await;
    ws.subscribe("1", EVENTS, json!({})).await;
    assert_eq!(close_code(&mut ws).await, 4401);
}

#[tokio::test]
async fn invalid_messages_close_with_4400() {
    let s = TestServer::start().await;
    for bad in [
        "not json".to_string(),
        json!({ "type": "nonsense" }).to_string(),
        json!({ "type": "subscribe", "payload": { "query": EVENTS } }).to_string(),
    ] {
        let mut ws = s.ws("graphql-transport-ws", ADMIN).await;
        ws.stream.send(Message::Text(bad.clone())).await.unwrap();
        assert_eq!(close_code(&mut ws).await, 4400, "{bad}");
    }
}

#[tokio::test]
async fn a_second_connection_init_closes_with_4429() {
    let s = TestServer::start().await;
    let mut ws = s.ws("graphql-transport-ws", ADMIN).await;
    let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {ADMIN}") } });
    ws.send(init).await;
    assert_eq!(close_code(&mut ws).await, 4429);
}

#[tokio::test]
async fn a_duplicate_subscription_id_closes_with_4409() {
    let s = TestServer::start().await;
    let mut ws = delivering(&s).await;
    ws.subscribe("1", EVENTS, json!({})).await;
    assert_eq!(close_code(&mut ws).await, 4409);
}

#[tokio::test]
async fn an_id_may_be_reused_once_its_subscription_completed() {
    let s = TestServer::start().await;
    let mut ws = s.ws("graphql-transport-ws", ADMIN).await;
    ws.subscribe("1", EVENTS, json!({})).await;
    ws.send(json!({ "type": "complete", "id": "1" })).await;
    ws.subscribe("1", EVENTS, json!({})).await;
    s.open_case("printer on fire", "HIGH").await;
    // The first subscription's `complete` may come first.
    let v = loop {
        let v = ws.next_json().await;
        if v["type"] != "complete" {
            break v;
        }
    };
    assert_eq!(
        (v["type"].as_str(), v["id"].as_str()),
        (Some("next"), Some("1")),
        "{v}"
    );
}

#[tokio::test]
async fn no_connection_init_in_time_closes_with_4408() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir, |o| {
        o.http_limits.connection_init_timeout = Duration::from_millis(300)
    })
    .await;
    let started = tokio::time::Instant::now();
    let mut ws = open(&s).await;
    assert_eq!(close_code(&mut ws).await, 4408);
    assert!(started.elapsed() >= Duration::from_millis(300));
    // A client that did send it keeps its connection past the timeout.
    let mut ws = s.ws("graphql-transport-ws", ADMIN).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    ws.subscribe("1", EVENTS, json!({})).await;
    s.open_case("printer on fire", "HIGH").await;
    let v = ws.next_json().await;
    assert_eq!(v["type"], "next", "{v}");
}

/// A client that stops answering pings is disconnected (`1008`); one that answers
/// them keeps its connection however long it stays quiet.
#[tokio::test]
async fn a_client_that_answers_no_pings_is_disconnected() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir, |o| {
        o.http_limits.ping_interval = Duration::from_millis(100);
        o.http_limits.client_timeout = Duration::from_millis(400);
    })
    .await;
    // Silent: nothing is read, so no ping is answered.
    let mut silent = s.ws("graphql-transport-ws", ADMIN).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // Reading now meets the queued pings (answering one may fail on the closed
    // socket), then the close frame: 1008, or the connection already gone.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, silent.stream.next())
            .await
            .expect("the server did not drop the silent client")
        {
            Some(Ok(Message::Close(frame))) => {
                assert_eq!(frame.map(|f| u16::from(f.code)), Some(1008));
                break;
            }
            Some(Ok(Message::Text(t))) => panic!("the silent client got {t}"),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => break,
        }
    }

    // Listening: reading answers the pings (tungstenite replies to each as it reads).
    let mut alive = s.ws("graphql-transport-ws", ADMIN).await;
    let quiet_until = tokio::time::Instant::now() + Duration::from_millis(1200);
    while let Ok(msg) = tokio::time::timeout_at(quiet_until, alive.stream.next()).await {
        let msg = msg.expect("open").expect("no error");
        assert!(!matches!(msg, Message::Close(_)), "closed: {msg:?}");
    }
    alive.subscribe("1", EVENTS, json!({})).await;
    // Reading on while the case is written, so a slow write (a busy machine) never
    // leaves a ping unanswered.
    let ((), v) = tokio::join!(
        async {
            s.open_case("printer on fire", "HIGH").await;
        },
        alive.next_json()
    );
    assert_eq!(v["type"], "next", "{v}");
}

#[tokio::test]
async fn a_message_over_the_size_limit_closes_with_1009() {
    let s = TestServer::start().await;
    let mut ws = s.ws("graphql-transport-ws", ADMIN).await;
    let query = format!(
        "subscription {{ events {{ position }} }} #{}",
        "x".repeat(300 * 1024)
    );
    let huge = json!({ "id": "1", "type": "subscribe", "payload": { "query": query } });
    // The server may close before the client finished sending it.
    let _ = ws.stream.send(Message::Text(huge.to_string())).await;
    assert_eq!(close_code(&mut ws).await, 1009);
    // The server still serves others.
    delivering(&s).await;
}

/// Sends `request` on a connection of its own and reads until the server closes it.
async fn raw_exchange(s: &TestServer, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = s.url.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut answer))
        .await
        .expect("the server kept the connection open after refusing the upgrade")
        .unwrap();
    String::from_utf8(answer).unwrap()
}

const UPGRADE_HEADERS: &str = "Host: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

#[tokio::test]
async fn a_refused_upgrade_gets_a_coded_error_and_the_connection_closes() {
    let s = TestServer::start().await;
    let cases = [
        // No subprotocol.
        (
            format!("GET /graphql HTTP/1.1\r\n{UPGRADE_HEADERS}\r\n"),
            "HTTP/1.1 400",
            "\"BAD_USER_INPUT\"",
        ),
        // A subprotocol, but no WebSocket key or version.
        (
            "GET /graphql HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
                .to_string(),
            "HTTP/1.1 400",
            "\"BAD_USER_INPUT\"",
        ),
        // Another route answers as it would without the upgrade, body and all.
        (
            format!("GET /healthz HTTP/1.1\r\n{UPGRADE_HEADERS}\r\n"),
            "HTTP/1.1 200",
            "\"status\":\"ok\"",
        ),
    ];
    for (request, status, body) in cases {
        let answer = raw_exchange(&s, &request).await;
        assert!(answer.starts_with(status), "{request}: {answer}");
        assert!(answer.contains(body), "{request}: {answer}");
        let lower = answer.to_ascii_lowercase();
        assert!(lower.contains("connection: close"), "{request}: {answer}");
        assert!(lower.contains("x-request-id"), "{request}: {answer}");
    }
}

/// A `graphql-transport-ws` upgrade: the connection, or the status it was refused with.
async fn try_open(s: &TestServer) -> Result<Ws, u16> {
    use tokio_tungstenite::tungstenite::Error;
    let mut req = format!("{}/graphql", s.url.replace("http", "ws"))
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    match tokio_tungstenite::connect_async(req).await {
        Ok((stream, _)) => Ok(Ws {
            stream,
            legacy: false,
        }),
        Err(Error::Http(response)) => Err(response.status().as_u16()),
        Err(e) => panic!("upgrade failed: {e}"),
    }
}

#[tokio::test]
async fn upgrades_beyond_the_connection_cap_get_503_until_one_closes() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir, |o| o.http_limits.websocket_connections = 2).await;
    let first = delivering(&s).await;
    // Authenticated, so that neither is closed for want of `connection_init`.
    let _second = s.ws("graphql-transport-ws", ADMIN).await;
    let upgrade = format!(
        "GET /graphql HTTP/1.1\r\n{UPGRADE_HEADERS}Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
    );
    let answer = raw_exchange(&s, &upgrade).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("\"UNAVAILABLE\""), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    // A refused upgrade takes no slot, and plain requests do not count.
    assert_eq!(try_open(&s).await.err(), Some(503));
    assert_eq!(
        s.gql("{ __typename }", json!({})).await["data"]["__typename"],
        "QueryRoot"
    );
    // A closed connection frees its slot once the server has seen it end.
    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut third = loop {
        match try_open(&s).await {
            Ok(ws) => break ws,
            Err(status) => assert_eq!(status, 503),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slot of a closed connection was not freed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // And the connection that took it works.
    third
        .send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {ADMIN}") } }))
        .await;
    assert_eq!(third.next_json().await["type"], "connection_ack");
}
