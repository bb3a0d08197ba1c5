//! Tokens and configuration across nodes on one PostgreSQL log: a token revoked on
//! one node is refused by the other within a second (its open WebSocket closed too),
//! and a routing rule set on one node routes the next case opened on the other.
//! Skipped (and said so) without `SWARMDESK_TEST_POSTGRES`.

use std::time::Instant;

use super::nodes::{caught_up, log_head, start_node, Node};
use super::*;
use crate::store::conformance::harness::{fresh_database, postgres_url};

/// Asks `{ me { id } }` with `token` on `node` until `accepted` is the answer; returns
/// how long that took (panics after 5 s).
async fn until_accepted(node: &Node, token: &str, accepted: bool) -> Duration {
    let start = Instant::now();
    loop {
        let r = node.server.gql_as(token, "{ me { id } }", json!({})).await;
        let ok = r.get("errors").is_none();
        if ok == accepted {
            if !ok {
                assert_eq!(
                    r["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
                    "{r}"
                );
            }
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "token still {}: {r}",
            if accepted { "refused" } else { "accepted" }
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_revoked_on_one_node_is_refused_on_the_other_within_a_second() {
    let Some(admin) = postgres_url() else { return };
    let url = fresh_database(&admin).await;
    let a = start_node(&url).await;
    let b = start_node(&url).await;
    let t = a
        .server
        .ok(
            r#"mutation { createToken(user: "bob", role: AGENT, tiers: ["L1"]) { token tokenId } }"#,
            json!({}),
        )
        .await;
    let token = t["createToken"]["token"].as_str().unwrap().to_string();
    let token_id = t["createToken"]["tokenId"].as_str().unwrap().to_string();
    let took = until_accepted(&b, &token, true).await;
    assert!(
        took < Duration::from_secs(1),
        "issued on a, accepted on b after {took:?}"
    );

    let mut ws = b.server.ws("graphql-transport-ws", &token).await;
    ws.subscribe("feed", "subscription { events { position } }", json!({}))
        .await;
    a.server.open_case("before revocation", "LOW").await;
    ws.next_data().await;

    a.server
        .ok(
            "mutation($id: String!) { revokeToken(tokenId: $id) }",
            json!({ "id": token_id }),
        )
        .await;
    let revoked = Instant::now();
    let took = until_accepted(&b, &token, false).await;
    assert!(
        took < Duration::from_secs(1),
        "still accepted on b after {took:?}"
    );
    // The subscription on b ends as well (events of the case opened before may
    // still arrive first).
    let deadline = tokio::time::Instant::from_std(revoked + Duration::from_secs(1));
    loop {
        let m = ws.next_json_until(deadline).await;
        let m = m.expect("the subscription on b outlived the revocation by 1 s");
        if m["type"] == "complete" || m["type"] == "closed" {
            break;
        }
        assert_eq!(m["type"], "next", "{m}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rule_set_on_one_node_routes_cases_opened_on_the_other() {
    let Some(admin) = postgres_url() else { return };
    let url = fresh_database(&admin).await;
    let a = start_node(&url).await;
    let b = start_node(&url).await;
    let open = "mutation($i: OpenCaseInput!) { openCase(input: $i) { tier } }";
    let parcel = json!({ "i": {
        "subject": "Where is my parcel?", "channel": "EMAIL",
        "customer": { "id": "c-1", "segment": "B2C" }
    } });
    let before = b.server.ok(open, parcel.clone()).await;
    assert_eq!(before["openCase"]["tier"], "L1", "{before}");
    let rules = a
        .server
        .ok("{ configuration { rules { version } } }", json!({}))
        .await;
    let version = rules["configuration"]["rules"]["version"].as_u64().unwrap();
    a.server
        .ok(
            "mutation($r: RuleSetInput!, $v: Int) { setRules(rules: $r, expectedVersion: $v) { version } }",
            json!({ "v": version, "r": { "rules": [{
                "id": "parcels", "name": "Parcel tracking",
                "condition": { "keywords": { "words": ["parcel"] } },
                "actions": { "tier": "L2" }
            }], "default": { "tier": "L1" } } }),
        )
        .await;
    caught_up(&b, log_head(&a).await).await;
    let after = b.server.ok(open, parcel).await;
    assert_eq!(
        after["openCase"]["tier"], "L2",
        "the rule set on a: {after}"
    );
    let c = b
        .server
        .ok("{ configuration { rules { version } } }", json!({}))
        .await;
    assert_eq!(
        c["configuration"]["rules"]["version"].as_u64(),
        Some(version + 1)
    );
}
