//! Issue #4 end to end: configuring tiers, teams, agents and routing rules through
//! the API, and how new cases are routed, assigned and shown under them.

use super::*;

const ACTIONS: &str = "tier team priority tags sensitive startSwarm autoAssign";
const CASE: &str = "id tier team sensitive priority assignee tags swarm { lead } openedAt";

fn code(v: &Value) -> &str {
    v["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<none>")
}

fn rule_set_fields() -> String {
    format!("version rules {{ id name enabled condition actions {{ {ACTIONS} }} }} default {{ {ACTIONS} }}")
}

fn rule_ids(rules: &Value) -> Vec<String> {
    rules["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

/// The rule set in force, as `configuration` shows it.
async fn rules_in_force(s: &TestServer) -> Value {
    let q = format!(
        "{{ configuration {{ rules {{ {} }} }} }}",
        rule_set_fields()
    );
    s.ok(&q, json!({})).await["configuration"]["rules"].clone()
}

/// `current` (a `RuleSetObj` as queried) as a `RuleSetInput`.
fn as_input(current: &Value) -> Value {
    json!({ "rules": current["rules"], "default": current["default"] })
}

/// A `RuleSetInput` with `rule` first, then the rules and default of `current` (a
/// `RuleSetObj` as queried, whose shape the input accepts back as is).
fn with_first(rule: Value, current: &Value) -> Value {
    let mut rules = vec![rule];
    rules.extend(current["rules"].as_array().unwrap().iter().cloned());
    json!({ "rules": rules, "default": current["default"] })
}

const SET_RULES: &str = "mutation($r: RuleSetInput!, $v: Int) { setRules(rules: $r, expectedVersion: $v) { version rules { id enabled } } }";

async fn set_rules(s: &TestServer, rules: Value, expected: Option<u64>) -> Value {
    s.ok(SET_RULES, json!({ "r": rules, "v": expected })).await["setRules"].clone()
}

async fn create_team(s: &TestServer, name: &str, tier: &str) {
    let t = s
        .ok(
            "mutation($n: String!, $t: String!) { createTeam(input: {name: $n, tier: $t}) { name tier members } }",
            json!({ "n": name, "t": tier }),
        )
        .await;
    assert_eq!(
        t["createTeam"],
        json!({ "name": name, "tier": tier, "members": [] })
    );
}

const ADD_AGENT: &str = "mutation($a: AgentInput!) { addAgent(input: $a) { id teams tiers worksTiers maxCases openCases } }";

async fn add_agent(s: &TestServer, agent: Value) -> Value {
    s.ok(ADD_AGENT, json!({ "a": agent })).await["addAgent"].clone()
}

/// Opens a case as `token` and returns it.
async fn open_as(s: &TestServer, token: &str, input: Value) -> Value {
    let q = format!("mutation($i: OpenCaseInput!) {{ openCase(input: $i) {{ {CASE} }} }}");
    s.ok_as(token, &q, json!({ "i": input })).await["openCase"].clone()
}

async fn open(s: &TestServer, input: Value) -> Value {
    open_as(s, ADMIN, input).await
}

/// A B2C e-mail case.
fn email(subject: &str) -> Value {
    json!({ "subject": subject, "channel": "EMAIL", "customer": { "id": "c-1", "segment": "B2C" } })
}

async fn case(s: &TestServer, token: &str, id: &Value) -> Value {
    let q = format!("query($id: ID!) {{ case(id: $id) {{ {CASE} }} }}");
    s.ok_as(token, &q, json!({ "id": id })).await["case"].clone()
}

/// The payload of the case's `CaseRouted` event (the routing at open).
async fn routed(s: &TestServer, id: &Value) -> Value {
    let h = s.history(id).await;
    h.iter()
        .find(|e| e["type"] == "CaseRouted")
        .unwrap_or_else(|| panic!("no CaseRouted in {h:?}"))["payload"]
        .clone()
}

async fn queue(s: &TestServer, tier: &str) -> (u64, Vec<Value>) {
    let q = s
        .ok(
            "query($t: String!) { tierQueue(tier: $t) { length entries { rank case { id subject priority } } } }",
            json!({ "t": tier }),
        )
        .await;
    let entries = q["tierQueue"]["entries"].as_array().unwrap().clone();
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e["rank"], i as u64 + 1);
    }
    (q["tierQueue"]["length"].as_u64().unwrap(), entries)
}

async fn config_version(s: &TestServer) -> (u64, u64) {
    let c = s
        .ok("{ configuration { version rules { version } } }", json!({}))
        .await;
    (
        c["configuration"]["version"].as_u64().unwrap(),
        c["configuration"]["rules"]["version"].as_u64().unwrap(),
    )
}

/// A rule sending parcel questions to L2/logistics (needs the team).
fn parcels_rule() -> Value {
    json!({
        "id": "parcels",
        "name": "Parcel tracking",
        "condition": { "keywords": { "words": ["parcel", "parcels"] } },
        "actions": { "tier": "L2", "team": "logistics" }
    })
}

