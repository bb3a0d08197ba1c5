//! The standard introspection query works at the default `--max-depth`; the depth
//! limit still holds for everything else.

use serde_json::{json, Value};

use super::{TestServer, ADMIN};

/// graphql-js `getIntrospectionQuery()` with its default options (v16.11), as GraphiQL,
/// Apollo and codegen tools send it.
const INTROSPECTION: &str = include_str!("../../fixtures/introspection_query.graphql");

#[tokio::test]
async fn the_standard_introspection_query_returns_the_whole_schema() {
    let s = TestServer::start().await;
    let (status, body) = s.gql_raw(Some(ADMIN), INTROSPECTION, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    let schema = &body["data"]["__schema"];
    assert_eq!(schema["queryType"]["name"], "QueryRoot");
    assert_eq!(schema["mutationType"]["name"], "MutationRoot");
    assert_eq!(schema["subscriptionType"]["name"], "SubscriptionRoot");
    let types = schema["types"].as_array().unwrap();
    let names: Vec<&str> = types.iter().filter_map(|t| t["name"].as_str()).collect();
    // Every named type of the SDL is there.
    let sdl = s.get_text("/schema.graphql").await;
    for line in sdl.lines() {
        let mut words = line.split_whitespace();
        if let (Some("type" | "enum" | "input" | "scalar" | "interface" | "union"), Some(name)) =
            (words.next(), words.next())
        {
            assert!(names.contains(&name), "{name} missing from introspection");
        }
    }
    // The `ofType` chain is answered, e.g. a `[X!]!` field.
    let wrapped = types
        .iter()
        .flat_map(|t| t["fields"].as_array().cloned().unwrap_or_default())
        .find(|f| f["type"]["kind"] == "NON_NULL" && f["type"]["ofType"]["kind"] == "LIST")
        .expect("a non-null list field");
    assert_eq!(wrapped["type"]["ofType"]["ofType"]["kind"], "NON_NULL");
    assert!(schema["directives"]
        .as_array()
        .is_some_and(|d| !d.is_empty()));
}

/// A query whose fields nest `depth` deep. The depth check runs before validation,
/// so the field names need not exist.
fn deep_query(depth: usize) -> String {
    let mut q = String::new();
    for i in 0..depth - 1 {
        q.push_str(&format!("f{i} {{ "));
    }
    q.push_str("leaf");
    q.push_str(&" }".repeat(depth - 1));
    format!("{{ {q} }}")
}

#[tokio::test]
async fn other_queries_keep_the_depth_limit() {
    let s = TestServer::start().await;
    let (status, body) = s.gql_raw(Some(ADMIN), &deep_query(13), json!({})).await;
    assert_eq!(status, 200, "{body}");
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("13 deep"), "{message}");
    assert_eq!(body["data"], Value::Null);
    // At 12 the depth is fine (the fields then fail validation instead).
    let (_, body) = s.gql_raw(Some(ADMIN), &deep_query(12), json!({})).await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(!message.contains("deep"), "{message}");
}

#[tokio::test]
async fn max_depth_is_still_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir, |o| o.query_limits.depth = 5).await;
    let (_, body) = s.gql_raw(Some(ADMIN), &deep_query(6), json!({})).await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("at most 5"), "{message}");
    // Introspection keeps its own allowance below it.
    let (_, body) = s.gql_raw(Some(ADMIN), INTROSPECTION, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
}
