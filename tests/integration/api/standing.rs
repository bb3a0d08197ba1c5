//! Standing swarms end to end, on a manual clock: an agent joins their team's
//! `DISPATCH` swarm, sees its new unassigned cases most urgent first (paged), takes
//! one with `assignCase` and it leaves the queue at once; a non-member is refused
//! without a word about any case, and a member whose tiers do not reach the cases
//! sees none of them (no edges, no next page). The `BACKLOG` swarm lists the team's
//! cases older than N days. Membership is events on the swarm's own stream, and a
//! restart rebuilds the same queues.

use super::*;
use std::sync::Arc;
use swarmdesk::clock::ManualClock;
use swarmdesk::domain::Timestamp;

/// Monday 2026-01-05 09:00 UTC.
const T0: Timestamp = Timestamp(1_767_603_600_000_000);
const DAY: i64 = 86_400;

const JOIN: &str = "mutation($k: StandingKind!) { joinStandingSwarm(team: \"general\", kind: $k) { team kind members } }";
const LEAVE: &str = "mutation($k: StandingKind!) { leaveStandingSwarm(team: \"general\", kind: $k) { team kind members } }";
const QUEUE: &str = "query($n: Int, $a: String) { dispatchQueue(team: \"general\", first: $n, after: $a) { edges { cursor node { id subject priority assignee } } pageInfo { hasNextPage } } }";
const BACKLOG: &str = "query($d: Int!) { backlog(team: \"general\", olderThanDays: $d) { edges { node { id subject } } pageInfo { hasNextPage } } }";

fn subjects(d: &Value, field: &str) -> Vec<String> {
    d[field]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("no edges: {d}"))
        .iter()
        .map(|e| e["node"]["subject"].as_str().unwrap().to_string())
        .collect()
}

