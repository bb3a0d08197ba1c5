//! GraphQL over HTTP: content negotiation and status codes, one test per
//! recommendation of graphql-http's `auditServer` (audit ids in the comments).

use serde_json::{json, Value};

use super::{TestServer, ADMIN};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// POSTs `body` with the given `Content-Type` and `Accept` (none when `None`); returns
/// the status, the response's content type and its body as JSON (`Null` if not JSON).
async fn post(
    s: &TestServer,
    content_type: Option<&str>,
    accept: Option<&str>,
    body: String,
) -> (u16, String, Value) {
    let mut req = s
        .http
        .post(format!("{}/graphql", s.url))
        .bearer_auth(ADMIN)
        .body(body);
    if let Some(c) = content_type {
        req = req.header("content-type", c);
    }
    // Without `accept`, reqwest sends `Accept: */*`; a request without the header at
    // all is covered by the unit tests of `http::media`.
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let media = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = res.json().await.unwrap_or(Value::Null);
    (status, media, body)
}

async fn post_query(s: &TestServer, accept: Option<&str>, request: Value) -> (u16, String, Value) {
    post(s, Some("application/json"), accept, request.to_string()).await
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

#[tokio::test]
async fn the_response_media_type_follows_accept() {
    let s = TestServer::start().await;
    let ok = json!({ "query": "{ __typename }" });
    // 22EB: application/graphql-response+json is answered in kind.
    let (status, media, body) = post_query(&s, Some(GRAPHQL_RESPONSE), ok.clone()).await;
    assert_eq!(
        (status, body["data"]["__typename"].as_str()),
        (200, Some("QueryRoot"))
    );
    assert!(media.starts_with(GRAPHQL_RESPONSE), "{media}");
    // 4655, 47DE: application/json and */* get application/json.
    for accept in [Some("application/json"), Some("*/*"), None] {
        let (status, media, _) = post_query(&s, accept, ok.clone()).await;
        assert_eq!(status, 200, "{accept:?}");
        assert!(media.starts_with("application/json"), "{accept:?}: {media}");
    }
    // The client's first choice wins.
    let both = "application/graphql-response+json, application/json;q=0.9";
    let (_, media, _) = post_query(&s, Some(both), ok.clone()).await;
    assert!(media.starts_with(GRAPHQL_RESPONSE), "{media}");
    let json_first = "application/json, application/graphql-response+json;q=0.5";
    let (_, media, _) = post_query(&s, Some(json_first), ok.clone()).await;
    assert!(media.starts_with("application/json"), "{media}");
    // Neither acceptable: 406.
    let (status, _, body) = post_query(&s, Some("text/html"), ok.clone()).await;
    assert_eq!((status, code(&body)), (406, "BAD_USER_INPUT"), "{body}");
    // GET negotiates the same way.
    let res = s
        .http
        .get(format!("{}/graphql?query=%7B__typename%7D", s.url))
        .header("accept", GRAPHQL_RESPONSE)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let media = res.headers()["content-type"].to_str().unwrap();
    assert!(media.starts_with(GRAPHQL_RESPONSE), "{media}");
}

#[tokio::test]
async fn a_post_without_a_json_content_type_is_415() {
    let s = TestServer::start().await;
    let body = json!({ "query": "{ __typename }" }).to_string();
    // 9ABE: no Content-Type at all.
    let (status, _, v) = post(&s, None, None, body.clone()).await;
    assert_eq!((status, code(&v)), (415, "BAD_USER_INPUT"), "{v}");
    let (status, _, _) = post(&s, Some("text/plain"), None, body.clone()).await;
    assert_eq!(status, 415);
    // Parameters of application/json are fine.
    let json_utf8 = Some("application/json; charset=utf-8");
    let (status, _, v) = post(&s, json_utf8, None, body).await;
    assert_eq!(
        (status, &v["data"]["__typename"]),
        (200, &json!("QueryRoot"))
    );
}

/// Request errors with application/graphql-response+json: 400 and no `data` entry.
#[tokio::test]
async fn request_errors_are_400_without_data_for_graphql_response_json() {
    let s = TestServer::start().await;
    let accept = Some(GRAPHQL_RESPONSE);
    let cases = [
        // 865D, 556A, D586: the document does not parse.
        ("parse", json!({ "query": "{" })),
        // 51FE, 74FF, 5E5B: the document does not validate.
        (
            "validation",
            json!({ "query": "{ 8f31403dfe404bccbb0e835f2629c6a7 }" }),
        ),
        // 86EE: a variable does not fit its definition.
        (
            "variables",
            json!({ "query": "query CoerceFailure($id: ID!){ __typename }", "variables": { "id": null } }),
        ),
        // Variables a field reads: async-graphql alone would only fail that field.
        (
            "null for a non-null variable",
            json!({ "query": "query Q($id: ID!) { case(id: $id) { id } }", "variables": { "id": null } }),
        ),
        (
            "missing variable",
            json!({ "query": "query Q($id: ID!) { case(id: $id) { id } }" }),
        ),
        (
            "variable of another type",
            json!({ "query": "query Q($n: Int) { cases(first: $n) { __typename } }", "variables": { "n": "ten" } }),
        ),
        (
            "a list for one Int",
            json!({ "query": "query Q($t: String!, $n: Int) { tierQueue(tier: $t, first: $n) { __typename } }", "variables": { "t": "L1", "n": [1, 2] } }),
        ),
    ];
    for (what, request) in cases {
        let (status, media, body) = post_query(&s, accept, request).await;
        assert_eq!(status, 400, "{what}: {body}");
        assert!(media.starts_with(GRAPHQL_RESPONSE), "{what}: {media}");
        assert!(body.get("data").is_none(), "{what}: {body}");
        assert_eq!(code(&body), "BAD_USER_INPUT", "{what}: {body}");
    }
    // A JSON body that does not parse is 400 whatever the client accepts (B7N8, BCF8).
    for accept in [Some(GRAPHQL_RESPONSE), Some("application/json")] {
        let (status, _, _) = post(
            &s,
            Some("application/json"),
            accept,
            "{ \"not a JSON".into(),
        )
        .await;
        assert_eq!(status, 400, "{accept:?}");
    }
    // Variables that fit go through.
    let fine = json!({ "query": "query Q($n: Int) { cases(first: $n) { __typename } }", "variables": { "n": 5 } });
    let (status, _, body) = post_query(&s, accept, fine).await;
    assert_eq!(
        (status, &body["data"]["cases"]["__typename"]),
        (200, &json!("CaseConnection")),
        "{body}"
    );
}

/// The same request errors with application/json: 200 (572B, FDE2, 7B9B), errors
/// and `data: null` as before.
#[tokio::test]
async fn request_errors_stay_200_for_application_json() {
    let s = TestServer::start().await;
    for request in [
        json!({ "query": "{" }),
        json!({ "query": "{ 8f31403dfe404bccbb0e835f2629c6a7 }" }),
        json!({ "query": "query CoerceFailure($id: ID!){ __typename }", "variables": { "id": null } }),
    ] {
        for accept in [Some("application/json"), None] {
            let (status, media, body) = post_query(&s, accept, request.clone()).await;
            assert_eq!(status, 200, "{request}: {body}");
            assert!(media.starts_with("application/json"), "{media}");
            assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        }
    }
}

/// A field error is no request error: the operation ran, so 200 with its `data`,
/// even when that is null.
#[tokio::test]
async fn field_errors_are_200_with_data() {
    let s = TestServer::start().await;
    let res = s
        .http
        .post(format!("{}/graphql", s.url))
        .header("accept", GRAPHQL_RESPONSE)
        .json(&json!({ "query": "{ stats { cases } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
    assert!(body.get("data").is_some(), "{body}");
}
