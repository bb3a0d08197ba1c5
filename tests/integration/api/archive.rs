//! Complete records for disputes: `export --customer` (every case of one customer and
//! the customer's directory entries) with each line's hash and previous hash, imported
//! into an empty store, gives the same history, case views and hashes; a tampered
//! line is refused, naming the line, and writes nothing; `--from`/`--to` narrow it.

use super::binary::cli;
use super::*;
use swarmdesk::app::travel::{projections_until, Until};
use swarmdesk::domain::{CaseId, Timestamp};
use swarmdesk::store::sled_store::{SledOptions, SledStore};
use swarmdesk::store::EventStore;

/// A server's log with two customers' cases: globex's two (one with a swarm and
/// messages), and one of initech; returns the stopped server's directory and globex's
/// case ids.
async fn two_customers() -> (tempfile::TempDir, Vec<String>) {
    let s = TestServer::start().await;
    s.ok(
        r#"mutation { setCustomer(input: {id: "globex", name: "Globex Corporation", segment: B2B, keyAccount: true}) { id } }"#,
        json!({}),
    )
    .await;
    let open = |subject: &'static str, customer: &'static str| {
        let s = &s;
        async move {
            let d = s
                .ok(
                    "mutation($s: String!, $c: String!) { openCase(input: {subject: $s, body: \"details\", channel: EMAIL, priority: HIGH, customer: {id: $c, segment: B2B}}) { id } }",
                    json!({ "s": subject, "c": customer }),
                )
                .await;
            d["openCase"]["id"].as_str().unwrap().to_string()
        }
    };
    let a = open("Invoices doubled since March", "globex").await;
    let other = open("Initech's printer", "initech").await;
    let b = open("SSO login loops", "globex").await;
    for (id, body) in [
        (&a, "We refunded the second charge"),
        (&other, "n"),
        (&b, "x"),
    ] {
        s.ok(
            "mutation($id: ID!, $b: String!) { postMessage(caseId: $id, kind: PUBLIC_REPLY, body: $b) { version } }",
            json!({ "id": id, "b": body }),
        )
        .await;
    }
    s.ok(
        "mutation($id: ID!) { escalateCase(caseId: $id, reason: \"billing engine\") { version } }",
        json!({ "id": a }),
    )
    .await;
    s.ok(
        "mutation($id: ID!) { resolveCase(caseId: $id, resolution: \"refunded\") { version } }",
        json!({ "id": b }),
    )
    .await;
    (s.stop().await, vec![a, b])
}

