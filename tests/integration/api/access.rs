//! Who may see and do what, over HTTP and WebSocket.

use super::*;

fn code(v: &Value) -> &str {
    v["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<none>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn customers_see_only_their_own_cases_and_public_replies() {
    let s = TestServer::start().await;
    // A customer opens a case: it is theirs whatever customer id they send.
    let mine = s
        .ok_as(
            "sam-token",
            r#"mutation { openCase(input: {subject: "Charged twice", channel: PORTAL, customer: {id: "someone-else"}}) { id customer { id } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(mine["openCase"]["customer"]["id"], "sam.okafor");
    let id = mine["openCase"]["id"].as_str().unwrap().to_string();
    let other = s.open_case("Another customer's case", "LOW").await;
    let v = json!({ "id": id });
    s.ok_as("alice-token", r#"mutation($id: ID!) { postMessage(caseId: $id, kind: INTERNAL_NOTE, body: "looks like fraud?") { version } }"#, v.clone()).await;
    s.ok_as("alice-token", r#"mutation($id: ID!) { postMessage(caseId: $id, kind: PUBLIC_REPLY, body: "Refund on its way") { version } }"#, v.clone()).await;

    let c = s
        .ok_as(
            "sam-token",
            "query($id: ID!) { case(id: $id) { messages { kind body } } }",
            v.clone(),
        )
        .await;
    assert_eq!(
        c["case"]["messages"],
        json!([{ "kind": "PUBLIC_REPLY", "body": "Refund on its way" }])
    );
    let h = s
        .ok_as(
            "sam-token",
            "query($id: ID!) { caseHistory(caseId: $id) { type payload } }",
            v.clone(),
        )
        .await;
    let bodies: Vec<String> = h["caseHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["payload"].to_string())
        .collect();
    assert!(
        bodies.iter().all(|b| !b.contains("fraud")),
        "internal note leaked: {bodies:?}"
    );
    assert_eq!(
        bodies.len(),
        2,
        "opened, public reply (routing and SLA bookkeeping such as FirstResponded are internal)"
    );

    let o = s
        .ok_as(
            "sam-token",
            "query($id: ID!) { case(id: $id) { id } }",
            json!({ "id": other }),
        )
        .await;
    assert!(o["case"].is_null());
    let list = s
        .ok_as(
            "sam-token",
            "{ cases { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(list["cases"]["edges"].as_array().unwrap().len(), 1);
    let e = s
        .gql_as(
            "sam-token",
            r#"mutation($id: ID!) { escalateCase(caseId: $id, reason: "now!") { id } }"#,
            v.clone(),
        )
        .await;
    assert_eq!(code(&e), "FORBIDDEN");
    let e = s.gql_as("sam-token", r#"mutation($id: ID!) { postMessage(caseId: $id, kind: INTERNAL_NOTE, body: "x") { id } }"#, v.clone()).await;
    assert_eq!(code(&e), "FORBIDDEN");
    let e = s
        .gql_as(
            "sam-token",
            r#"{ tierQueue(tier: "L1") { length } }"#,
            json!({}),
        )
        .await;
    assert_eq!(code(&e), "FORBIDDEN");
    // A customer's live feed carries their public events only.
    let mut ws = s.ws("graphql-transport-ws", "sam-token").await;
    ws.subscribe(
        "mine",
        "subscription { events { caseId type payload } }",
        json!({}),
    )
    .await;
    let mut seen = Vec::new();
    for _ in 0..2 {
        let d = ws.next_data().await;
        assert_eq!(d["events"]["caseId"], id.as_str());
        seen.push(d["events"]["payload"].to_string());
    }
    assert!(seen.iter().all(|p| !p.contains("fraud")));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_l1_agent_never_receives_events_of_an_l3_private_case() {
    let s = TestServer::start().await;
    let private = s.open_case("Medical records exposed", "URGENT").await;
    s.ok(
        r#"mutation($id: ID!) { routeCase(caseId: $id, tier: "L3", sensitive: true) { tier sensitive } }"#,
        json!({ "id": private }),
    )
    .await;
    // Alice follows the whole log, from its beginning, while the private case goes on.
    let mut ws = s.ws("graphql-transport-ws", "alice-token").await;
    ws.subscribe(
        "all",
        "subscription { events(fromPosition: 1) { caseId type } }",
        json!({}),
    )
    .await;
    s.ok(r#"mutation($id: ID!) { postMessage(caseId: $id, kind: INTERNAL_NOTE, body: "PHI") { version } }"#, json!({ "id": private }))
        .await;
    let marker = s.open_case("Password reset link expired", "LOW").await;
    let mut delivered = 0;
    loop {
        let d = ws.next_data().await;
        assert_ne!(
            d["events"]["caseId"],
            private.as_str(),
            "private event leaked: {d}"
        );
        delivered += 1;
        if d["events"]["caseId"] == marker.as_str() && d["events"]["type"] == "CaseRouted" {
            break;
        }
    }
    assert_eq!(delivered, 2, "only the marker case's two events");
    let history = s
        .ok_as("alice-token", "{ events { caseId } }", json!({}))
        .await;
    assert!(history["events"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["caseId"] != private.as_str()));
    let c = s
        .ok_as(
            "alice-token",
            "query($id: ID!) { case(id: $id) { id } }",
            json!({ "id": private }),
        )
        .await;
    assert!(c["case"].is_null());
    // farah works L3 and sees it; dana leads L2 and does not reach L3.
    let c = s
        .ok_as(
            "farah-token",
            "query($id: ID!) { case(id: $id) { id } }",
            json!({ "id": private }),
        )
        .await;
    assert_eq!(c["case"]["id"], private.as_str());
    let c = s
        .ok_as(
            "dana-token",
            "query($id: ID!) { case(id: $id) { id } }",
            json!({ "id": private }),
        )
        .await;
    assert!(c["case"].is_null());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn role_matrix_for_writes() {
    let s = TestServer::start().await;
    let id = s.open_case("SSO broken", "HIGH").await;
    let v = json!({ "id": id });
    let start_for_bob = r#"mutation($id: ID!) { startSwarm(caseId: $id, lead: "bob") { id } }"#;
    // (token, query, expected code or "" for allowed)
    let cases: &[(&str, &str, &str)] = &[
        (
            "audrey-token",
            r#"mutation($id: ID!) { tagCase(caseId: $id, tag: "x") { id } }"#,
            "FORBIDDEN",
        ),
        (
            "audrey-token",
            r#"mutation { openCase(input: {subject: "s", channel: EMAIL, customer: {id: "c"}}) { id } }"#,
            "FORBIDDEN",
        ),
        ("alice-token", start_for_bob, "FORBIDDEN"),
        (
            "alice-token",
            r#"mutation($id: ID!) { routeCase(caseId: $id, tier: "L2") { id } }"#,
            "FORBIDDEN",
        ),
        (
            "alice-token",
            r#"mutation($id: ID!) { assignCase(caseId: $id, agent: "bob") { id } }"#,
            "FORBIDDEN",
        ),
        (
            "alice-token",
            r#"mutation($id: ID!) { assignCase(caseId: $id) { id } }"#,
            "",
        ),
        (
            "farah-token",
            r#"mutation($id: ID!) { tagCase(caseId: $id, tag: "l3") { id } }"#,
            "NOT_FOUND",
        ),
        ("dana-token", start_for_bob, ""),
        (
            "alice-token",
            r#"mutation($id: ID!) { leaveSwarm(caseId: $id, agent: "bob") { id } }"#,
            "FORBIDDEN",
        ),
        (
            "dana-token",
            r#"mutation($id: ID!) { joinSwarm(caseId: $id, agent: "farah") { id } }"#,
            "",
        ),
        ("alice-token", r#"{ tokens { tokenId } }"#, "FORBIDDEN"),
        (
            "dana-token",
            r#"mutation { createToken(user: "eve", role: ADMIN) { token } }"#,
            "FORBIDDEN",
        ),
        (
            "alice-token",
            r#"{ workload(agent: "bob") { agent } }"#,
            "FORBIDDEN",
        ),
        (
            "alice-token",
            r#"{ workload(agent: "alice") { agent } }"#,
            "",
        ),
    ];
    for (token, query, expected) in cases {
        let head = s.head();
        let r = s.gql_as(token, query, v.clone()).await;
        if expected.is_empty() {
            assert!(r.get("errors").is_none(), "{token} {query}: {r}");
        } else {
            assert_eq!(code(&r), *expected, "{token} {query}: {r}");
            assert_eq!(s.head(), head, "a refused write must not touch the log");
        }
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoked_token_stops_working_at_once_also_on_an_open_websocket() {
    let s = TestServer::start().await;
    let t = s
        .ok(r#"mutation { createToken(user: "bob2", role: AGENT, tiers: ["L1"]) { token tokenId user role } }"#, json!({}))
        .await;
    let token = t["createToken"]["token"].as_str().unwrap().to_string();
    let token_id = t["createToken"]["tokenId"].as_str().unwrap().to_string();
    assert!(token.starts_with("sd_") && token.len() == 67);
    let me = s.ok_as(&token, "{ me { id role } }", json!({})).await;
    assert_eq!(me["me"], json!({ "id": "bob2", "role": "AGENT" }));
    // The log holds the token's hash, never the token.
    let events = s
        .ok("{ events(limit: 10) { type payload } }", json!({}))
        .await;
    let issued = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "TokenIssued")
        .unwrap()
        .to_string();
    assert!(
        issued.contains(&token_id) && !issued.contains(&token[3..]),
        "{issued}"
    );

    let mut ws = s.ws("graphql-transport-ws", &token).await;
    ws.subscribe("feed", "subscription { events { position } }", json!({}))
        .await;
    s.open_case("Before revocation", "LOW").await;
    ws.next_data().await;
    ws.next_data().await;
    s.ok(
        "mutation($id: String!) { revokeToken(tokenId: $id) }",
        json!({ "id": token_id }),
    )
    .await;
    let r = s.gql_as(&token, "{ me { id } }", json!({})).await;
    assert_eq!(code(&r), "UNAUTHENTICATED");
    let end = ws.next_json().await;
    assert!(
        end["type"] == "complete" || end["type"] == "closed",
        "the subscription ends: {end}"
    );
    // Revocation is an event too, and survives a restart.
    let dir = s.stop().await;
    let s = TestServer::start_in(dir, |_| {}).await;
    let r = s.gql_as(&token, "{ me { id } }", json!({})).await;
    assert_eq!(code(&r), "UNAUTHENTICATED");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn auditors_read_everything_and_every_read_is_recorded() {
    let s = TestServer::start().await;
    let id = s.open_case("Compliance question", "NORMAL").await;
    let v = json!({ "id": id });
    let c = s
        .ok_as(
            "audrey-token",
            "query($id: ID!) { case(id: $id) { id } caseHistory(caseId: $id) { type } }",
            v.clone(),
        )
        .await;
    assert_eq!(c["case"]["id"], id.as_str());
    s.ok_as(
        "audrey-token",
        "query($id: ID!) { caseAt(caseId: $id, version: 1) { version } }",
        v,
    )
    .await;
    let log = s
        .ok(
            "{ events(limit: 50) { stream type caseId actor { id } payload } }",
            json!({}),
        )
        .await;
    let views: Vec<&Value> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "CaseViewed")
        .collect();
    assert_eq!(
        views.len(),
        3,
        "case, history and caseAt were each recorded: {log}"
    );
    assert!(views
        .iter()
        .all(|e| e["actor"]["id"] == "audrey" && e["stream"] == "access-log"));
    assert_eq!(views[2]["payload"]["what"], "caseAt");
    // The access log's stream is not a case's, but each view names the case read,
    // in `caseId` as in the payload (API spellings: camelCase).
    for e in &views {
        assert_eq!(e["caseId"], id.as_str(), "{e}");
        assert_eq!(e["payload"]["caseId"], id.as_str(), "{e}");
    }
    // Agents do not see the access log.
    let a = s
        .ok_as("alice-token", "{ events(limit: 50) { type } }", json!({}))
        .await;
    assert!(a["events"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["type"] != "CaseViewed"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_says_which_tiers_the_caller_works() {
    let s = TestServer::start().await;
    let me = |token: &'static str| {
        let s = &s;
        async move { s.ok_as(token, "{ me { id role tiers } }", json!({})).await["me"].clone() }
    };
    assert_eq!(
        me("dana-token").await,
        json!({ "id": "dana", "role": "LEAD", "tiers": ["L2"] })
    );
    assert_eq!(me("alice-token").await["tiers"], json!(["L1"]));
    assert_eq!(me("audrey-token").await["tiers"], json!([]));
}
