//! Paging through every list field end to end: each page continues exactly where the
//! previous one stopped, with no item repeated and none skipped.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_continues_after_the_last_item_of_the_previous_one() {
    let s = TestServer::start().await;
    for n in 0..23 {
        s.open_case(&format!("paging case {n}"), "NORMAL").await;
    }
    let all = s
        .ok("{ cases(first: 100) { edges { node { id } } } }", json!({}))
        .await;
    let all: Vec<String> = all["cases"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(all.len(), 23);

    // `cases(first, after)`: cursor pagination.
    let mut paged = Vec::new();
    let mut after = Value::Null;
    loop {
        let page = s
            .ok(
                "query($after: String) { cases(first: 5, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }",
                json!({ "after": after }),
            )
            .await;
        let edges = page["cases"]["edges"].as_array().unwrap();
        assert!(edges.len() <= 5, "{page}");
        for e in edges {
            assert_eq!(e["cursor"], e["node"]["id"], "{page}");
            paged.push(e["node"]["id"].as_str().unwrap().to_string());
        }
        if !page["cases"]["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = page["cases"]["pageInfo"]["endCursor"].clone();
        assert!(paged.len() <= all.len(), "paging does not end: {paged:?}");
    }
    assert_eq!(paged, all, "every case once, in order");

    // `caseHistory(fromVersion, first)`.
    let id = json!(all[0]);
    for n in 0..9 {
        s.ok(
            "mutation($id: ID!, $b: String!) { postMessage(caseId: $id, kind: INTERNAL_NOTE, body: $b) { version } }",
            json!({ "id": id, "b": format!("note {n}") }),
        )
        .await;
    }
    let full = s
        .ok(
            "query($id: ID!) { caseHistory(caseId: $id) { version } }",
            json!({ "id": id }),
        )
        .await;
    let full: Vec<u64> = full["caseHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["version"].as_u64().unwrap())
        .collect();
    assert!(full.len() >= 10, "{full:?}");
    let mut versions = Vec::new();
    let mut from = 1;
    loop {
        let page = s
            .ok(
                "query($id: ID!, $from: Int!) { caseHistory(caseId: $id, fromVersion: $from, first: 4) { version } }",
                json!({ "id": id, "from": from }),
            )
            .await;
        let page: Vec<u64> = page["caseHistory"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["version"].as_u64().unwrap())
            .collect();
        let Some(last) = page.last() else { break };
        from = last + 1;
        versions.extend(page);
    }
    assert_eq!(versions, full, "the history once, in order");

    // `events(fromPosition, limit)`.
    let head = s.head();
    let mut positions = Vec::new();
    let mut from = 1;
    while from <= head {
        let page = s
            .ok(
                "query($from: Position!) { events(fromPosition: $from, limit: 10) { position } }",
                json!({ "from": from }),
            )
            .await;
        let page: Vec<u64> = page["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["position"].as_u64().unwrap())
            .collect();
        assert!(!page.is_empty() && page.len() <= 10, "{page:?}");
        from = page.last().unwrap() + 1;
        positions.extend(page);
    }
    assert_eq!(
        positions,
        (1..=head).collect::<Vec<_>>(),
        "the log once, in order"
    );

    // `swarmRooms(first, after)`: oldest case first, each page after the last
    // `caseId` of the one before; a swarm on 7 of the cases, a chat line in one.
    let mut swarmed: Vec<String> = all.iter().step_by(3).cloned().collect();
    for id in &swarmed {
        s.ok(
            "mutation($id: ID!) { startSwarm(caseId: $id, lead: \"dana\") { id } }",
            json!({ "id": id }),
        )
        .await;
    }
    s.ok_as(
        "dana-token",
        "mutation($id: ID!) { postMessage(caseId: $id, kind: SWARM_CHAT, body: \"on it\") { version } }",
        json!({ "id": swarmed[2] }),
    )
    .await;
    let chatty = swarmed[2].clone();
    swarmed.sort();
    let rooms = |v: &Value| -> Vec<String> {
        v["swarmRooms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["caseId"].as_str().unwrap().to_string())
            .collect()
    };
    let whole = s
        .ok("{ swarmRooms { caseId chat { body } } }", json!({}))
        .await;
    assert_eq!(
        rooms(&whole),
        swarmed,
        "every active room, oldest case first"
    );
    // The chat is copied only when asked for, through a fragment as well.
    let spread = s
        .ok(
            "{ swarmRooms { ...R } } fragment R on SwarmRoom { caseId chat { body } }",
            json!({}),
        )
        .await;
    assert_eq!(spread, whole);
    for room in whole["swarmRooms"].as_array().unwrap() {
        let chat = if room["caseId"] == chatty.as_str() {
            json!([{ "body": "on it" }])
        } else {
            json!([])
        };
        assert_eq!(room["chat"], chat, "{whole}");
    }
    let mut paged = Vec::new();
    let mut after = Value::Null;
    loop {
        let page = s
            .ok(
                "query($after: ID) { swarmRooms(first: 3, after: $after) { caseId } }",
                json!({ "after": after }),
            )
            .await;
        let page = rooms(&page);
        assert!(page.len() <= 3, "{page:?}");
        let Some(last) = page.last() else { break };
        after = json!(last);
        paged.extend(page);
        assert!(
            paged.len() <= swarmed.len(),
            "paging does not end: {paged:?}"
        );
    }
    assert_eq!(paged, swarmed, "every room once, in order");
    for (args, code) in [
        ("first: -1", "BAD_USER_INPUT"),
        ("after: \"nope\"", "BAD_USER_INPUT"),
    ] {
        let bad = s
            .gql(&format!("{{ swarmRooms({args}) {{ caseId }} }}"), json!({}))
            .await;
        assert_eq!(bad["errors"][0]["extensions"]["code"], code, "{bad}");
    }
    s.stop().await;
}
