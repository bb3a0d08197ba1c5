//! Agents' presence end to end: `setPresence` and the `presence` query, the expert
//! finder skipping agents who are not available, and the server marking an agent
//! `AWAY` when all their WebSocket connections are gone (once), and back when they
//! return, watched live on the admin's `events` feed over a real WebSocket.

use super::*;

const ADD_AGENT: &str = "mutation($a: AgentInput!) { addAgent(input: $a) { id } }";
const SET: &str =
    "mutation($p: Presence!) { setPresence(status: $p) { agent presence source since automatic } }";
const PRESENCE: &str =
    "query($a: [String!]) { presence(agents: $a) { agent presence source since automatic } }";

async fn experts(s: &TestServer) {
    for a in [
        json!({ "id": "farah", "tiers": ["L3"], "skills": ["saml"], "languages": ["en"], "maxCases": 5 }),
        json!({ "id": "gustav", "tiers": ["L3"], "skills": ["saml"], "languages": ["en"], "maxCases": 5 }),
        json!({ "id": "dana", "tiers": ["L2"], "languages": ["en"], "maxCases": 5 }),
    ] {
        s.ok(ADD_AGENT, json!({ "a": a })).await;
    }
}

fn code(v: &Value) -> &str {
    v["errors"][0]["extensions"]["code"].as_str().unwrap_or("")
}

async fn presence_of(s: &TestServer, agent: &str) -> Value {
    let d = s
        .ok_as("dana-token", PRESENCE, json!({ "a": [agent] }))
        .await;
    d["presence"][0].clone()
}

