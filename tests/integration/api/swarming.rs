//! Intelligent swarming end to end: a case needing `saml` and `billing`, the expert
//! finder's picks from a scripted directory, invitations that go out, one declined,
//! one accepted (the invitee joins; the owner stays the owner), and access that
//! follows the invitation (an L3 expert on an L2 case).

use super::*;

const ADD_AGENT: &str = "mutation($a: AgentInput!) { addAgent(input: $a) { id } }";
const SUGGEST: &str = "query($id: ID!) { suggestExperts(caseId: $id, max: 5) { agent covers load capacity languages presence pastContribution why } }";
const CASE: &str =
    "query($id: ID!) { case(id: $id) { id assignee swarm { lead members { agent } } } }";

async fn add_agent(s: &TestServer, agent: Value) {
    s.ok(ADD_AGENT, json!({ "a": agent })).await;
}

/// The scripted directory: alice (L1) has both skills but works too low a tier;
/// zed (L2) has both but is full (1 of 1); farah (L3) knows SAML; gustav (L3)
/// knows billing; dana (L2 lead) owns the case. A person would pick farah and
/// gustav.
async fn directory(s: &TestServer) {
    let agents = [
        json!({ "id": "alice", "tiers": ["L1"], "skills": ["saml", "billing"], "languages": ["en"], "maxCases": 5 }),
        json!({ "id": "zed", "tiers": ["L2"], "skills": ["saml", "billing"], "languages": ["en"], "maxCases": 1 }),
        json!({ "id": "farah", "name": "Farah", "tiers": ["L3"], "skills": ["SAML"], "languages": ["en", "ar"], "maxCases": 5 }),
        json!({ "id": "gustav", "tiers": ["L3"], "skills": ["billing"], "languages": ["en", "de"], "maxCases": 4 }),
        json!({ "id": "dana", "tiers": ["L2"], "languages": ["en"], "maxCases": 5 }),
    ];
    for a in agents {
        add_agent(s, a).await;
    }
}

/// An L2 case owned by dana, needing saml and billing.
async fn sso_case(s: &TestServer) -> String {
    let id = s
        .open_case("SSO login loops and the invoice is wrong", "HIGH")
        .await;
    let v = json!({ "id": id });
    s.ok(
        "mutation($id: ID!) { routeCase(caseId: $id, tier: \"L2\") { id } }",
        v.clone(),
    )
    .await;
    s.ok(
        "mutation($id: ID!) { assignCase(caseId: $id, agent: \"dana\") { id } }",
        v.clone(),
    )
    .await;
    let d = s
        .ok_as(
            "dana-token",
            "mutation($id: ID!) { setCaseSkills(caseId: $id, skills: [\"SAML\", \"billing\"]) { id } }",
            v,
        )
        .await;
    assert_eq!(d["setCaseSkills"]["id"], id.as_str());
    id
}

/// zed's capacity is taken by another L2 case.
async fn fill_zed(s: &TestServer) {
    let other = s.open_case("Another case", "NORMAL").await;
    s.ok(
        "mutation($id: ID!) { routeCase(caseId: $id, tier: \"L2\") { id } }",
        json!({ "id": other }),
    )
    .await;
    s.ok(
        "mutation($id: ID!) { assignCase(caseId: $id, agent: \"zed\") { id } }",
        json!({ "id": other }),
    )
    .await;
}

