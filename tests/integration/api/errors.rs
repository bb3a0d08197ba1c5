//! Bad input gets a clear, coded error, never a panic or a 500, and leaves the log untouched.

use super::*;

async fn code(s: &TestServer, token: &str, query: &str, variables: Value) -> String {
    let head = s.head();
    let v = s.gql_as(token, query, variables).await;
    assert_eq!(s.head(), head, "a failed request must not write: {v}");
    v["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<none>")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_kind_of_failure_has_its_stable_code() {
    let s = TestServer::start().await;
    let id = s.open_case("Cannot log in after update", "HIGH").await;
    let v = json!({ "id": id });

    assert_eq!(
        code(&s, "wrong", "{ stats { cases } }", json!({})).await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        code(&s, "", "{ cases { edges { cursor } } }", json!({})).await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        code(&s, ADMIN, r#"mutation { openCase(input: {subject: "  ", channel: EMAIL, customer: {id: "x"}}) { id } }"#, json!({}))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        code(&s, ADMIN, "{ case(id: \"not-an-id\") { id } }", json!({})).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        code(
            &s,
            ADMIN,
            "mutation { tagCase(caseId: \"01ARZ3NDEKTSV4RRFFQ69G5FAV\", tag: \"x\") { id } }",
            json!({})
        )
        .await,
        "NOT_FOUND"
    );
    assert_eq!(
        code(
            &s,
            ADMIN,
            r#"mutation($id: ID!) { escalateCase(caseId: $id, toTier: "L9", reason: "r") { id } }"#,
            v.clone()
        )
        .await,
        "BAD_USER_INPUT"
    );
    s.ok(
        r#"mutation($id: ID!) { closeCase(caseId: $id, reason: "spam") { id } }"#,
        v.clone(),
    )
    .await;
    assert_eq!(
        code(
            &s,
            ADMIN,
            r#"mutation($id: ID!) { escalateCase(caseId: $id, reason: "r") { id } }"#,
            v.clone()
        )
        .await,
        "INVALID_TRANSITION"
    );
    assert_eq!(
        code(
            &s,
            ADMIN,
            r#"mutation($id: ID!) { tagCase(caseId: $id, tag: "x", expectedVersion: 1) { id } }"#,
            v.clone()
        )
        .await,
        "VERSION_CONFLICT"
    );
    // Wrong types and unknown fields are validation errors.
    let wrong = s
        .gql(
            r#"mutation($id: ID!) { changePriority(caseId: $id, priority: SOON) { id } }"#,
            v.clone(),
        )
        .await;
    assert!(
        wrong["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("SOON"),
        "{wrong}"
    );
    let unknown = s.gql("{ stats { nope } }", json!({})).await;
    assert!(unknown["errors"].is_array());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_oversized_and_abusive_requests_get_4xx_or_errors() {
    let s = TestServer::start().await;
    let head = s.head();
    let url = format!("{}/graphql", s.url);
    let r = s
        .http
        .post(&url)
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body("{\"query\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let big = "x".repeat(300 * 1024);
    let r = s
        .http
        .post(&url)
        .bearer_auth(ADMIN)
        .json(&json!({ "query": format!("{{ stats {{ cases }} }} #{big}") }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // Absurd nesting and complexity are refused before execution.
    let deep = format!(
        "{{ __schema {{ types {{ fields {{ type {}name{} }} }} }} }}",
        "ofType { ".repeat(20),
        " }".repeat(20)
    );
    let v = s.gql(&deep, json!({})).await;
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("nested"),
        "{v}"
    );
    let aliases: String = (0..2000)
        .map(|i| format!("a{i}: stats {{ cases open closed }} "))
        .collect();
    let v = s.gql(&format!("{{ {aliases} }}"), json!({})).await;
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("complex"),
        "{v}"
    );
    // Mutations are not accepted over GET.
    let r = s
        .http
        .get(&url)
        .bearer_auth(ADMIN)
        .query(&[("query", r#"mutation { openCase(input: {subject: "s", channel: EMAIL, customer: {id: "x"}}) { id } }"#)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    // Too many operations in one batch, and none: each refused as such (an empty batch
    // was once read as one request without a query).
    let too_many: Vec<Value> = (0..20).map(|_| json!({ "query": "{ tiers }" })).collect();
    for (batch, says) in [(json!(too_many), "at most"), (json!([]), "empty batch")] {
        let r = s
            .http
            .post(&url)
            .bearer_auth(ADMIN)
            .json(&batch)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            v["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{v}"
        );
        let message = v["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(says), "{v}");
    }
    assert_eq!(s.head(), head);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn health_schema_metrics_and_graphiql_are_served() {
    let s = TestServer::start().await;
    s.open_case("Metrics check", "LOW").await;
    let h: Value = s
        .http
        .get(format!("{}/healthz", s.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["logHead"], s.head());
    assert!(
        s.head() >= 2,
        "the seeded configuration and the case are in the log"
    );
    let sdl = s.get_text("/schema.graphql").await;
    assert_eq!(sdl, swarmdesk::api::sdl());
    let m = s.get_text("/metrics").await;
    let head_line = format!("swarmdesk_log_head_position {}", s.head());
    assert!(m.contains(&head_line), "{m}");
    assert!(
        m.contains("swarmdesk_http_requests_total{route=\"graphql\",status=\"200\"}"),
        "{m}"
    );
    let page = s
        .http
        .get(format!("{}/graphiql", s.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("GraphiQL"));
    // GraphQL over HTTP: the newer media type when asked for.
    let r = s
        .http
        .post(format!("{}/graphql", s.url))
        .bearer_auth(ADMIN)
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": "{ tiers }" }))
        .send()
        .await
        .unwrap();
    let media = r.headers()["content-type"].to_str().unwrap();
    assert!(
        media.starts_with("application/graphql-response+json"),
        "{media}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_token_is_rate_limited_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir, |o| {
        o.http_limits.rate_per_second = 0.5;
        o.http_limits.rate_burst = 5.0;
    })
    .await;
    let url = format!("{}/graphql", s.url);
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let r = s
            .http
            .post(&url)
            .bearer_auth("alice-token")
            .json(&json!({ "query": "{ tiers }" }))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
        }
    }
    assert_eq!(&statuses[..5], &[200; 5], "the burst is served");
    assert!(
        statuses[5..].contains(&429),
        "then the token is slowed down: {statuses:?}"
    );
    // Another token has its own bucket.
    let r = s
        .http
        .post(&url)
        .bearer_auth("bob-token")
        .json(&json!({ "query": "{ tiers }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    s.stop().await;
}
