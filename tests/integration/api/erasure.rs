//! The right to erasure (issue 15): a customer's personal fields are sealed before
//! they reach the log; after `forgetCustomer` a byte search of every file in the data
//! directory (log, snapshots, keys) and of every API answer (case, history, caseAt,
//! caseDiff, search, knowledge, report, export) finds neither their name nor their
//! cases' text, another customer's stays readable, and the log still verifies; the
//! same after a restart on the same directory.

use super::binary::cli;
use super::*;

const NAME: &str = "Zanzibar Quillfeather";
const SUBJECT: &str = "Quillfeather invoice dispute";
const BODY: &str = "Pomegranate-7731: my card ends 4242";
const MESSAGE: &str = "Marmalade-5519, call me on +44 20 7946 0958";
/// What must be found nowhere once globex is forgotten (compared case-insensitively).
const GONE: [&str; 4] = [
    "Quillfeather",
    "Zanzibar",
    "Pomegranate-7731",
    "Marmalade-5519",
];
/// The other customer's text, readable throughout.
const OTHER_SUBJECT: &str = "Tangerine-4410 printer jams";
const OTHER_MESSAGE: &str = "Kumquat-8822 toner ordered";
/// Not personal (an escalation reason), so stored in clear: the byte search's control.
const CLEAR_REASON: &str = "Clearmark-9090 billing engine";

/// Every file under `dir`, recursively.
fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The files under `dir` that hold `needle` (as bytes, in any letter case).
fn files_holding(dir: &std::path::Path, needle: &str) -> Vec<String> {
    let needle = needle.to_lowercase().into_bytes();
    files(dir)
        .into_iter()
        .filter(|f| {
            let bytes = std::fs::read(f).unwrap().to_ascii_lowercase();
            bytes.windows(needle.len()).any(|w| w == needle)
        })
        .map(|f| f.display().to_string())
        .collect()
}

fn leaks(answer: &str) -> Vec<&'static str> {
    let lower = answer.to_lowercase();
    GONE.iter()
        .copied()
        .filter(|n| lower.contains(&n.to_lowercase()))
        .collect()
}

async fn open(s: &TestServer, customer: &str, name: &str, subject: &str, body: &str) -> String {
    let d = s
        .ok(
            "mutation($c: String!, $n: String!, $s: String!, $b: String!) { openCase(input: {subject: $s, body: $b, channel: EMAIL, priority: HIGH, customer: {id: $c, name: $n, segment: B2B}, tags: [\"billing\"]}) { id } }",
            json!({ "c": customer, "n": name, "s": subject, "b": body }),
        )
        .await;
    d["openCase"]["id"].as_str().unwrap().to_string()
}

async fn post(s: &TestServer, id: &str, body: &str) {
    s.ok(
        "mutation($id: ID!, $b: String!) { postMessage(caseId: $id, kind: PUBLIC_REPLY, body: $b) { version } }",
        json!({ "id": id, "b": body }),
    )
    .await;
}

