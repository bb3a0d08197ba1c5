//! Faults seen through the API: a full disk (coded `UNAVAILABLE` errors, `/healthz`
//! 503, then writes again without a restart) and a damaged log page (`/healthz`
//! "degraded", the damaged case's writes and history coded `DAMAGED`).

use serde_json::{json, Value};
use std::time::Duration;

use super::TestServer;
use crate::common::HANG_GUARD;
use crate::faults::{damage_page_holding, SmallDisk};

async fn healthz(s: &TestServer) -> (u16, Value) {
    let r = s
        .http
        .get(format!("{}/healthz", s.url))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Polls `/healthz` (bounded by the hang guard) until `cond` holds; returns it then.
async fn healthz_until(s: &TestServer, what: &str, cond: impl Fn(u16, &Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + HANG_GUARD;
    loop {
        let (status, body) = healthz(s).await;
        if cond(status, &body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const POST: &str = "mutation($id: ID!, $b: String!) { postMessage(caseId: $id, kind: INTERNAL_NOTE, body: $b) { version } }";

fn bodies(history: &[Value]) -> Vec<String> {
    history
        .iter()
        .filter(|e| e["type"] == "MessagePosted")
        .map(|e| {
            e["payload"]["body"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_answers_unavailable_and_503_then_writes_resume_without_restart() {
    let Some(disk) = SmallDisk::mount(16) else {
        return;
    };
    let dir = tempfile::Builder::new().tempdir_in(disk.path()).unwrap();
    let s = TestServer::start_in(dir, |_| {}).await;
    let (status, body) = healthz(&s).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("ok")),
        "{body}"
    );
    assert!(body["reason"].is_null(), "{body}");
    let id = s.open_case("Refund did not arrive", "NORMAL").await;
    let mut acked = Vec::new();
    let mut refused = Vec::new();
    let ballast = disk.fill();
    let mut i = 0;
    loop {
        let b = format!("note {i} {}", "x".repeat(1500));
        let v = s.gql(POST, json!({ "id": id, "b": b })).await;
        match v.get("errors") {
            None => acked.push(b),
            Some(e) => {
                assert_eq!(e[0]["extensions"]["code"], "UNAVAILABLE", "{v}");
                refused.push(b);
                break;
            }
        }
        i += 1;
        assert!(i < 20_000, "the full disk never refused a write");
    }
    let v = s.gql(POST, json!({ "id": id, "b": "while full" })).await;
    assert_eq!(v["errors"][0]["extensions"]["code"], "UNAVAILABLE", "{v}");
    refused.push("while full".into());
    let (status, body) = healthz(&s).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    assert!(
        body["reason"]
            .as_str()
            .is_some_and(|r| r.contains("every write is refused")),
        "{body}"
    );
    assert_eq!(body["writes"]["accepted"], false);
    assert!(body["writes"]["reason"]
        .as_str()
        .is_some_and(|r| !r.is_empty()));
    assert!(body["logHead"].is_u64() && body["projectionPosition"].is_u64());
    assert_eq!(body["store"], "sled", "{body}");
    assert!(body["projectionsCaughtUp"].is_boolean(), "{body}");

    std::fs::remove_file(&ballast).unwrap();
    healthz_until(&s, "healthz is 200 ok again", |st, b| {
        st == 200 && b["status"] == "ok"
    })
    .await;
    for j in 0..3 {
        let b = format!("after {j}");
        s.ok(POST, json!({ "id": id, "b": b })).await;
        acked.push(b);
    }
    let history = s.history(&json!(id)).await;
    assert_eq!(
        bodies(&history),
        acked,
        "every acknowledged note once, in order, no refused one"
    );
    let log: Vec<u64> = s
        .running
        .as_ref()
        .unwrap()
        .app
        .store()
        .read_all(1, 100_000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.position)
        .collect();
    assert_eq!(log, (1..=log.len() as u64).collect::<Vec<_>>(), "gapless");
    let dir = s.stop().await;
    drop(dir);
    drop(disk);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_damaged_log_page_degrades_health_and_refuses_writes_to_its_case() {
    let s = TestServer::start().await;
    let damaged = s.open_case("Export stops at 50%", "HIGH").await;
    s.ok(POST, json!({ "id": damaged, "b": "first note" }))
        .await;
    let victim = s.head();
    let intact = s.open_case("Password reset mail missing", "LOW").await;
    s.ok(POST, json!({ "id": intact, "b": "note" })).await;
    // A graceful stop snapshots the projections: the restart does not read the page.
    let dir = s.stop().await;
    damage_page_holding(dir.path(), victim);

    let s = TestServer::start_in(dir, |_| {}).await;
    let head = s.head();
    let body = healthz_until(&s, "the integrity check is done", |_, b| {
        b["integrity"]["check"] == "done"
    })
    .await;
    let (status, again) = healthz(&s).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(body["status"], "degraded", "{body}");
    assert!(
        body["reason"]
            .as_str()
            .is_some_and(|r| r.contains("damaged log data")),
        "{body}"
    );
    assert_eq!(body["writes"]["accepted"], true, "{body}");
    assert!(
        body["integrity"]["damagedStreams"].as_u64() >= Some(1),
        "{body}"
    );
    assert!(
        body["integrity"]["unreadableEvents"].as_u64() >= Some(1),
        "{body}"
    );
    assert!(
        !body.to_string().contains(&damaged),
        "healthz names no case"
    );

    let v = s
        .gql(POST, json!({ "id": damaged, "b": "must be refused" }))
        .await;
    assert_eq!(v["errors"][0]["extensions"]["code"], "DAMAGED", "{v}");
    let v = s
        .gql(
            "query($id: ID!) { caseHistory(caseId: $id) { type } }",
            json!({ "id": damaged }),
        )
        .await;
    assert_eq!(v["errors"][0]["extensions"]["code"], "DAMAGED", "{v}");
    assert_eq!(s.head(), head, "a refused write writes nothing");
    s.ok(POST, json!({ "id": intact, "b": "still works" }))
        .await;
    s.stop().await;
}
