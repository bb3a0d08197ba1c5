//! One busy case (issue 11): many clients writing to the same case at once, as in a
//! swarm room where several agents chat. A write without `expectedVersion` must not
//! fail because others wrote first; the case's history must hold every write once,
//! with versions that run without gaps.

use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use super::{TestServer, ADMIN};

const CLIENTS: usize = 64;
const POSTS_PER_CLIENT: usize = 12;
/// Guards against a hang; the run takes a few seconds.
const GUARD: Duration = Duration::from_secs(120);

const POST: &str = "mutation($id: ID!, $b: String!) { postMessage(caseId: $id, kind: INTERNAL_NOTE, body: $b) { version } }";

/// The whole history of a case: (version, type, payload), paged.
async fn full_history(s: &TestServer, id: &str) -> Vec<(u64, String, Value)> {
    let mut out = Vec::new();
    loop {
        let page = s
            .ok(
                "query($id: ID!, $from: Int!) { caseHistory(caseId: $id, fromVersion: $from, first: 500) { version type payload } }",
                json!({ "id": id, "from": out.len() + 1 }),
            )
            .await;
        let events = page["caseHistory"].as_array().unwrap().clone();
        if events.is_empty() {
            return out;
        }
        for e in events {
            out.push((
                e["version"].as_u64().unwrap(),
                e["type"].as_str().unwrap().to_string(),
                e["payload"].clone(),
            ));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_to_one_busy_case_without_expected_version_all_succeed_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(
        TestServer::start_in(dir, |o| {
            // One token stands in for every client.
            o.http_limits.rate_per_second = 1e9;
            o.http_limits.rate_burst = 1e9;
        })
        .await,
    );
    let id = s.open_case("the swarm room of a busy case", "HIGH").await;
    let opened_at = full_history(&s, &id).await.len() as u64;

    // Every client starts at once and posts as fast as it is answered.
    let start = Arc::new(tokio::sync::Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (s, id, start) = (s.clone(), id.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                let mut answers = Vec::new();
                for k in 0..POSTS_PER_CLIENT {
                    let body = format!("client {c} note {k}");
                    let v = s.gql_as(ADMIN, POST, json!({ "id": id, "b": body })).await;
                    answers.push((body, v));
                }
                answers
            })
        })
        .collect();
    let answers = tokio::time::timeout(GUARD, futures_util::future::join_all(clients))
        .await
        .expect("the writes did not finish");

    let mut failures = Vec::new();
    let mut versions = BTreeSet::new();
    let mut sent = BTreeSet::new();
    for (body, v) in answers.into_iter().flat_map(|a| a.unwrap()) {
        match v["data"]["postMessage"]["version"].as_u64() {
            Some(version) => assert!(versions.insert(version), "version {version} twice"),
            None => failures.push(v["errors"][0]["extensions"]["code"].clone()),
        }
        sent.insert(body);
    }
    let n = (CLIENTS * POSTS_PER_CLIENT) as u64;
    assert!(
        failures.is_empty(),
        "{} of {n} writes failed, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    // Each write was answered with its own version, the next ones after the opening.
    assert_eq!(
        versions,
        (opened_at + 1..=opened_at + n).collect::<BTreeSet<_>>()
    );

    // The history holds exactly those writes, once each, versions without gaps.
    let history = full_history(&s, &id).await;
    let numbered: Vec<u64> = history.iter().map(|(v, _, _)| *v).collect();
    assert_eq!(numbered, (1..=opened_at + n).collect::<Vec<_>>());
    let posted: Vec<&str> = history[opened_at as usize..]
        .iter()
        .map(|(_, kind, payload)| {
            assert_eq!(kind, "MessagePosted");
            payload["body"].as_str().unwrap()
        })
        .collect();
    let unique: BTreeSet<String> = posted.iter().map(|b| b.to_string()).collect();
    assert_eq!(posted.len(), unique.len(), "a write recorded twice");
    assert_eq!(unique, sent);

    // Each client's own notes are recorded in the order it sent them.
    for c in 0..CLIENTS {
        let prefix = format!("client {c} note ");
        let mine: Vec<usize> = posted
            .iter()
            .filter_map(|b| b.strip_prefix(&prefix)?.parse().ok())
            .collect();
        assert_eq!(
            mine,
            (0..POSTS_PER_CLIENT).collect::<Vec<_>>(),
            "client {c}"
        );
    }
    // Nothing is left waiting for a turn once the writes are done.
    let app = &s.running.as_ref().unwrap().app;
    assert_eq!(app.busy_cases(), 0);
}

/// The same request sent several times at once (a client retrying before the first
/// answer came) with an idempotency key and `expectedVersion`: written once, and
/// every copy is answered with that one result, not a conflict.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_retries_of_one_keyed_request_are_written_once() {
    let s = Arc::new(TestServer::start().await);
    let id = s.open_case("retried at once", "NORMAL").await;
    let before = full_history(&s, &id).await.len() as u64;
    let copies: Vec<_> = (0..8)
        .map(|_| {
            let (s, id) = (s.clone(), id.clone());
            tokio::spawn(async move {
                s.gql(
                    "mutation($id: ID!, $v: Int!) { postMessage(caseId: $id, kind: INTERNAL_NOTE, body: \"once\", expectedVersion: $v, idempotencyKey: \"retry-1\") { version } }",
                    json!({ "id": id, "v": before }),
                )
                .await
            })
        })
        .collect();
    for answer in futures_util::future::join_all(copies).await {
        let v = answer.unwrap();
        assert_eq!(v["data"]["postMessage"]["version"], before + 1, "{v}");
    }
    let history = full_history(&s, &id).await;
    assert_eq!(history.len() as u64, before + 1);
}
