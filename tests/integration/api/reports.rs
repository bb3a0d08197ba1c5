//! Reports end to end: a period reads exactly as the log said then (later events
//! ignored), who may ask for which tiers, and the command line's JSON and CSV forms
//! hold the GraphQL form's figures.

use super::*;
use std::sync::Arc;
use swarmdesk::clock::ManualClock;
use swarmdesk::domain::Timestamp;

/// Monday 2026-01-05 09:00 UTC.
const T0: Timestamp = Timestamp(1_767_603_600_000_000);

const REPORT: &str = "query($from: DateTime!, $to: DateTime!, $tiers: [String!]) { report(from: $from, to: $to, tiers: $tiers) { cases volume { opened resolved reopened closed backlogStart backlogEnd } tierShares { tier resolved share target } firstContactResolution escalation { escalations { from to count } paths { path cases } } swarming { swarmed { cases medianSecs } escalated { cases medianSecs } neither { cases medianSecs } } } }";

fn rfc(t: Timestamp) -> String {
    t.to_rfc3339()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_past_period_ignores_later_events_and_the_cli_agrees() {
    let clock = ManualClock::new(T0);
    let c = clock.clone();
    let s = TestServer::start_in(tempfile::tempdir().unwrap(), move |o| {
        o.clock = Arc::new(c);
    })
    .await;
    // Two cases opened at T0; one escalated at +10 min and resolved at +20 min, the
    // other resolved at +2 h (after the first period ends).
    let a = s.open_case("Invoice total is wrong", "NORMAL").await;
    let b = s
        .open_case("Password reset mail never arrives", "NORMAL")
        .await;
    let tier_of = |v: &Value| v["case"]["tier"].as_str().unwrap().to_string();
    let a_tier = tier_of(
        &s.ok(
            "query($id: ID!) { case(id: $id) { tier } }",
            json!({ "id": a }),
        )
        .await,
    );
    clock.advance_secs(600);
    let up = s
        .ok(
            "mutation($id: ID!) { escalateCase(caseId: $id, reason: \"needs L3\") { tier } }",
            json!({ "id": a }),
        )
        .await;
    let a_up = up["escalateCase"]["tier"].as_str().unwrap().to_string();
    clock.advance_secs(600);
    s.ok(
        "mutation($id: ID!) { resolveCase(caseId: $id, resolution: \"fixed\") { status } }",
        json!({ "id": a }),
    )
    .await;
    clock.advance_secs(6000);
    s.ok(
        "mutation($id: ID!) { resolveCase(caseId: $id, resolution: \"fixed\") { status } }",
        json!({ "id": b }),
    )
    .await;

    let first_hour = json!({ "from": rfc(T0.plus_secs(-60)), "to": rfc(T0.plus_secs(3600)) });
    let r = s.ok(REPORT, first_hour.clone()).await["report"].clone();
    assert_eq!(r["cases"], 2, "{r}");
    assert_eq!(
        r["volume"],
        json!({ "opened": 2, "resolved": 1, "reopened": 0, "closed": 0, "backlogStart": 0, "backlogEnd": 1 }),
        "b's resolution after the period is not in it: {r}"
    );
    let share = r["tierShares"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tier"] == a_up.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        (share["resolved"].as_u64(), share["share"].as_f64()),
        (Some(1), Some(1.0)),
        "{r}"
    );
    assert_eq!(
        r["escalation"]["paths"],
        json!([{ "path": format!("{a_tier} -> {a_up}"), "cases": 1 }]),
        "{r}"
    );
    assert_eq!(
        r["swarming"]["escalated"],
        json!({ "cases": 1, "medianSecs": 1200 })
    );
    assert_eq!(r["firstContactResolution"], 0.0);

    let day = json!({ "from": rfc(T0.plus_secs(-60)), "to": rfc(T0.plus_secs(86_400)) });
    let r = s.ok(REPORT, day).await["report"].clone();
    assert_eq!(r["volume"]["resolved"], 2, "{r}");
    assert_eq!(r["volume"]["backlogEnd"], 0, "{r}");
    assert_eq!(
        r["swarming"]["neither"],
        json!({ "cases": 1, "medianSecs": 7200 })
    );

    // Who may ask: agents and customers not at all; a lead for their tiers and below.
    for token in ["alice-token", "sam-token"] {
        let e = s.gql_as(token, REPORT, first_hour.clone()).await;
        assert_eq!(e["errors"][0]["extensions"]["code"], "FORBIDDEN", "{e}");
    }
    let mut above = first_hour.clone();
    above["tiers"] = json!(["L3"]);
    let e = s.gql_as("dana-token", REPORT, above).await;
    assert_eq!(e["errors"][0]["extensions"]["code"], "FORBIDDEN", "{e}");
    let lead = s.ok_as("dana-token", REPORT, first_hour.clone()).await;
    assert!(lead["report"]["cases"].as_u64().unwrap() <= 2);
    let auditor = s.ok_as("audrey-token", REPORT, first_hour.clone()).await;
    assert_eq!(
        auditor["report"]["volume"],
        s.ok(REPORT, first_hour.clone()).await["report"]["volume"]
    );

    // The command line, on the stopped server's data directory.
    let graphql = s
        .ok(
            "query($from: DateTime!, $to: DateTime!) { report(from: $from, to: $to) { cases volume { opened resolved reopened closed backlogStart backlogEnd } firstContactResolution } }",
            first_hour.clone(),
        )
        .await["report"]
        .clone();
    let dir = s.stop().await;
    let cli = |format: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_swarmdesk"))
            .args([
                "--data",
                dir.path().to_str().unwrap(),
                "report",
                "--format",
                format,
            ])
            .args(["--from", first_hour["from"].as_str().unwrap()])
            .args(["--to", first_hour["to"].as_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let json: Value = serde_json::from_str(&cli("json")).unwrap();
    assert_eq!(json["cases"], graphql["cases"]);
    assert_eq!(json["volume"], graphql["volume"]);
    assert_eq!(
        json["firstContactResolution"],
        graphql["firstContactResolution"]
    );
    let csv = cli("csv");
    assert!(
        csv.contains("volume,,opened,2\n") && csv.contains("volume,,resolved,1\n"),
        "{csv}"
    );
    let table = cli("table");
    assert!(table.contains("Volume: opened 2  resolved 1"), "{table}");
}

const WALLBOARD: &str =
    "subscription { wallboard { at position activeSwarms tiers { tier open breached oldestCaseId } } }";

fn open_in(board: &Value, tier: &str) -> u64 {
    board["wallboard"]["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tier"] == tier)
        .map_or(0, |t| t["open"].as_u64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wallboard_follows_the_desk_at_most_once_a_second() {
    let s = TestServer::start().await;
    let mut ws = s.ws("graphql-transport-ws", ADMIN).await;
    ws.subscribe("w", WALLBOARD, json!({})).await;
    let first = ws.next_data().await;
    let id = s.open_case("Wallboard case", "HIGH").await;
    let tier = s
        .ok(
            "query($id: ID!) { case(id: $id) { tier } }",
            json!({ "id": id }),
        )
        .await["case"]["tier"]
        .as_str()
        .unwrap()
        .to_string();
    let second = ws.next_data().await;
    assert_eq!(
        open_in(&second, &tier),
        open_in(&first, &tier) + 1,
        "{second}"
    );
    // A burst of cases: boards keep at least a second apart and end at the total.
    for n in 0..5 {
        s.open_case(&format!("burst {n}"), "NORMAL").await;
    }
    let head = s.head();
    let mut boards = vec![second];
    while boards.last().unwrap()["wallboard"]["position"]
        .as_u64()
        .unwrap()
        < head
    {
        boards.push(ws.next_data().await);
    }
    let micros = |b: &Value| {
        swarmdesk::domain::Timestamp::parse_rfc3339(b["wallboard"]["at"].as_str().unwrap())
            .unwrap()
            .unix_micros()
    };
    for pair in boards.windows(2) {
        assert!(micros(&pair[1]) - micros(&pair[0]) >= 1_000_000, "{pair:?}");
    }
    assert!(
        boards.len() <= 4,
        "the burst was not coalesced: {} boards",
        boards.len()
    );
    // Customers get no wallboard.
    let mut customer = s.ws("graphql-transport-ws", "sam-token").await;
    customer.subscribe("c", WALLBOARD, json!({})).await;
    let refused = customer.next_json().await;
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
}
