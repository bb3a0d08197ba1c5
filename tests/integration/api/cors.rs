//! CORS: `--cors-origin` lets a console on another origin call the API; other origins
//! get no CORS headers.

use super::{TestServer, ADMIN};

const CONSOLE: &str = "https://console.example.com";

async fn preflight(s: &TestServer, origin: &str) -> reqwest::Response {
    s.http
        .request(reqwest::Method::OPTIONS, format!("{}/graphql", s.url))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,authorization",
        )
        .send()
        .await
        .unwrap()
}

fn header(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_ascii_lowercase())
}

#[tokio::test]
async fn an_allowed_origin_may_call_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir, |o| o.cors_origins = vec![CONSOLE.into()]).await;
    let res = preflight(&s, CONSOLE).await;
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(
        header(&res, "access-control-allow-origin").as_deref(),
        Some(CONSOLE)
    );
    let methods = header(&res, "access-control-allow-methods").unwrap_or_default();
    assert!(methods.contains("post"), "{methods}");
    let headers = header(&res, "access-control-allow-headers").unwrap_or_default();
    for h in ["content-type", "authorization"] {
        assert!(headers.contains(h), "{h} not in {headers}");
    }
    // The request itself carries the header the browser needs.
    let res = s
        .http
        .post(format!("{}/graphql", s.url))
        .header("origin", CONSOLE)
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(&res, "access-control-allow-origin").as_deref(),
        Some(CONSOLE)
    );
}

#[tokio::test]
async fn other_origins_get_no_cors_headers() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir, |o| o.cors_origins = vec![CONSOLE.into()]).await;
    let res = preflight(&s, "https://evil.example.net").await;
    assert!(!res.status().is_success(), "{}", res.status());
    assert_eq!(header(&res, "access-control-allow-origin"), None);
    assert_eq!(header(&res, "access-control-allow-headers"), None);
    // A request from there is answered (the browser withholds it), without CORS headers.
    let res = s
        .http
        .post(format!("{}/graphql", s.url))
        .header("origin", "https://evil.example.net")
        .json(&serde_json::json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&res, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn without_cors_origins_no_origin_is_allowed() {
    let s = TestServer::start().await;
    let res = preflight(&s, CONSOLE).await;
    assert_eq!(header(&res, "access-control-allow-origin"), None);
    // Same-origin pages (the console at `/`, GraphiQL) send an Origin too, and still work.
    let res = s
        .http
        .post(format!("{}/graphql", s.url))
        .header("origin", s.url.clone())
        .json(&serde_json::json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
