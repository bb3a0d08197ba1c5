//! The rapid-responder rotation end to end, on a manual clock: `setRapidRotation`
//! records a `RapidRotationSet` on the config stream (replayed after a restart);
//! for a `SEVERITY_1` swarm `suggestExperts` proposes the responder on call first,
//! the next in rotation when they are away, and the following shift's responder
//! once the clock moves on; a plain swarm ignores the rotation.

use super::*;
use std::sync::Arc;
use swarmdesk::clock::ManualClock;
use swarmdesk::domain::Timestamp;

/// Monday 2026-01-05 09:00 UTC.
const T0: Timestamp = Timestamp(1_767_603_600_000_000);
const HOUR: i64 = 3600;

const SET: &str = "mutation($r: [String!]!, $h: Int!, $t: DateTime) { setRapidRotation(responders: $r, shiftHours: $h, rotationStart: $t) { responders shiftHours rotationStart onCall } }";
const SUGGEST: &str =
    "query($id: ID!) { suggestExperts(caseId: $id, max: 3) { agent covers why } }";

/// farah, gustav and ravi work L2 (whatever their tokens say) with nothing on;
/// quinn is L1 only.
async fn directory(s: &TestServer) {
    for a in [
        json!({ "id": "farah", "tiers": ["L2"], "languages": ["en"], "maxCases": 5 }),
        json!({ "id": "gustav", "tiers": ["L2"], "languages": ["en"], "maxCases": 5 }),
        json!({ "id": "ravi", "tiers": ["L2"], "languages": ["en"], "maxCases": 5 }),
        json!({ "id": "quinn", "tiers": ["L1"], "languages": ["en"], "maxCases": 5 }),
        json!({ "id": "dana", "tiers": ["L2"], "languages": ["en"], "maxCases": 5 }),
    ] {
        s.ok(
            "mutation($a: AgentInput!) { addAgent(input: $a) { id } }",
            json!({ "a": a }),
        )
        .await;
    }
}

/// An L2 case owned by dana with a swarm she leads, of `swarm_type`.
async fn swarm(s: &TestServer, subject: &str, swarm_type: &str) -> String {
    let id = s.open_case(subject, "URGENT").await;
    let v = json!({ "id": id });
    for doc in [
        r#"routeCase(caseId: $id, tier: "L2")"#,
        r#"assignCase(caseId: $id, agent: "dana")"#,
        r#"startSwarm(caseId: $id, reason: "outage")"#,
    ] {
        s.ok(
            &format!("mutation($id: ID!) {{ {doc} {{ id }} }}"),
            v.clone(),
        )
        .await;
    }
    if swarm_type != "CASE" {
        s.ok_as(
            "dana-token",
            &format!("mutation($id: ID!) {{ setSwarmType(caseId: $id, swarmType: {swarm_type}, reason: \"outage\") {{ id }} }}"),
            v,
        )
        .await;
    }
    id
}

