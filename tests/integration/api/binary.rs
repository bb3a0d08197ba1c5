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

pub(super) fn cli(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_swarmdesk"))
        .args(args)
        .env("SWARMDESK_DATA", dir)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `swarmdesk token create` issues a token a server then accepts; `revoke` ends it;
/// bad input is refused with a message and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_cli_issues_tokens_the_server_accepts_and_revokes_them() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = cli(
        dir.path(),
        &[
            "token", "create", "--role", "agent", "--user", "zoe", "--tiers", "L1",
        ],
    );
    assert!(ok, "{err}");
    let parts: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(parts[0], "token", "{out}");
    let (id, token) = (parts[1].to_string(), parts[2].to_string());
    assert!(token.starts_with("sd_"), "{out}");
    let (ok, _, err) = cli(
        dir.path(),
        &["token", "create", "--role", "wizard", "--user", "x"],
    );
    assert!(!ok && err.contains("unknown role"), "{err}");
    let (ok, _, err) = cli(
        dir.path(),
        &[
            "token", "create", "--role", "agent", "--user", "x", "--tiers", "L9",
        ],
    );
    assert!(!ok && err.contains("L9"), "{err}");
    let (ok, out, _) = cli(dir.path(), &["token", "list"]);
    assert!(ok);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "a header and the one valid token: {out}");
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("EXPIRES"),
        "{out}"
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(row, [id.as_str(), "agent", "zoe", "L1", "never"], "{out}");

    let s = TestServer::start_in(dir, |_| {}).await;
    let me = s.ok_as(&token, "{ me { id role } }", json!({})).await;
    assert_eq!(me["me"], json!({ "id": "zoe", "role": "AGENT" }), "{me}");
    let dir = s.stop().await;

    let (ok, out, err) = cli(dir.path(), &["token", "revoke", &id]);
    assert!(ok && out.contains(&id), "{err}");
    let s = TestServer::start_in(dir, |_| {}).await;
    let refused = s.gql_as(&token, "{ me { id } }", json!({})).await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{refused}"
    );
    s.stop().await;
}

/// `export --case` of a case the log does not hold says so and fails, instead of
/// printing nothing and exiting 0.
#[test]
fn export_of_an_unknown_case_fails_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = cli(dir.path(), &["demo", "--cases", "2"]);
    assert!(ok, "{err}");
    assert!(out.contains("appended"), "{out}");
    let unknown = ulid::Ulid::new().to_string();
    let (ok, out, err) = cli(dir.path(), &["export", "--case", &unknown]);
    assert!(!ok, "an unknown case is an error: {out}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains(&format!("no case {unknown}")), "{err}");
    // A known case still exports its events.
    let (ok, all, _) = cli(dir.path(), &["export"]);
    assert!(ok);
    let first_case = all
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find_map(|e| {
            e["stream"]
                .as_str()?
                .strip_prefix("case-")
                .map(str::to_string)
        })
        .expect("the demo wrote a case");
    let (ok, out, err) = cli(dir.path(), &["export", "--case", &first_case]);
    assert!(ok, "{err}");
    assert!(out.lines().count() > 1, "{out}");
}

/// Log lines carry no colour codes when stderr is not a terminal (a file, a pipe,
/// a journal).
#[test]
fn logs_are_plain_text_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_swarmdesk"))
        .args(["demo", "--cases", "1"])
        .env("SWARMDESK_DATA", dir.path())
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("demo data loaded"), "{err}");
    assert!(!err.contains('\u{1b}'), "no ANSI escapes: {err:?}");
}

/// While a server holds the data directory, `export` and `token list` work through
/// its API (`--url`, `--token`), and the export is the one the data directory gives
/// once the server has stopped, line for line (but for the stored bytes and hashes
/// only the data directory's export carries).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_and_token_list_work_through_a_running_server() {
    let s = TestServer::start().await;
    let id = s.open_case("Export me", "HIGH").await;
    s.ok(
        "mutation($id: ID!) { postMessage(caseId: $id, kind: INTERNAL_NOTE, body: \"n\") { version } }",
        json!({ "id": id }),
    )
    .await;
    s.ok(
        "mutation { createToken(user: \"zoe\", role: AGENT, tiers: [\"L1\"]) { tokenId } }",
        json!({}),
    )
    .await;
    let dir = s.dir.path().to_path_buf();
    let remote = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--url", s.url.as_str(), "--token", ADMIN]);
        cli(&dir, &all)
    };
    // Offline, the directory is in use, and the message says what to do instead.
    let (ok, _, err) = cli(&dir, &["export"]);
    assert!(!ok && err.contains("--url"), "{err}");

    let (ok, live, err) = remote(&["export"]);
    assert!(ok, "{err}");
    assert_eq!(live.lines().count() as u64, s.head(), "{live}");
    let (ok, one, err) = remote(&["export", "--case", &id]);
    assert!(ok, "{err}");
    assert_eq!(one.lines().count(), 3, "opened, routed, the note: {one}");
    let (ok, _, err) = remote(&["export", "--case", &ulid::Ulid::new().to_string()]);
    assert!(!ok && err.contains("NOT_FOUND"), "{err}");
    let (ok, tokens, err) = remote(&["token", "list"]);
    assert!(ok, "{err}");
    assert!(
        tokens
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()[1..]
                == ["agent", "zoe", "L1", "never"]),
        "{tokens}"
    );
    let (ok, _, err) = cli(&dir, &["export", "--url", &s.url, "--token", "wrong"]);
    assert!(!ok && err.contains("UNAUTHENTICATED"), "{err}");

    let dir = s.stop().await;
    let (ok, offline, err) = cli(dir.path(), &["export", "--opened"]);
    assert!(ok, "{err}");
    // The API shows personal fields in clear: offline, they are the `opened` payload
    // (the stored one is sealed).
    let without_proof: Vec<Value> = offline
        .lines()
        .map(|l| {
            let mut e: Value = serde_json::from_str(l).unwrap();
            for key in ["payloadBytes", "previousHash", "hash"] {
                assert!(e[key].is_string(), "{key} in {l}");
                e.as_object_mut().unwrap().remove(key);
            }
            if let Some(opened) = e.as_object_mut().unwrap().remove("opened") {
                e["payload"] = opened;
            }
            e
        })
        .collect();
    assert_eq!(
        live.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .collect::<Vec<_>>(),
        without_proof,
        "the same export either way"
    );
}
