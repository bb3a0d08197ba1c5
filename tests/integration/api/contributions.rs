//! `contributions(agent, from, to)` through the API: who may ask (leads and admins
//! anyone's, an agent their own), and counts that follow what the agent did (the
//! numbers themselves are worked out by hand in the unit tests of
//! `swarming::contributions`).

use super::*;

const Q: &str = "query($a: String!, $from: DateTime!, $to: DateTime!) { contributions(agent: $a, from: $from, to: $to) { agent swarmsJoined helpOffered helpAccepted medianSecondsToJoin timedJoins resolvedWhileHelping articlesCaptured } }";

fn vars(agent: &str) -> Value {
    json!({ "a": agent, "from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z" })
}

fn code(v: &Value) -> &str {
    v["errors"][0]["extensions"]["code"].as_str().unwrap_or("")
}

async fn run(s: &TestServer, token: &str, id: &str, doc: &str) {
    s.ok_as(
        token,
        &format!("mutation($id: ID!) {{ {doc} }}"),
        json!({ "id": id }),
    )
    .await;
}

#[tokio::test]
async fn contributions_count_helping_and_are_for_leads_and_the_agent_themself() {
    let s = TestServer::start().await;
    for agent in ["alice", "bob"] {
        s.ok(
            "mutation($a: String!) { addAgent(input: {id: $a, tiers: [\"L1\"]}) { id } }",
            json!({ "a": agent }),
        )
        .await;
    }
    let id = s.open_case("SSO loops", "NORMAL").await;
    let v = json!({ "id": id });
    for doc in [
        r#"routeCase(caseId: $id, tier: "L1") { id }"#,
        r#"assignCase(caseId: $id, agent: "alice") { id }"#,
    ] {
        s.ok(&format!("mutation($id: ID!) {{ {doc} }}"), v.clone())
            .await;
    }
    run(
        &s,
        "alice-token",
        &id,
        r#"inviteToSwarm(caseId: $id, agents: ["bob"]) { id }"#,
    )
    .await;
    run(&s, "bob-token", &id, "acceptInvitation(caseId: $id) { id }").await;
    run(
        &s,
        "alice-token",
        &id,
        r#"requestHelp(caseId: $id, note: "billing too") { id }"#,
    )
    .await;
    run(
        &s,
        "dana-token",
        &id,
        "offerHelp(caseId: $id, requestId: 1) { id }",
    )
    .await;
    run(
        &s,
        "alice-token",
        &id,
        r#"resolveCase(caseId: $id, resolution: "fixed") { id }"#,
    )
    .await;
    run(
        &s,
        "bob-token",
        &id,
        r#"captureKnowledge(caseId: $id, title: "SSO loops", body: "Re-import the metadata.") { id }"#,
    )
    .await;

    let bob = s.ok_as("bob-token", Q, vars("bob")).await;
    assert_eq!(
        bob["contributions"],
        json!({
            "agent": "bob",
            "swarmsJoined": 1,
            "helpOffered": 0,
            "helpAccepted": 0,
            "medianSecondsToJoin": bob["contributions"]["medianSecondsToJoin"],
            "timedJoins": 1,
            "resolvedWhileHelping": 1,
            "articlesCaptured": 1,
        })
    );
    assert!(bob["contributions"]["medianSecondsToJoin"].is_number());
    // An admin sees the same; dana (a lead) offered once and never joined.
    let admin = s.ok(Q, vars("bob")).await;
    assert_eq!(admin, bob);
    let dana = s.ok_as("dana-token", Q, vars("dana")).await;
    assert_eq!(dana["contributions"]["helpOffered"], 1, "{dana}");
    assert_eq!(dana["contributions"]["swarmsJoined"], 0, "{dana}");
    assert_eq!(dana["contributions"]["medianSecondsToJoin"], Value::Null);

    // An agent sees only their own; customers and auditors none.
    for (token, agent) in [
        ("alice-token", "bob"),
        ("sam-token", "bob"),
        ("audrey-token", "bob"),
    ] {
        let r = s.gql_as(token, Q, vars(agent)).await;
        assert_eq!(code(&r), "FORBIDDEN", "{token}: {r}");
    }
    let r = s
        .gql_as(
            "bob-token",
            Q,
            json!({ "a": "bob", "from": "2100-01-01T00:00:00Z", "to": "2000-01-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");
    s.stop().await;
}
