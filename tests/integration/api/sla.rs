//! SLA policies end to end: configured through GraphQL, deadlines projected from the
//! case's events, breaches and escalation steps appended by the scheduler exactly
//! once (also across restarts and for deadlines that passed while the server was
//! down), with a manual clock instead of sleeping.

use super::*;
use std::sync::Arc;
use swarmdesk::clock::ManualClock;
use swarmdesk::domain::Timestamp;

/// Monday 2026-01-05 09:00 UTC.
const MONDAY_9: Timestamp = Timestamp(1_767_603_600_000_000);

async fn start_at(dir: tempfile::TempDir, clock: &ManualClock) -> TestServer {
    let c = clock.clone();
    TestServer::start_in(dir, move |o| {
        o.clock = Arc::new(c);
        // Only explicit wake-ups (and the sweep at start) in these tests.
        o.sla_interval = Duration::from_secs(3600);
    })
    .await
}

const POLICY: &str = r#"mutation {
  setCalendar(input: { id: "office", hours: [
    { weekday: MONDAY, start: "09:00", end: "17:00" },
    { weekday: TUESDAY, start: "09:00", end: "17:00" } ] }) { id }
  setSlaPolicy(input: {
    id: "urgent", priorities: [URGENT], firstResponseMinutes: 60, resolutionMinutes: 600,
    calendar: "office",
    escalation: [{ afterMinutes: 30, clock: FIRST_RESPONSE, raisePriority: false, notifyLead: true },
                 { afterMinutes: 90, clock: FIRST_RESPONSE, escalateTier: true }]
  }) { id }
}"#;

const SLA: &str = "query($id: ID!) { case(id: $id) { version tier sla { policyId firstResponseDue resolutionDue breached nextDeadline } awaitingCustomerSince } }";

