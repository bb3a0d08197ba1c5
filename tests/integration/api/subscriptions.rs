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
    let mut ws = s.ws("graphql-transport-ws", ADMIN).await;
    ws.subscribe("all", "subscription { events { position } }", json!({}))
        .await;
    let stop = tokio::spawn(async move { s.stop().await });
    let v = ws.next_json().await;
    assert!(v["type"] == "complete" || v["type"] == "closed", "{v}");
    stop.await.unwrap();
}
