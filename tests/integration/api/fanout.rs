//! Shared subscription runs (`http::fanout`): subscribers of one caller with the same
//! document and variables share one execution, yet each gets every update once, in
//! order, from its own start; another caller never gets what only the first may see.

use super::*;

const FEED: &str = "subscription($p: Position!) { events(fromPosition: $p) { position caseId } }";
const NOTE: &str = "mutation($id: ID!, $b: String!) { postMessage(caseId: $id, kind: INTERNAL_NOTE, body: $b) { version } }";

/// Waits for the server's `pong`: everything the client sent before is read.
async fn settled(ws: &mut Ws) {
    ws.send(json!({ "type": "ping" })).await;
    let v = ws.next_json().await;
    assert_eq!(v["type"], "pong", "{v}");
}

/// The next `n` positions subscription `id` delivers (other ids' messages kept aside
/// in `others`).
async fn positions(ws: &mut Ws, id: &str, n: usize, others: &mut Vec<Value>) -> Vec<u64> {
    let mut got = Vec::new();
    while got.len() < n {
        let v = ws.next_json().await;
        assert!(v["payload"].get("errors").is_none(), "{v}");
        if v["id"] != id {
            others.push(v);
            continue;
        }
        assert_eq!(v["type"], "next", "{v}");
        got.push(v["payload"]["data"]["events"]["position"].as_u64().unwrap());
    }
    got
}

/// Nothing more arrives for a moment (no duplicate, no stray update).
async fn quiet(ws: &mut Ws) {
    let extra = ws
        .next_json_until(tokio::time::Instant::now() + Duration::from_millis(300))
        .await;
    assert!(extra.is_none(), "unexpected: {extra:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subscribers_of_one_caller_each_get_every_event_once_in_order() {
    let s = TestServer::start().await;
    let id = s.open_case("Invoices sent twice", "NORMAL").await;
    let from = s.head() + 1;
    // Two connections of one caller, and a second subscription on the first one.
    let mut a = s.ws("graphql-transport-ws", "alice-token").await;
    let mut b = s.ws("graphql-transport-ws", "alice-token").await;
    a.subscribe("x", FEED, json!({ "p": from })).await;
    b.subscribe("y", FEED, json!({ "p": from })).await;
    a.subscribe("z", FEED, json!({ "p": from })).await;
    settled(&mut a).await;
    settled(&mut b).await;
    for i in 0..20 {
        s.ok(NOTE, json!({ "id": id, "b": format!("note {i}") }))
            .await;
    }
    let want: Vec<u64> = (from..from + 20).collect();
    let mut aside = Vec::new();
    assert_eq!(positions(&mut b, "y", 20, &mut aside).await, want);
    assert!(aside.is_empty(), "{aside:?}");
    let x = positions(&mut a, "x", 20, &mut aside).await;
    assert_eq!(x, want);
    // What arrived for `z` while `x` was read, then the rest of it.
    let early: Vec<u64> = aside
        .drain(..)
        .map(|v| {
            assert_eq!(v["id"], "z", "{v}");
            v["payload"]["data"]["events"]["position"].as_u64().unwrap()
        })
        .collect();
    let rest = positions(&mut a, "z", 20 - early.len(), &mut aside).await;
    assert_eq!([early, rest].concat(), want);
    quiet(&mut a).await;
    quiet(&mut b).await;
    // Leaving one subscription leaves the others running.
    a.send(json!({ "id": "x", "type": "complete" })).await;
    settled(&mut a).await;
    s.ok(NOTE, json!({ "id": id, "b": "after x left" })).await;
    assert_eq!(positions(&mut a, "z", 1, &mut aside).await, vec![from + 20]);
    assert_eq!(positions(&mut b, "y", 1, &mut aside).await, vec![from + 20]);
    assert!(aside.is_empty(), "x left and gets nothing: {aside:?}");
    quiet(&mut a).await;
    s.stop().await;
}

/// Farah (L3) subscribes first, Alice (L1) next to the same document: a shared run
/// would be Farah's, so Alice must get her own, without the L3 case.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_callers_subscriber_never_gets_what_only_the_first_may_see() {
    let s = TestServer::start().await;
    let l3 = s.open_case("Ledger totals off by one cent", "HIGH").await;
    s.ok(
        r#"mutation($id: ID!) { routeCase(caseId: $id, tier: "L3") { tier } }"#,
        json!({ "id": l3 }),
    )
    .await;
    let from = s.head() + 1;
    let mut farah = s.ws("graphql-transport-ws", "farah-token").await;
    farah.subscribe("f", FEED, json!({ "p": from })).await;
    settled(&mut farah).await;
    let mut alice = s.ws("graphql-transport-ws", "alice-token").await;
    alice.subscribe("f", FEED, json!({ "p": from })).await;
    settled(&mut alice).await;
    s.ok(NOTE, json!({ "id": l3, "b": "L3 eyes only" })).await;
    let marker = s.open_case("Password reset link expired", "LOW").await;
    // Farah sees the L3 note; Alice only the L1 marker case.
    let d = farah.next_data().await;
    assert_eq!(d["events"]["caseId"], l3.as_str(), "{d}");
    loop {
        let d = alice.next_data().await;
        assert_ne!(d["events"]["caseId"], l3.as_str(), "L3 event leaked: {d}");
        if d["events"]["caseId"] == marker.as_str() {
            break;
        }
    }
    s.stop().await;
}