async fn history_types(s: &TestServer, id: &str) -> Vec<String> {
    s.history(&json!(id))
        .await
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

fn count(types: &[String], t: &str) -> usize {
    types.iter().filter(|x| *x == t).count()
}

/// Runs SLA sweeps (each awaited to its end) until the case reaches `version`; a
/// step may fall due only once the previous one is recorded, so a few may be needed.
async fn sweep_until(s: &TestServer, id: &str, version: u64) -> Value {
    let mut c = Value::Null;
    for _ in 0..5 {
        s.running.as_ref().unwrap().sweep_sla().await.unwrap();
        c = s.ok(SLA, json!({ "id": id })).await;
        if c["case"]["version"].as_u64().unwrap() >= version {
            return c;
        }
    }
    panic!("no SLA event after five sweeps: {c}");
}

/// Runs one SLA sweep to its end and returns how many SLA events it appended.
async fn sweep(s: &TestServer) -> usize {
    s.running.as_ref().unwrap().sweep_sla().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_breach_is_appended_once_after_the_deadline_in_business_time() {
    let clock = ManualClock::new(MONDAY_9.plus_secs(7 * 3600 + 1800)); // Monday 16:30
    let s = start_at(tempfile::tempdir().unwrap(), &clock).await;
    s.ok(POLICY, json!({})).await;
    let id = s.open_case("Checkout is down", "URGENT").await;
    let c = s.ok(SLA, json!({ "id": id })).await;
    let sla = &c["case"]["sla"];
    assert_eq!(sla["policyId"], "urgent");
    // 30 working minutes on Monday, the other 30 on Tuesday from 09:00.
    assert_eq!(sla["firstResponseDue"], "2026-01-06T09:30:00Z");
    assert_eq!(c["case"]["version"], 3, "opened, routed, SLA applied");

    // Monday evening: the night does not count, nothing is due beyond the lead's notice.
    clock.set(MONDAY_9.plus_secs(12 * 3600));
    let c = sweep_until(&s, &id, 4).await;
    assert_eq!(c["case"]["sla"]["breached"], json!([]));
    assert_eq!(
        count(&history_types(&s, &id).await, "SlaEscalated"),
        1,
        "notify the lead after 30 working minutes"
    );

    // Tuesday 09:31: the first-response deadline has passed.
    clock.set(MONDAY_9.plus_secs(24 * 3600 + 31 * 60));
    let c = sweep_until(&s, &id, 5).await;
    assert_eq!(c["case"]["sla"]["breached"], json!(["FIRST_RESPONSE"]));
    // Sweeping again adds nothing.
    for _ in 0..3 {
        assert_eq!(sweep(&s).await, 0, "nothing more is due");
    }
    let types = history_types(&s, &id).await;
    assert_eq!(count(&types, "SlaBreached"), 1, "{types:?}");
    let metrics = s.get_text("/metrics").await;
    assert!(
        metrics.contains(r#"swarmdesk_sla_events_total{kind="breach"} 1"#)
            && metrics.contains(r#"swarmdesk_sla_events_total{kind="escalation"} 1"#),
        "{metrics}"
    );

    // Restart: the breach is not recorded again; the escalation step due at 90
    // working minutes (Tuesday 10:30) has not come yet.
    let dir = s.stop().await;
    let s = start_at(dir, &clock).await;
    s.running.as_ref().unwrap().sla_first_pass().await;
    assert_eq!(sweep(&s).await, 0, "nothing is due after the restart");
    let types = history_types(&s, &id).await;
    assert_eq!(count(&types, "SlaBreached"), 1, "{types:?}");
    assert_eq!(count(&types, "CaseEscalated"), 0, "{types:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deadlines_that_passed_while_down_are_recorded_at_start_and_escalate() {
    let clock = ManualClock::new(MONDAY_9);
    let s = start_at(tempfile::tempdir().unwrap(), &clock).await;
    s.ok(POLICY, json!({})).await;
    let id = s.open_case("Payments failing", "URGENT").await;
    let c = s.ok(SLA, json!({ "id": id })).await;
    assert_eq!(c["case"]["tier"], "L1");
    let dir = s.stop().await;

    // Down until Monday 12:00: both escalation steps and the breach are due.
    clock.set(MONDAY_9.plus_secs(3 * 3600));
    let s = start_at(dir, &clock).await;
    s.running.as_ref().unwrap().sla_first_pass().await;
    let types = history_types(&s, &id).await;
    assert_eq!(count(&types, "CaseEscalated"), 1, "{types:?}");
    assert_eq!(count(&types, "SlaBreached"), 1, "{types:?}");
    assert_eq!(count(&types, "SlaEscalated"), 2, "{types:?}");
    let c = s.ok(SLA, json!({ "id": id })).await;
    assert_eq!(c["case"]["tier"], "L2", "the second step escalated a tier");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn waiting_on_the_customer_pauses_the_clock_and_a_reply_meets_the_target() {
    let clock = ManualClock::new(MONDAY_9);
    let s = start_at(tempfile::tempdir().unwrap(), &clock).await;
    s.ok(POLICY, json!({})).await;
    let id = s.open_case("Cannot export", "URGENT").await;
    clock.set(MONDAY_9.plus_secs(10 * 60));
    let c = s
        .ok(
            "mutation($id: ID!) { awaitCustomer(caseId: $id, reason: \"need logs\") { awaitingCustomerSince sla { firstResponseDue } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        c["awaitCustomer"]["awaitingCustomerSince"],
        "2026-01-05T09:10:00Z"
    );
    assert!(c["awaitCustomer"]["sla"]["firstResponseDue"].is_null());

    // Two hours later nothing was breached: the clock was paused.
    clock.set(MONDAY_9.plus_secs(2 * 3600 + 10 * 60));
    assert_eq!(sweep(&s).await, 0, "a paused clock breaches nothing");
    let c = s
        .ok(
            "mutation($id: ID!) { resumeCase(caseId: $id) { sla { firstResponseDue breached } } }",
            json!({ "id": id }),
        )
        .await;
    // 10 minutes used before the pause, 50 left from 11:10.
    assert_eq!(
        c["resumeCase"]["sla"]["firstResponseDue"],
        "2026-01-05T12:00:00Z"
    );
    assert_eq!(c["resumeCase"]["sla"]["breached"], json!([]));

    let c = s
        .ok(
            "mutation($id: ID!) { postMessage(caseId: $id, kind: PUBLIC_REPLY, body: \"On it\") { firstResponseAt sla { firstResponseDue } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(c["postMessage"]["firstResponseAt"], "2026-01-05T11:10:00Z");
    assert!(c["postMessage"]["sla"]["firstResponseDue"].is_null(), "met");
    let types = history_types(&s, &id).await;
    assert_eq!(count(&types, "SlaBreached"), 0, "{types:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sla_configuration_is_validated_and_admin_only() {
    let s = TestServer::start().await;
    let head = s.head();
    let unknown_calendar = s
        .gql(
            r#"mutation { setSlaPolicy(input: { id: "p", firstResponseMinutes: 5, calendar: "nope" }) { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        unknown_calendar["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{unknown_calendar}"
    );
    let no_target = s
        .gql(
            r#"mutation { setSlaPolicy(input: { id: "p" }) { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        no_target["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    let bad_hours = s
        .gql(
            r#"mutation { setCalendar(input: { id: "c", hours: [{ weekday: MONDAY, start: "17:00", end: "09:00" }] }) { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        bad_hours["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    let lead = s
        .gql_as(
            "dana-token",
            r#"mutation { setSlaPolicy(input: { id: "p", firstResponseMinutes: 5 }) { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(lead["errors"][0]["extensions"]["code"], "FORBIDDEN");
    assert_eq!(s.head(), head, "refused changes write nothing");
    s.stop().await;
}

/// A lead subscribed to SLA alerts hears of the escalation step that notifies them and
/// of the breach, live; an agent of another tier hears nothing of that case.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leads_get_sla_alerts_live_for_the_cases_they_see() {
    let clock = ManualClock::new(MONDAY_9);
    let s = start_at(tempfile::tempdir().unwrap(), &clock).await;
    s.ok(POLICY, json!({})).await;
    // An urgent outage: the standard `incident` rule sends it to L2, dana's tier.
    let id = s.open_case("Checkout is down", "URGENT").await;
    // From the next position on, however late the subscriptions start.
    let alerts =
        "subscription($p: Position!) { slaAlerts(fromPosition: $p) { caseId type payload } }";
    let from = json!({ "p": s.head() + 1 });
    let mut dana = s.ws("graphql-transport-ws", "dana-token").await;
    dana.subscribe("a", alerts, from.clone()).await;
    let mut alice = s.ws("graphql-transport-ws", "alice-token").await;
    alice.subscribe("a", alerts, from).await;

    clock.set(MONDAY_9.plus_secs(61 * 60));
    sweep_until(&s, &id, 5).await;
    let first = dana.next_data().await["slaAlerts"].clone();
    assert_eq!(first["caseId"], id.as_str());
    assert_eq!(first["type"], "SlaBreached", "{first}");
    let second = dana.next_data().await["slaAlerts"].clone();
    assert_eq!(second["type"], "SlaEscalated", "{second}");
    assert_eq!(second["payload"]["notify_lead"], true);

    // alice (L1) saw none of it: the next thing she gets is an alert on an L1 case.
    let l1 = s.open_case("Payments slow", "URGENT").await;
    clock.set(MONDAY_9.plus_secs(3 * 3600));
    sweep_until(&s, &l1, 5).await;
    let seen = alice.next_data().await["slaAlerts"].clone();
    assert_eq!(seen["caseId"], l1.as_str(), "{seen}");

    // The open-connections gauge follows connections closing.
    let gauge = |m: String| {
        m.lines()
            .find_map(|l| l.strip_prefix("swarmdesk_websocket_connections "))
            .map(str::to_owned)
    };
    let scrape = || async { gauge(s.get_text("/metrics").await) };
    assert_eq!(scrape().await.as_deref(), Some("2"));
    drop(alice);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while scrape().await.as_deref() != Some("1") {
        assert!(tokio::time::Instant::now() < deadline, "gauge never fell");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    s.stop().await;
}
