//! `/metrics` end to end: operations, writes, subscriptions and SLA sweeps move the
//! numbers they should, read from the exposition text; the event totals come from
//! the log, so they are the same after a restart.

use super::*;
use std::sync::Arc;
use swarmdesk::clock::ManualClock;
use swarmdesk::domain::Timestamp;

/// Monday 2026-01-05 09:00 UTC.
const MONDAY_9: Timestamp = Timestamp(1_767_603_600_000_000);

const POLICY: &str = r#"mutation {
  setCalendar(input: { id: "office", hours: [{ weekday: MONDAY, start: "09:00", end: "17:00" }] }) { id }
  setSlaPolicy(input: { id: "urgent", priorities: [URGENT], firstResponseMinutes: 60, calendar: "office" }) { id }
}"#;

async fn start_at(dir: tempfile::TempDir, clock: &ManualClock) -> TestServer {
    let c = clock.clone();
    TestServer::start_in(dir, move |o| {
        o.clock = Arc::new(c);
        o.sla_interval = Duration::from_secs(3600);
    })
    .await
}

/// The exposition's samples: `name{labels}` -> value.
struct Scrape(String);

impl Scrape {
    async fn of(s: &TestServer) -> Self {
        Scrape(s.get_text("/metrics").await)
    }

    /// The sample `series` (name and labels exactly as exposed); 0 if it is absent.
    fn get(&self, series: &str) -> f64 {
        self.0
            .lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .map(|v| v.trim().parse().unwrap_or_else(|_| panic!("{series}: {v}")))
            .unwrap_or(0.0)
    }

    fn ops(&self, kind: &str) -> f64 {
        self.get(&format!(
            "swarmdesk_graphql_operation_duration_seconds_count{{operation=\"{kind}\"}}"
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_follow_operations_writes_subscriptions_and_the_log() {
    let clock = ManualClock::new(MONDAY_9);
    let s = start_at(tempfile::tempdir().unwrap(), &clock).await;
    s.ok(POLICY, json!({})).await;
    let before = Scrape::of(&s).await;

    // Three queries, one document that does not parse, three mutations.
    for _ in 0..3 {
        s.ok("{ __typename }", json!({})).await;
    }
    let bad = s.gql("{ cases(", json!({})).await;
    assert!(bad.get("errors").is_some(), "{bad}");
    let id = s.open_case("Card charged twice", "URGENT").await;
    let v = json!({ "id": id });
    s.ok(
        r#"mutation($id: ID!) { escalateCase(caseId: $id, reason: "billing") { version } }"#,
        v.clone(),
    )
    .await;
    s.ok(
        "mutation($id: ID!) { startSwarm(caseId: $id) { version } }",
        v.clone(),
    )
    .await;

    // A subscription is counted while it runs.
    let mut ws = s.ws("graphql-transport-ws", "dana-token").await;
    ws.subscribe(
        "q",
        r#"subscription { tierQueue(tier: "L2") { change } }"#,
        json!({}),
    )
    .await;
    assert_eq!(ws.next_data().await["tierQueue"]["change"], "SNAPSHOT");
    let during = Scrape::of(&s).await;
    assert_eq!(during.get("swarmdesk_graphql_subscriptions"), 1.0);
    assert_eq!(during.ops("subscription") - before.ops("subscription"), 1.0);
    assert_eq!(during.ops("query") - before.ops("query"), 3.0);
    assert_eq!(during.ops("mutation") - before.ops("mutation"), 3.0);
    assert_eq!(during.ops("invalid") - before.ops("invalid"), 1.0);
    // The operation's text never becomes a label.
    assert!(!during.0.contains("__typename"), "{}", during.0);

    // Every event this process wrote went through a group commit: their sizes add up
    // to the head, and every append was timed.
    let head = during.get("swarmdesk_log_head_position");
    assert!(head > before.get("swarmdesk_log_head_position"));
    assert_eq!(during.get("swarmdesk_store_commit_events_sum"), head);
    let appends = "swarmdesk_store_append_duration_seconds_count";
    assert!(
        during.get(appends) - before.get(appends) >= 3.0,
        "one append per write at least: {}",
        during.0
    );
    assert_eq!(during.get("swarmdesk_projection_position"), head);
    assert_eq!(during.get("swarmdesk_projection_lag_events"), 0.0);

    // Totals counted from the log as the projections apply it.
    assert_eq!(
        during.get(r#"swarmdesk_escalations_total{from="L1",to="L2"}"#),
        1.0
    );
    assert_eq!(during.get("swarmdesk_swarms_started_total"), 1.0);
    assert_eq!(
        during.get(r#"swarmdesk_sla_breaches_total{kind="first_response"}"#),
        0.0
    );

    // Completing the subscription takes it out of the gauge.
    ws.send(json!({ "id": "q", "type": "complete" })).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while Scrape::of(&s).await.get("swarmdesk_graphql_subscriptions") != 0.0 {
        assert!(tokio::time::Instant::now() < deadline, "gauge never fell");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // An hour and a half later the first response is overdue: one breach.
    clock.set(MONDAY_9.plus_secs(90 * 60));
    s.running.as_ref().unwrap().sweep_sla().await.unwrap();
    let after = Scrape::of(&s).await;
    let breaches = r#"swarmdesk_sla_breaches_total{kind="first_response"}"#;
    assert_eq!(after.get(breaches), 1.0, "{}", after.0);
    assert_eq!(
        after.get(r#"swarmdesk_sla_events_total{kind="breach"}"#),
        1.0
    );

    // After a restart the log's totals are the same; the process's own counts start over.
    drop(ws);
    let dir = s.stop().await;
    let s = start_at(dir, &clock).await;
    let restarted = Scrape::of(&s).await;
    assert_eq!(restarted.get(breaches), 1.0, "{}", restarted.0);
    assert_eq!(
        restarted.get(r#"swarmdesk_escalations_total{from="L1",to="L2"}"#),
        1.0
    );
    assert_eq!(restarted.get("swarmdesk_swarms_started_total"), 1.0);
    assert_eq!(
        restarted.get(r#"swarmdesk_sla_events_total{kind="breach"}"#),
        0.0
    );
    assert_eq!(restarted.get("swarmdesk_store_commit_events_sum"), 0.0);
    s.stop().await;
}