fn code(v: &Value) -> &str {
    v["errors"][0]["extensions"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn a_dispatch_member_sees_new_cases_takes_one_and_it_leaves_the_queue() {
    let clock = ManualClock::new(T0);
    let c = clock.clone();
    let s = TestServer::start_in(tempfile::tempdir().unwrap(), move |o| {
        o.clock = Arc::new(c);
    })
    .await;
    for a in [
        json!({ "id": "alice", "tiers": ["L1"], "teams": ["general"], "maxCases": 5 }),
        json!({ "id": "bob", "tiers": ["L1"], "teams": ["general"], "maxCases": 5 }),
        json!({ "id": "farah", "tiers": ["L3"], "maxCases": 5 }),
    ] {
        s.ok(
            "mutation($a: AgentInput!) { addAgent(input: $a) { id } }",
            json!({ "a": a }),
        )
        .await;
    }
    // New cases go to L1, team general, assigned to nobody.
    let old = s.open_case("Export stuck since last week", "LOW").await;
    clock.set(T0.plus_secs(10 * DAY));
    let printer = s.open_case("Printer driver crashes", "NORMAL").await;
    let outage = s.open_case("Nobody can log in", "URGENT").await;

    // alice joins the team's dispatch swarm: an event on its own stream.
    let d = s
        .ok_as("alice-token", JOIN, json!({ "k": "DISPATCH" }))
        .await;
    assert_eq!(
        d["joinStandingSwarm"],
        json!({ "team": "general", "kind": "DISPATCH", "members": ["alice"] })
    );
    let d = s.ok_as("alice-token", QUEUE, json!({})).await;
    assert_eq!(
        subjects(&d, "dispatchQueue"),
        [
            "Nobody can log in",
            "Printer driver crashes",
            "Export stuck since last week"
        ],
        "most urgent first, then oldest"
    );

    // Paged: one at a time, continuing after the cursor.
    let d = s.ok_as("alice-token", QUEUE, json!({ "n": 1 })).await;
    assert_eq!(subjects(&d, "dispatchQueue"), ["Nobody can log in"]);
    assert_eq!(d["dispatchQueue"]["pageInfo"]["hasNextPage"], true);
    let cursor = d["dispatchQueue"]["edges"][0]["cursor"].clone();
    let d = s
        .ok_as("alice-token", QUEUE, json!({ "n": 1, "a": cursor }))
        .await;
    assert_eq!(subjects(&d, "dispatchQueue"), ["Printer driver crashes"]);

    // She takes the outage with the existing mutation: it leaves the queue at once.
    s.ok_as(
        "alice-token",
        "mutation($id: ID!) { assignCase(caseId: $id, agent: \"alice\") { id } }",
        json!({ "id": outage }),
    )
    .await;
    let d = s.ok_as("alice-token", QUEUE, json!({})).await;
    assert_eq!(
        subjects(&d, "dispatchQueue"),
        ["Printer driver crashes", "Export stuck since last week"]
    );

    // bob is not a member: refused, and the refusal names no case.
    let r = s.gql_as("bob-token", QUEUE, json!({})).await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    for id in [&old, &printer, &outage] {
        assert!(!r.to_string().contains(id.as_str()), "{r}");
    }
    // farah (L3 only) may join, but works no L1 case: she sees nothing, not even
    // that there is more.
    s.ok_as("farah-token", JOIN, json!({ "k": "DISPATCH" }))
        .await;
    let d = s.ok_as("farah-token", QUEUE, json!({ "n": 1 })).await;
    assert_eq!(d["dispatchQueue"]["edges"], json!([]), "{d}");
    assert_eq!(d["dispatchQueue"]["pageInfo"]["hasNextPage"], false);
    // Customers are not staff; auditors read every queue (and are logged).
    let r = s.gql_as("sam-token", QUEUE, json!({})).await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    let r = s
        .gql_as("audrey-token", JOIN, json!({ "k": "DISPATCH" }))
        .await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");

    // The backlog swarm: the team's open cases older than 7 days (by the clock).
    s.ok_as("bob-token", JOIN, json!({ "k": "BACKLOG" })).await;
    let d = s.ok_as("bob-token", BACKLOG, json!({ "d": 7 })).await;
    assert_eq!(subjects(&d, "backlog"), ["Export stuck since last week"]);
    let d = s.ok_as("bob-token", BACKLOG, json!({ "d": 0 })).await;
    assert_eq!(
        subjects(&d, "backlog").len(),
        3,
        "assigned cases age too: {d}"
    );
    let r = s.gql_as("alice-token", BACKLOG, json!({ "d": 7 })).await;
    assert_eq!(
        code(&r),
        "FORBIDDEN",
        "a dispatch member is not in the backlog swarm"
    );
    let r = s.gql_as("bob-token", BACKLOG, json!({ "d": 100000 })).await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");

    // Leaving ends it; leaving again writes nothing.
    let d = s
        .ok_as("alice-token", LEAVE, json!({ "k": "DISPATCH" }))
        .await;
    assert_eq!(d["leaveStandingSwarm"]["members"], json!(["farah"]));
    let head = s.head();
    s.ok_as("alice-token", LEAVE, json!({ "k": "DISPATCH" }))
        .await;
    assert_eq!(s.head(), head);
    let r = s.gql_as("alice-token", QUEUE, json!({})).await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    let d = s
        .ok("{ standingSwarms { team kind members } }", json!({}))
        .await;
    assert_eq!(
        d["standingSwarms"],
        json!([
            { "team": "general", "kind": "DISPATCH", "members": ["farah"] },
            { "team": "general", "kind": "BACKLOG", "members": ["bob"] },
        ])
    );
    let log = s
        .ok(
            "{ events(fromPosition: 1, limit: 500) { stream type actor { id } payload } }",
            json!({}),
        )
        .await;
    let standing: Vec<(String, String)> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["stream"].as_str().unwrap().starts_with("standing-"))
        .map(|e| {
            (
                e["stream"].as_str().unwrap().to_string(),
                format!("{} {}", e["type"].as_str().unwrap(), e["payload"]["agent"]),
            )
        })
        .collect();
    assert_eq!(
        standing,
        [
            (
                "standing-general-dispatch".into(),
                "StandingSwarmJoined \"alice\"".into()
            ),
            (
                "standing-general-dispatch".into(),
                "StandingSwarmJoined \"farah\"".into()
            ),
            (
                "standing-general-backlog".into(),
                "StandingSwarmJoined \"bob\"".into()
            ),
            (
                "standing-general-dispatch".into(),
                "StandingSwarmLeft \"alice\"".into()
            ),
        ]
    );

    // A restart folds the same queues back from the log.
    let dir = s.stop().await;
    let c = clock.clone();
    let s = TestServer::start_in(dir, move |o| o.clock = Arc::new(c)).await;
    let d = s.ok_as("bob-token", BACKLOG, json!({ "d": 7 })).await;
    assert_eq!(subjects(&d, "backlog"), ["Export stuck since last week"]);
    let d = s.ok(QUEUE, json!({})).await;
    assert_eq!(
        subjects(&d, "dispatchQueue"),
        ["Printer driver crashes", "Export stuck since last week"]
    );
    s.stop().await;
}

/// The demo shows the method: the outage's rapid responder is the one the rotation
/// had on call when they joined; alice and bob triage `general`'s new cases (the
/// overnight bank-holiday questions), dana `billing`'s (the private overcharge), and
/// chen works `general`'s backlog of cases over a day old.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_demo_has_a_rapid_responder_and_standing_swarms_with_work() {
    let s = TestServer::start_in(tempfile::tempdir().unwrap(), |o| o.demo = true).await;
    let d = s
        .ok("{ standingSwarms { team kind members } }", json!({}))
        .await;
    assert_eq!(
        d["standingSwarms"],
        json!([
            { "team": "billing", "kind": "DISPATCH", "members": ["dana"] },
            { "team": "general", "kind": "DISPATCH", "members": ["alice", "bob"] },
            { "team": "general", "kind": "BACKLOG", "members": ["chen"] },
        ])
    );
    let q = "query($t: String!) { dispatchQueue(team: $t, first: 100) { edges { node { subject assignee } } } }";
    let d = s.ok_as("alice-token", q, json!({ "t": "general" })).await;
    let holiday = subjects(&d, "dispatchQueue")
        .iter()
        .filter(|s| s.contains("bank holiday"))
        .count();
    assert_eq!(holiday, 6, "{d}");
    let d = s.ok_as("dana-token", q, json!({ "t": "billing" })).await;
    assert!(
        subjects(&d, "dispatchQueue").contains(&"Why was I charged twice this month??".into()),
        "{d}"
    );
    let d = s
        .ok(
            "{ backlog(team: \"general\", olderThanDays: 1, first: 100) { edges { node { openedAt status } } } }",
            json!({}),
        )
        .await;
    let aged = d["backlog"]["edges"].as_array().unwrap();
    assert!(!aged.is_empty(), "{d}");
    let day_ago = Timestamp::now().plus_secs(-DAY);
    for e in aged {
        let at = Timestamp::parse_rfc3339(e["node"]["openedAt"].as_str().unwrap()).unwrap();
        assert!(at <= day_ago, "{e}");
        assert_eq!(e["node"]["status"], "OPEN");
    }

    // The outage: the responder who joined is the rotation's on call at that time.
    let d = s
        .ok(
            "{ cases(filter: { text: \"Checkout is down\" }) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let id = d["cases"]["edges"][0]["node"]["id"].clone();
    let rotation = s
        .ok(
            "{ configuration { rapidRotation { responders shiftHours } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        rotation["configuration"]["rapidRotation"],
        json!({ "responders": ["emeka", "gustav"], "shiftHours": 24 })
    );
    let h = s
        .ok(
            "query($id: ID!) { caseHistory(caseId: $id) { type payload occurredAt } }",
            json!({ "id": id }),
        )
        .await;
    let history = h["caseHistory"].as_array().unwrap().clone();
    let chat = history
        .iter()
        .find(|e| {
            e["payload"]["body"]
                .as_str()
                .is_some_and(|b| b.contains("rapid responder on call"))
        })
        .expect("the lead names the rapid responder");
    let joined: Vec<&Value> = history
        .iter()
        .filter(|e| e["type"] == "SwarmJoined")
        .collect();
    let last = joined.last().unwrap();
    let responder = last["payload"]["agent"].as_str().unwrap();
    assert!(chat["payload"]["body"]
        .as_str()
        .unwrap()
        .starts_with(responder));
    let at = Timestamp::parse_rfc3339(last["occurredAt"].as_str().unwrap()).unwrap();
    // Daily shifts from Monday 1970-01-05 00:00 UTC: even days emeka's, odd gustav's.
    let shift = (at.0 - 4 * DAY * 1_000_000).div_euclid(DAY * 1_000_000);
    let on_call = ["emeka", "gustav"][shift.rem_euclid(2) as usize];
    assert_eq!(responder, on_call, "{last}");
    s.stop().await;
}
