//! The README's first command, for real: the `swarmdesk` binary serves the demo, prints
//! demo tokens, answers with them, and stops cleanly on SIGTERM with its data kept.

use super::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_answers_with_its_printed_tokens_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_swarmdesk"))
        .args(["serve", "--demo", "--addr", &addr])
        .env("SWARMDESK_DATA", dir.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Five lines: `demo token  ROLE USER TOKEN`.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut tokens = std::collections::HashMap::new();
    for _ in 0..5 {
        let line = lines.next().unwrap().unwrap();
        let parts: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(&parts[..2], ["demo", "token"], "{line}");
        tokens.insert(parts[2].to_string(), parts[4].to_string());
    }
    let http = reqwest::Client::new();
    let url = format!("http://{addr}/graphql");
    let ask = |token: String, query: &'static str| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let v: Value = http
                .post(&url)
                .bearer_auth(token)
                .json(&json!({ "query": query }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v
        }
    };
    let admin = ask(tokens["admin"].clone(), "{ stats { cases } me { role } }").await;
    assert_eq!(admin["data"]["me"]["role"], "ADMIN");
    let cases = admin["data"]["stats"]["cases"].as_u64().unwrap();
    assert!(cases >= 300, "the demo loaded: {admin}");
    let customer = ask(
        tokens["customer"].clone(),
        "{ cases { edges { node { subject customer { id } } } } }",
    )
    .await;
    let own = customer["data"]["cases"]["edges"].as_array().unwrap();
    assert_eq!(own.len(), 1, "the demo customer sees only their own case");
    assert!(own[0]["node"]["subject"]
        .as_str()
        .unwrap()
        .contains("charged twice"));

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "graceful stop exits 0: {exit:?}");

    // The data survives, and the log is readable offline.
    let out = Command::new(env!("CARGO_BIN_EXE_swarmdesk"))
        .args(["replay"])
        .env("SWARMDESK_DATA", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("cases {cases} ")), "{text}");
}
