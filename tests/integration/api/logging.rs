//! `serve` with JSON logs (`SWARMDESK_LOG_FORMAT=json`, i.e. `--log-format json`):
//! every stderr line is one JSON object, and what is logged while a request runs
//! (on the HTTP worker, on the runtime that executes GraphQL, in a WebSocket
//! connection's task) carries the request's id: the client's `X-Request-Id` when it is
//! sane, else a generated one, returned in the response's `X-Request-Id`.

use super::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use swarmdesk::cli::{Cli, Command as CliCommand};
use swarmdesk::logging::LogFormat;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_flag_and_the_default_parse() {
    use clap::Parser;
    let format = |args: &[&str]| match Cli::try_parse_from(args).unwrap().command {
        CliCommand::Serve(s) => s.log_format,
        other => panic!("{other:?}"),
    };
    assert_eq!(format(&["swarmdesk", "serve"]), LogFormat::Text);
    assert_eq!(
        format(&["swarmdesk", "serve", "--log-format", "json"]),
        LogFormat::Json
    );
    assert!(Cli::try_parse_from(["swarmdesk", "serve", "--log-format", "xml"]).is_err());
}

/// The `request_id` of the outermost span a log line was written in, if any.
fn request_id(line: &Value) -> Option<&str> {
    let spans = line.get("spans")?.as_array()?;
    let first = spans.first()?;
    assert_eq!(first["name"], "request", "{line}");
    first["request_id"].as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_the_request_id_of_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_swarmdesk"))
        .args(["serve", "--addr", &addr])
        .env("SWARMDESK_DATA", dir.path())
        .env("SWARMDESK_LOG_FORMAT", "json")
        .env("SWARMDESK_BOOTSTRAP_TOKEN", ADMIN)
        .env("RUST_LOG", "info,swarmdesk=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map(|l| l.unwrap())
            .collect::<Vec<_>>()
    });
    let http = reqwest::Client::new();
    let base = format!("http://{addr}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server never came up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let post = |id: Option<&'static str>, query: &'static str| {
        let mut req = http
            .post(format!("{base}/graphql"))
            .bearer_auth(ADMIN)
            .json(&json!({ "query": query }));
        if let Some(id) = id {
            req = req.header("X-Request-Id", id);
        }
        async move {
            let res = req.send().await.unwrap();
            assert!(res.status().is_success());
            let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
            let body: Value = res.json().await.unwrap();
            assert!(body.get("errors").is_none(), "{body}");
            id
        }
    };
    let open = r#"mutation { openCase(input: {subject: "Login loops", channel: EMAIL, customer: {id: "acme"}}) { id } }"#;
    // The client's own id is kept and returned.
    assert_eq!(post(Some("client-req-1"), open).await, "client-req-1");
    // None, or one that is not sane: a fresh id, returned.
    let generated = post(None, "{ __typename }").await;
    assert_eq!(generated.len(), 26, "{generated}");
    let replaced = post(Some("two words"), "{ __typename }").await;
    assert_eq!(replaced.len(), 26, "{replaced}");
    assert_ne!(generated, replaced);
    // A WebSocket connection logs under its upgrade request's id.
    let mut req = format!("ws://{addr}/graphql")
        .into_client_request()
        .unwrap();
    let h = req.headers_mut();
    h.insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    h.insert("X-Request-Id", "ws-conn-7".parse().unwrap());
    let (stream, res) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(res.headers()["x-request-id"], "ws-conn-7");
    let mut ws = Ws {
        stream,
        legacy: false,
    };
    ws.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {ADMIN}") } }))
        .await;
    assert_eq!(ws.next_json().await["type"], "connection_ack");
    ws.subscribe(
        "s",
        r#"subscription { tierQueue(tier: "L1") { change } }"#,
        json!({}),
    )
    .await;
    assert_eq!(ws.next_data().await["tierQueue"]["change"], "SNAPSHOT");
    drop(ws);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    let lines = reader.join().unwrap();

    // Every line is one JSON object with a time, a level and a message.
    let logged: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for l in &logged {
        assert!(l["timestamp"].is_string() && l["level"].is_string(), "{l}");
        assert!(l["fields"]["message"].is_string(), "{l}");
    }
    assert!(logged
        .iter()
        .any(|l| l["fields"]["message"] == "swarmdesk listening"));
    let with = |message: &str, id: &str| {
        logged
            .iter()
            .filter(|l| l["fields"]["message"] == message && request_id(l) == Some(id))
            .count()
    };
    // On the HTTP worker (served) and on the runtime executing GraphQL (operation).
    for id in ["client-req-1", generated.as_str(), replaced.as_str()] {
        assert_eq!(with("request served", id), 1, "{id}: {lines:#?}");
        assert_eq!(with("graphql operation", id), 1, "{id}: {lines:#?}");
    }
    let mutation = logged
        .iter()
        .find(|l| {
            l["fields"]["message"] == "graphql operation" && request_id(l) == Some("client-req-1")
        })
        .unwrap();
    assert_eq!(mutation["fields"]["operation"], "mutation");
    assert_eq!(
        with(
            "graphql operation over WebSocket: first message",
            "ws-conn-7"
        ),
        1,
        "{lines:#?}"
    );
    assert!(!lines.iter().any(|l| l.contains("two words")));
}
