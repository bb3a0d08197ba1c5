//! `tierQueue` and `swarmRoom` on the projections' published changes: a subscriber
//! whose directory tiers change, a `swarmRoom(fromVersion)` that starts while the room
//! is being written (history then live, exactly once), and a subscriber that falls
//! behind the published changes (a fresh `SNAPSHOT`, then live again).

use super::*;
use swarmdesk::api::{build_schema, Principal, QueryLimits, Shutdown};
use swarmdesk::domain::{Actor, Role};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tier_queue_follows_the_subscribers_current_tiers() {
    let s = TestServer::start().await;
    let agent =
        "mutation($t: [String!]!) { updateAgent(input: { id: \"alice\", tiers: $t }) { id } }";
    s.ok(
        "mutation { addAgent(input: { id: \"alice\", tiers: [\"L1\"] }) { id } }",
        json!({}),
    )
    .await;
    let mut ws = s.ws("graphql-transport-ws", "alice-token").await;
    ws.subscribe(
        "q",
        "subscription { tierQueue(tier: \"L1\") { position change caseId queue { length } } }",
        json!({}),
    )
    .await;
    let snap = ws.next_data().await["tierQueue"].clone();
    assert_eq!(snap["change"], "SNAPSHOT", "{snap}");
    assert_eq!(snap["queue"]["length"], 0, "{snap}");

    let seen = s.open_case("Where is my parcel?", "NORMAL").await;
    let entered = ws.next_data().await["tierQueue"].clone();
    assert_eq!(entered["change"], "ENTERED", "{entered}");
    assert_eq!(entered["caseId"], seen.as_str(), "{entered}");
    assert_eq!(entered["queue"]["length"], 1, "{entered}");

    // Moved out of L1: the queue's changes are no longer hers.
    s.ok(agent, json!({ "t": ["L2"] })).await;
    let unseen = s.open_case("Where is my other parcel?", "NORMAL").await;
    // Back in L1: the next update is the next case, not the one she could not see.
    s.ok(agent, json!({ "t": ["L1"] })).await;
    let back = s.open_case("And a third parcel?", "NORMAL").await;
    let next = ws.next_data().await["tierQueue"].clone();
    assert_eq!(next["change"], "ENTERED", "{next}");
    assert_eq!(next["caseId"], back.as_str(), "not {unseen}: {next}");
    assert_eq!(next["position"], s.head(), "{next}");
    assert_eq!(next["queue"]["length"], 3, "{next}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn swarm_room_from_version_is_exactly_once_across_history_and_live() {
    const CHATS: u64 = 40;
    let s = TestServer::start().await;
    let id = s.open_case("Replication lag", "HIGH").await;
    let v = json!({ "id": id });
    let started = s
        .ok(
            "mutation($id: ID!) { startSwarm(caseId: $id, reason: \"db\") { version } }",
            v.clone(),
        )
        .await["startSwarm"]["version"]
        .as_u64()
        .unwrap();
    let chat = "mutation($id: ID!, $b: String!) { postMessage(caseId: $id, kind: SWARM_CHAT, body: $b) { version } }";
    let (ten, mut at_ten) = tokio::sync::watch::channel(false);

    // Chat goes on while the subscriber starts: some of it is history, some live.
    let writer = async {
        for i in 0..CHATS {
            s.ok(chat, json!({ "id": id, "b": format!("chat {i}") }))
                .await;
            if i == 10 {
                let _ = ten.send(true);
            }
        }
    };
    let reader = async {
        at_ten.wait_for(|t| *t).await.unwrap();
        let mut ws = s.ws("graphql-transport-ws", ADMIN).await;
        ws.subscribe(
            "room",
            "subscription($id: ID!) { swarmRoom(caseId: $id, fromVersion: 1) { change version message { body } room { chat { body } } } }",
            json!({ "id": id }),
        )
        .await;
        let mut got = Vec::new();
        while got.len() < CHATS as usize + 1 {
            got.push(ws.next_data().await["swarmRoom"].clone());
        }
        (ws, got)
    };
    let ((), (mut ws, got)) = tokio::join!(writer, reader);

    assert_eq!(got[0]["change"], "STARTED", "{}", got[0]);
    assert_eq!(got[0]["version"], started);
    for (i, u) in got.iter().enumerate().skip(1) {
        assert_eq!(u["change"], "CHAT", "{u}");
        assert_eq!(
            u["version"],
            started + i as u64,
            "gap or duplicate at {i}: {u}"
        );
        assert_eq!(u["message"]["body"], format!("chat {}", i - 1), "{u}");
        // The room exactly as it was after this message.
        assert_eq!(u["room"]["chat"].as_array().unwrap().len(), i, "{u}");
    }
    // Nothing more than the next message follows: no duplicate after the last.
    s.ok(chat, json!({ "id": id, "b": "last" })).await;
    let last = ws.next_data().await["swarmRoom"].clone();
    assert_eq!(last["version"], started + CHATS + 1, "{last}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscriber_that_falls_behind_gets_a_fresh_snapshot() {
    let s = TestServer::start().await;
    let id = s.open_case("Where is my parcel?", "NORMAL").await;
    // In process, so the subscription's stream is simply not polled while the
    // projections publish more batches than they keep.
    let app = s.running.as_ref().unwrap().app.clone();
    let (_down, shutdown) = Shutdown::new();
    let schema = build_schema(app, shutdown, &QueryLimits::default());
    let admin = || Principal::internal(Actor::new("admin", Role::Admin).unwrap());
    let mut updates = schema.execute_stream(
        async_graphql::Request::new(
            "subscription { tierQueue(tier: \"L1\") { position change queue { length } } }",
        )
        .data(admin()),
    );
    let first = updates.next().await.unwrap().into_result().unwrap().data;
    let first = first.into_json().unwrap()["tierQueue"].clone();
    assert_eq!(first["change"], "SNAPSHOT", "{first}");

    let note = "mutation($id: ID!, $b: String!) { postMessage(caseId: $id, kind: INTERNAL_NOTE, body: $b) { version } }";
    let write = |i: usize| {
        let r = async_graphql::Request::new(note)
            .variables(async_graphql::Variables::from_json(
                json!({ "id": id, "b": format!("note {i}") }),
            ))
            .data(admin());
        schema.execute(r)
    };
    // One batch each: every write waits until the projections show it.
    let batches = swarmdesk::projection::runner::CHANGE_BATCHES + 10;
    for i in 0..batches {
        let r = write(i).await;
        assert!(r.errors.is_empty(), "{:?}", r.errors);
    }
    let head = s.head();

    let next = tokio::time::timeout(Duration::from_secs(60), updates.next())
        .await
        .unwrap();
    let next = next
        .unwrap()
        .into_result()
        .unwrap()
        .data
        .into_json()
        .unwrap()["tierQueue"]
        .clone();
    assert_eq!(
        next["change"], "SNAPSHOT",
        "missed changes are not skipped silently: {next}"
    );
    assert_eq!(next["position"], head, "{next}");
    assert_eq!(next["queue"]["length"], 1, "{next}");

    // Then live again, from the snapshot on.
    let r = write(batches).await;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let live = tokio::time::timeout(Duration::from_secs(60), updates.next())
        .await
        .unwrap();
    let live = live
        .unwrap()
        .into_result()
        .unwrap()
        .data
        .into_json()
        .unwrap()["tierQueue"]
        .clone();
    assert_eq!(live["change"], "UPDATED", "{live}");
    assert_eq!(live["position"], head + 1, "{live}");
    // The schema holds the server's `Desk`: let go of it before stopping.
    drop(updates);
    drop(schema);
    s.stop().await;
}
