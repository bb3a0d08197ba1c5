//! `SEVERITY_1` swarms end to end, on a manual clock: the roles they need are
//! reported until held, and the scheduler records one `StatusUpdateDue` per missed
//! status-update interval (a public reply to the customer restarts the clock).

use super::*;
use std::sync::Arc;
use swarmdesk::clock::ManualClock;
use swarmdesk::domain::Timestamp;

/// Monday 2026-01-05 09:00 UTC.
const T0: Timestamp = Timestamp(1_767_603_600_000_000);

const SWARMING: &str = "query($id: ID!) { caseSwarming(caseId: $id) { swarmType missingRoles statusUpdateDue roles { agent role } } }";

async fn run(s: &TestServer, token: &str, id: &str, doc: &str) {
    s.ok_as(
        token,
        &format!("mutation($id: ID!) {{ {doc} {{ id }} }}"),
        json!({ "id": id }),
    )
    .await;
}

/// The `due` of every `StatusUpdateDue` in the case's history, oldest first.
async fn reminders(s: &TestServer, id: &str) -> Vec<String> {
    s.history(&json!(id))
        .await
        .iter()
        .filter(|e| e["type"] == "StatusUpdateDue")
        .map(|e| e["payload"]["due"].as_str().unwrap().to_string())
        .collect()
}

async fn sweep(s: &TestServer) {
    s.running.as_ref().unwrap().sweep_sla().await.unwrap();
}

fn time(t: Timestamp) -> String {
    t.to_rfc3339()
}

#[tokio::test]
async fn a_severity_1_swarm_reports_missing_roles_and_is_reminded_once_per_missed_update() {
    let clock = ManualClock::new(T0);
    let c = clock.clone();
    let s = TestServer::start_in(tempfile::tempdir().unwrap(), move |o| {
        o.clock = Arc::new(c);
        o.sla_interval = Duration::from_secs(3600);
        o.status_update_interval = Duration::from_secs(30 * 60);
    })
    .await;
    let id = s
        .open_case("Checkout is down for every customer", "NORMAL")
        .await;
    run(&s, ADMIN, &id, r#"routeCase(caseId: $id, tier: "L1")"#).await;
    run(&s, ADMIN, &id, r#"assignCase(caseId: $id, agent: "alice")"#).await;
    run(
        &s,
        "alice-token",
        &id,
        r#"startSwarm(caseId: $id, reason: "outage")"#,
    )
    .await;
    run(&s, ADMIN, &id, r#"joinSwarm(caseId: $id, agent: "bob")"#).await;
    clock.set(T0.plus_secs(60));
    run(
        &s,
        "alice-token",
        &id,
        r#"setSwarmType(caseId: $id, swarmType: SEVERITY_1, reason: "outage")"#,
    )
    .await;

    let v = json!({ "id": id });
    let d = s.ok_as("alice-token", SWARMING, v.clone()).await;
    assert_eq!(d["caseSwarming"]["swarmType"], "SEVERITY_1");
    assert_eq!(d["caseSwarming"]["missingRoles"], json!(["COMMUNICATIONS"]));
    assert_eq!(
        d["caseSwarming"]["statusUpdateDue"],
        time(T0.plus_secs(60 + 1800)).as_str()
    );
    run(
        &s,
        "alice-token",
        &id,
        r#"setSwarmRole(caseId: $id, agent: "bob", role: COMMUNICATIONS)"#,
    )
    .await;
    let d = s.ok_as("alice-token", SWARMING, v.clone()).await;
    assert_eq!(d["caseSwarming"]["missingRoles"], json!([]));

    // Not yet due.
    clock.set(T0.plus_secs(60 + 1799));
    sweep(&s).await;
    assert!(reminders(&s, &id).await.is_empty());
    // Due: recorded once, however many sweeps run.
    clock.set(T0.plus_secs(60 + 1800 + 5));
    sweep(&s).await;
    sweep(&s).await;
    assert_eq!(reminders(&s, &id).await, [time(T0.plus_secs(60 + 1800))]);
    // A public reply restarts the clock: nothing until 30 minutes after it.
    clock.set(T0.plus_secs(2400));
    run(&s, "bob-token", &id, r#"postMessage(caseId: $id, kind: PUBLIC_REPLY, body: "We are on it; next update in 30 minutes.")"#).await;
    clock.set(T0.plus_secs(2400 + 1799));
    sweep(&s).await;
    assert_eq!(reminders(&s, &id).await.len(), 1);
    clock.set(T0.plus_secs(2400 + 1800));
    sweep(&s).await;
    sweep(&s).await;
    assert_eq!(
        reminders(&s, &id).await,
        [
            time(T0.plus_secs(60 + 1800)),
            time(T0.plus_secs(2400 + 1800))
        ]
    );
    // Back to a CASE swarm: no cadence any more.
    let r = s
        .gql_as(
            ADMIN,
            "mutation($id: ID!) { setSwarmType(caseId: $id, swarmType: CASE, reason: \"contained\") { id } }",
            v.clone(),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    clock.set(T0.plus_secs(20_000));
    sweep(&s).await;
    assert_eq!(
        reminders(&s, &id).await.len(),
        2,
        "a CASE swarm has no cadence"
    );
    s.stop().await;
}