fn lines(export: &str) -> Vec<Value> {
    export
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Each case's view (the case and its messages, as a past view folds them; not the
/// position of its last event, which is this log's own) as the log in `dir` folds it.
async fn case_views(dir: &std::path::Path, ids: &[String]) -> Vec<Value> {
    let store = SledStore::open(dir, SledOptions::default()).unwrap();
    let p = projections_until(&store, Until::Position(store.head()))
        .await
        .unwrap();
    let views = ids
        .iter()
        .map(|id| {
            let v = p.case(id.parse::<CaseId>().unwrap()).expect("the case");
            json!({ "case": v.case, "messages": v.messages })
        })
        .collect();
    store.shutdown().await.unwrap();
    views
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_export_imports_into_an_empty_store_with_the_same_history_views_and_hashes() {
    let (source, globex) = two_customers().await;
    let (ok, export, err) = cli(source.path(), &["export", "--customer", "globex"]);
    assert!(ok, "{err}");
    let exported = lines(&export);
    // The directory entry, then both cases from their opening on, and nothing else.
    assert_eq!(exported[0]["type"], "CustomerSaved", "{export}");
    // Personal fields are sealed in the payload (the bytes the hash covers), and in
    // clear in `opened` when asked for.
    assert!(!export.contains("Globex Corporation"), "{export}");
    let (ok, clear, err) = cli(
        source.path(),
        &["export", "--customer", "globex", "--opened"],
    );
    assert!(ok, "{err}");
    assert_eq!(lines(&clear)[0]["opened"]["name"], "Globex Corporation");
    let streams: std::collections::BTreeSet<&str> = exported[1..]
        .iter()
        .map(|e| e["stream"].as_str().unwrap())
        .collect();
    let expected: std::collections::BTreeSet<String> =
        globex.iter().map(|id| format!("case-{id}")).collect();
    assert_eq!(
        streams,
        expected.iter().map(String::as_str).collect(),
        "{export}"
    );
    assert!(!export.contains("initech"), "{export}");
    for e in &exported {
        assert_eq!(e["hash"].as_str().map(str::len), Some(64), "{e}");
        assert_eq!(e["previousHash"].as_str().map(str::len), Some(64), "{e}");
    }
    // Each hash is the source log's link at that position.
    let source_links = {
        let store = SledStore::open(source.path(), SledOptions::default()).unwrap();
        let mut links = Vec::new();
        for e in &exported {
            let p = e["position"].as_u64().unwrap();
            let here = store.link_at(p).await.unwrap().hash.unwrap();
            let before = store.link_at(p - 1).await.unwrap().hash.unwrap();
            links.push((
                swarmdesk::store::chain::hex(&before),
                swarmdesk::store::chain::hex(&here),
            ));
        }
        store.shutdown().await.unwrap();
        links
    };
    for (e, (before, here)) in exported.iter().zip(&source_links) {
        assert_eq!(
            (&e["previousHash"], &e["hash"]),
            (&json!(before), &json!(here))
        );
    }

    let file = source.path().join("globex.ndjson");
    std::fs::write(&file, &export).unwrap();
    let target = tempfile::tempdir().unwrap();
    let (ok, out, err) = cli(target.path(), &["import", file.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!(
            "imported {n} events ({n} hashes verified",
            n = exported.len()
        )),
        "{out}"
    );
    // The imported store exports the same lines: history, positions, versions and
    // hashes of the source.
    let (ok, again, err) = cli(target.path(), &["export", "--customer", "globex"]);
    assert!(ok, "{err}");
    assert_eq!(again, export);
    for id in &globex {
        let (ok, one, err) = cli(target.path(), &["export", "--case", id]);
        assert!(ok, "{err}");
        let (_, source_one, _) = cli(source.path(), &["export", "--case", id]);
        assert_eq!(one, source_one);
    }
    assert_eq!(
        case_views(target.path(), &globex).await,
        case_views(source.path(), &globex).await
    );
    // The imported store's own chain is intact, and so is the source's.
    for dir in [target.path(), source.path()] {
        let (ok, out, err) = cli(dir, &["verify"]);
        assert!(ok && out.starts_with("ok, "), "{out}{err}");
    }
    // Importing the re-export again verifies too (into another empty store).
    let twice = tempfile::tempdir().unwrap();
    let again_file = target.path().join("again.ndjson");
    std::fs::write(&again_file, &again).unwrap();
    let (ok, _, err) = cli(twice.path(), &["import", again_file.to_str().unwrap()]);
    assert!(ok, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_export_is_refused_naming_the_line_and_nothing_is_written() {
    let (source, _) = two_customers().await;
    let (ok, export, err) = cli(source.path(), &["export", "--customer", "globex"]);
    assert!(ok, "{err}");
    let original = lines(&export);
    // The payload holds the reply sealed; `--opened` finds it in clear.
    let (ok, opened, err) = cli(
        source.path(),
        &["export", "--customer", "globex", "--opened"],
    );
    assert!(ok, "{err}");
    let refund = lines(&opened)
        .iter()
        .position(|e| e["opened"]["body"] == "We refunded the second charge")
        .expect("the reply");
    let to_text = |events: &[Value]| {
        events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap() + "\n")
            .collect::<String>()
    };
    let edit = |f: &dyn Fn(&mut Vec<Value>)| {
        let mut events = original.clone();
        f(&mut events);
        to_text(&events)
    };
    let cases: Vec<(&str, String, usize, &str)> = vec![
        (
            "the reply's words changed",
            edit(&|e| e[refund]["payload"]["body"] = json!("We never charged twice")),
            refund + 1,
            "the payload is not what its payloadBytes hold",
        ),
        (
            "the reply's words changed, bytes too",
            edit(&|e| {
                let bytes: String = e[refund]["payloadBytes"].as_str().unwrap().into();
                e[refund]["payloadBytes"] = json!(bytes.replace('W', "Y"));
                e[refund]["payload"] = json!(null);
            }),
            refund + 1,
            "",
        ),
        (
            "the reply's time moved",
            edit(&|e| e[refund]["occurredAt"] = json!("2020-01-01T00:00:00Z")),
            refund + 1,
            "the hash does not match the event's content",
        ),
        (
            "a hash removed",
            edit(&|e| {
                let o = e[refund].as_object_mut().unwrap();
                o.remove("hash");
                o.remove("previousHash");
            }),
            refund + 1,
            "",
        ),
    ];
    for (why, text, line, reason) in cases {
        let file = source.path().join("tampered.ndjson");
        std::fs::write(&file, &text).unwrap();
        let target = tempfile::tempdir().unwrap();
        let (ok, out, err) = cli(target.path(), &["import", file.to_str().unwrap()]);
        assert!(!ok, "{why}: imported: {out}");
        assert!(
            err.contains(&format!("line {line}: ")) && err.contains(reason),
            "{why}: {err}"
        );
        assert!(err.contains("nothing was imported"), "{why}: {err}");
        let (ok, left, err) = cli(target.path(), &["export"]);
        assert!(ok && left.is_empty(), "{why}: the store holds {left}{err}");
    }
    // In an export of consecutive positions, a line changed and re-hashed breaks the
    // link of the line after it; lines out of order are refused too.
    let (_, all, _) = cli(source.path(), &["export"]);
    let mut all = lines(&all);
    let mut changed: swarmdesk::archive::ExportedEvent =
        serde_json::from_value(all[4].clone()).unwrap();
    changed.occurred_at = "2020-01-01T00:00:00Z".into();
    let previous = swarmdesk::archive::parse_link(changed.previous_hash.as_deref().unwrap());
    let record = changed.clone().into_record().unwrap();
    changed.hash = Some(swarmdesk::store::chain::hex(
        &swarmdesk::archive::sealed_link(&record, &previous.unwrap()),
    ));
    let mut rehashed = all.clone();
    rehashed[4] = serde_json::to_value(&changed).unwrap();
    all.swap(5, 6);
    for (events, message) in [
        (
            rehashed,
            "line 6: its previous hash is not the hash of line 5",
        ),
        (
            all,
            "line 7: position 6 does not come after position 7 of line 6",
        ),
    ] {
        let file = source.path().join("relinked.ndjson");
        std::fs::write(&file, to_text(&events)).unwrap();
        let target = tempfile::tempdir().unwrap();
        let (ok, _, err) = cli(target.path(), &["import", file.to_str().unwrap()]);
        assert!(!ok && err.contains(message), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_and_to_narrow_an_export_by_position_or_time() {
    let (source, globex) = two_customers().await;
    let (_, all, _) = cli(source.path(), &["export"]);
    let all = lines(&all);
    let (ok, some, err) = cli(source.path(), &["export", "--from", "3", "--to", "7"]);
    assert!(ok, "{err}");
    let positions: Vec<u64> = lines(&some)
        .iter()
        .map(|e| e["position"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, (3..=7).collect::<Vec<_>>());
    let time = |e: &Value| Timestamp::parse_rfc3339(e["occurredAt"].as_str().unwrap()).unwrap();
    let at_time = time(&all[9]);
    let at = all[9]["occurredAt"].as_str().unwrap();
    let (ok, until, err) = cli(source.path(), &["export", "--to", at]);
    assert!(ok, "{err}");
    let until = lines(&until);
    assert!(
        until.len() >= 10 && until.len() < all.len(),
        "{}",
        until.len()
    );
    assert!(until.iter().all(|e| time(e) <= at_time));
    let (ok, since, err) = cli(
        source.path(),
        &["export", "--customer", "globex", "--from", at],
    );
    assert!(ok, "{err}");
    assert!(lines(&since).iter().all(|e| {
        time(e) >= at_time && globex.iter().any(|id| e["stream"] == format!("case-{id}"))
    }));
    let (ok, _, err) = cli(source.path(), &["export", "--from", "yesterday"]);
    assert!(
        !ok && err.contains("neither a position nor an RFC 3339 time"),
        "{err}"
    );
}