async fn suggested(s: &TestServer, id: &str) -> Vec<(String, String)> {
    let d = s.ok_as("dana-token", SUGGEST, json!({ "id": id })).await;
    d["suggestExperts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["agent"].as_str().unwrap().to_string(),
                x["why"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_severity_1_swarm_is_offered_the_responder_on_call_then_the_next() {
    let clock = ManualClock::new(T0);
    let c = clock.clone();
    let s = TestServer::start_in(tempfile::tempdir().unwrap(), move |o| {
        o.clock = Arc::new(c);
    })
    .await;
    directory(&s).await;

    // Daily shifts from Monday 00:00: Monday is farah's, Tuesday ravi's, Wednesday gustav's.
    let d = s
        .ok(
            SET,
            json!({ "r": ["farah", "ravi", "gustav"], "h": 24, "t": "2026-01-05T00:00:00Z" }),
        )
        .await;
    assert_eq!(
        d["setRapidRotation"],
        json!({
            "responders": ["farah", "ravi", "gustav"],
            "shiftHours": 24,
            "rotationStart": "2026-01-05T00:00:00Z",
            "onCall": "farah",
        })
    );

    let sev1 = swarm(&s, "Checkout is down", "SEVERITY_1").await;
    let got = suggested(&s, &sev1).await;
    assert_eq!(got[0].0, "farah", "{got:?}");
    assert_eq!(got[0].1, "rapid responder on call; 0 of 5 cases; speaks en");
    // The rest: the least loaded in L2 (ids break the tie; dana leads already).
    let rest: Vec<&str> = got[1..].iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(rest, ["gustav", "ravi"]);

    // A plain swarm ignores the rotation.
    let plain = swarm(&s, "A slow report", "CASE").await;
    let first = &suggested(&s, &plain).await[0];
    assert_eq!(first.0, "farah", "{first:?}");
    assert!(first.1.starts_with("least loaded in L2"), "{first:?}");

    // farah goes away: the next in rotation, ravi, is proposed, and says why.
    s.ok_as(
        "farah-token",
        "mutation { setPresence(status: AWAY) { agent } }",
        json!({}),
    )
    .await;
    let got = suggested(&s, &sev1).await;
    assert_eq!(got[0].0, "ravi");
    assert_eq!(
        got[0].1,
        "next rapid responder in rotation (on call: farah, not eligible now); 0 of 5 cases; speaks en"
    );

    // Wednesday 09:00: gustav's shift.
    clock.set(T0.plus_secs(48 * HOUR));
    let got = suggested(&s, &sev1).await;
    assert_eq!(got[0].0, "gustav");
    assert!(got[0].1.starts_with("rapid responder on call;"), "{got:?}");

    // Once a responder is in the swarm, the swarm has one: nobody is put first.
    s.ok(
        "mutation($id: ID!) { joinSwarm(caseId: $id, agent: \"ravi\") { id } }",
        json!({ "id": sev1 }),
    )
    .await;
    let got = suggested(&s, &sev1).await;
    assert!(
        got.iter().all(|(_, why)| !why.contains("rapid responder")),
        "{got:?}"
    );

    // Admins only; an unknown agent, a repeat or a zero shift is refused; none writes.
    let head = s.head();
    let r = s
        .gql_as("dana-token", SET, json!({ "r": ["ravi"], "h": 24 }))
        .await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "FORBIDDEN", "{r}");
    for bad in [
        json!({ "r": ["ravi", "nobody"], "h": 24 }),
        json!({ "r": ["ravi", "ravi"], "h": 24 }),
        json!({ "r": ["ravi"], "h": 0 }),
    ] {
        let r = s.gql(SET, bad.clone()).await;
        assert_eq!(
            r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{bad}: {r}"
        );
    }
    // A responder cannot leave the directory while in the rotation.
    let r = s
        .gql("mutation { removeAgent(id: \"gustav\") }", json!({}))
        .await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{r}"
    );
    assert_eq!(s.head(), head);

    // The change is an event on the config stream, and a restart replays it.
    let log = s
        .ok(
            "{ events(fromPosition: 1, limit: 500) { stream type actor { id } payload } }",
            json!({}),
        )
        .await;
    let set: Vec<&Value> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "RapidRotationSet")
        .collect();
    assert_eq!(set.len(), 1, "{log}");
    assert_eq!(set[0]["stream"], "config");
    assert_eq!(
        set[0]["payload"]["responders"],
        json!(["farah", "ravi", "gustav"])
    );
    let dir = s.stop().await;
    let c = clock.clone();
    let s = TestServer::start_in(dir, move |o| o.clock = Arc::new(c)).await;
    let d = s
        .ok(
            "{ configuration { rapidRotation { responders onCall } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d["configuration"]["rapidRotation"],
        json!({ "responders": ["farah", "ravi", "gustav"], "onCall": "gustav" })
    );
    s.stop().await;
}
