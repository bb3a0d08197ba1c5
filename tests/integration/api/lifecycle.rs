//! A case's whole life through the API, observed live by subscriptions.

use super::*;

const CASE_FIELDS: &str = "id version status tier assignee swarm { lead members { agent isLead } } resolution { tier by }";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn l1_to_l2_to_swarm_of_three_to_resolved_observed_live() {
    let s = TestServer::start().await;
    let id = s.open_case("SSO with Okta stopped working", "HIGH").await;
    let l1 = s
        .ok(
            r#"{ tierQueue(tier: "L1") { length entries { rank case { id } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(l1["tierQueue"]["entries"][0]["case"]["id"], id.as_str());

    // Subscribers: the L2 queue and the case's swarm room.
    let mut queue = s.ws("graphql-transport-ws", "dana-token").await;
    queue
        .subscribe("q", r#"subscription { tierQueue(tier: "L2") { change caseId eventType queue { length entries { case { id } } } } }"#, json!({}))
        .await;
    let snapshot = queue.next_data().await;
    assert_eq!(snapshot["tierQueue"]["change"], "SNAPSHOT");
    assert_eq!(snapshot["tierQueue"]["queue"]["length"], 0);
    let mut room = s.ws("graphql-transport-ws", "alice-token").await;
    room.subscribe(
        "r",
        "subscription($id: ID!) { swarmRoom(caseId: $id) { change agent version message { body author } room { lead members { agent } } } }",
        json!({ "id": id }),
    )
    .await;
    // The room as it is (no swarm yet) comes first: from here on nothing is missed.
    let first = room.next_data().await;
    assert_eq!(first["swarmRoom"]["change"], "SNAPSHOT", "{first}");
    assert!(first["swarmRoom"]["room"].is_null(), "{first}");

    let m = |q: &str| format!("mutation($id: ID!) {{ {q} {{ {CASE_FIELDS} }} }}");
    let v = json!({ "id": id });
    let c = s
        .ok_as("alice-token", &m("assignCase(caseId: $id)"), v.clone())
        .await;
    assert_eq!(c["assignCase"]["assignee"], "alice");
    assert_eq!(c["assignCase"]["version"], 3);
    let c = s
        .ok_as(
            "alice-token",
            &m(r#"escalateCase(caseId: $id, reason: "SAML audience mismatch")"#),
            v.clone(),
        )
        .await;
    assert_eq!(c["escalateCase"]["tier"], "L2");
    // The move to L2 takes the case to L2's team as well (`CaseTeamChanged`, version 5).
    assert_eq!(c["escalateCase"]["version"], 5);
    let c = s
        .ok_as("dana-token", &m("startSwarm(caseId: $id)"), v.clone())
        .await;
    assert_eq!(c["startSwarm"]["swarm"]["lead"], "dana");
    // L3 experts cannot see an L2 case on their own; the lead pulls them in.
    let refused = s
        .gql_as("farah-token", &m("joinSwarm(caseId: $id)"), v.clone())
        .await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "NOT_FOUND");
    s.ok_as(
        "dana-token",
        &m(r#"joinSwarm(caseId: $id, agent: "farah")"#),
        v.clone(),
    )
    .await;
    let c = s
        .ok_as(
            "dana-token",
            &m(r#"joinSwarm(caseId: $id, agent: "gustav")"#),
            v.clone(),
        )
        .await;
    assert_eq!(
        c["joinSwarm"]["swarm"]["members"].as_array().unwrap().len(),
        3
    );
    s.ok_as(
        "farah-token",
        &m(r#"postMessage(caseId: $id, kind: SWARM_CHAT, body: "IdP metadata rotated on Friday")"#),
        v.clone(),
    )
    .await;
    let c = s
        .ok_as(
            "dana-token",
            &m(r#"setSwarmLead(caseId: $id, agent: "farah")"#),
            v.clone(),
        )
        .await;
    assert_eq!(c["setSwarmLead"]["swarm"]["lead"], "farah");
    let c = s
        .ok_as(
            "farah-token",
            &m(r#"resolveCase(caseId: $id, resolution: "Re-imported the IdP metadata")"#),
            v.clone(),
        )
        .await;
    assert_eq!(c["resolveCase"]["status"], "RESOLVED");
    assert_eq!(c["resolveCase"]["resolution"]["tier"], "L2");
    assert_eq!(c["resolveCase"]["resolution"]["by"], "farah");
    assert!(
        c["resolveCase"]["swarm"].is_null(),
        "resolving ends the swarm"
    );

    // The swarm room saw every step, in order.
    let mut seen = Vec::new();
    for _ in 0..6 {
        let d = room.next_data().await;
        let u = &d["swarmRoom"];
        seen.push((
            u["change"].as_str().unwrap().to_string(),
            u["agent"].as_str().map(str::to_string),
        ));
        if u["change"] == "CHAT" {
            assert_eq!(u["message"]["body"], "IdP metadata rotated on Friday");
            assert_eq!(u["room"]["members"].as_array().unwrap().len(), 3);
        }
    }
    let expected: Vec<(String, Option<String>)> = [
        ("STARTED", Some("dana")),
        ("JOINED", Some("farah")),
        ("JOINED", Some("gustav")),
        ("CHAT", Some("farah")),
        ("LEAD_CHANGED", Some("farah")),
        ("ENDED", None),
    ]
    .iter()
    .map(|(c, a)| (c.to_string(), a.map(str::to_string)))
    .collect();
    assert_eq!(seen, expected);

    // The L2 queue saw the case enter, change with each swarm step, and leave.
    let mut changes = Vec::new();
    for _ in 0..7 {
        let d = queue.next_data().await;
        let u = &d["tierQueue"];
        assert_eq!(u["caseId"], id.as_str());
        changes.push(format!(
            "{}:{}",
            u["change"].as_str().unwrap(),
            u["eventType"].as_str().unwrap()
        ));
        // The queue is shown as it is when the update is sent: a subscriber that lags
        // (a loaded machine) may already see the case gone; never anything else.
        let len = u["queue"]["length"].as_u64().unwrap();
        if u["change"] == "LEFT" {
            assert_eq!(len, 0);
        } else {
            assert!(len <= 1, "{u}");
        }
    }
    assert_eq!(
        changes,
        [
            // The escalation's append ends with the move to L2's team: the case
            // enters the L2 queue as of that, its last event.
            "ENTERED:CaseTeamChanged",
            "UPDATED:SwarmStarted",
            "UPDATED:SwarmJoined",
            "UPDATED:SwarmJoined",
            "UPDATED:MessagePosted",
            "UPDATED:SwarmLeadChanged",
            "LEFT:CaseResolved",
        ]
    );

    // History: every change is an event, in order, with its actor.
    let h = s
        .ok(
            "query($id: ID!) { caseHistory(caseId: $id) { version type actor { id role } } }",
            v.clone(),
        )
        .await;
    let types: Vec<&str> = h["caseHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "CaseOpened",
            "CaseRouted",
            "AgentAssigned",
            "CaseEscalated",
            "CaseTeamChanged",
            "SwarmStarted",
            "SwarmJoined",
            "SwarmJoined",
            "MessagePosted",
            "SwarmLeadChanged",
            "SwarmEnded",
            "CaseResolved"
        ]
    );
    assert_eq!(h["caseHistory"][3]["actor"]["id"], "alice");

    // The auditor's view of the past: the case as it was at version 7 (one joined).
    let past = s.ok("query($id: ID!) { caseAt(caseId: $id, version: 7) { version status swarm { members { agent } } } }", v).await;
    assert_eq!(past["caseAt"]["version"], 7);
    assert_eq!(past["caseAt"]["status"], "OPEN");
    assert_eq!(
        past["caseAt"]["swarm"]["members"].as_array().unwrap().len(),
        2
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_with_the_same_expected_version_have_one_winner() {
    let s = TestServer::start().await;
    let id = s.open_case("Dashboard very slow", "NORMAL").await;
    let head = s.head();
    let q = "mutation($id: ID!, $tag: String!) { tagCase(caseId: $id, tag: $tag, expectedVersion: 2) { version } }";
    let (a, b) = tokio::join!(
        s.gql(q, json!({ "id": id, "tag": "perf" })),
        s.gql(q, json!({ "id": id, "tag": "dashboard" }))
    );
    let results = [a, b];
    let wins: Vec<_> = results
        .iter()
        .filter(|r| r.get("errors").is_none())
        .collect();
    let losses: Vec<_> = results
        .iter()
        .filter(|r| r.get("errors").is_some())
        .collect();
    assert_eq!(wins.len(), 1, "{results:?}");
    assert_eq!(wins[0]["data"]["tagCase"]["version"], 3);
    let err = &losses[0]["errors"][0]["extensions"];
    assert_eq!(err["code"], "VERSION_CONFLICT");
    assert_eq!(err["currentVersion"], 3);
    assert_eq!(s.head(), head + 1, "the loser wrote nothing");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idempotent_retry_returns_the_first_result_and_writes_once() {
    let s = TestServer::start().await;
    let q = r#"mutation { openCase(input: {subject: "Unlock my account", channel: PHONE, customer: {id: "raj"}}, idempotencyKey: "req-42") { id version } }"#;
    let head = s.head();
    let first = s.ok(q, json!({})).await;
    let again = s.ok(q, json!({})).await;
    assert_eq!(first, again);
    assert_eq!(s.head(), head + 2);
    let other = r#"mutation { openCase(input: {subject: "Something else", channel: PHONE, customer: {id: "raj"}}, idempotencyKey: "req-42") { id } }"#;
    let e = s.gql(other, json!({})).await;
    assert_eq!(e["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(s.head(), head + 2);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_change_survives_a_restart() {
    let s = TestServer::start().await;
    let config_events = s.head();
    let mut ids = Vec::new();
    for i in 0..5 {
        let id = s.open_case(&format!("Case {i}"), "LOW").await;
        s.ok(
            "mutation($id: ID!) { escalateCase(caseId: $id, reason: \"needs L2\") { version } }",
            json!({ "id": id }),
        )
        .await;
        ids.push(id);
    }
    let before = s
        .ok(
            "{ stats { events cases open } tierQueue(tier: \"L2\") { length } }",
            json!({}),
        )
        .await;
    let dir = s.stop().await;
    let s = TestServer::start_in(dir, |_| {}).await;
    let after = s
        .ok(
            "{ stats { events cases open } tierQueue(tier: \"L2\") { length } }",
            json!({}),
        )
        .await;
    assert_eq!(before, after);
    // Opened, routed, escalated and moved to L2's team: four events per case.
    assert_eq!(after["stats"]["events"], config_events + 20);
    for id in &ids {
        let c = s
            .ok(
                "query($id: ID!) { case(id: $id) { version tier } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(c["case"]["version"], 4);
        assert_eq!(c["case"]["tier"], "L2");
    }
    s.stop().await;
}
