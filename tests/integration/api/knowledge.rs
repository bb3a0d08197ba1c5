//! Captured knowledge end to end: who may capture (and when), ranked search by words
//! and tags, who reads which article (a private case's only for those who may read
//! it; a case's id only for those who may read the case), a new case's related
//! articles, bounded input, and the index rebuilt after a restart.

use super::*;

const CAPTURE: &str = "mutation($id: ID!, $t: String!, $b: String!, $tags: [String!]!) { captureKnowledge(caseId: $id, title: $t, body: $b, tags: $tags) { id caseId title body tags by capturedAt } }";
const SEARCH: &str = "query($q: String!, $tags: [String!]!) { knowledge(query: $q, tags: $tags) { id caseId title tags score } }";

fn code(v: &Value) -> &str {
    v["errors"][0]["extensions"]["code"].as_str().unwrap_or("")
}

async fn write(s: &TestServer, token: &str, id: &str, doc: &str) {
    s.ok_as(
        token,
        &format!("mutation($id: ID!) {{ {doc} {{ id }} }}"),
        json!({ "id": id }),
    )
    .await;
}

async fn capture(
    s: &TestServer,
    token: &str,
    id: &str,
    title: &str,
    body: &str,
    tags: &[&str],
) -> Value {
    s.gql_as(
        token,
        CAPTURE,
        json!({ "id": id, "t": title, "b": body, "tags": tags }),
    )
    .await
}

/// The titles `token` finds for `q` (with every tag of `tags`), best first, and the
/// case ids shown with them.
async fn search(s: &TestServer, token: &str, q: &str, tags: &[&str]) -> Vec<(String, Value)> {
    let d = s
        .ok_as(token, SEARCH, json!({ "q": q, "tags": tags }))
        .await;
    d["knowledge"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["title"].as_str().unwrap().to_string(),
                a["caseId"].clone(),
            )
        })
        .collect()
}

fn titles(found: &[(String, Value)]) -> Vec<&str> {
    found.iter().map(|(t, _)| t.as_str()).collect()
}

