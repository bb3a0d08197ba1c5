//! Several nodes on one PostgreSQL log: two `swarmdesk serve --store ...` processes
//! on one database. A mutation on one reaches a subscriber on the other within a
//! second, in order, exactly once; racing `expectedVersion` writes through both
//! have exactly one winner, and so do two assignments racing for an agent's last
//! slot; an SLA deadline or an invitation's expiry passing with two nodes up (in
//! process, on one manual clock, both sweeping at once) is recorded once. Skipped (and said so) without
//! `SWARMDESK_TEST_POSTGRES`.

use std::process::{Child, Command, Stdio};
use std::time::Instant;

use super::*;
use crate::store::conformance::harness::{fresh_database, postgres_url};

/// A server process; killed when dropped.
pub(super) struct Node {
    child: Child,
    pub(super) server: TestServer,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `serve --store url` and waits until it answers `/healthz`.
pub(super) async fn start_node(url: &str) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_swarmdesk"))
        .args(["serve", "--addr", &addr])
        .env("SWARMDESK_STORE", url)
        .env("SWARMDESK_DATA", dir.path())
        .env("SWARMDESK_BOOTSTRAP_TOKEN", ADMIN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let server = TestServer {
        running: None,
        url: format!("http://{addr}"),
        dir,
        http: reqwest::Client::new(),
    };
    let mut node = Node { child, server };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = node
            .server
            .http
            .get(format!("{}/healthz", node.server.url))
            .send()
            .await
        {
            if r.status().is_success() {
                return node;
            }
        }
        if let Ok(Some(status)) = node.child.try_wait() {
            panic!("the node exited at start: {status}");
        }
        assert!(Instant::now() < deadline, "the node did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `node`'s projections (and what follows the same feed: tokens and
/// configuration) have applied everything up to `position`.
pub(super) async fn caught_up(node: &Node, position: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let health: Value = serde_json::from_str(&node.server.get_text("/healthz").await).unwrap();
        if health["projectionPosition"].as_u64() >= Some(position) {
            return;
        }
        assert!(Instant::now() < deadline, "never caught up: {health}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub(super) async fn log_head(node: &Node) -> u64 {
    let health: Value = serde_json::from_str(&node.server.get_text("/healthz").await).unwrap();
    health["logHead"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_on_one_node_reaches_a_subscriber_on_the_other_within_a_second() {
    let Some(admin) = postgres_url() else { return };
    let url = fresh_database(&admin).await;
    let a = start_node(&url).await;
    let b = start_node(&url).await;
    let head = log_head(&a).await;
    assert!(head > 0, "the first node seeded the configuration");

    let mut ws = b.server.ws("graphql-transport-ws", ADMIN).await;
    ws.subscribe(
        "all",
        "subscription { events(fromPosition: 1) { position type caseId } }",
        json!({}),
    )
    .await;
    let mut next = 1;
    let receive = |next: &mut u64, e: &Value| {
        assert_eq!(
            e["position"].as_u64(),
            Some(*next),
            "every event once, in order: {e}"
        );
        *next += 1;
    };
    while next <= head {
        let d = ws.next_data().await;
        receive(&mut next, &d["events"]);
    }
    for i in 0..5 {
        let written = Instant::now();
        let id = a.server.open_case(&format!("node test {i}"), "HIGH").await;
        loop {
            let d = ws.next_data().await;
            receive(&mut next, &d["events"]);
            if d["events"]["caseId"] == id.as_str() && d["events"]["type"] == "CaseOpened" {
                break;
            }
        }
        let took = written.elapsed();
        assert!(
            took < Duration::from_secs(1),
            "case {i} reached the other node after {took:?}"
        );
    }
    // The rest of what the cases' commands wrote (their routing).
    let head = log_head(&a).await;
    while next <= head {
        let d = ws.next_data().await;
        receive(&mut next, &d["events"]);
    }
    // Nothing else, and no duplicate.
    let extra = ws
        .next_json_until(tokio::time::Instant::now() + Duration::from_millis(700))
        .await;
    assert!(extra.is_none(), "unexpected: {extra:?}");
    assert_eq!(log_head(&b).await, next - 1);
    // The other node's health names its store and says when its projections have
    // applied everything it knows of.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let health: Value = serde_json::from_str(&b.server.get_text("/healthz").await).unwrap();
        assert_eq!(health["store"], "postgres", "{health}");
        if health["projectionsCaughtUp"] == true {
            assert_eq!(
                health["projectionPosition"].as_u64(),
                Some(next - 1),
                "{health}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "never caught up: {health}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_expected_version_writes_on_two_nodes_have_one_winner() {
    let Some(admin) = postgres_url() else { return };
    let url = fresh_database(&admin).await;
    let a = start_node(&url).await;
    let b = start_node(&url).await;
    let id = a.server.open_case("race across nodes", "NORMAL").await;
    let post = "mutation($id: ID!, $body: String!, $v: Int) { postMessage(caseId: $id, kind: INTERNAL_NOTE, body: $body, expectedVersion: $v) { version } }";
    // Each node reads its own writes; the other's arrive a moment later, so the
    // version to race on is the one the last winner was told.
    let mut version = a
        .server
        .ok(
            "query($id: ID!) { case(id: $id) { version } }",
            json!({ "id": id }),
        )
        .await["case"]["version"]
        .as_i64()
        .unwrap();
    for round in 0..5 {
        let (ra, rb) = tokio::join!(
            a.server.gql(
                post,
                json!({ "id": id, "body": format!("a{round}"), "v": version })
            ),
            b.server.gql(
                post,
                json!({ "id": id, "body": format!("b{round}"), "v": version })
            ),
        );
        let won: Vec<&Value> = [&ra, &rb]
            .into_iter()
            .filter(|r| r.get("errors").is_none())
            .collect();
        assert_eq!(won.len(), 1, "round {round}: {ra} / {rb}");
        assert_eq!(
            won[0]["data"]["postMessage"]["version"].as_i64(),
            Some(version + 1)
        );
        version += 1;
        let lost = if ra.get("errors").is_some() { &ra } else { &rb };
        assert_eq!(
            lost["errors"][0]["extensions"]["code"], "VERSION_CONFLICT",
            "{lost}"
        );
    }
}

/// Two nodes on a fresh database of the server `admin` names, and the agent `zoe`
/// with room for one case (`maxCases: 1`), for the races for her last slot.
async fn two_nodes_and_zoe_with_one_slot(admin: &str) -> (Node, Node) {
    let url = fresh_database(admin).await;
    let a = start_node(&url).await;
    let b = start_node(&url).await;
    a.server
        .ok(
            r#"mutation { addAgent(input: { id: "zoe", tiers: ["L1"], maxCases: 1 }) { id } }"#,
            json!({}),
        )
        .await;
    (a, b)
}

/// How many `AgentAssigned` events the cases `ids` have in the log, read on `node`.
async fn assignments(node: &Node, ids: [Value; 2]) -> usize {
    let mut written = 0;
    for id in &ids {
        let h = node.server.history(id).await;
        written += h.iter().filter(|e| e["type"] == "AgentAssigned").count();
    }
    written
}

/// Unassigns the case `id`, freeing its agent's slot for the next round.
async fn unassign(node: &Node, id: &Value) {
    node.server
        .ok(
            "mutation($id: ID!) { unassignCase(caseId: $id) { assignee } }",
            json!({ "id": id }),
        )
        .await;
}

/// Two nodes assign two cases to an agent with one free slot at the same moment:
/// exactly one assignment is written, the other is refused as over capacity.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_racing_for_an_agents_last_slot_have_one_winner() {
    let Some(admin) = postgres_url() else { return };
    let (a, b) = two_nodes_and_zoe_with_one_slot(&admin).await;
    let assign = "mutation($id: ID!) { assignCase(caseId: $id, agent: \"zoe\") { assignee } }";
    for round in 0..4 {
        let x = a.server.open_case(&format!("x{round}"), "NORMAL").await;
        let y = a.server.open_case(&format!("y{round}"), "NORMAL").await;
        // Both nodes know both cases (and zoe's free slot) before they race.
        caught_up(&b, log_head(&a).await).await;
        let (rx, ry) = tokio::join!(
            a.server.gql(assign, json!({ "id": x })),
            b.server.gql(assign, json!({ "id": y })),
        );
        let won: Vec<(&String, &Value)> = [(&x, &rx), (&y, &ry)]
            .into_iter()
            .filter(|(_, r)| r.get("errors").is_none())
            .collect();
        assert_eq!(won.len(), 1, "round {round}: {rx} / {ry}");
        let lost = if rx.get("errors").is_some() { &rx } else { &ry };
        assert_eq!(
            lost["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{lost}"
        );
        assert!(
            lost["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("capacity"),
            "{lost}"
        );
        // The log agrees: one assignment.
        let ids = [json!(x), json!(y)];
        assert_eq!(assignments(&a, ids).await, 1, "round {round}");
        unassign(&a, &json!(won[0].0)).await;
    }
}

/// Two nodes open cases at once that a rule auto-assigns to the same agent, who has
/// one free slot: one case gets the agent, the other opens unassigned in its queue
/// (each node's routing picked the agent from its own projections).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_auto_assigning_an_agents_last_slot_assign_once() {
    let Some(admin) = postgres_url() else { return };
    let (a, b) = two_nodes_and_zoe_with_one_slot(&admin).await;
    a.server
        .ok(
            "mutation($r: RuleSetInput!) { setRules(rules: $r) { version } }",
            json!({ "r": { "rules": [{
                "id": "outages", "condition": { "keywords": { "words": ["outage"] } },
                "actions": { "tier": "L1", "autoAssign": true }
            }], "default": { "tier": "L1" } } }),
        )
        .await;
    let open = "mutation($i: OpenCaseInput!) { openCase(input: $i) { id assignee } }";
    let case = |n: u32| json!({ "i": { "subject": format!("Outage {n}"), "channel": "EMAIL", "customer": { "id": "c-1" } } });
    for round in 0..4u32 {
        // Both nodes know the rule and zoe's free slot before they race.
        caught_up(&b, log_head(&a).await).await;
        let (rx, ry) = tokio::join!(
            a.server.ok(open, case(2 * round)),
            b.server.ok(open, case(2 * round + 1)),
        );
        let assignees = [&rx, &ry].map(|r| r["openCase"]["assignee"].clone());
        let won: Vec<&Value> = [&rx, &ry]
            .into_iter()
            .filter(|r| r["openCase"]["assignee"] == "zoe")
            .collect();
        assert_eq!(won.len(), 1, "round {round}: {assignees:?}");
        assert!(
            assignees.contains(&Value::Null),
            "round {round}: the other case opens unassigned: {assignees:?}"
        );
        // The log agrees: one assignment (read on a once it has b's case).
        caught_up(&a, log_head(&b).await).await;
        let ids = [&rx, &ry].map(|r| r["openCase"]["id"].clone());
        assert_eq!(assignments(&a, ids).await, 1, "round {round}");
        unassign(&a, &won[0]["openCase"]["id"]).await;
    }
}

/// An in-process node on the database at `url`, on `clock`, sweeping SLAs only
/// when asked.
pub(super) async fn start_in_process(
    url: &str,
    clock: &swarmdesk::clock::ManualClock,
) -> TestServer {
    let (url, clock) = (url.to_string(), clock.clone());
    TestServer::start_in(tempfile::tempdir().unwrap(), move |o| {
        o.store = Some(url);
        o.clock = std::sync::Arc::new(clock);
        o.sla_interval = Duration::from_secs(3600);
    })
    .await
}

/// Waits (at most 10 s) until `node`'s projections hold the log up to `head`.
async fn projections_reach(node: &TestServer, head: u64) {
    let app = node.running.as_ref().unwrap().app.clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.projections().position() < head {
        assert!(Instant::now() < deadline, "the node did not catch up");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Both nodes sweep for due deadlines at once, four times over (a step falls due
/// only once the one before it is recorded), each round once both have caught up
/// with the other's writes. A sweep that lost a race may report it; the log decides
/// what happened.
async fn sweep_at_once(a: &TestServer, b: &TestServer) {
    for _ in 0..4 {
        let (ra, rb) = tokio::join!(
            a.running.as_ref().unwrap().sweep_sla(),
            b.running.as_ref().unwrap().sweep_sla()
        );
        let _ = (ra, rb);
        let head = a.head().max(b.head());
        projections_reach(a, head).await;
        projections_reach(b, head).await;
    }
}

/// Both nodes sweep for due SLA deadlines at once: the breach is recorded once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_sla_deadline_passing_with_two_nodes_up_is_breached_once() {
    let Some(admin) = postgres_url() else { return };
    let url = fresh_database(&admin).await;
    // Monday 2026-01-05 09:00 UTC.
    let start = swarmdesk::domain::Timestamp(1_767_603_600_000_000);
    let clock = swarmdesk::clock::ManualClock::new(start);
    let a = start_in_process(&url, &clock).await;
    let b = start_in_process(&url, &clock).await;
    a.ok(
        r#"mutation { setSlaPolicy(input: { id: "urgent", priorities: [URGENT],
           firstResponseMinutes: 60, resolutionMinutes: 600, calendar: "24x7",
           escalation: [{ afterMinutes: 30, clock: FIRST_RESPONSE, notifyLead: true },
                        { afterMinutes: 45, clock: FIRST_RESPONSE, escalateTier: true }] }) { id } }"#,
        json!({}),
    )
    .await;
    let mut cases = Vec::new();
    for i in 0..3 {
        cases.push(a.open_case(&format!("outage {i}"), "URGENT").await);
    }
    projections_reach(&b, a.head()).await;
    clock.set(start.plus_secs(61 * 60));
    sweep_at_once(&a, &b).await;
    for id in &cases {
        let types: Vec<String> = a
            .history(&json!(id))
            .await
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            types.iter().filter(|t| *t == "SlaBreached").count(),
            1,
            "case {id}: {types:?}"
        );
        assert_eq!(
            types.iter().filter(|t| *t == "SlaEscalated").count(),
            2,
            "case {id}: each escalation step once: {types:?}"
        );
        assert_eq!(
            types.iter().filter(|t| *t == "CaseEscalated").count(),
            1,
            "case {id}: escalated one tier, once: {types:?}"
        );
    }
}

/// An invitation's deadline passes with both nodes up and both sweeping at once: it
/// expires once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_invitation_expiring_with_two_nodes_up_expires_once() {
    let Some(admin) = postgres_url() else { return };
    let url = fresh_database(&admin).await;
    // Monday 2026-01-05 09:00 UTC.
    let start = swarmdesk::domain::Timestamp(1_767_603_600_000_000);
    let clock = swarmdesk::clock::ManualClock::new(start);
    let a = start_in_process(&url, &clock).await;
    let b = start_in_process(&url, &clock).await;
    let add = "mutation($a: AgentInput!) { addAgent(input: $a) { id } }";
    for agent in [
        json!({ "id": "dana", "tiers": ["L2"], "maxCases": 5 }),
        json!({ "id": "farah", "tiers": ["L3"], "skills": ["saml"], "maxCases": 5 }),
        json!({ "id": "gustav", "tiers": ["L3"], "skills": ["saml"], "maxCases": 5 }),
    ] {
        a.ok(add, json!({ "a": agent })).await;
    }
    let mut cases = Vec::new();
    for i in 0..3 {
        let id = a.open_case(&format!("SSO loops {i}"), "HIGH").await;
        let v = json!({ "id": id });
        a.ok(
            "mutation($id: ID!) { routeCase(caseId: $id, tier: \"L2\") { id } }",
            v.clone(),
        )
        .await;
        a.ok(
            "mutation($id: ID!) { assignCase(caseId: $id, agent: \"dana\") { id } }",
            v.clone(),
        )
        .await;
        a.ok_as(
            "dana-token",
            "mutation($id: ID!) { inviteToSwarm(caseId: $id, agents: [\"farah\", \"gustav\"], expiresInMinutes: 10) { id } }",
            v,
        )
        .await;
        cases.push(id);
    }
    projections_reach(&b, a.head()).await;
    clock.set(start.plus_secs(11 * 60));
    sweep_at_once(&a, &b).await;
    for id in &cases {
        let expired: Vec<String> = a
            .history(&json!(id))
            .await
            .iter()
            .filter(|e| e["type"] == "InvitationExpired")
            .map(|e| e["payload"]["agent"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            expired,
            ["farah", "gustav"],
            "case {id}: each invitation once"
        );
    }
}
