//! Auditing over the API: `verifyLog` and `logHead` (and `GET /loghead`) agree with
//! the log, `caseDiff` lists what changed field by field, and `tierQueueAt`,
//! `swarmRoomAt` and `workloadAt` answer exactly what the live queries answered at
//! that moment of a scripted day.

use super::*;
use std::sync::Arc;
use swarmdesk::clock::{Clock, ManualClock};
use swarmdesk::domain::Timestamp;

/// Monday 2026-01-05 09:00 UTC.
const T0: Timestamp = Timestamp(1_767_603_600_000_000);

async fn start(clock: &ManualClock) -> TestServer {
    let c = clock.clone();
    TestServer::start_in(tempfile::tempdir().unwrap(), move |o| {
        o.clock = Arc::new(c);
        o.sla_interval = Duration::from_secs(3600);
    })
    .await
}

fn code(v: &Value) -> &str {
    v["errors"][0]["extensions"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn verify_log_and_log_head_agree_with_the_log() {
    let clock = ManualClock::new(T0);
    let s = start(&clock).await;
    s.open_case("First", "HIGH").await;
    clock.advance_secs(60);
    s.open_case("Second", "LOW").await;

    let v = s
        .ok_as(
            "audrey-token",
            "{ verifyLog { ok events headPosition headHash chainStart breakPosition reason summary } logHead { position hash at } }",
            json!({}),
        )
        .await;
    let head = s.head();
    let report = &v["verifyLog"];
    assert_eq!(report["ok"], true, "{v}");
    assert_eq!(report["events"], head);
    assert_eq!(report["headPosition"], head);
    assert_eq!(report["chainStart"], 1);
    assert_eq!(report["breakPosition"], Value::Null);
    let hash = report["headHash"].as_str().unwrap();
    assert_eq!(hash.len(), 64);
    assert_eq!(
        report["summary"],
        format!("ok, {head} events, head hash {hash}")
    );
    // The auditor's verify appended nothing (verifying reads no case data).
    assert_eq!(s.head(), head);
    assert_eq!(v["logHead"]["position"], head);
    assert_eq!(v["logHead"]["hash"], hash);
    assert_eq!(v["logHead"]["at"], "2026-01-05T09:01:00Z");

    // The same head without a token, for anchoring.
    let http: Value = serde_json::from_str(&s.get_text("/loghead").await).unwrap();
    assert_eq!(
        http,
        json!({ "position": head, "hash": hash, "at": "2026-01-05T09:01:00Z" })
    );

    // An anchor written down now still matches its position after the log grew.
    clock.advance_secs(60);
    s.open_case("Third", "LOW").await;
    let later = s
        .ok(
            "query($p: Position!) { now: logHead { position hash } then: logHead(position: $p) { position hash at } beyond: logHead(position: 1000000) { position hash } }",
            json!({ "p": head }),
        )
        .await;
    assert!(later["now"]["position"].as_u64().unwrap() > head);
    assert_ne!(later["now"]["hash"], hash);
    assert_eq!(
        later["then"],
        json!({ "position": head, "hash": hash, "at": "2026-01-05T09:01:00Z" })
    );
    assert_eq!(later["beyond"], json!({ "position": 0, "hash": null }));

    let admin = s.ok("{ verifyLog { ok } }", json!({})).await;
    assert_eq!(admin["verifyLog"]["ok"], true);
    for token in ["alice-token", "dana-token", "sam-token"] {
        let r = s.gql_as(token, "{ verifyLog { ok } }", json!({})).await;
        assert_eq!(code(&r), "FORBIDDEN", "{token}: {r}");
    }
    let r = s
        .ok_as("alice-token", "{ logHead { position } }", json!({}))
        .await;
    assert_eq!(r["logHead"]["position"], s.head());
    s.stop().await;
}

#[tokio::test]
async fn case_diff_lists_the_fields_that_changed_between_two_versions() {
    let clock = ManualClock::new(T0);
    let s = start(&clock).await;
    let id = s.open_case("Printer on fire", "LOW").await;
    let version = |d: &Value, f: &str| d[f]["version"].as_u64().unwrap();
    let opened = s
        .ok(
            "query($id: ID!) { case(id: $id) { version } }",
            json!({ "id": id }),
        )
        .await;
    let v1 = version(&opened, "case");
    clock.advance_secs(300);
    s.ok(
        "mutation($id: ID!) { tagCase(caseId: $id, tag: \"hardware\") { version } }",
        json!({ "id": id }),
    )
    .await;
    let changed = s
        .ok(
            "mutation($id: ID!) { changePriority(caseId: $id, priority: URGENT) { version } }",
            json!({ "id": id }),
        )
        .await;
    let v3 = version(&changed, "changePriority");

    let q = "query($id: ID!, $from: Int!, $to: Int!) { caseDiff(caseId: $id, fromVersion: $from, toVersion: $to) { caseId fromVersion toVersion changes { field before after } } }";
    let d = s.ok(q, json!({ "id": id, "from": v1, "to": v3 })).await;
    let diff = &d["caseDiff"];
    assert_eq!(
        (diff["fromVersion"].as_u64(), diff["toVersion"].as_u64()),
        (Some(v1), Some(v3))
    );
    let changes = diff["changes"].as_array().unwrap();
    let field = |name: &str| changes.iter().find(|c| c["field"] == name).cloned();
    assert_eq!(
        field("tags").unwrap(),
        json!({ "field": "tags", "before": [], "after": ["hardware"] })
    );
    let priority = field("priority").unwrap();
    assert_ne!(priority["before"], priority["after"]);
    assert_eq!(
        field("version").unwrap()["after"].as_u64(),
        Some(v3),
        "{changes:?}"
    );
    assert!(field("updatedAt").is_some(), "{changes:?}");
    assert!(
        field("subject").is_none(),
        "unchanged fields are not listed: {changes:?}"
    );
    let names: Vec<&str> = changes
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "by name");

    // From 0: everything the opening set.
    let d = s.ok(q, json!({ "id": id, "from": 0, "to": v1 })).await;
    let opening = d["caseDiff"]["changes"].as_array().unwrap();
    assert!(opening
        .iter()
        .any(|c| c["field"] == "subject" && c["after"] == "Printer on fire"));

    // The same version twice: nothing changed.
    let d = s.ok(q, json!({ "id": id, "from": v3, "to": v3 })).await;
    assert_eq!(d["caseDiff"]["changes"], json!([]));

    for (from, to) in [(v3, v1), (v1, v3 + 1)] {
        let r = s.gql(q, json!({ "id": id, "from": from, "to": to })).await;
        assert_eq!(code(&r), "BAD_USER_INPUT", "{from}..{to}: {r}");
    }
    let r = s
        .gql(
            q,
            json!({ "id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "from": 0, "to": 1 }),
        )
        .await;
    assert_eq!(code(&r), "NOT_FOUND", "{r}");
    let r = s
        .gql_as("sam-token", q, json!({ "id": id, "from": 0, "to": 1 }))
        .await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    s.stop().await;
}

/// A scripted morning: the queue, a swarm room and the workloads are recorded live at
/// several moments, then asked for again with `*At` after the day moved on.
#[tokio::test]
async fn time_travel_answers_what_the_live_queries_answered_then() {
    let clock = ManualClock::new(T0);
    let s = start(&clock).await;
    let queue_q = "{ tierQueue(tier: \"L1\", first: 100) { tier length entries { rank case { id status priority tags assignee } } } }";
    let queue_at = "query($at: DateTime!) { tierQueueAt(tier: \"L1\", at: $at, first: 100) { tier length entries { rank case { id status priority tags assignee } } } }";
    let room_q = "query($id: ID!) { swarmRoom(caseId: $id) { caseId subject lead members { agent } chat { author body } } }";
    let room_at = "query($id: ID!, $at: DateTime!) { swarmRoomAt(caseId: $id, at: $at) { caseId subject lead members { agent } chat { author body } } }";
    let work_q = "{ workload(agent: \"alice\") { agent assigned swarms } }";
    let work_at =
        "query($at: DateTime!) { workloadAt(at: $at, agent: \"alice\") { agent assigned swarms } }";

    let mut recorded: Vec<(Timestamp, Value, Value, Value)> = Vec::new();

    let a = s.open_case("Login fails", "HIGH").await;
    clock.advance_secs(60);
    let b = s.open_case("Invoice wrong", "LOW").await;
    clock.advance_secs(60);
    s.ok(
        "mutation($id: ID!) { assignCase(caseId: $id, agent: \"alice\") { id } }",
        json!({ "id": a }),
    )
    .await;
    s.ok(
        "mutation($id: ID!) { startSwarm(caseId: $id, lead: \"alice\") { id } }",
        json!({ "id": b }),
    )
    .await;
    s.ok_as(
        "alice-token",
        "mutation($id: ID!) { postMessage(caseId: $id, kind: SWARM_CHAT, body: \"looking\") { id } }",
        json!({ "id": b }),
    )
    .await;
    async fn live(
        s: &TestServer,
        queue: &str,
        room: &str,
        work: &str,
        b: &str,
    ) -> (Value, Value, Value) {
        (
            s.ok(queue, json!({})).await["tierQueue"].clone(),
            s.ok(room, json!({ "id": b })).await["swarmRoom"].clone(),
            s.ok(work, json!({})).await["workload"].clone(),
        )
    }
    let (q1, r1, w1) = live(&s, queue_q, room_q, work_q, &b).await;
    assert_eq!(q1["length"], 2, "{q1}");
    assert_ne!(r1, Value::Null);
    recorded.push((clock.now(), q1, r1, w1));

    clock.advance_secs(600);
    let c = s.open_case("Password reset", "URGENT").await;
    s.ok(
        "mutation($id: ID!) { resolveCase(caseId: $id, resolution: \"fixed\") { id } }",
        json!({ "id": a }),
    )
    .await;
    s.ok(
        "mutation($id: ID!) { tagCase(caseId: $id, tag: \"vip\") { id } }",
        json!({ "id": c }),
    )
    .await;
    let (q2, r2, w2) = live(&s, queue_q, room_q, work_q, &b).await;
    assert_ne!(q2, recorded[0].1, "the queue moved on");
    recorded.push((clock.now(), q2, r2, w2));

    clock.advance_secs(600);
    s.ok(
        "mutation($id: ID!) { resolveCase(caseId: $id, resolution: \"done\") { id } }",
        json!({ "id": b }),
    )
    .await;
    let (q3, r3, w3) = live(&s, queue_q, room_q, work_q, &b).await;
    assert_eq!(r3, Value::Null, "the swarm ended with the case");
    recorded.push((clock.now(), q3, r3, w3));

    // Later, each moment again, by time.
    clock.advance_secs(3600);
    for (at, queue, room, work) in &recorded {
        let at = json!(at.to_rfc3339());
        let q = s.ok(queue_at, json!({ "at": at })).await;
        assert_eq!(&q["tierQueueAt"], queue, "tierQueueAt({at})");
        let r = s.ok(room_at, json!({ "id": b, "at": at })).await;
        assert_eq!(&r["swarmRoomAt"], room, "swarmRoomAt({at})");
        let w = s.ok(work_at, json!({ "at": at })).await;
        assert_eq!(&w["workloadAt"], &json!([work]), "workloadAt({at})");
    }
    // Before anything happened: an empty queue, no room.
    let before = json!(Timestamp(T0.0 - 1).to_rfc3339());
    let q = s.ok(queue_at, json!({ "at": before })).await;
    assert_eq!(q["tierQueueAt"]["length"], 0);
    let r = s.ok(room_at, json!({ "id": b, "at": before })).await;
    assert_eq!(r["swarmRoomAt"], Value::Null);

    // Agents see only their own workload; customers do not travel.
    let mine = s
        .ok_as(
            "alice-token",
            "query($at: DateTime!) { workloadAt(at: $at) { agent } }",
            json!({ "at": recorded[0].0.to_rfc3339() }),
        )
        .await;
    assert_eq!(mine["workloadAt"], json!([{ "agent": "alice" }]));
    let r = s
        .gql_as(
            "bob-token",
            work_at,
            json!({ "at": recorded[0].0.to_rfc3339() }),
        )
        .await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    let r = s
        .gql_as(
            "sam-token",
            queue_at,
            json!({ "at": recorded[0].0.to_rfc3339() }),
        )
        .await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    s.stop().await;
}