// ---------------------------------------------------------------- 1. overnight

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overnight_overcharge_goes_to_l2_billing_and_holiday_questions_wait_in_l1() {
    let s = TestServer::start().await;
    create_team(&s, "billing", "L2").await;
    let current = rules_in_force(&s).await;
    assert_eq!(current["version"], 1);
    assert_eq!(
        rule_ids(&current),
        ["sensitive-social", "key-accounts", "incident"]
    );
    let billing = json!({
        "id": "billing",
        "name": "Billing and overcharges",
        "condition": { "keywords": { "words": ["charge", "charged", "overcharged", "billing", "invoice", "refund"] } },
        "actions": { "tier": "L2", "team": "billing", "sensitive": true, "tags": ["billing"] }
    });
    let set = set_rules(&s, with_first(billing, &current), Some(1)).await;
    assert_eq!(set["version"], 2);
    assert_eq!(
        rule_ids(&set),
        ["billing", "sensitive-social", "key-accounts", "incident"]
    );

    // Overnight: six holiday questions, then the overcharge, then a normal problem.
    let mut questions = Vec::new();
    for n in 1..=6 {
        let q = open(
            &s,
            json!({
                "subject": format!("Are you open on the bank holiday? ({n})"),
                "body": "What are your opening hours on Monday?",
                "channel": "CHAT",
                "priority": "LOW",
                "customer": { "id": format!("night-{n}"), "segment": "B2C" }
            }),
        )
        .await;
        assert_eq!(
            (&q["tier"], &q["team"], &q["sensitive"]),
            (&json!("L1"), &json!("general"), &json!(false)),
            "{q}"
        );
        questions.push(q["id"].clone());
    }
    let charged = open(
        &s,
        json!({
            "subject": "Why was I charged twice this month??",
            "channel": "SOCIAL_DM",
            "priority": "URGENT",
            "customer": { "id": "night-7", "segment": "B2C" }
        }),
    )
    .await;
    let crash = open(
        &s,
        json!({
            "subject": "The app crashes when I open settings",
            "channel": "EMAIL",
            "priority": "NORMAL",
            "customer": { "id": "night-8", "segment": "B2C" }
        }),
    )
    .await;
    assert_eq!(crash["tier"], "L1");

    let c = case(&s, ADMIN, &charged["id"]).await;
    assert_eq!(c["tier"], "L2");
    assert_eq!(c["team"], "billing");
    assert_eq!(c["sensitive"], true);
    assert_eq!(c["priority"], "URGENT");
    assert!(
        c["tags"].as_array().unwrap().contains(&json!("billing")),
        "{c}"
    );
    let r = routed(&s, &charged["id"]).await;
    assert_eq!(r["ruleId"], "billing", "{r}");
    assert_eq!(r["ruleSetVersion"], 2, "{r}");
    assert_eq!(r["tier"], "L2");
    assert_eq!(r["team"], "billing");
    assert_eq!(r["sensitive"], true);
    // Holiday questions took the default route: no rule.
    let r = routed(&s, &questions[0]).await;
    assert!(r["ruleId"].is_null(), "{r}");
    assert_eq!(r["ruleSetVersion"], 2);

    let (len, l2) = queue(&s, "L2").await;
    assert_eq!(len, 1);
    assert_eq!(l2[0]["case"]["id"], charged["id"]);
    let (len, l1) = queue(&s, "L1").await;
    assert_eq!(len, 7);
    let order: Vec<&Value> = l1.iter().map(|e| &e["case"]["id"]).collect();
    let mut expected = vec![&crash["id"]];
    expected.extend(questions.iter());
    assert_eq!(
        order, expected,
        "the NORMAL case first, then the questions oldest first"
    );

    // Sensitive at L2: the L2 lead sees it, an L1 agent does not.
    assert_eq!(
        case(&s, "dana-token", &charged["id"]).await["id"],
        charged["id"]
    );
    assert!(case(&s, "alice-token", &charged["id"]).await.is_null());
    assert_eq!(
        case(&s, "alice-token", &questions[0]).await["id"],
        questions[0]
    );
    s.stop().await;
}