fn code(v: &Value) -> &str {
    v["errors"][0]["extensions"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn experts_are_found_invited_one_declines_the_other_joins() {
    let s = TestServer::start().await;
    directory(&s).await;
    fill_zed(&s).await;
    let id = sso_case(&s).await;
    let v = json!({ "id": id });

    // The finder proposes exactly the two a person would pick, each explained.
    let d = s.ok_as("dana-token", SUGGEST, v.clone()).await;
    let picks = d["suggestExperts"].as_array().unwrap();
    let agents: Vec<&str> = picks.iter().map(|p| p["agent"].as_str().unwrap()).collect();
    assert_eq!(agents, ["farah", "gustav"], "{d}");
    assert_eq!(picks[0]["covers"], json!(["saml"]));
    assert_eq!(picks[1]["covers"], json!(["billing"]));
    assert_eq!(picks[0]["capacity"], 5);
    assert_eq!(picks[0]["load"], 0);
    assert_eq!(picks[0]["presence"], "AVAILABLE");
    assert_eq!(picks[0]["languages"], json!(["en", "ar"]));
    assert_eq!(picks[0]["pastContribution"], 0);
    assert_eq!(picks[0]["why"], "covers saml; 0 of 5 cases; speaks en");

    // Before any invitation, the L3 experts cannot see the L2 case.
    for token in ["farah-token", "gustav-token"] {
        let c = s.ok_as(token, CASE, v.clone()).await;
        assert_eq!(c["case"], Value::Null, "{token}: {c}");
    }
    // A customer cannot ask the finder.
    let r = s.gql_as("sam-token", SUGGEST, v.clone()).await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");

    // The owner invites both; a swarm led by her starts with the invitations.
    let d = s
        .ok_as(
            "dana-token",
            "mutation($id: ID!) { inviteToSwarm(caseId: $id, agents: [\"farah\", \"gustav\"], note: \"SSO loop plus a billing error\") { assignee swarm { lead members { agent } } } }",
            v.clone(),
        )
        .await;
    assert_eq!(d["inviteToSwarm"]["swarm"]["lead"], "dana");
    assert_eq!(
        d["inviteToSwarm"]["swarm"]["members"],
        json!([{ "agent": "dana" }])
    );

    // Each invitee sees their invitation, and (while invited) the case.
    for (token, me) in [("farah-token", "farah"), ("gustav-token", "gustav")] {
        let d = s
            .ok_as(
                token,
                "{ myInvitations { caseId agent invitedBy note status autoReplace expiresAt } }",
                json!({}),
            )
            .await;
        assert_eq!(
            d["myInvitations"],
            json!([{ "caseId": id, "agent": me, "invitedBy": "dana", "note": "SSO loop plus a billing error", "status": "PENDING", "autoReplace": false, "expiresAt": null }]),
            "{token}"
        );
        let c = s.ok_as(token, CASE, v.clone()).await;
        assert_eq!(c["case"]["id"], id.as_str(), "{token} cannot see the case");
    }
    // Someone not invited cannot accept.
    let r = s
        .gql_as(
            "alice-token",
            "mutation($id: ID!) { acceptInvitation(caseId: $id) { id } }",
            v.clone(),
        )
        .await;
    assert_eq!(code(&r), "NOT_FOUND", "{r}");

    // farah declines: her access ends with her invitation.
    s.ok_as(
        "farah-token",
        "mutation($id: ID!) { declineInvitation(caseId: $id, reason: \"on another outage\") { id } }",
        v.clone(),
    )
    .await;
    let c = s.ok_as("farah-token", CASE, v.clone()).await;
    assert_eq!(c["case"], Value::Null, "{c}");
    let d = s
        .ok_as("farah-token", "{ myInvitations { caseId } }", json!({}))
        .await;
    assert_eq!(d["myInvitations"], json!([]));

    // gustav accepts and joins; dana still owns the case.
    let d = s
        .ok_as(
            "gustav-token",
            "mutation($id: ID!) { acceptInvitation(caseId: $id) { assignee swarm { lead members { agent } } } }",
            v.clone(),
        )
        .await;
    assert_eq!(d["acceptInvitation"]["assignee"], "dana");
    assert_eq!(
        d["acceptInvitation"]["swarm"]["members"],
        json!([{ "agent": "dana" }, { "agent": "gustav" }])
    );
    // Accepting twice is refused, with a stable code.
    let r = s
        .gql_as(
            "gustav-token",
            "mutation($id: ID!) { acceptInvitation(caseId: $id) { id } }",
            v.clone(),
        )
        .await;
    assert_eq!(code(&r), "INVALID_TRANSITION", "{r}");

    // Members and invitees are not proposed again; farah (who declined) still is.
    let d = s.ok_as("dana-token", SUGGEST, v.clone()).await;
    let agents: Vec<&str> = d["suggestExperts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["agent"].as_str().unwrap())
        .collect();
    assert_eq!(agents, ["farah"], "{d}");

    // The log tells the story, in order.
    let types: Vec<String> = s
        .history(&json!(id))
        .await
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .filter(|t| {
            [
                "CaseSkillsSet",
                "SwarmStarted",
                "SwarmInvited",
                "InvitationDeclined",
                "InvitationAccepted",
                "SwarmJoined",
            ]
            .contains(&t.as_str())
        })
        .collect();
    assert_eq!(
        types,
        [
            "CaseSkillsSet",
            "SwarmStarted",
            "SwarmInvited",
            "InvitationDeclined",
            "InvitationAccepted",
            "SwarmJoined"
        ]
    );
    s.stop().await;
}

#[tokio::test]
async fn a_raised_hand_is_listed_by_skill_and_roles_have_one_lead() {
    let s = TestServer::start().await;
    directory(&s).await;
    let id = sso_case(&s).await;
    let v = json!({ "id": id });
    // dana (the owner) asks for help with SAML.
    s.ok_as(
        "dana-token",
        "mutation($id: ID!) { requestHelp(caseId: $id, skills: [\"saml\"], note: \"IdP metadata?\") { id } }",
        v.clone(),
    )
    .await;
    let d = s
        .ok_as(
            "dana-token",
            "{ helpRequests { caseId number by skills note status offers } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d["helpRequests"],
        json!([{ "caseId": id, "number": 1, "by": "dana", "skills": ["saml"], "note": "IdP metadata?", "status": "OPEN", "offers": [] }])
    );
    // Offering on your own request is refused.
    let r = s
        .gql_as(
            "dana-token",
            "mutation($id: ID!) { offerHelp(caseId: $id, requestId: 1) { id } }",
            v.clone(),
        )
        .await;
    assert_eq!(code(&r), "INVALID_TRANSITION", "{r}");
    // gustav is invited and joins.
    s.ok_as(
        "dana-token",
        "mutation($id: ID!) { inviteToSwarm(caseId: $id, agents: [\"gustav\"]) { id } }",
        v.clone(),
    )
    .await;
    s.ok_as(
        "gustav-token",
        "mutation($id: ID!) { acceptInvitation(caseId: $id) { id } }",
        v.clone(),
    )
    .await;
    // gustav (billing only) does not see the SAML request in his list.
    let d = s
        .ok_as("gustav-token", "{ helpRequests { number } }", json!({}))
        .await;
    assert_eq!(d["helpRequests"], json!([]));
    // The lead gives gustav a role; nobody else becomes lead.
    let d = s
        .ok_as(
            "dana-token",
            "mutation($id: ID!) { setSwarmRole(caseId: $id, agent: \"gustav\", role: RESEARCHER) { id } }",
            v.clone(),
        )
        .await;
    assert_eq!(d["setSwarmRole"]["id"], id.as_str());
    let r = s
        .gql_as(
            "dana-token",
            "mutation($id: ID!) { setSwarmRole(caseId: $id, agent: \"gustav\", role: LEAD) { id } }",
            v.clone(),
        )
        .await;
    assert_eq!(code(&r), "INVALID_TRANSITION", "no second lead: {r}");
    s.ok_as(
        "dana-token",
        "mutation($id: ID!) { setSwarmType(caseId: $id, swarmType: SEVERITY_1, reason: \"SSO down for all\") { id } }",
        v.clone(),
    )
    .await;
    let d = s
        .ok_as(
            "dana-token",
            "query($id: ID!) { caseSwarming(caseId: $id) { neededSkills swarmType roles { agent role } invitations { agent status } helpRequests { number status } } }",
            v.clone(),
        )
        .await;
    assert_eq!(
        d["caseSwarming"],
        json!({
            "neededSkills": ["billing", "saml"],
            "swarmType": "SEVERITY_1",
            "roles": [{ "agent": "dana", "role": "LEAD" }, { "agent": "gustav", "role": "RESEARCHER" }],
            "invitations": [{ "agent": "gustav", "status": "ACCEPTED" }],
            "helpRequests": [{ "number": 1, "status": "OPEN" }],
        })
    );
    // dana closes her request; it leaves the open list.
    s.ok_as(
        "dana-token",
        "mutation($id: ID!) { closeHelpRequest(caseId: $id, requestId: 1, reason: \"found it\") { id } }",
        v.clone(),
    )
    .await;
    let d = s
        .ok_as("dana-token", "{ helpRequests { number } }", json!({}))
        .await;
    assert_eq!(d["helpRequests"], json!([]));
    // Only the swarm's lead (or a lead) sets the type.
    let r = s
        .gql_as(
            "gustav-token",
            "mutation($id: ID!) { setSwarmType(caseId: $id, swarmType: DISPATCH) { id } }",
            v.clone(),
        )
        .await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    s.stop().await;
}

#[tokio::test]
async fn a_declined_invitation_that_asked_for_a_replacement_invites_the_next_best() {
    let s = TestServer::start().await;
    directory(&s).await;
    fill_zed(&s).await;
    // zoe (L3) also knows SAML, but farah ranks first (same load, smaller id).
    add_agent(
        &s,
        json!({ "id": "zoe", "tiers": ["L3"], "skills": ["saml"], "languages": ["en"], "maxCases": 5 }),
    )
    .await;
    let id = sso_case(&s).await;
    let v = json!({ "id": id });
    let d = s
        .ok_as(
            "dana-token",
            "query($id: ID!) { suggestExperts(caseId: $id, max: 2) { agent } }",
            v.clone(),
        )
        .await;
    assert_eq!(
        d["suggestExperts"],
        json!([{ "agent": "farah" }, { "agent": "gustav" }])
    );
    s.ok_as(
        "dana-token",
        "mutation($id: ID!) { inviteToSwarm(caseId: $id, agents: [\"farah\", \"gustav\"], autoReplace: true, expiresInMinutes: 30) { id } }",
        v.clone(),
    )
    .await;
    s.ok_as(
        "farah-token",
        "mutation($id: ID!) { declineInvitation(caseId: $id, reason: \"busy\") { id } }",
        v.clone(),
    )
    .await;
    // The replacement went out at once, with the same expiry window, asking again
    // for a replacement; gustav's invitation is untouched.
    let invited: Vec<Value> = s
        .history(&json!(id))
        .await
        .into_iter()
        .filter(|e| e["type"] == "SwarmInvited")
        .map(|e| e["payload"].clone())
        .collect();
    assert_eq!(invited.len(), 2, "{invited:?}");
    assert_eq!(invited[1]["agents"], json!(["zoe"]));
    assert_eq!(invited[1]["autoReplace"], true);
    assert_eq!(invited[1]["by"], "system");
    let first = invited[0]["expiresAt"].as_str().unwrap();
    let second = invited[1]["expiresAt"].as_str().unwrap();
    assert!(second >= first, "{first} {second}");
    s.stop().await;
}

#[tokio::test]
async fn an_unanswered_invitation_expires_once_on_the_scheduler_sweep_and_is_replaced() {
    use std::sync::Arc;
    use swarmdesk::clock::ManualClock;
    let clock = ManualClock::new(swarmdesk::domain::Timestamp(1_767_603_600_000_000));
    let c = clock.clone();
    let s = TestServer::start_in(tempfile::tempdir().unwrap(), move |o| {
        o.clock = Arc::new(c);
        o.sla_interval = Duration::from_secs(3600);
    })
    .await;
    directory(&s).await;
    fill_zed(&s).await;
    add_agent(
        &s,
        json!({ "id": "zoe", "tiers": ["L3"], "skills": ["saml"], "languages": ["en"], "maxCases": 5 }),
    )
    .await;
    let id = sso_case(&s).await;
    let v = json!({ "id": id });
    s.ok_as(
        "dana-token",
        "mutation($id: ID!) { inviteToSwarm(caseId: $id, agents: [\"farah\"], autoReplace: true, expiresInMinutes: 10) { id } }",
        v.clone(),
    )
    .await;
    let sweep = || async { s.running.as_ref().unwrap().sweep_sla().await.unwrap() };
    // Not yet due.
    clock.advance_secs(599);
    assert_eq!(sweep().await, 0);
    // Due: expired once, replaced by zoe; a second sweep finds nothing.
    clock.advance_secs(1);
    assert_eq!(sweep().await, 1);
    assert_eq!(sweep().await, 0);
    let types: Vec<Value> = s
        .history(&json!(id))
        .await
        .into_iter()
        .filter(|e| e["type"] == "InvitationExpired" || e["type"] == "SwarmInvited")
        .collect();
    assert_eq!(types.len(), 3, "{types:?}");
    assert_eq!(types[1]["type"], "InvitationExpired");
    assert_eq!(types[1]["payload"]["agent"], "farah");
    assert_eq!(types[2]["payload"]["agents"], json!(["zoe"]));
    // farah can no longer accept, nor see the case.
    let r = s
        .gql_as(
            "farah-token",
            "mutation($id: ID!) { acceptInvitation(caseId: $id) { id } }",
            v.clone(),
        )
        .await;
    assert_eq!(code(&r), "NOT_FOUND", "{r}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_and_help_requests_are_seen_live_in_order_exactly_once() {
    let s = TestServer::start().await;
    directory(&s).await;
    let id = sso_case(&s).await;
    let v = json!({ "id": id });
    let mut farah = s.ws("graphql-transport-ws", "farah-token").await;
    farah
        .subscribe(
            "inv",
            "subscription { invitations { position invitations { caseId agent invitedBy status } } }",
            json!({}),
        )
        .await;
    let mut gustav = s.ws("graphql-transport-ws", "gustav-token").await;
    gustav
        .subscribe(
            "help",
            "subscription { helpRequests { position requests { caseId number by skills offers status } } }",
            json!({}),
        )
        .await;
    let list = |d: Value, field: &str, inner: &str| d[field][inner].clone();
    assert_eq!(
        list(farah.next_data().await, "invitations", "invitations"),
        json!([])
    );
    assert_eq!(
        list(gustav.next_data().await, "helpRequests", "requests"),
        json!([])
    );

    s.ok_as(
        "dana-token",
        "mutation($id: ID!) { inviteToSwarm(caseId: $id, agents: [\"farah\", \"gustav\"], note: \"SSO and billing\") { id } }",
        v.clone(),
    )
    .await;
    assert_eq!(
        list(farah.next_data().await, "invitations", "invitations"),
        json!([{ "caseId": id, "agent": "farah", "invitedBy": "dana", "status": "PENDING" }])
    );
    s.ok_as(
        "dana-token",
        "mutation($id: ID!) { requestHelp(caseId: $id, skills: [\"billing\"], note: \"invoice totals\") { id } }",
        v.clone(),
    )
    .await;
    // gustav's first update is the raised hand: the invitation changed no request.
    assert_eq!(
        list(gustav.next_data().await, "helpRequests", "requests"),
        json!([{ "caseId": id, "number": 1, "by": "dana", "skills": ["billing"], "offers": [], "status": "OPEN" }])
    );
    s.ok_as(
        "farah-token",
        "mutation($id: ID!) { acceptInvitation(caseId: $id) { id } }",
        v.clone(),
    )
    .await;
    assert_eq!(
        list(farah.next_data().await, "invitations", "invitations"),
        json!([])
    );
    s.ok_as(
        "gustav-token",
        "mutation($id: ID!) { offerHelp(caseId: $id, requestId: 1) { id } }",
        v.clone(),
    )
    .await;
    let offered = gustav.next_data().await;
    assert_eq!(
        list(offered.clone(), "helpRequests", "requests")[0]["offers"],
        json!(["gustav"]),
        "{offered}"
    );
    assert!(offered["helpRequests"]["position"].as_u64().unwrap() <= s.head());
    // Customers get neither.
    let mut sam = s.ws("graphql-transport-ws", "sam-token").await;
    sam.subscribe("h", "subscription { helpRequests { position } }", json!({}))
        .await;
    let refused = sam.next_json().await;
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
}
