//! Read-side attacks of issue 10, each as a test: what-if routing over cases the
//! caller may not see, workload listing hidden cases, the customer's view of a case
//! and its events (an allow-list), auditors' reads that went unrecorded, and
//! subscriptions that outlived a token's expiry or a directory change.

use super::*;
use std::collections::HashSet;
use std::sync::Arc;
use swarmdesk::clock::ManualClock;
use swarmdesk::domain::Timestamp;

/// Monday 2026-01-05 09:00 UTC.
const MONDAY_9: Timestamp = Timestamp(1_767_603_600_000_000);

async fn start_at(clock: &ManualClock) -> TestServer {
    let c = clock.clone();
    TestServer::start_in(tempfile::tempdir().unwrap(), move |o| {
        o.clock = Arc::new(c);
        // Only explicit wake-ups (and the sweep at start).
        o.sla_interval = Duration::from_secs(3600);
    })
    .await
}

/// A new token for `user`, as the admin issues it.
async fn token(s: &TestServer, user: &str, role: &str, tiers: &[&str], expires: Value) -> String {
    let q = "mutation($u: String!, $r: Role!, $t: [String!]!, $e: DateTime) { createToken(user: $u, role: $r, tiers: $t, expiresAt: $e) { token } }";
    let d = s
        .ok(q, json!({ "u": user, "r": role, "t": tiers, "e": expires }))
        .await;
    d["createToken"]["token"].as_str().unwrap().to_string()
}

/// Opens a case as the admin and returns `{ id tier sensitive }`.
async fn open(s: &TestServer, subject: &str, body: &str, channel: &str) -> Value {
    let q = "mutation($s: String!, $b: String!, $c: Channel!) { openCase(input: {subject: $s, body: $b, channel: $c, customer: {id: \"acme\"}}) { id tier sensitive } }";
    s.ok(q, json!({ "s": subject, "b": body, "c": channel }))
        .await["openCase"]
        .clone()
}

async fn note(s: &TestServer, id: &Value, body: &str) {
    s.ok(
        "mutation($id: ID!, $b: String!) { postMessage(caseId: $id, kind: INTERNAL_NOTE, body: $b) { version } }",
        json!({ "id": id, "b": body }),
    )
    .await;
}

// ------------------------------------------------------------ 1. simulateRules

const SIMULATE: &str = "query($r: RuleSetInput!) { simulateRules(rules: $r, from: \"2000-01-01T00:00:00Z\", to: \"2100-01-01T00:00:00Z\") { cases hiddenCases changed byTier { name before after } byTeam { name before after } changes { caseId subject } } }";