#[tokio::test]
async fn agents_set_their_presence_and_the_finder_proposes_only_available_ones() {
    let s = TestServer::start().await;
    experts(&s).await;
    // Everyone starts available, never set.
    let p = presence_of(&s, "farah").await;
    assert_eq!(p["presence"], "AVAILABLE");
    assert_eq!(p["source"], Value::Null);

    let d = s.ok_as("farah-token", SET, json!({ "p": "BUSY" })).await;
    assert_eq!(d["setPresence"]["agent"], "farah");
    assert_eq!(d["setPresence"]["presence"], "BUSY");
    assert_eq!(d["setPresence"]["source"], "AGENT");
    assert!(d["setPresence"]["since"].is_string());
    let p = presence_of(&s, "farah").await;
    assert_eq!(p["presence"], "BUSY");
    assert_eq!(p["automatic"], false);

    // Setting it again writes nothing.
    let head = s.head();
    s.ok_as("farah-token", SET, json!({ "p": "BUSY" })).await;
    assert_eq!(s.head(), head);

    // An L2 case needing SAML: only gustav is available.
    let id = s.open_case("SAML login loops", "HIGH").await;
    let v = json!({ "id": id });
    s.ok(
        "mutation($id: ID!) { routeCase(caseId: $id, tier: \"L2\") { id } }",
        v.clone(),
    )
    .await;
    s.ok(
        "mutation($id: ID!) { setCaseSkills(caseId: $id, skills: [\"saml\"]) { id } }",
        v.clone(),
    )
    .await;
    let q = "query($id: ID!, $all: Boolean!) { suggestExperts(caseId: $id, max: 5, includeUnavailable: $all) { agent presence } }";
    let d = s
        .ok_as("dana-token", q, json!({ "id": id, "all": false }))
        .await;
    let picks: Vec<&str> = d["suggestExperts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["agent"].as_str().unwrap())
        .collect();
    assert_eq!(picks, ["gustav"], "{d}");
    let d = s
        .ok_as("dana-token", q, json!({ "id": id, "all": true }))
        .await;
    let farah = d["suggestExperts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["agent"] == "farah")
        .cloned()
        .unwrap_or_else(|| panic!("farah is proposed when asked for everyone: {d}"));
    assert_eq!(farah["presence"], "BUSY");

    // Back to available: proposed again.
    s.ok_as("farah-token", SET, json!({ "p": "AVAILABLE" }))
        .await;
    let d = s
        .ok_as("dana-token", q, json!({ "id": id, "all": false }))
        .await;
    assert!(d["suggestExperts"].to_string().contains("farah"), "{d}");

    // Who may not: auditors and customers (FORBIDDEN), an admin outside the directory
    // (BAD_USER_INPUT); none of them writes. Customers do not read presence either.
    let head = s.head();
    let r = s.gql_as("audrey-token", SET, json!({ "p": "AWAY" })).await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    let r = s.gql_as("sam-token", SET, json!({ "p": "AWAY" })).await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    let r = s.gql_as(ADMIN, SET, json!({ "p": "AWAY" })).await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
    let r = s.gql_as("sam-token", PRESENCE, json!({ "a": null })).await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    let r = s.gql_as("dana-token", SET, json!({ "p": "ASLEEP" })).await;
    assert!(r["errors"].is_array(), "{r}");
    assert_eq!(s.head(), head);
    s.stop().await;
}

/// The next event on an admin's `events` feed.
async fn next_event(feed: &mut Ws) -> Value {
    feed.next_data().await["events"].clone()
}

#[tokio::test]
async fn a_disconnected_agent_is_marked_away_once_and_restored_when_back() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir, |o| {
        o.away_after = Duration::from_millis(300);
    })
    .await;
    experts(&s).await;
    s.ok_as("farah-token", SET, json!({ "p": "BUSY" })).await;

    // The admin watches the log live from here on.
    let mut feed = s.ws("graphql-transport-ws", ADMIN).await;
    feed.subscribe(
        "e",
        "subscription($from: Position!) { events(fromPosition: $from) { stream type actor { id } payload } }",
        json!({ "from": s.head() + 1 }),
    )
    .await;

    // farah has two connections; the one left open keeps her as she is.
    let mut a = s.ws("graphql-transport-ws", "farah-token").await;
    let b = s.ws("graphql-transport-ws", "farah-token").await;
    drop(b);
    // gustav, who never connected, is never marked.
    a.stream.close(None).await.unwrap();
    drop(a);

    // Both gone: AWAY, by the server, on farah's own stream.
    let e = next_event(&mut feed).await;
    assert_eq!(e["stream"], "agent-farah", "{e}");
    assert_eq!(e["type"], "PresenceSet");
    assert_eq!(e["actor"]["id"], "system");
    assert_eq!(
        e["payload"],
        json!({ "presence": "AWAY", "source": "DISCONNECTED" })
    );
    let p = presence_of(&s, "farah").await;
    assert_eq!(p["presence"], "AWAY");
    assert_eq!(p["automatic"], true);
    assert_eq!(presence_of(&s, "gustav").await["presence"], "AVAILABLE");

    // Back: by the time the connection is acknowledged, she is BUSY again; the very
    // next event is that restore (the AWAY was appended once).
    let mut a = s.ws("graphql-transport-ws", "farah-token").await;
    let p = presence_of(&s, "farah").await;
    assert_eq!(p["presence"], "BUSY");
    assert_eq!(p["source"], "RECONNECTED");
    let e = next_event(&mut feed).await;
    assert_eq!(e["stream"], "agent-farah", "{e}");
    assert_eq!(
        e["payload"],
        json!({ "presence": "BUSY", "source": "RECONNECTED" })
    );

    // An AWAY she chose herself stays when she comes back.
    s.ok_as("farah-token", SET, json!({ "p": "AWAY" })).await;
    let e = next_event(&mut feed).await;
    assert_eq!(
        e["payload"],
        json!({ "presence": "AWAY", "source": "AGENT" })
    );
    a.stream.close(None).await.unwrap();
    drop(a);
    let _again = s.ws("graphql-transport-ws", "farah-token").await;
    let p = presence_of(&s, "farah").await;
    assert_eq!(p["presence"], "AWAY");
    assert_eq!(p["source"], "AGENT");
    // Nothing was appended for her since: the next event is this marker.
    s.open_case("marker", "LOW").await;
    let e = next_event(&mut feed).await;
    assert_eq!(e["type"], "CaseOpened", "{e}");
    drop(feed);
    s.stop().await;
}