/// Every answer about the desk that could carry a customer's text, as one string
/// per query, for the admin.
async fn answers(s: &TestServer, ids: &[&str]) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut ask = |label: String, v: Value| out.push((label, v));
    for id in ids {
        let vars = json!({ "id": id });
        let q = [
            ("case", "query($id: ID!) { case(id: $id) { subject body customer { id name } messages { body } relatedArticles { title } } }"),
            ("history", "query($id: ID!) { caseHistory(caseId: $id) { type payload } }"),
            ("caseAt", "query($id: ID!) { caseAt(caseId: $id, version: 1) { subject body customer { name } messages { body } } }"),
            ("caseAtTime", "query($id: ID!) { caseAt(caseId: $id, at: \"2100-01-01T00:00:00Z\") { subject body customer { name } messages { body } } }"),
            ("caseDiff", "query($id: ID!) { caseDiff(caseId: $id, fromVersion: 1, toVersion: 3) { changes { field before after } } }"),
        ];
        for (label, doc) in q {
            ask(format!("{label} {id}"), s.gql(doc, vars.clone()).await);
        }
    }
    for (label, doc) in [
        ("cases", "{ cases(first: 100) { edges { node { id subject body customer { name } messages { body } } } } }"),
        ("search", "{ cases(filter: {text: \"quillfeather\"}) { edges { node { id subject } } } }"),
        ("searchBody", "{ cases(filter: {text: \"Pomegranate\"}) { edges { node { id } } } }"),
        ("customers", "{ customers { id name } }"),
        ("events", "{ events(limit: 1000) { type payload } }"),
        ("knowledge", "{ knowledge(query: \"quillfeather invoice dispute\") { title body } }"),
        ("report", "{ report(from: \"2000-01-01T00:00:00Z\", to: \"2100-01-01T00:00:00Z\") { problems { topKeywords { term } costliest { subject } } } }"),
    ] {
        ask(label.to_string(), s.gql(doc, json!({})).await);
    }
    out
}

/// Every event of the log as the `events` subscription delivers it to the admin.
async fn subscribed(s: &TestServer) -> Vec<Value> {
    let head = s.head();
    let mut ws = s.ws("graphql-transport-ws", ADMIN).await;
    ws.subscribe(
        "1",
        "subscription { events(fromPosition: 1) { position type payload } }",
        json!({}),
    )
    .await;
    let mut out = Vec::new();
    while (out.len() as u64) < head {
        let m = ws.next_json().await;
        assert_eq!(m["type"], "next", "{m}");
        out.push(m["payload"]["data"]["events"].clone());
    }
    out
}