#[tokio::test]
async fn knowledge_is_captured_after_resolution_searched_by_rank_and_shown_only_to_whom_it_may_be()
{
    let s = TestServer::start().await;
    // An L1 case alice owns and resolves.
    let sso = s
        .open_case("SAML login loops after certificate rotation", "HIGH")
        .await;
    write(&s, ADMIN, &sso, r#"routeCase(caseId: $id, tier: "L1")"#).await;
    write(
        &s,
        ADMIN,
        &sso,
        r#"assignCase(caseId: $id, agent: "alice")"#,
    )
    .await;
    write(&s, ADMIN, &sso, r#"tagCase(caseId: $id, tag: "saml")"#).await;

    // Not before resolution.
    let early = capture(
        &s,
        "alice-token",
        &sso,
        "SAML loop",
        "Re-import the metadata.",
        &[],
    )
    .await;
    assert_eq!(code(&early), "INVALID_TRANSITION", "{early}");
    write(
        &s,
        "alice-token",
        &sso,
        r#"resolveCase(caseId: $id, resolution: "Re-imported the IdP metadata")"#,
    )
    .await;

    // Not by an agent who did not work it, a customer or an auditor.
    let head = s.head();
    for (token, expected) in [
        ("bob-token", "FORBIDDEN"),
        ("sam-token", "NOT_FOUND"),
        ("audrey-token", "FORBIDDEN"),
    ] {
        let r = capture(&s, token, &sso, "SAML loop", "Body", &[]).await;
        assert_eq!(code(&r), expected, "{token}: {r}");
    }
    assert_eq!(s.head(), head, "a refused capture wrote nothing");

    // Bounded input is BAD_USER_INPUT.
    let long = "x".repeat(201);
    for (title, body, tags) in [
        ("", "Body", vec![]),
        (long.as_str(), "Body", vec![]),
        ("Title", "", vec![]),
        ("Title", "Body", vec!["two words"]),
    ] {
        let r = capture(&s, "alice-token", &sso, title, body, &tags).await;
        assert_eq!(
            code(&r),
            "BAD_USER_INPUT",
            "{title:?} {body:?} {tags:?}: {r}"
        );
    }

    // The owner captures; tags are normalised.
    let a = capture(
        &s,
        "alice-token",
        &sso,
        "SAML login loops after certificate rotation",
        "Re-import the IdP metadata, then clear the SP session cache.",
        &["SAML", "sso", "saml"],
    )
    .await;
    let a = &a["data"]["captureKnowledge"];
    assert_eq!(a["caseId"], sso.as_str(), "{a}");
    assert_eq!(a["tags"], json!(["saml", "sso"]));
    assert_eq!(a["by"], "alice");
    assert!(a["id"].as_str().is_some_and(|id| !id.is_empty()));

    // A private (sensitive) L2 case dana resolves, with an article on refunds.
    let refund = s.open_case("Charged twice for one order", "NORMAL").await;
    write(
        &s,
        ADMIN,
        &refund,
        r#"routeCase(caseId: $id, tier: "L2", sensitive: true)"#,
    )
    .await;
    write(
        &s,
        ADMIN,
        &refund,
        r#"assignCase(caseId: $id, agent: "dana")"#,
    )
    .await;
    write(
        &s,
        "dana-token",
        &refund,
        r#"resolveCase(caseId: $id, resolution: "Refunded")"#,
    )
    .await;
    let r = capture(
        &s,
        "dana-token",
        &refund,
        "Refund a double charge",
        "Refund the second capture; the provider retried after a login timeout.",
        &["billing"],
    )
    .await;
    assert!(r["errors"].is_null(), "{r}");

    // A third article mentions login only in its body.
    let other = s.open_case("Password reset mail missing", "NORMAL").await;
    write(&s, ADMIN, &other, r#"routeCase(caseId: $id, tier: "L1")"#).await;
    write(
        &s,
        ADMIN,
        &other,
        r#"assignCase(caseId: $id, agent: "bob")"#,
    )
    .await;
    write(
        &s,
        "bob-token",
        &other,
        r#"resolveCase(caseId: $id, resolution: "Allow-listed our sender")"#,
    )
    .await;
    write(
        &s,
        "bob-token",
        &other,
        r#"closeCase(caseId: $id, reason: "confirmed")"#,
    )
    .await;
    // A closed case still takes knowledge.
    let r = capture(
        &s,
        "bob-token",
        &other,
        "Reset mails land in spam",
        "Ask the customer to allow-list our sender before the next login attempt.",
        &["email"],
    )
    .await;
    assert!(r["errors"].is_null(), "{r}");

    // Ranked: a title match before a body match; the private article only for
    // those who may read its case.
    let found = search(&s, "dana-token", "login", &[]).await;
    assert_eq!(
        titles(&found),
        [
            "SAML login loops after certificate rotation",
            "Refund a double charge",
            "Reset mails land in spam",
        ],
        "dana (an L2 lead) reads all three"
    );
    let found = search(&s, "alice-token", "login", &[]).await;
    assert_eq!(
        titles(&found),
        [
            "SAML login loops after certificate rotation",
            "Reset mails land in spam",
        ],
        "alice (L1) does not read the private case's article"
    );
    assert_eq!(
        found[0].1,
        sso.as_str(),
        "alice reads the case, so sees its id"
    );
    // An L3 agent reads the L1 article, but is not told which case it came from.
    let found = search(&s, "farah-token", "saml", &[]).await;
    assert_eq!(
        titles(&found),
        ["SAML login loops after certificate rotation"]
    );
    assert_eq!(found[0].1, Value::Null, "farah may not read the L1 case");
    // Tags filter; words rank.
    let found = search(&s, "dana-token", "", &["billing"]).await;
    assert_eq!(titles(&found), ["Refund a double charge"]);
    let found = search(&s, "dana-token", "login", &["SSO"]).await;
    assert_eq!(
        titles(&found),
        ["SAML login loops after certificate rotation"]
    );
    assert!(search(&s, "dana-token", "kernel panic", &[])
        .await
        .is_empty());

    // Customers read none; a search needs something to look for, and is bounded.
    let r = s
        .gql_as("sam-token", SEARCH, json!({ "q": "login", "tags": [] }))
        .await;
    assert_eq!(code(&r), "FORBIDDEN", "{r}");
    for q in ["", "   ", &"word ".repeat(101)] {
        let r = s
            .gql_as("alice-token", SEARCH, json!({ "q": q, "tags": [] }))
            .await;
        assert_eq!(code(&r), "BAD_USER_INPUT", "{q:?}: {r}");
    }
    let r = s
        .gql_as(
            "alice-token",
            "{ knowledge(query: \"login\", first: 51) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&r), "BAD_USER_INPUT", "{r}");

    // A new case lists related articles (same tags or words), not its own.
    let new = s.open_case("SAML login broken again", "NORMAL").await;
    write(&s, ADMIN, &new, r#"routeCase(caseId: $id, tier: "L1")"#).await;
    write(&s, ADMIN, &new, r#"tagCase(caseId: $id, tag: "sso")"#).await;
    let related = "query($id: ID!) { case(id: $id) { relatedArticles { title caseId } } }";
    let d = s.ok_as("alice-token", related, json!({ "id": new })).await;
    let got: Vec<&str> = d["case"]["relatedArticles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        [
            "SAML login loops after certificate rotation",
            "Reset mails land in spam",
        ]
    );
    let d = s.ok_as("alice-token", related, json!({ "id": sso })).await;
    let own: Vec<&Value> = d["case"]["relatedArticles"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["caseId"] == sso.as_str())
        .collect();
    assert!(own.is_empty(), "a case's related articles are other cases'");
    // A customer's view of their own case lists none.
    s.ok_as(
        "sam-token",
        r#"mutation { openCase(input: {subject: "SAML login fails", channel: PORTAL, customer: {id: "sam.okafor"}}) { id } }"#,
        json!({}),
    )
    .await;
    let d = s
        .ok_as(
            "sam-token",
            "{ cases(first: 5) { edges { node { relatedArticles { title } } } } }",
            json!({}),
        )
        .await;
    let nodes = d["cases"]["edges"].as_array().unwrap();
    assert_eq!(nodes.len(), 1, "{d}");
    assert_eq!(nodes[0]["node"]["relatedArticles"], json!([]), "{d}");

    // After a restart the index is rebuilt from the log (and the snapshot).
    let dir = s.stop().await;
    let s = TestServer::start_in(dir, |_| {}).await;
    let found = search(&s, "dana-token", "login", &[]).await;
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(found[0].0, "SAML login loops after certificate rotation");
    s.stop().await;
}
