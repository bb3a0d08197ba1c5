//! The README's quick tour works as written: every GraphQL block runs against a demo server.

use super::*;

fn tour_blocks() -> Vec<String> {
    let readme = include_str!("../../../README.md");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match (&mut current, line.trim()) {
            (None, "```graphql") => current = Some(String::new()),
            (Some(b), "```") => {
                blocks.push(b.clone());
                current = None;
            }
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readme_tour_runs_against_a_demo_server() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir, |o| o.demo = true).await;
    assert_eq!(
        s.running.as_ref().unwrap().demo_tokens.len(),
        5,
        "one demo token per role"
    );

    // The curl example's claim: the overcharged customer is urgent and private in L2, and
    // the bank-holiday questions wait behind every more urgent L1 case. (300: the
    // demo's cases, all of them; 500 of these entries would exceed the complexity limit.)
    let q = s.ok(r#"{ l2: tierQueue(tier: "L2", first: 300) { entries { case { subject priority sensitive openedAt sla { policyId } } } }
                     l1: tierQueue(tier: "L1", first: 300) { entries { rank case { subject priority openedAt sla { nextDeadline } } } } }"#, json!({})).await;
    let l2 = q["l2"]["entries"].as_array().unwrap();
    let over = l2
        .iter()
        .find(|e| {
            e["case"]["subject"]
                .as_str()
                .unwrap()
                .contains("charged twice")
        })
        .expect("in L2");
    assert_eq!(over["case"]["priority"], "URGENT");
    assert_eq!(over["case"]["sensitive"], true);
    assert_eq!(over["case"]["sla"]["policyId"], "urgent");
    // The sample lies in the past: the overnight case was opened before the server started.
    let opened = over["case"]["openedAt"].as_str().unwrap();
    let now = swarmdesk::domain::Timestamp::now();
    let opened = swarmdesk::domain::Timestamp::parse_rfc3339(opened).unwrap();
    assert!(
        opened < now && opened > now.plus_secs(-24 * 3600),
        "opened {opened:?}"
    );
    let l1 = q["l1"]["entries"].as_array().unwrap();
    let holiday = l1
        .iter()
        .filter(|e| {
            e["case"]["subject"]
                .as_str()
                .unwrap()
                .contains("bank holiday")
        })
        .count();
    assert_eq!(holiday, 6);
    // Breach risk first (nearest SLA deadline; none last), then priority, then age.
    let priority = |p: &Value| {
        ["URGENT", "HIGH", "NORMAL", "LOW"]
            .iter()
            .position(|x| p == x)
    };
    let key = |e: &Value| {
        let c = &e["case"];
        let deadline = c["sla"]["nextDeadline"].as_str().map(str::to_owned);
        (
            deadline.is_none(),
            deadline,
            priority(&c["priority"]),
            c["openedAt"].as_str().unwrap().to_owned(),
        )
    };
    assert!(l1.len() > 10, "the demo fills L1");
    for pair in l1.windows(2) {
        assert!(key(&pair[0]) <= key(&pair[1]), "queue order: {pair:?}");
    }

    let blocks = tour_blocks();
    assert!(blocks.len() >= 8, "the tour has its examples");
    let mut case_id: Option<String> = None;
    for block in &blocks {
        if block.trim_start().starts_with("subscription") {
            let mut ws = s.ws("graphql-transport-ws", ADMIN).await;
            ws.subscribe("tour", block, json!({})).await;
            let d = ws.next_data().await;
            assert!(
                d.as_object().is_some_and(|o| !o.is_empty()),
                "{block} gave {d}"
            );
            continue;
        }
        let vars = match &case_id {
            Some(id) if block.contains("$caseId") => json!({ "caseId": id }),
            _ => json!({}),
        };
        let d = s.ok(block, vars).await;
        if let Some(id) = d["openCase"]["id"].as_str() {
            case_id = Some(id.to_string());
        }
    }
    let id = case_id.expect("the tour opens a case");
    let c = s
        .ok(
            "query($id: ID!) { case(id: $id) { status resolution { tier } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(c["case"]["status"], "RESOLVED");
    // The key-accounts rule sent it to L2; the tour escalated it to L3.
    assert_eq!(c["case"]["resolution"]["tier"], "L3");
    s.stop().await;
}