// ---------------------------------------------------------------- 2. later cases only

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changing_rules_routes_only_later_cases_and_every_version_is_kept() {
    let s = TestServer::start().await;
    create_team(&s, "logistics", "L2").await;
    let v1 = rules_in_force(&s).await;
    let first = open(&s, email("Where is my parcel?")).await;
    assert_eq!(
        (&first["tier"], &first["team"]),
        (&json!("L1"), &json!("general"))
    );

    let set = set_rules(&s, with_first(parcels_rule(), &v1), Some(1)).await;
    assert_eq!(set["version"], 2);
    let second = open(&s, email("Where is my parcel?")).await;
    assert_eq!(
        (&second["tier"], &second["team"]),
        (&json!("L2"), &json!("logistics"))
    );

    // Switched off again: version 3, and the next case takes the default route.
    let off = s
        .ok(
            r#"mutation { enableRule(ruleId: "parcels", enabled: false) { version rules { id enabled } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(off["enableRule"]["version"], 3);
    assert_eq!(
        off["enableRule"]["rules"][0],
        json!({ "id": "parcels", "enabled": false })
    );
    let third = open(&s, email("Where is my parcel?")).await;
    assert_eq!(
        (&third["tier"], &third["team"]),
        (&json!("L1"), &json!("general"))
    );

    // On, and moved last: version 4; a social-DM refund still goes by sensitive-social.
    s.ok(
        r#"mutation { enableRule(ruleId: "parcels", enabled: true) { version } }"#,
        json!({}),
    )
    .await;
    let moved = s
        .ok(
            r#"mutation { moveRule(ruleId: "parcels", position: 3) { version rules { id } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(moved["moveRule"]["version"], 5);
    assert_eq!(
        rule_ids(&moved["moveRule"]),
        ["sensitive-social", "key-accounts", "incident", "parcels"]
    );

    // Earlier cases keep their routing.
    for (c, tier, team) in [
        (&first, "L1", "general"),
        (&second, "L2", "logistics"),
        (&third, "L1", "general"),
    ] {
        let now = case(&s, ADMIN, &c["id"]).await;
        assert_eq!(
            (now["tier"].as_str(), now["team"].as_str()),
            (Some(tier), Some(team))
        );
    }
    // Each records the version that routed it, and the rule.
    let r1 = routed(&s, &first["id"]).await;
    assert_eq!(
        (&r1["ruleSetVersion"], &r1["ruleId"]),
        (&json!(1), &Value::Null)
    );
    let r2 = routed(&s, &second["id"]).await;
    assert_eq!(
        (&r2["ruleSetVersion"], &r2["ruleId"]),
        (&json!(2), &json!("parcels"))
    );
    let r3 = routed(&s, &third["id"]).await;
    assert_eq!(
        (&r3["ruleSetVersion"], &r3["ruleId"]),
        (&json!(3), &Value::Null)
    );

    // The versions as recorded.
    let q = format!(
        "query($v: Int!) {{ ruleSet(version: $v) {{ {} }} }}",
        rule_set_fields()
    );
    let at = |v: u64| {
        let q = q.clone();
        let s = &s;
        async move { s.ok(&q, json!({ "v": v })).await["ruleSet"].clone() }
    };
    let old = at(1).await;
    assert_eq!(old, v1, "version 1 as it was in force");
    let two = at(2).await;
    assert_eq!(
        rule_ids(&two),
        ["parcels", "sensitive-social", "key-accounts", "incident"]
    );
    assert_eq!(two["rules"][0]["enabled"], true);
    assert_eq!(two["rules"][0]["actions"]["team"], "logistics");
    assert_eq!(
        two["rules"][0]["condition"],
        json!({ "keywords": { "words": ["parcel", "parcels"], "inSubject": true, "inBody": true } })
    );
    let three = at(3).await;
    assert_eq!(three["rules"][0]["enabled"], false);
    assert_eq!(at(5).await, rules_in_force(&s).await);
    assert!(at(6).await.is_null());
    // Staff may read them; customers may not.
    let e = s
        .gql_as(
            "sam-token",
            "{ ruleSet(version: 1) { version } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&e), "FORBIDDEN");
    s.stop().await;
}

// ---------------------------------------------------------------- 3. bad rules

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_rules_are_refused_and_the_rule_set_in_force_stays() {
    let s = TestServer::start().await;
    let current = rules_in_force(&s).await;
    let before = config_version(&s).await;
    let head = s.head();
    let rule = |condition: Value, actions: Value| json!({ "id": "bad", "condition": condition, "actions": actions });
    let words = json!({ "keywords": { "words": ["parcel"] } });
    let bad = [
        (
            "unknown tier",
            rule(words.clone(), json!({ "tier": "L9" })),
            "L9",
        ),
        (
            "unknown team",
            rule(words.clone(), json!({ "tier": "L2", "team": "nope" })),
            "nope",
        ),
        (
            "invalid regex",
            rule(
                json!({ "regex": { "pattern": "(unclosed" } }),
                json!({ "tier": "L2" }),
            ),
            "regex",
        ),
        (
            "empty any",
            rule(json!({ "any": [] }), json!({ "tier": "L2" })),
            "bad",
        ),
        (
            "empty channel list",
            rule(json!({ "channel": [] }), json!({ "tier": "L2" })),
            "bad",
        ),
        (
            "billing on social, not sensitive",
            rule(
                json!({ "all": [{ "channel": ["SOCIAL_PUBLIC"] }, { "keywords": { "words": ["refund"] } }] }),
                json!({ "tier": "L2" }),
            ),
            "refund",
        ),
        (
            "sensitive below the floor",
            rule(words.clone(), json!({ "tier": "L1", "sensitive": true })),
            "L1",
        ),
    ];
    for (what, r, mentions) in bad {
        let e = s
            .gql(SET_RULES, json!({ "r": with_first(r, &current), "v": 1 }))
            .await;
        assert_eq!(code(&e), "BAD_USER_INPUT", "{what}: {e}");
        let msg = e["errors"][0]["message"].as_str().unwrap();
        assert!(msg.contains(mentions), "{what}: {msg}");
    }
    // A default route without a tier, and a duplicate id.
    let e = s
        .gql(
            SET_RULES,
            json!({ "r": { "rules": [], "default": { "team": "general" } } }),
        )
        .await;
    assert_eq!(code(&e), "BAD_USER_INPUT", "{e}");
    let dup = with_first(
        json!({ "id": "incident", "condition": words, "actions": {} }),
        &current,
    );
    assert_eq!(
        code(&s.gql(SET_RULES, json!({ "r": dup })).await),
        "BAD_USER_INPUT"
    );
    // Reordering and switching: unknown rules, positions past the end.
    let e = s
        .gql(
            r#"mutation { moveRule(ruleId: "nope", position: 0) { version } }"#,
            json!({}),
        )
        .await;
    assert_eq!(code(&e), "NOT_FOUND", "{e}");
    let e = s
        .gql(
            r#"mutation { moveRule(ruleId: "incident", position: 3) { version } }"#,
            json!({}),
        )
        .await;
    assert_eq!(code(&e), "BAD_USER_INPUT", "{e}");
    let e = s
        .gql(
            r#"mutation { enableRule(ruleId: "nope", enabled: false) { version } }"#,
            json!({}),
        )
        .await;
    assert_eq!(code(&e), "NOT_FOUND", "{e}");

    assert_eq!(s.head(), head, "refusals write nothing");
    assert_eq!(config_version(&s).await, before);
    assert_eq!(rules_in_force(&s).await, current);
    // The old rules still route: a refund on social goes to L2, sensitive.
    let c = open(
        &s,
        json!({ "subject": "refund please", "channel": "SOCIAL_PUBLIC", "customer": { "id": "x" } }),
    )
    .await;
    assert_eq!((&c["tier"], &c["sensitive"]), (&json!("L2"), &json!(true)));

    // Optimistic concurrency: two admins edit version 1; the second loses.
    let ok = set_rules(&s, as_input(&current), Some(1)).await;
    assert_eq!(ok["version"], 2);
    let head = s.head();
    let e = s
        .gql(
            SET_RULES,
            json!({ "r": with_first(parcels_rule(), &current), "v": 1 }),
        )
        .await;
    assert_eq!(code(&e), "VERSION_CONFLICT", "{e}");
    assert_eq!(e["errors"][0]["extensions"]["currentVersion"], 2, "{e}");
    assert_eq!(s.head(), head);
    assert_eq!(config_version(&s).await.1, 2);
    // Agents do not change rules; leads do (and the change names them).
    let e = s
        .gql_as("alice-token", SET_RULES, json!({ "r": as_input(&current) }))
        .await;
    assert_eq!(code(&e), "FORBIDDEN", "{e}");
    assert_eq!(s.head(), head);
    let by_lead = s
        .ok_as(
            "dana-token",
            SET_RULES,
            json!({ "r": as_input(&current), "v": 2 }),
        )
        .await;
    assert_eq!(by_lead["setRules"]["version"], 3, "{by_lead}");
    let log = s
        .ok(
            "{ events(fromPosition: 1, limit: 500) { stream type actor { id } } }",
            json!({}),
        )
        .await;
    let last = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|e| e["stream"] == "config")
        .unwrap()
        .clone();
    assert_eq!(last["actor"]["id"], "dana", "{last}");
    s.stop().await;
}

// ---------------------------------------------------------------- 4. preview

const PREVIEW: &str = "query($i: OpenCaseInput!, $r: RuleSetInput) { previewRoute(input: $i, rules: $r) { ruleId ruleName ruleSetVersion actions { tier team sensitive tags priority } explanation } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn preview_route_explains_the_match_and_writes_nothing() {
    let s = TestServer::start().await;
    let head = s.head();
    let preview = |token: &'static str, input: Value, rules: Value| {
        let s = &s;
        async move {
            s.gql_as(token, PREVIEW, json!({ "i": input, "r": rules }))
                .await
        }
    };
    let refund = json!({ "subject": "Refund for order 1234?", "channel": "SOCIAL_DM", "customer": { "id": "x" } });
    let p = preview(ADMIN, refund.clone(), Value::Null).await;
    let p = &p["data"]["previewRoute"];
    assert_eq!(p["ruleId"], "sensitive-social", "{p}");
    assert_eq!(p["ruleSetVersion"], 1);
    assert_eq!(p["actions"]["tier"], "L2");
    assert_eq!(p["actions"]["sensitive"], true);
    assert_eq!(p["actions"]["tags"], json!(["sensitive"]));
    let lines = p["explanation"].as_array().unwrap();
    assert!(
        lines[0].as_str().unwrap().contains("sensitive-social")
            && lines[0].as_str().unwrap().contains("matched"),
        "{p}"
    );

    // A key account: the first rule is checked and fails, the second matches.
    let key = json!({ "subject": "SSO broken", "channel": "EMAIL", "customer": { "id": "acme", "segment": "B2B", "keyAccount": true } });
    let p = preview("dana-token", key, Value::Null).await;
    let p = &p["data"]["previewRoute"];
    assert_eq!(p["ruleId"], "key-accounts", "{p}");
    assert_eq!(p["actions"]["team"], "key-accounts");
    assert_eq!(p["actions"]["priority"], "HIGH");
    let lines: Vec<&str> = p["explanation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        lines[0].contains("sensitive-social") && lines[0].contains("did not match"),
        "{lines:?}"
    );
    assert!(
        lines[1].contains("key-accounts") && lines[1].contains("matched"),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("incident")),
        "no later rule is checked: {lines:?}"
    );

    // Nothing matches: the default route.
    let plain = json!({ "subject": "Opening hours?", "channel": "CHAT", "tags": ["vip"], "customer": { "id": "x" } });
    let p = preview(ADMIN, plain.clone(), Value::Null).await;
    let p = &p["data"]["previewRoute"];
    assert!(p["ruleId"].is_null(), "{p}");
    assert_eq!(
        (&p["actions"]["tier"], &p["actions"]["team"]),
        (&json!("L1"), &json!("general"))
    );

    // A draft: previewed, not put in force.
    let draft = json!({
        "rules": [{ "id": "vip", "name": "VIPs", "condition": { "hasTag": "vip" }, "actions": { "tier": "L3" } }],
        "default": { "tier": "L1" }
    });
    let p = preview(ADMIN, plain.clone(), draft).await;
    let p = &p["data"]["previewRoute"];
    assert_eq!(
        (&p["ruleId"], &p["ruleName"]),
        (&json!("vip"), &json!("VIPs")),
        "{p}"
    );
    assert_eq!(p["actions"]["tier"], "L3");
    let p = preview(ADMIN, plain, Value::Null).await;
    assert!(
        p["data"]["previewRoute"]["ruleId"].is_null(),
        "the draft is not in force"
    );
    // An invalid draft is refused.
    let bad = json!({ "rules": [{ "id": "x", "condition": { "hasTag": "vip" }, "actions": { "tier": "L9" } }], "default": { "tier": "L1" } });
    assert_eq!(
        code(&preview(ADMIN, refund.clone(), bad).await),
        "BAD_USER_INPUT"
    );
    // Leads and admins only.
    for token in ["alice-token", "farah-token", "audrey-token", "sam-token"] {
        let e = preview(token, refund.clone(), Value::Null).await;
        assert_eq!(code(&e), "FORBIDDEN", "{token}: {e}");
    }

    assert_eq!(s.head(), head, "previews write nothing");
    let stats = s.ok("{ stats { cases } }", json!({})).await;
    assert_eq!(stats["stats"]["cases"], 0);
    s.stop().await;
}