/// Nothing of globex in any answer or file; initech still readable; the log verifies.
async fn check_forgotten(s: &TestServer, globex: &[&str], other: &str) {
    for (label, answer) in answers(s, &[globex[0], globex[1], other]).await {
        assert!(answer.get("errors").is_none(), "{label}: {answer}");
        let text = answer.to_string();
        assert!(
            leaks(&text).is_empty(),
            "{label} leaks {:?}: {text}",
            leaks(&text)
        );
    }
    let case = |id: &str| {
        let id = id.to_string();
        async move {
            s.ok(
                "query($id: ID!) { case(id: $id) { subject body customer { name } messages { body } } }",
                json!({ "id": id }),
            )
            .await["case"]
                .clone()
        }
    };
    let gone = case(globex[0]).await;
    assert_eq!(gone["subject"], "[erased]", "{gone}");
    assert_eq!(gone["body"], "[erased]", "{gone}");
    assert_eq!(gone["customer"]["name"], "[erased]", "{gone}");
    assert_eq!(gone["messages"][0]["body"], "[erased]", "{gone}");
    let kept = case(other).await;
    assert_eq!(kept["subject"], OTHER_SUBJECT, "{kept}");
    assert_eq!(kept["messages"][0]["body"], OTHER_MESSAGE, "{kept}");
    let found = s
        .ok(
            "{ cases(filter: {text: \"tangerine\"}) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(found["cases"]["edges"][0]["node"]["id"], other, "{found}");
    let live = Value::Array(subscribed(s).await).to_string();
    assert!(leaks(&live).is_empty(), "the subscription leaks: {live}");
    assert!(live.contains(OTHER_MESSAGE), "{live}");
    let verified = s.ok("{ verifyLog { ok events } }", json!({})).await;
    assert_eq!(verified["verifyLog"]["ok"], true, "{verified}");
}

/// Nothing of globex in any file of the stopped server's directory, nor in an export
/// of the customer with its fields opened; the log verifies from the command line.
fn check_files(dir: &std::path::Path) {
    for needle in GONE {
        let holding = files_holding(dir, needle);
        assert!(holding.is_empty(), "`{needle}` is in {holding:?}");
    }
    // The search does see what is stored in clear.
    assert!(
        !files_holding(dir, CLEAR_REASON).is_empty(),
        "the control is not found"
    );
    let (ok, out, err) = cli(dir, &["verify"]);
    assert!(ok && out.starts_with("ok, "), "{out}{err}");
    let (ok, export, err) = cli(dir, &["export", "--customer", "globex", "--opened"]);
    assert!(ok, "{err}");
    assert!(leaks(&export).is_empty(), "export leaks: {export}");
    assert!(export.contains("[erased]"), "{export}");
    let (ok, all, err) = cli(dir, &["export", "--opened"]);
    assert!(ok, "{err}");
    assert!(leaks(&all).is_empty(), "export leaks: {all}");
    assert!(
        all.contains(OTHER_MESSAGE),
        "the other customer is readable: {all}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_customer_is_found_in_no_file_and_no_answer_and_the_log_still_verifies() {
    let s = TestServer::start().await;
    s.ok(
        "mutation($n: String!) { setCustomer(input: {id: \"globex\", name: $n, segment: B2B, keyAccount: true}) { id } }",
        json!({ "n": NAME }),
    )
    .await;
    let a = open(&s, "globex", NAME, SUBJECT, BODY).await;
    let b = open(
        &s,
        "globex",
        NAME,
        "Quillfeather login loops",
        "Pomegranate-7731 again",
    )
    .await;
    let other = open(&s, "initech", "Initech", OTHER_SUBJECT, "n").await;
    post(&s, &a, MESSAGE).await;
    post(&s, &b, MESSAGE).await;
    post(&s, &other, OTHER_MESSAGE).await;
    s.ok(
        "mutation($id: ID!, $r: String!) { escalateCase(caseId: $id, reason: $r) { version } }",
        json!({ "id": a, "r": CLEAR_REASON }),
    )
    .await;
    s.ok(
        "mutation($id: ID!) { resolveCase(caseId: $id, resolution: \"refunded\") { version } }",
        json!({ "id": b }),
    )
    .await;

    // Sealed in the log, in clear in every answer.
    let before = s
        .ok(
            "query($id: ID!) { case(id: $id) { subject body customer { name } messages { body } } caseHistory(caseId: $id) { payload } }",
            json!({ "id": a }),
        )
        .await;
    assert_eq!(before["case"]["subject"], SUBJECT, "{before}");
    assert_eq!(before["case"]["body"], BODY, "{before}");
    assert_eq!(before["case"]["customer"]["name"], NAME, "{before}");
    assert_eq!(before["case"]["messages"][0]["body"], MESSAGE, "{before}");
    assert_eq!(before["caseHistory"][0]["payload"]["subject"], SUBJECT);
    let found = s
        .ok(
            "{ cases(filter: {text: \"pomegranate\"}) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        found["cases"]["edges"].as_array().unwrap().len(),
        2,
        "{found}"
    );
    // A report counts the words of the subjects as they read in clear, not the words
    // of their ciphertext.
    let report = s
        .ok(
            "{ report(from: \"2000-01-01T00:00:00Z\", to: \"2100-01-01T00:00:00Z\") { problems { topKeywords { term cases } } } }",
            json!({}),
        )
        .await;
    let terms: Vec<&str> = report["report"]["problems"]["topKeywords"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["term"].as_str().unwrap())
        .collect();
    assert!(terms.contains(&"quillfeather"), "{report}");
    assert!(
        !terms.iter().any(|t| t.contains("sealed")),
        "ciphertext counted as words: {report}"
    );
    // Subscriptions deliver them in clear too.
    let live = Value::Array(subscribed(&s).await).to_string();
    assert!(live.contains(MESSAGE) && live.contains(NAME), "{live}");
    for needle in GONE {
        let holding: Vec<String> = files_holding(s.dir.path(), needle)
            .into_iter()
            .filter(|f| !f.ends_with(".key"))
            .collect();
        assert!(holding.is_empty(), "`{needle}` reached {holding:?}");
    }

    // Only admins, with a reason, for a customer the desk knows.
    let refused = s
        .gql_as(
            "audrey-token",
            "mutation { forgetCustomer(customerId: \"globex\", reason: \"r\") { keyDestroyed } }",
            json!({}),
        )
        .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
    let no_reason = s
        .gql(
            "mutation { forgetCustomer(customerId: \"globex\", reason: \" \") { keyDestroyed } }",
            json!({}),
        )
        .await;
    assert_eq!(
        no_reason["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{no_reason}"
    );
    let unknown = s
        .gql(
            "mutation { forgetCustomer(customerId: \"nobody\", reason: \"r\") { keyDestroyed } }",
            json!({}),
        )
        .await;
    assert_eq!(
        unknown["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{unknown}"
    );
    // The case view still reads before the key is destroyed.
    let still = s
        .ok(
            "query($id: ID!) { case(id: $id) { subject } }",
            json!({ "id": a }),
        )
        .await;
    assert_eq!(still["case"]["subject"], SUBJECT);

    let head = s.head();
    let done = s
        .ok(
            "mutation { forgetCustomer(customerId: \"globex\", reason: \"GDPR Art. 17 request #42\") { customerId keyDestroyed erasedMarker } }",
            json!({}),
        )
        .await;
    assert_eq!(
        done["forgetCustomer"],
        json!({ "customerId": "globex", "keyDestroyed": true, "erasedMarker": "[erased]" })
    );
    // One event records it, after everything else.
    let events = s
        .ok(
            "query($p: Position!) { events(fromPosition: $p) { type payload } }",
            json!({ "p": head + 1 }),
        )
        .await;
    assert_eq!(events["events"][0]["type"], "CustomerForgotten", "{events}");
    assert_eq!(
        events["events"][0]["payload"]["reason"],
        "GDPR Art. 17 request #42"
    );

    let ids = [a.as_str(), b.as_str()];
    check_forgotten(&s, &ids, &other).await;
    let dir = s.stop().await;
    check_files(dir.path());

    // A restart on the same directory (from the final snapshot) shows the same.
    let s = TestServer::start_in(dir, |_| {}).await;
    check_forgotten(&s, &ids, &other).await;
    // A new case for the same customer is sealed with a new key, and readable.
    let c = open(&s, "globex", "G. Newname", "Fresh-6060 question", "b").await;
    let fresh = s
        .ok(
            "query($id: ID!) { case(id: $id) { subject } }",
            json!({ "id": c }),
        )
        .await;
    assert_eq!(fresh["case"]["subject"], "Fresh-6060 question");
    let old = s
        .ok(
            "query($id: ID!) { case(id: $id) { subject } }",
            json!({ "id": a }),
        )
        .await;
    assert_eq!(old["case"]["subject"], "[erased]");
    let dir = s.stop().await;
    check_files(dir.path());
}

/// The binary on a data directory with a master key given in the environment: a
/// second master key is refused, saying why, and the first still works.
#[test]
fn another_master_key_is_refused_at_start_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let run = |key: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_swarmdesk"))
            .args(["token", "list"])
            .env("SWARMDESK_DATA", dir.path())
            .env("SWARMDESK_MASTER_KEY", key)
            .env("RUST_LOG", "error")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let first = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
    let (ok, err) = run(first);
    assert!(ok, "{err}");
    let (ok, err) = run("AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=");
    assert!(!ok, "started with another master key");
    assert!(
        err.contains("not the master key the keys in"),
        "says why: {err}"
    );
    let (ok, err) = run("c2hvcnQ=");
    assert!(!ok && err.contains("expected 32"), "a short key: {err}");
    let (ok, err) = run(first);
    assert!(ok, "{err}");
    assert!(!dir.path().join("keys").join("master.key").exists());
}