fn regex_rules(pattern: &str) -> Value {
    json!({
        "default": { "tier": "L1", "team": "general" },
        "rules": [{
            "id": "probe",
            "condition": { "regex": { "pattern": pattern } },
            "actions": { "tier": "L3" }
        }]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simulate_rules_is_no_oracle_over_cases_the_lead_may_not_read() {
    let s = TestServer::start().await;
    let public = open(&s, "Where is my parcel?", "It has been a week.", "EMAIL").await;
    assert_eq!(public["tier"], "L1");
    let private = open(
        &s,
        "Refund please",
        "I was charged twice; my codeword is zanzibar",
        "SOCIAL_DM",
    )
    .await;
    assert_eq!(private["tier"], "L2");
    assert_eq!(private["sensitive"], true);
    // A lead whose tiers stop at L1.
    let lena = token(&s, "lena", "LEAD", &["L1"], Value::Null).await;
    let probe = s
        .ok_as(&lena, SIMULATE, json!({ "r": regex_rules("(?i)zanzibar") }))
        .await;
    let blank = s
        .ok_as(
            &lena,
            SIMULATE,
            json!({ "r": regex_rules("never-in-any-case") }),
        )
        .await;
    let r = &probe["simulateRules"];
    assert_eq!(r["cases"], 1, "only the case she may read is replayed: {r}");
    assert_eq!(r["hiddenCases"], 1, "{r}");
    assert_eq!(r["changed"], 0, "{r}");
    // Whether the secret word is in the hidden body or in no body at all, she
    // learns exactly the same.
    assert_eq!(probe, blank);
    let text = probe.to_string();
    let hidden_id = private["id"].as_str().unwrap();
    assert!(
        !text.contains(hidden_id) && !text.contains("Refund"),
        "{text}"
    );
    for list in ["byTier", "byTeam"] {
        let total: u64 = r[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["before"].as_u64().unwrap())
            .sum();
        assert_eq!(total, 1, "{list} counts no hidden case: {r}");
    }
    // The admin sees both, and the regex's effect on the private one.
    let admin = s
        .ok(SIMULATE, json!({ "r": regex_rules("(?i)zanzibar") }))
        .await;
    let a = &admin["simulateRules"];
    assert_eq!(
        (&a["cases"], &a["hiddenCases"], &a["changed"]),
        (&json!(2), &json!(0), &json!(1))
    );
    assert_eq!(a["changes"][0]["caseId"], private["id"]);
    s.stop().await;
}

// ------------------------------------------------------------ 2. workload

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workload_lists_only_cases_the_caller_may_see() {
    let s = TestServer::start().await;
    let private = open(&s, "Refund please", "charged twice", "SOCIAL_DM").await;
    let id = &private["id"];
    s.ok(
        "mutation($id: ID!) { escalateCase(caseId: $id, reason: \"specialist\") { tier } }",
        json!({ "id": id }),
    )
    .await;
    let public = open(&s, "Where is my parcel?", "", "EMAIL").await;
    let assign = "mutation($id: ID!) { assignCase(caseId: $id, agent: \"farah\") { assignee } }";
    s.ok(assign, json!({ "id": id })).await;
    s.ok(assign, json!({ "id": public["id"] })).await;
    let w = "{ workload(agent: \"farah\") { assigned swarms } }";
    let admin = s.ok(w, json!({})).await;
    assert_eq!(admin["workload"]["assigned"].as_array().unwrap().len(), 2);
    // Dana leads L2: the private L3 case is not hers to see, the L1 case is.
    let dana = s.ok_as("dana-token", w, json!({})).await;
    assert_eq!(
        dana["workload"]["assigned"],
        json!([public["id"]]),
        "{dana}"
    );
    s.stop().await;
}

// ------------------------------------------------------------ 3. the customer's view

/// Every field of `Case`, and what a customer may see of it.
const CASE_ALL: &str = "id version status subject body channel customer { id name segment keyAccount } language priority requestedPriority tier team sensitive assignee tags swarm { lead members { agent } startedAt } resolution { text tier by at } openedAt updatedAt escalations firstResponseAt awaitingCustomerSince sla { policyId calendar firstResponseDue resolutionDue nextDeadline breached } messages { kind author body } relatedArticles { id caseId title body }";

/// Fields a customer must never see a value of.
const INTERNAL_FIELDS: &[&str] = &[
    "tier",
    "team",
    "sensitive",
    "assignee",
    "tags",
    "swarm",
    "escalations",
    "sla",
];

/// Strings that only internal events and fields carry.
const MARKERS: &[&str] = &[
    "MARKER",
    "pol-internal",
    "SLA escalation",
    "farah",
    "general",
    "office-hours",
];

const CUSTOMER_EVENTS: &[&str] = &[
    "CaseOpened",
    "MessagePosted",
    "CaseResolved",
    "CaseReopened",
    "CaseClosed",
    "CaseAwaitingCustomer",
    "CaseResumed",
];

fn assert_customer_case(case: &Value) {
    assert!(case.is_object(), "{case}");
    for f in INTERNAL_FIELDS {
        assert!(case[f].is_null(), "customer sees `{f}`: {case}");
    }
    if !case["resolution"].is_null() {
        assert!(case["resolution"]["tier"].is_null(), "{case}");
    }
    // Customers read no captured knowledge: the list, when asked for, is empty.
    if case.get("relatedArticles").is_some() {
        assert_eq!(case["relatedArticles"], json!([]), "{case}");
    }
    assert_no_markers(case);
}

fn assert_no_markers(v: &Value) {
    let text = v.to_string();
    for m in MARKERS {
        assert!(!text.contains(m), "`{m}` leaked to the customer: {text}");
    }
}

fn assert_customer_events(events: &[Value]) {
    assert!(!events.is_empty());
    for e in events {
        let t = e["type"].as_str().unwrap();
        assert!(CUSTOMER_EVENTS.contains(&t), "customer sees {t}: {e}");
        if t == "MessagePosted" {
            assert_eq!(e["payload"]["kind"], "PUBLIC_REPLY", "{e}");
        }
        assert!(e["payload"].get("tier").is_none(), "{e}");
        assert!(e["payload"].get("reason").is_none(), "{e}");
        assert_no_markers(e);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_customer_sees_only_the_customer_view_of_a_case_and_its_events() {
    let clock = ManualClock::new(MONDAY_9);
    let s = start_at(&clock).await;
    s.ok(
        r#"mutation {
          setCalendar(input: { id: "office-hours", hours: [{ weekday: MONDAY, start: "09:00", end: "17:00" }] }) { id }
          setSlaPolicy(input: {
            id: "pol-internal", priorities: [NORMAL], firstResponseMinutes: 60, resolutionMinutes: 600,
            calendar: "office-hours",
            escalation: [{ afterMinutes: 30, clock: FIRST_RESPONSE, escalateTier: true }]
          }) { id }
        }"#,
        json!({}),
    )
    .await;
    // The customer asks for URGENT; the case starts NORMAL (staff set priorities).
    let opened = s
        .ok_as(
            "sam-token",
            r#"mutation { openCase(input: {subject: "Cannot log in", channel: PORTAL, priority: URGENT, customer: {id: "sam.okafor"}}) { id team tier sla { policyId } } }"#,
            json!({}),
        )
        .await;
    // The mutation's response is already the customer's view.
    assert_customer_case(&opened["openCase"]);
    let id = opened["openCase"]["id"].clone();
    let v = json!({ "id": id });
    let admin_case = s
        .ok(
            "query($id: ID!) { case(id: $id) { team sla { policyId } } }",
            v.clone(),
        )
        .await;
    assert_eq!(admin_case["case"]["sla"]["policyId"], "pol-internal");
    assert_eq!(admin_case["case"]["team"], "general");

    // Staff work the case: a swarm, a tag, internal note and chat, then the SLA
    // scheduler escalates it.
    s.ok(
        r#"mutation($id: ID!) {
          startSwarm(caseId: $id, reason: "MARKER swarm reason") { version }
          joinSwarm(caseId: $id, agent: "farah") { version }
          tagCase(caseId: $id, tag: "marker-vip") { version }
          assignCase(caseId: $id, agent: "farah") { version }
        }"#,
        v.clone(),
    )
    .await;
    note(&s, &id, "MARKER internal note").await;
    s.ok(
        "mutation($id: ID!) { postMessage(caseId: $id, kind: SWARM_CHAT, body: \"MARKER chat\") { version } }",
        v.clone(),
    )
    .await;
    let before = s.history(&id).await.len();
    clock.set(MONDAY_9.plus_secs(31 * 60));
    s.running.as_ref().unwrap().sweep_sla().await.unwrap();
    let types = s.history(&id).await;
    assert!(
        types.iter().any(|e| e["type"] == "CaseEscalated"),
        "the SLA escalated it: {types:?}"
    );
    assert!(types.len() > before);
    assert!(types.iter().any(|e| e["payload"]["reason"]
        .as_str()
        .is_some_and(|r| r.contains("SLA escalation"))));
    s.ok(
        "mutation($id: ID!) { postMessage(caseId: $id, kind: PUBLIC_REPLY, body: \"We are on it\") { version } }",
        v.clone(),
    )
    .await;

    // Every field of `Case` is either allowed or null: a new field must be listed.
    let intro = s
        .ok("{ __type(name: \"Case\") { fields { name } } }", json!({}))
        .await;
    let fields: HashSet<String> = intro["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    let known: HashSet<String> = CASE_ALL
        .split(['{', '}', ' '])
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    assert!(
        fields.is_subset(&known),
        "a new Case field needs a decision for customers: {fields:?}"
    );

    // case, cases, caseAt: the customer view, field by field.
    let q = format!(
        "query($id: ID!) {{ case(id: $id) {{ {CASE_ALL} }} cases {{ edges {{ node {{ {CASE_ALL} }} }} }} caseAt(caseId: $id) {{ {CASE_ALL} }} }}"
    );
    let c = s.ok_as("sam-token", &q, v.clone()).await;
    assert_customer_case(&c["case"]);
    assert_customer_case(&c["cases"]["edges"][0]["node"]);
    assert_customer_case(&c["caseAt"]);
    let case = &c["case"];
    assert_eq!(case["subject"], "Cannot log in");
    assert_eq!(case["priority"], "NORMAL");
    assert_eq!(case["requestedPriority"], "URGENT", "their own request");
    assert_eq!(
        case["messages"],
        json!([{ "kind": "PUBLIC_REPLY", "author": "bootstrap-admin", "body": "We are on it" }])
    );

    // Filtering by an internal field would reveal it by the answer.
    for f in [
        "{ tier: \"L1\" }",
        "{ team: \"general\" }",
        "{ assignee: \"farah\" }",
        "{ tag: \"marker-vip\" }",
    ] {
        let r = s
            .gql_as(
                "sam-token",
                &format!("{{ cases(filter: {f}) {{ edges {{ node {{ id }} }} }} }}"),
                json!({}),
            )
            .await;
        assert_eq!(
            r["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{f}: {r}"
        );
    }

    // A mutation's response: the customer replies.
    let r = s
        .ok_as(
            "sam-token",
            &format!("mutation($id: ID!) {{ postMessage(caseId: $id, kind: PUBLIC_REPLY, body: \"Thanks\") {{ {CASE_ALL} }} }}"),
            v.clone(),
        )
        .await;
    assert_customer_case(&r["postMessage"]);

    // caseHistory and the events query: only allowed event types and fields.
    let ev = "type version payload actor { id role }";
    let h = s
        .ok_as(
            "sam-token",
            &format!("query($id: ID!) {{ caseHistory(caseId: $id) {{ {ev} }} events(limit: 500) {{ {ev} }} }}"),
            v.clone(),
        )
        .await;
    let history = h["caseHistory"].as_array().unwrap().clone();
    assert_customer_events(&history);
    assert_eq!(
        history.len(),
        3,
        "opened, the public reply, the customer's reply: {h}"
    );
    assert_eq!(h["events"], h["caseHistory"], "{h}");

    // The subscriptions: caseEvents and events replay the same view.
    let mut ws = s.ws("graphql-transport-ws", "sam-token").await;
    ws.subscribe(
        "1",
        &format!("subscription($id: ID!) {{ caseEvents(caseId: $id) {{ {ev} }} }}"),
        v.clone(),
    )
    .await;
    ws.subscribe(
        "2",
        &format!("subscription {{ events {{ {ev} }} }}"),
        json!({}),
    )
    .await;
    let (mut by_case, mut all) = (Vec::new(), Vec::new());
    while by_case.len() < history.len() || all.len() < history.len() {
        let m = ws.next_json().await;
        assert_eq!(m["type"], "next", "{m}");
        let data = &m["payload"]["data"];
        match m["id"].as_str() {
            Some("1") => by_case.push(data["caseEvents"].clone()),
            _ => all.push(data["events"].clone()),
        }
    }
    // The next live event on the case is the customer's own reply, not staff work.
    note(&s, &id, "MARKER after").await;
    s.ok_as(
        "sam-token",
        "mutation($id: ID!) { postMessage(caseId: $id, kind: PUBLIC_REPLY, body: \"Any news?\") { version } }",
        v.clone(),
    )
    .await;
    for _ in 0..2 {
        let m = ws.next_json().await;
        assert_eq!(m["type"], "next", "{m}");
        let data = &m["payload"]["data"];
        let e = data
            .get("caseEvents")
            .or_else(|| data.get("events"))
            .unwrap();
        assert_eq!(e["payload"]["body"], "Any news?", "{m}");
        by_case.push(e.clone());
    }
    assert_customer_events(&by_case);
    assert_customer_events(&all);
    s.stop().await;
}

// ------------------------------------------------------------ 4. the access log

/// The case ids each access-log record lists, by `what`.
async fn access_log(s: &TestServer) -> Vec<(String, HashSet<String>)> {
    let d = s
        .ok("{ events(limit: 500) { stream type payload } }", json!({}))
        .await;
    d["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["stream"] == "access-log")
        .map(|e| {
            let p = &e["payload"];
            let ids = match e["type"].as_str().unwrap() {
                "CaseViewed" => vec![p["caseId"].as_str().unwrap().to_string()],
                "CasesViewed" => p["caseIds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i.as_str().unwrap().to_string())
                    .collect(),
                t => panic!("unexpected {t}"),
            };
            (
                p["what"].as_str().unwrap().to_string(),
                ids.into_iter().collect(),
            )
        })
        .collect()
}

fn ids(list: &[&Value]) -> HashSet<String> {
    list.iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_auditor_read_of_case_data_is_recorded_with_the_cases_read() {
    let s = TestServer::start().await;
    let a = open(&s, "Where is my parcel?", "", "EMAIL").await["id"].clone();
    let b = open(&s, "Wrong size delivered", "", "EMAIL").await["id"].clone();
    s.ok(
        "mutation($id: ID!) { startSwarm(caseId: $id, reason: \"tricky\") { version } joinSwarm(caseId: $id, agent: \"farah\") { version } }",
        json!({ "id": b }),
    )
    .await;
    assert!(access_log(&s).await.is_empty());

    let reads = [
        ("cases", "{ cases { edges { node { id } } } }"),
        (
            "tierQueue",
            "{ tierQueue(tier: \"L1\") { entries { case { id } } } }",
        ),
        ("swarmRooms", "{ swarmRooms { caseId } }"),
        ("events", "{ events(limit: 500) { caseId } }"),
        ("workload", "{ workload(agent: \"farah\") { swarms } }"),
    ];
    for (what, q) in reads {
        s.ok_as("audrey-token", q, json!({})).await;
        let log = access_log(&s).await;
        let last = log.last().unwrap_or_else(|| panic!("{what} not recorded"));
        assert_eq!(last.0, what);
        let expected = if what == "swarmRooms" || what == "workload" {
            ids(&[&b])
        } else {
            ids(&[&a, &b])
        };
        assert_eq!(last.1, expected, "{what}");
    }
    let room = s
        .ok_as(
            "audrey-token",
            "query($id: ID!) { swarmRoom(caseId: $id) { caseId } }",
            json!({ "id": b }),
        )
        .await;
    assert_eq!(room["swarmRoom"]["caseId"], b);
    let log = access_log(&s).await;
    assert_eq!(log.last().unwrap(), &("swarmRoom".to_string(), ids(&[&b])));

    // The events subscription records what it delivers, before delivering it.
    let case_events = s.ok("{ events(limit: 500) { caseId } }", json!({})).await["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["caseId"].is_null())
        .count();
    let mut ws = s.ws("graphql-transport-ws", "audrey-token").await;
    ws.subscribe("1", "subscription { events { caseId } }", json!({}))
        .await;
    let mut seen = 0;
    while seen < case_events {
        let d = ws.next_data().await;
        if !d["events"]["caseId"].is_null() {
            seen += 1;
        }
    }
    let log = access_log(&s).await;
    let delivered: HashSet<String> = log
        .iter()
        .filter(|(w, _)| w == "events subscription")
        .flat_map(|(_, ids)| ids.iter().cloned())
        .collect();
    assert_eq!(delivered, ids(&[&a, &b]), "{log:?}");

    // The tierQueue and swarmRoom subscriptions record what they show.
    ws.subscribe(
        "2",
        "subscription { tierQueue(tier: \"L1\") { change } }",
        json!({}),
    )
    .await;
    // (Subscription 1 goes on delivering the access log's own records.)
    let m = loop {
        let m = ws.next_json().await;
        if m["id"] == "2" {
            break m;
        }
    };
    assert_eq!(
        m["payload"]["data"]["tierQueue"]["change"], "SNAPSHOT",
        "{m}"
    );
    ws.subscribe(
        "3",
        "subscription($id: ID!) { swarmRoom(caseId: $id) { change } }",
        json!({ "id": b }),
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let log = access_log(&s).await;
        let has = |w: &str, want: HashSet<String>| log.iter().any(|(x, i)| x == w && *i == want);
        if has("tierQueue subscription", ids(&[&a, &b]))
            && has("swarmRoom subscription", ids(&[&b]))
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{log:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.stop().await;
}

// ------------------------------------------------------------ 5. subscriptions re-check

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_directory_change_applies_to_open_subscriptions_at_once() {
    let s = TestServer::start().await;
    s.ok(
        "mutation { addAgent(input: { id: \"alice\", tiers: [\"L1\"] }) { id } }",
        json!({}),
    )
    .await;
    let l1 = open(&s, "Where is my parcel?", "", "EMAIL").await["id"].clone();
    let l3 = open(&s, "Database corrupted", "", "EMAIL").await["id"].clone();
    s.ok(
        "mutation($id: ID!) { routeCase(caseId: $id, tier: \"L3\") { tier } }",
        json!({ "id": l3 }),
    )
    .await;
    let mut ws = s.ws("graphql-transport-ws", "alice-token").await;
    ws.subscribe(
        "1",
        "subscription($p: Position!) { events(fromPosition: $p) { caseId payload } }",
        json!({ "p": s.head() + 1 }),
    )
    .await;
    note(&s, &l1, "first").await;
    let d = ws.next_data().await;
    assert_eq!(d["events"]["caseId"], l1);

    // Alice moves from L1 to L3.
    s.ok(
        "mutation { updateAgent(input: { id: \"alice\", tiers: [\"L3\"] }) { id } }",
        json!({}),
    )
    .await;
    note(&s, &l1, "second, on a case she no longer works").await;
    note(&s, &l3, "third").await;
    let d = ws.next_data().await;
    assert_eq!(d["events"]["caseId"], l3, "{d}");
    assert_eq!(d["events"]["payload"]["body"], "third");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscription_ends_when_its_token_expires_by_the_server_clock() {
    let clock = ManualClock::new(MONDAY_9);
    let s = start_at(&clock).await;
    let alice = token(&s, "alice", "AGENT", &["L1"], json!("2026-01-05T10:00:00Z")).await;
    let a = open(&s, "Where is my parcel?", "", "EMAIL").await["id"].clone();
    let mut ws = s.ws("graphql-transport-ws", &alice).await;
    ws.subscribe(
        "1",
        "subscription($p: Position!) { events(fromPosition: $p) { caseId payload } }",
        json!({ "p": s.head() + 1 }),
    )
    .await;
    note(&s, &a, "before expiry").await;
    let d = ws.next_data().await;
    assert_eq!(d["events"]["payload"]["body"], "before expiry");

    clock.set(MONDAY_9.plus_secs(3601));
    // Whether the expiry is noticed by the timer or on this event, the next message
    // ends the subscription: the note is never delivered.
    note(&s, &a, "after expiry").await;
    let m = ws.next_json().await;
    assert!(
        m["type"] == "complete" || m["type"] == "closed",
        "the subscription ends: {m}"
    );
    let r = s.gql_as(&alice, "{ me { id } }", json!({})).await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{r}"
    );
    s.stop().await;
}