// ---------------------------------------------------------------- 5. simulate

const SIMULATE: &str = "query($r: RuleSetInput!, $from: DateTime!, $to: DateTime!) { simulateRules(rules: $r, from: $from, to: $to) { cases changed byTier { name before after } byTeam { name before after } changes { caseId subject before { tier team ruleId } after { tier team ruleId } } } }";

fn count(list: &Value, name: &str) -> (u64, u64) {
    let c = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {list}"));
    (c["before"].as_u64().unwrap(), c["after"].as_u64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simulate_rules_replays_past_cases_without_writing() {
    let s = TestServer::start().await;
    create_team(&s, "logistics", "L2").await;
    let current = rules_in_force(&s).await;
    let early = open(&s, email("Parcel never arrived")).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let a = open(&s, email("Where is my parcel?")).await;
    let b = open(&s, email("My parcel is damaged")).await;
    let c = open(&s, email("How do I change my address?")).await;
    let d = open(
        &s,
        json!({ "subject": "Refund please", "channel": "SOCIAL_DM", "customer": { "id": "x" } }),
    )
    .await;
    assert_eq!(d["tier"], "L2");
    let head = s.head();

    let proposed = with_first(parcels_rule(), &current);
    // Everything since `a` was opened (`early` falls before it).
    let from = a["openedAt"].clone();
    let to = "2100-01-01T00:00:00Z";
    let r = s
        .ok(SIMULATE, json!({ "r": proposed, "from": from, "to": to }))
        .await;
    let r = &r["simulateRules"];
    assert_eq!(r["cases"], 4, "{r}");
    assert_eq!(r["changed"], 2, "{r}");
    assert_eq!(count(&r["byTier"], "L1"), (3, 1));
    assert_eq!(count(&r["byTier"], "L2"), (1, 3));
    assert_eq!(count(&r["byTeam"], "general"), (3, 1));
    assert_eq!(count(&r["byTeam"], "logistics"), (0, 2));
    // The sensitive DM names no team: it goes to L2's default team, in both.
    assert_eq!(count(&r["byTeam"], "incident"), (1, 1));
    assert!(
        r["byTeam"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["name"] != ""),
        "no case without a team: {r}"
    );
    let changes = r["changes"].as_array().unwrap();
    let changed: Vec<&Value> = changes.iter().map(|c| &c["caseId"]).collect();
    assert_eq!(changed, [&a["id"], &b["id"]], "oldest first");
    assert_eq!(
        changes[0]["before"],
        json!({ "tier": "L1", "team": "general", "ruleId": null })
    );
    assert_eq!(
        changes[0]["after"],
        json!({ "tier": "L2", "team": "logistics", "ruleId": "parcels" })
    );
    assert_eq!(changes[0]["subject"], "Where is my parcel?");
    assert!(!changed.contains(&&c["id"]) && !changed.contains(&&d["id"]));

    // The whole history: `early` counts too.
    let all = s
        .ok(
            SIMULATE,
            json!({ "r": proposed, "from": "2000-01-01T00:00:00Z", "to": to }),
        )
        .await;
    assert_eq!(all["simulateRules"]["cases"], 5);
    assert_eq!(all["simulateRules"]["changed"], 3);
    assert_eq!(all["simulateRules"]["changes"][0]["caseId"], early["id"]);
    // The rules in force change nothing.
    let same = s
        .ok(SIMULATE, json!({ "r": with_first(json!({"id": "none", "condition": {"hasTag": "never"}, "actions": {}}), &current), "from": "2000-01-01T00:00:00Z", "to": to }))
        .await;
    assert_eq!(same["simulateRules"]["cases"], 5);
    assert_eq!(same["simulateRules"]["changed"], 0);
    // A period without cases.
    let empty = s
        .ok(
            SIMULATE,
            json!({ "r": proposed, "from": "2000-01-01T00:00:00Z", "to": "2000-01-02T00:00:00Z" }),
        )
        .await;
    assert_eq!(empty["simulateRules"]["cases"], 0);
    assert_eq!(empty["simulateRules"]["changed"], 0);
    assert_eq!(empty["simulateRules"]["changes"], json!([]));
    // Refusals: an invalid proposal, a backwards period, a non-lead.
    let bad = with_first(
        json!({ "id": "x", "condition": { "hasTag": "a" }, "actions": { "tier": "L9" } }),
        &current,
    );
    let e = s
        .gql(
            SIMULATE,
            json!({ "r": bad, "from": "2000-01-01T00:00:00Z", "to": to }),
        )
        .await;
    assert_eq!(code(&e), "BAD_USER_INPUT", "{e}");
    let e = s
        .gql(
            SIMULATE,
            json!({ "r": proposed, "from": to, "to": "2000-01-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(code(&e), "BAD_USER_INPUT", "{e}");
    let e = s
        .gql_as(
            "bob-token",
            SIMULATE,
            json!({ "r": proposed, "from": "2000-01-01T00:00:00Z", "to": to }),
        )
        .await;
    assert_eq!(code(&e), "FORBIDDEN", "{e}");
    let by_lead = s
        .ok_as(
            "dana-token",
            SIMULATE,
            json!({ "r": proposed, "from": "2000-01-01T00:00:00Z", "to": to }),
        )
        .await;
    assert_eq!(by_lead["simulateRules"]["changed"], 3);

    assert_eq!(s.head(), head, "simulations write nothing");
    assert_eq!(config_version(&s).await.1, 1);
    assert_eq!(case(&s, ADMIN, &a["id"]).await["tier"], "L1");
    s.stop().await;
}

// ---------------------------------------------------------------- 6. teams and agents

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn teams_and_agents_are_configured_by_admins() {
    let s = TestServer::start().await;
    create_team(&s, "billing", "L2").await;
    let olga = add_agent(
        &s,
        json!({ "id": "olga", "name": "Olga", "tiers": ["L1"], "teams": ["billing"], "maxCases": 3 }),
    )
    .await;
    assert_eq!(olga["worksTiers"], json!(["L1", "L2"]));
    assert_eq!(olga["maxCases"], 3);
    assert_eq!(olga["openCases"], 0);
    add_agent(&s, json!({ "id": "piet", "teams": ["billing", "general"] })).await;

    let c = s
        .ok_as(
            "alice-token",
            "{ configuration { tiers teams { name tier members } agents { id name teams tiers worksTiers maxCases } } }",
            json!({}),
        )
        .await;
    let c = &c["configuration"];
    assert_eq!(c["tiers"], json!(["L0", "L1", "L2", "L3"]));
    let team = |name: &str| {
        c["teams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no team {name}: {c}"))
            .clone()
    };
    assert_eq!(
        team("billing"),
        json!({ "name": "billing", "tier": "L2", "members": ["olga", "piet"] })
    );
    assert_eq!(team("general")["members"], json!(["piet"]));
    assert_eq!(team("incident")["members"], json!([]));
    let agents = c["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 2);
    assert_eq!(agents[0]["name"], "Olga");
    assert_eq!(
        agents[1],
        json!({ "id": "piet", "name": "piet", "teams": ["billing", "general"], "tiers": [], "worksTiers": ["L2", "L1"], "maxCases": 10 })
    );

    // A team with members stays.
    let e = s
        .gql(r#"mutation { removeTeam(name: "billing") }"#, json!({}))
        .await;
    assert_eq!(code(&e), "BAD_USER_INPUT", "{e}");
    // Bad teams and agents.
    let e = s
        .gql(
            r#"mutation { createTeam(input: {name: "x", tier: "L9"}) { name } }"#,
            json!({}),
        )
        .await;
    assert_eq!(code(&e), "BAD_USER_INPUT", "{e}");
    let e = s
        .gql(
            r#"mutation { createTeam(input: {name: "billing", tier: "L3"}) { name } }"#,
            json!({}),
        )
        .await;
    assert_eq!(code(&e), "INVALID_TRANSITION", "{e}");
    let e = s
        .gql(
            ADD_AGENT,
            json!({ "a": { "id": "quinn", "teams": ["nope"] } }),
        )
        .await;
    assert_eq!(code(&e), "NOT_FOUND", "{e}");
    let e = s.gql(ADD_AGENT, json!({ "a": { "id": "quinn" } })).await;
    assert_eq!(code(&e), "BAD_USER_INPUT", "no tier or team: {e}");
    let e = s
        .gql(
            ADD_AGENT,
            json!({ "a": { "id": "quinn", "tiers": ["L1"], "maxCases": 0 } }),
        )
        .await;
    assert_eq!(code(&e), "BAD_USER_INPUT", "{e}");
    let e = s
        .gql(ADD_AGENT, json!({ "a": { "id": "olga", "tiers": ["L1"] } }))
        .await;
    assert_eq!(code(&e), "INVALID_TRANSITION", "{e}");
    // A team a rule routes to stays too.
    let e = s
        .gql(r#"mutation { removeTeam(name: "incident") }"#, json!({}))
        .await;
    assert_eq!(code(&e), "BAD_USER_INPUT", "{e}");

    // Agents and leads may not change the directory.
    let head = s.head();
    for token in ["alice-token", "dana-token"] {
        let e = s
            .gql_as(
                token,
                ADD_AGENT,
                json!({ "a": { "id": "mallory", "tiers": ["L3"] } }),
            )
            .await;
        assert_eq!(code(&e), "FORBIDDEN", "{token}: {e}");
        let e = s
            .gql_as(
                token,
                r#"mutation { updateAgent(input: {id: "alice", tiers: ["L3"]}) { id } }"#,
                json!({}),
            )
            .await;
        assert_eq!(code(&e), "FORBIDDEN", "{token}: {e}");
        let e = s
            .gql_as(token, r#"mutation { removeAgent(id: "olga") }"#, json!({}))
            .await;
        assert_eq!(code(&e), "FORBIDDEN", "{token}: {e}");
        let e = s
            .gql_as(
                token,
                r#"mutation { createTeam(input: {name: "x", tier: "L1"}) { name } }"#,
                json!({}),
            )
            .await;
        assert_eq!(code(&e), "FORBIDDEN", "{token}: {e}");
    }
    let e = s
        .gql_as("sam-token", "{ configuration { version } }", json!({}))
        .await;
    assert_eq!(code(&e), "FORBIDDEN", "{e}");
    assert_eq!(s.head(), head);

    // Members moved out, the team can go.
    s.ok(
        r#"mutation { updateAgent(input: {id: "olga", tiers: ["L1"], maxCases: 3}) { teams } }"#,
        json!({}),
    )
    .await;
    s.ok(r#"mutation { removeAgent(id: "piet") }"#, json!({}))
        .await;
    let r = s
        .ok(r#"mutation { removeTeam(name: "billing") }"#, json!({}))
        .await;
    assert_eq!(r["removeTeam"], true);
    let c = s
        .ok(
            "{ configuration { teams { name } agents { id teams worksTiers } } }",
            json!({}),
        )
        .await;
    let names: Vec<&Value> = c["configuration"]["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["name"])
        .collect();
    assert!(!names.contains(&&json!("billing")), "{c}");
    assert_eq!(
        c["configuration"]["agents"],
        json!([{ "id": "olga", "teams": [], "worksTiers": ["L1"] }])
    );
    s.stop().await;
}

// ---------------------------------------------------------------- 7. assignment

const ASSIGN: &str =
    "mutation($id: ID!, $a: String) { assignCase(caseId: $id, agent: $a) { assignee } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn assignment_honours_the_directory_and_rules_auto_assign() {
    let s = TestServer::start().await;
    add_agent(
        &s,
        json!({ "id": "alice", "teams": ["general"], "maxCases": 1 }),
    )
    .await;
    add_agent(&s, json!({ "id": "farah", "tiers": ["L3"] })).await;
    let one = open(&s, email("Cannot change my avatar")).await;
    let two = open(&s, email("Cannot change my avatar either")).await;
    assert_eq!(one["tier"], "L1");
    let head = s.head();

    let e = s
        .gql(ASSIGN, json!({ "id": one["id"], "a": "farah" }))
        .await;
    assert_eq!(code(&e), "BAD_USER_INPUT", "another tier: {e}");
    let e = s
        .gql(ASSIGN, json!({ "id": one["id"], "a": "nobody" }))
        .await;
    assert_eq!(code(&e), "NOT_FOUND", "{e}");
    // bob has a token but is not in the directory.
    let e = s
        .gql_as("bob-token", ASSIGN, json!({ "id": one["id"] }))
        .await;
    assert_eq!(code(&e), "NOT_FOUND", "{e}");
    assert_eq!(s.head(), head);

    let a = s.ok(ASSIGN, json!({ "id": one["id"], "a": "alice" })).await;
    assert_eq!(a["assignCase"]["assignee"], "alice");
    let e = s
        .gql(ASSIGN, json!({ "id": two["id"], "a": "alice" }))
        .await;
    assert_eq!(code(&e), "BAD_USER_INPUT", "at capacity: {e}");
    assert!(
        e["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("capacity"),
        "{e}"
    );
    // Nor may she take it herself.
    let e = s
        .gql_as("alice-token", ASSIGN, json!({ "id": two["id"] }))
        .await;
    assert_eq!(code(&e), "BAD_USER_INPUT", "{e}");
    let w = s
        .ok(
            r#"{ configuration { agents { id openCases } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        w["configuration"]["agents"][0],
        json!({ "id": "alice", "openCases": 1 })
    );
    // Resolving frees the slot.
    s.ok(
        r#"mutation($id: ID!) { resolveCase(caseId: $id, resolution: "done") { status } }"#,
        json!({ "id": one["id"] }),
    )
    .await;
    let a = s
        .ok_as("alice-token", ASSIGN, json!({ "id": two["id"] }))
        .await;
    assert_eq!(a["assignCase"]["assignee"], "alice");

    // Rules that assign and swarm: the least loaded member of the routed team.
    create_team(&s, "billing", "L2").await;
    add_agent(
        &s,
        json!({ "id": "olga", "teams": ["billing"], "maxCases": 1 }),
    )
    .await;
    add_agent(
        &s,
        json!({ "id": "piet", "teams": ["billing"], "maxCases": 5 }),
    )
    .await;
    add_agent(&s, json!({ "id": "zoe", "tiers": ["L2"] })).await; // L2, but not in billing
    let current = rules_in_force(&s).await;
    let billing = json!({
        "id": "billing",
        "condition": { "keywords": { "words": ["invoice"] } },
        "actions": { "tier": "L2", "team": "billing", "sensitive": true, "autoAssign": true, "startSwarm": true }
    });
    set_rules(&s, with_first(billing, &current), None).await;
    let invoice = |n: u32| json!({ "subject": format!("Invoice {n} is wrong"), "channel": "EMAIL", "customer": { "id": "c" } });
    let first = open(&s, invoice(1)).await;
    assert_eq!(
        (&first["team"], &first["assignee"]),
        (&json!("billing"), &json!("olga")),
        "{first}"
    );
    assert_eq!(first["swarm"]["lead"], "olga");
    let second = open(&s, invoice(2)).await;
    assert_eq!(second["assignee"], "piet", "olga is busier: {second}");
    assert_eq!(second["swarm"]["lead"], "piet");
    let third = open(&s, invoice(3)).await;
    assert_eq!(third["assignee"], "piet", "olga is full: {third}");
    let w = s
        .ok(
            r#"{ workload(agent: "piet") { assigned swarms } }"#,
            json!({}),
        )
        .await;
    let mut assigned: Vec<String> =
        serde_json::from_value(w["workload"]["assigned"].clone()).unwrap();
    assigned.sort();
    let mut expected = vec![
        second["id"].as_str().unwrap().to_string(),
        third["id"].as_str().unwrap().to_string(),
    ];
    expected.sort();
    assert_eq!(assigned, expected);
    assert_eq!(w["workload"]["swarms"].as_array().unwrap().len(), 2);
    let h = s
        .ok(
            "query($id: ID!) { caseHistory(caseId: $id) { type } }",
            json!({ "id": first["id"] }),
        )
        .await;
    let types: Vec<&str> = h["caseHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(&types[..2], ["CaseOpened", "CaseRouted"], "{types:?}");
    assert!(
        types.contains(&"AgentAssigned") && types.contains(&"SwarmStarted"),
        "{types:?}"
    );

    // Nobody free in the team: the case is opened and routed, unassigned.
    s.ok(
        r#"mutation { updateAgent(input: {id: "piet", teams: ["billing"], maxCases: 2}) { id } }"#,
        json!({}),
    )
    .await;
    let fourth = open(&s, invoice(4)).await;
    assert_eq!(fourth["team"], "billing");
    assert!(
        fourth["assignee"].is_null() && fourth["swarm"].is_null(),
        "{fourth}"
    );
    s.stop().await;
}

// ---------------------------------------------------------------- 8. directory tiers

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn directory_tiers_override_token_tiers() {
    let s = TestServer::start().await;
    create_team(&s, "experts", "L3").await;
    let l1 = open(&s, email("Where do I find my settings?")).await;
    let l3 = open(&s, email("Database replication lag")).await;
    s.ok(
        r#"mutation($id: ID!) { routeCase(caseId: $id, tier: "L3", team: "experts") { tier } }"#,
        json!({ "id": l3["id"] }),
    )
    .await;
    let sees = |id: &Value| {
        let s = &s;
        let id = id.clone();
        async move { !case(s, "alice-token", &id).await.is_null() }
    };
    let queue_len = |tier: &'static str| {
        let s = &s;
        async move {
            let q = s
                .gql_as(
                    "alice-token",
                    "query($t: String!) { tierQueue(tier: $t) { length } }",
                    json!({ "t": tier }),
                )
                .await;
            q["data"]["tierQueue"]["length"].as_u64()
        }
    };
    // Token tiers: L1.
    assert!(sees(&l1["id"]).await);
    assert!(!sees(&l3["id"]).await);

    // The directory puts alice in an L3 team: she works L3, and no longer L1.
    add_agent(&s, json!({ "id": "alice", "teams": ["experts"] })).await;
    assert!(sees(&l3["id"]).await, "alice now works L3");
    assert!(!sees(&l1["id"]).await, "alice no longer works L1");
    assert_eq!(queue_len("L3").await, Some(1));
    let cases = s
        .ok_as("alice-token", "{ cases { nodes { id } } }", json!({}))
        .await;
    assert_eq!(cases["cases"]["nodes"], json!([{ "id": l3["id"] }]));
    // She may work it.
    let a = s
        .ok_as("alice-token", ASSIGN, json!({ "id": l3["id"] }))
        .await;
    assert_eq!(a["assignCase"]["assignee"], "alice");

    // Both tiers.
    s.ok(r#"mutation { updateAgent(input: {id: "alice", tiers: ["L1"], teams: ["experts"]}) { worksTiers } }"#, json!({})).await;
    assert!(sees(&l1["id"]).await && sees(&l3["id"]).await);
    // Out of the directory: back to the token's tiers (L3 still visible as her own case).
    s.ok(r#"mutation { removeAgent(id: "alice") }"#, json!({}))
        .await;
    assert!(sees(&l1["id"]).await);
    let l3b = open(&s, email("Another replication problem")).await;
    s.ok(
        r#"mutation($id: ID!) { routeCase(caseId: $id, tier: "L3") { tier } }"#,
        json!({ "id": l3b["id"] }),
    )
    .await;
    assert!(!sees(&l3b["id"]).await);
    s.stop().await;
}

// ---------------------------------------------------------------- 9. restart

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn configuration_survives_a_restart_and_routes_after_it() {
    let s = TestServer::start().await;
    create_team(&s, "logistics", "L2").await;
    add_agent(
        &s,
        json!({ "id": "olga", "teams": ["logistics"], "maxCases": 4 }),
    )
    .await;
    let current = rules_in_force(&s).await;
    let mut parcels = parcels_rule();
    parcels["actions"]["autoAssign"] = json!(true);
    set_rules(&s, with_first(parcels, &current), Some(1)).await;
    s.ok(
        r#"mutation { enableRule(ruleId: "key-accounts", enabled: false) { version } }"#,
        json!({}),
    )
    .await;
    let full = format!("{{ configuration {{ version tiers teams {{ name tier members }} agents {{ id teams maxCases }} rules {{ {} }} }} }}", rule_set_fields());
    let before = s.ok(&full, json!({})).await;
    let head = s.head();

    let dir = s.stop().await;
    let s = TestServer::start_in(dir, |_| {}).await;
    assert_eq!(s.head(), head, "the seed is not applied again");
    let after = s.ok(&full, json!({})).await;
    assert_eq!(after, before);
    assert_eq!(after["configuration"]["rules"]["version"], 3);

    let c = open(&s, email("Where is my parcel?")).await;
    assert_eq!(
        (&c["tier"], &c["team"], &c["assignee"]),
        (&json!("L2"), &json!("logistics"), &json!("olga")),
        "{c}"
    );
    let r = routed(&s, &c["id"]).await;
    assert_eq!(
        (&r["ruleId"], &r["ruleSetVersion"]),
        (&json!("parcels"), &json!(3))
    );
    // The disabled rule stays disabled.
    let k = open(&s, json!({ "subject": "SSO", "channel": "EMAIL", "customer": { "id": "acme", "segment": "B2B", "keyAccount": true } })).await;
    assert_eq!((&k["tier"], &k["team"]), (&json!("L1"), &json!("general")));
    // Older versions are still on record.
    let v1 = s
        .ok("{ ruleSet(version: 1) { rules { id } } }", json!({}))
        .await;
    assert_eq!(
        rule_ids(&v1["ruleSet"]),
        ["sensitive-social", "key-accounts", "incident"]
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn auto_assign_prefers_agents_speaking_the_case_language() {
    let s = TestServer::start().await;
    create_team(&s, "billing", "L2").await;
    add_agent(
        &s,
        json!({ "id": "anna", "teams": ["billing"], "languages": ["de"] }),
    )
    .await;
    add_agent(
        &s,
        json!({ "id": "ben", "teams": ["billing"], "languages": ["en"] }),
    )
    .await;
    let current = rules_in_force(&s).await;
    let billing = json!({
        "id": "billing",
        "condition": { "keywords": { "words": ["invoice"] } },
        "actions": { "tier": "L2", "team": "billing", "sensitive": true, "autoAssign": true }
    });
    set_rules(&s, with_first(billing, &current), None).await;
    let invoice = |language: &str| json!({ "subject": "Invoice is wrong", "channel": "EMAIL", "language": language, "customer": { "id": "c" } });
    let german = open(&s, invoice("de-AT")).await;
    assert_eq!(german["assignee"], "anna", "{german}");
    let english = open(&s, invoice("en")).await;
    assert_eq!(english["assignee"], "ben", "{english}");
    // No language given: the case is English, as the domain records it.
    let unspecified = open(&s, invoice("")).await;
    let c = s
        .ok(
            "query($id: ID!) { case(id: $id) { language assignee } }",
            json!({ "id": unspecified["id"] }),
        )
        .await;
    assert_eq!(c["case"], json!({ "language": "en", "assignee": "ben" }));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_assignments_never_exceed_an_agents_capacity() {
    let s = TestServer::start().await;
    create_team(&s, "billing", "L2").await;
    add_agent(
        &s,
        json!({ "id": "olga", "teams": ["billing"], "maxCases": 1 }),
    )
    .await;
    add_agent(
        &s,
        json!({ "id": "piet", "teams": ["billing"], "maxCases": 2 }),
    )
    .await;
    let current = rules_in_force(&s).await;
    let billing = json!({
        "id": "billing",
        "condition": { "keywords": { "words": ["invoice"] } },
        "actions": { "tier": "L2", "team": "billing", "sensitive": true, "autoAssign": true }
    });
    set_rules(&s, with_first(billing, &current), None).await;
    // Six invoices at once: three agents' worth of room, so three stay unassigned.
    let opens = (0..6).map(|i| {
        let s = &s;
        async move {
            let input = json!({ "subject": format!("Invoice {i} is wrong"), "channel": "EMAIL", "customer": { "id": "c" } });
            open(s, input).await
        }
    });
    let cases = futures_util::future::join_all(opens).await;
    let by = |agent: &str| cases.iter().filter(|c| c["assignee"] == agent).count();
    assert_eq!((by("olga"), by("piet")), (1, 2), "{cases:?}");
    assert_eq!(cases.iter().filter(|c| c["assignee"].is_null()).count(), 3);

    // Hand assignments at once: one of them gets alice's only slot.
    add_agent(
        &s,
        json!({ "id": "alice", "teams": ["general"], "maxCases": 1 }),
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(open(&s, email(&format!("Question {i}"))).await["id"].clone());
    }
    let assigns = ids.iter().map(|id| {
        let s = &s;
        async move { s.gql(ASSIGN, json!({ "id": id, "a": "alice" })).await }
    });
    let results = futures_util::future::join_all(assigns).await;
    let ok = results.iter().filter(|r| r.get("errors").is_none()).count();
    assert_eq!(ok, 1, "{results:?}");
    assert!(results
        .iter()
        .filter(|r| r.get("errors").is_some())
        .all(|r| code(r) == "BAD_USER_INPUT"));
    s.stop().await;
}
