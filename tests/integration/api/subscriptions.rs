//! Catch-up subscriptions over WebSocket, both protocols, and their authentication.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_from_position_zero_after_1000_events_gets_all_then_live_none_twice() {
    let s = TestServer::start().await;
    let id = s.open_case("Webhook deliveries delayed", "HIGH").await;
    let post = "mutation($id: ID!, $b: String!) { postMessage(caseId: $id, kind: INTERNAL_NOTE, body: $b) { version } }";
    while s.head() < 1000 {
        s.ok(post, json!({ "id": id, "b": format!("note {}", s.head()) }))
            .await;
    }
    assert_eq!(s.head(), 1000);
    let mut ws = s.ws("graphql-transport-ws", ADMIN).await;
    ws.subscribe(
        "all",
        "subscription { events(fromPosition: 0) { position version type caseId } }",
        json!({}),
    )
    .await;
    let mut next = 1u64;
    while next <= 1000 {
        let d = ws.next_data().await;
        assert_eq!(
            d["events"]["position"], next,
            "history arrives in order without gaps"
        );
        next += 1;
    }
    // Live ones follow, and nothing is delivered twice.
    for i in 0..5 {
        s.ok(post, json!({ "id": id, "b": format!("live {i}") }))
            .await;
    }
    while next <= 1005 {
        let d = ws.next_data().await;
        assert_eq!(d["events"]["position"], next);
        assert_eq!(d["events"]["caseId"], id.as_str());
        next += 1;
    }
    let extra = tokio::time::timeout(Duration::from_millis(300), ws.next_json()).await;
    assert!(extra.is_err(), "no duplicate or stray event: {extra:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn case_events_replays_from_a_version_on_the_legacy_protocol() {
    let s = TestServer::start().await;
    let id = s.open_case("Mobile app crashes on upload", "NORMAL").await;
    let other = s.open_case("Unrelated", "LOW").await;
    s.ok(
        "mutation($id: ID!) { tagCase(caseId: $id, tag: \"android\") { version } }",
        json!({ "id": id }),
    )
    .await;
    s.ok(
        "mutation($id: ID!) { tagCase(caseId: $id, tag: \"other\") { version } }",
        json!({ "id": other }),
    )
    .await;
    let mut ws = s.ws("graphql-ws", "alice-token").await;
    ws.subscribe(
        "c",
        "subscription($id: ID!) { caseEvents(caseId: $id, fromVersion: 2) { version type } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(ws.next_data().await["caseEvents"]["type"], "CaseRouted");
    assert_eq!(ws.next_data().await["caseEvents"]["type"], "CaseTagged");
    s.ok(
        "mutation($id: ID!) { changePriority(caseId: $id, priority: URGENT) { version } }",
        json!({ "id": id }),
    )
    .await;
    let d = ws.next_data().await;
    assert_eq!(d["caseEvents"]["version"], 4);
    assert_eq!(d["caseEvents"]["type"], "PriorityChanged");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn websocket_without_a_valid_token_is_refused() {
    let s = TestServer::start().await;
    let (_ws, reply) = Ws::connect_raw(&s.url, "graphql-transport-ws", json!({})).await;
    assert_ne!(reply["type"], "connection_ack", "{reply}");
    let (_ws, reply) = Ws::connect_raw(
        &s.url,
        "graphql-transport-ws",
        json!({ "authorization": "Bearer nope" }),
    )
    .await;
    assert_ne!(reply["type"], "connection_ack", "{reply}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_ends_open_subscriptions() {
    let s = TestServer::start().await;
    s.open_case("Printer offline", "LOW").await;
    let mut ws = s.ws("graphql-transport-ws", ADMIN).await;
    ws.subscribe(
        "all",
        "subscription { events(fromPosition: 1) { position } }",
        json!({}),
    )
    .await;
    // The first (historical) event shows the subscription is running.
    let v = ws.next_json().await;
    assert_eq!(v["type"], "next", "{v}");
    let stop = tokio::spawn(async move { s.stop().await });
    // The subscription completes, then the server closes the socket as "going away",
    // so a graceful stop does not wait for clients to hang up.
    let mut v = ws.next_json().await;
    while v["type"] == "next" {
        v = ws.next_json().await;
    }
    assert_eq!(v["type"], "complete", "{v}");
    let v = ws.next_json().await;
    assert_eq!(v["type"], "closed", "{v}");
    assert!(v["frame"].as_str().unwrap().contains("Away"), "{v}");
    stop.await.unwrap();
}

/// Several subscriptions share one WebSocket: each gets every live event meant for it,
/// and the connection's cap refuses one more with `RATE_LIMITED` without harming the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subscriptions_share_one_connection_up_to_its_cap() {
    let s = TestServer::start_in(tempfile::tempdir().unwrap(), |o| {
        o.http_limits.subscriptions_per_connection = 3
    })
    .await;
    let id = s.open_case("Login loop on SSO", "NORMAL").await;
    let head = s.head();
    let mut ws = s.ws("graphql-transport-ws", ADMIN).await;
    let case_q = "subscription($id: ID!) { caseEvents(caseId: $id, fromVersion: 2) { version } }";
    let log_q = "subscription($p: Position!) { events(fromPosition: $p) { position } }";
    // Each subscription is confirmed by its first (historical) event before the next starts.
    for sub in ["a", "b"] {
        ws.subscribe(sub, case_q, json!({ "id": id })).await;
        let v = ws.next_json().await;
        assert_eq!(
            (v["id"].as_str(), v["type"].as_str()),
            (Some(sub), Some("next")),
            "{v}"
        );
        assert_eq!(v["payload"]["data"]["caseEvents"]["version"], 2);
    }
    ws.subscribe("c", log_q, json!({ "p": head })).await;
    let v = ws.next_json().await;
    assert_eq!(v["payload"]["data"]["events"]["position"], head, "{v}");

    ws.subscribe("d", case_q, json!({ "id": id })).await;
    let refused = ws.next_json().await;
    assert_eq!(refused["id"], "d", "{refused}");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{refused}"
    );

    let post = "mutation($id: ID!, $b: String!) { postMessage(caseId: $id, kind: PUBLIC_REPLY, body: $b) { version } }";
    for i in 0..3 {
        s.ok(post, json!({ "id": id, "b": format!("reply {i}") }))
            .await;
    }
    // The first public reply also records `FirstResponded`: four events on the case
    // (versions 3 to 6), four in the log. Each subscription is read until it has all
    // four, whatever order the three arrive in relative to each other.
    let mut seen: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    while ["a", "b", "c"]
        .iter()
        .any(|sub| seen.get(*sub).map_or(0, Vec::len) < 4)
    {
        let v = ws.next_json().await;
        if v["id"] == "d" && v["type"] == "complete" {
            continue;
        }
        assert_eq!(v["type"], "next", "{v}");
        let sub = v["id"].as_str().unwrap().to_string();
        let d = &v["payload"]["data"];
        let n = d["caseEvents"]["version"]
            .as_u64()
            .or(d["events"]["position"].as_u64())
            .unwrap();
        seen.entry(sub).or_default().push(n);
    }
    assert_eq!(seen["a"], vec![3, 4, 5, 6]);
    assert_eq!(seen["b"], vec![3, 4, 5, 6]);
    assert_eq!(seen["c"], (head + 1..=head + 4).collect::<Vec<_>>());
    s.stop().await;
}

/// `swarmRoom` starts with the room as it is (so a client that waits for it misses
/// nothing done afterwards), or, with `fromVersion`, replays the room's changes from
/// that version of the case, then goes on live.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn swarm_room_starts_from_a_snapshot_or_from_a_version() {
    let s = TestServer::start().await;
    let id = s.open_case("Replication lag", "HIGH").await;
    let v = json!({ "id": id });
    let sub = "subscription($id: ID!, $from: Int) { swarmRoom(caseId: $id, fromVersion: $from) { change version agent room { lead members { agent } } } }";

    let mut now = s.ws("graphql-transport-ws", ADMIN).await;
    now.subscribe("now", sub, v.clone()).await;
    let first = now.next_data().await["swarmRoom"].clone();
    assert_eq!(first["change"], "SNAPSHOT", "{first}");
    assert!(first["room"].is_null(), "no swarm yet: {first}");
    s.ok(
        "mutation($id: ID!) { startSwarm(caseId: $id, reason: \"db\", lead: \"dana\") { version } }",
        v.clone(),
    )
    .await;
    s.ok(
        "mutation($id: ID!) { joinSwarm(caseId: $id, agent: \"farah\") { version } }",
        v.clone(),
    )
    .await;
    let started = now.next_data().await["swarmRoom"].clone();
    assert_eq!(started["change"], "STARTED", "{started}");
    assert_eq!(started["version"], first["version"].as_u64().unwrap() + 1);
    assert_eq!(now.next_data().await["swarmRoom"]["change"], "JOINED");

    // A late subscriber: the snapshot shows the room as it is now.
    let mut late = s.ws("graphql-transport-ws", ADMIN).await;
    late.subscribe("late", sub, v.clone()).await;
    let snap = late.next_data().await["swarmRoom"].clone();
    assert_eq!(snap["change"], "SNAPSHOT");
    assert_eq!(snap["room"]["lead"], "dana", "{snap}");
    assert_eq!(
        snap["room"]["members"].as_array().unwrap().len(),
        2,
        "{snap}"
    );

    // From the first version: the whole story, then live.
    let mut replay = s.ws("graphql-transport-ws", ADMIN).await;
    replay
        .subscribe("replay", sub, json!({ "id": id, "from": 1 }))
        .await;
    assert_eq!(replay.next_data().await["swarmRoom"]["change"], "STARTED");
    assert_eq!(replay.next_data().await["swarmRoom"]["change"], "JOINED");
    s.ok(
        "mutation($id: ID!) { leaveSwarm(caseId: $id, agent: \"farah\") { version } }",
        v.clone(),
    )
    .await;
    for ws in [&mut now, &mut late, &mut replay] {
        let left = ws.next_data().await["swarmRoom"].clone();
        assert_eq!(left["change"], "LEFT", "{left}");
        assert_eq!(left["agent"], "farah", "{left}");
    }
    s.stop().await;
}
