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