/// A subscriber joining after a run has sent updates still gets its own beginning,
/// then the live ones with everyone else, with no gap and no duplicate; also when the
/// run has sent too much to replay (it then runs on its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_late_joiner_gets_its_own_start() {
    let s = TestServer::start().await;
    let id = s.open_case("Export stuck at 99%", "NORMAL").await;
    let from = s.head() + 1;
    let mut early = s.ws("graphql-transport-ws", ADMIN).await;
    early.subscribe("e", FEED, json!({ "p": from })).await;
    for i in 0..3 {
        s.ok(NOTE, json!({ "id": id, "b": format!("before {i}") }))
            .await;
    }
    let mut aside = Vec::new();
    assert_eq!(
        positions(&mut early, "e", 3, &mut aside).await,
        vec![from, from + 1, from + 2]
    );
    let mut late = s.ws("graphql-transport-ws", ADMIN).await;
    late.subscribe("l", FEED, json!({ "p": from })).await;
    assert_eq!(
        positions(&mut late, "l", 3, &mut aside).await,
        vec![from, from + 1, from + 2],
        "the late joiner's own beginning"
    );
    for i in 0..2 {
        s.ok(NOTE, json!({ "id": id, "b": format!("after {i}") }))
            .await;
    }
    assert_eq!(
        positions(&mut late, "l", 2, &mut aside).await,
        vec![from + 3, from + 4]
    );
    assert_eq!(
        positions(&mut early, "e", 2, &mut aside).await,
        vec![from + 3, from + 4]
    );
    quiet(&mut late).await;
    quiet(&mut early).await;

    // A run that has sent more than it keeps for joiners: a joiner starts its own.
    while s.head() < from + 300 {
        s.ok(NOTE, json!({ "id": id, "b": "filler" })).await;
    }
    let head = s.head();
    let n = (head + 1 - from) as usize;
    let want: Vec<u64> = (from..=head).collect();
    assert_eq!(
        positions(&mut early, "e", n - 5, &mut aside).await,
        want[5..]
    );
    let mut later = s.ws("graphql-transport-ws", ADMIN).await;
    later.subscribe("l", FEED, json!({ "p": from })).await;
    assert_eq!(positions(&mut later, "l", n, &mut aside).await, want);
    s.ok(NOTE, json!({ "id": id, "b": "last" })).await;
    assert_eq!(
        positions(&mut later, "l", 1, &mut aside).await,
        vec![head + 1]
    );
    assert_eq!(
        positions(&mut early, "e", 1, &mut aside).await,
        vec![head + 1]
    );
    assert!(aside.is_empty(), "{aside:?}");
    quiet(&mut later).await;
    s.stop().await;
}

/// Revoking a token ends its subscriptions on every connection sharing a run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoking_a_token_ends_every_connection_sharing_its_run() {
    let s = TestServer::start().await;
    let t = s
        .ok(r#"mutation { createToken(user: "bob3", role: AGENT, tiers: ["L1"]) { token tokenId } }"#, json!({}))
        .await;
    let token = t["createToken"]["token"].as_str().unwrap().to_string();
    let token_id = t["createToken"]["tokenId"].as_str().unwrap().to_string();
    let from = s.head() + 1;
    let mut a = s.ws("graphql-transport-ws", &token).await;
    let mut b = s.ws("graphql-transport-ws", &token).await;
    a.subscribe("s", FEED, json!({ "p": from })).await;
    b.subscribe("s", FEED, json!({ "p": from })).await;
    settled(&mut a).await;
    settled(&mut b).await;
    s.open_case("Before revocation", "LOW").await;
    a.next_data().await;
    b.next_data().await;
    s.ok(
        "mutation($id: String!) { revokeToken(tokenId: $id) }",
        json!({ "id": token_id }),
    )
    .await;
    for ws in [&mut a, &mut b] {
        let mut end = ws.next_json().await;
        // The case's other opening events may still be on their way.
        while end["type"] == "next" {
            end = ws.next_json().await;
        }
        assert!(
            end["type"] == "complete" || end["type"] == "closed",
            "the subscription ends: {end}"
        );
    }
    s.stop().await;
}
