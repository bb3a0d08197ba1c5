//! The web console and GraphiQL as served by the binary: every embedded file at its
//! path with its content type and cache headers, nothing that would make a browser
//! reach another host, and the console's first load within its budget.

use super::TestServer;
use swarmdesk::http::console::{Origin, ASSETS};

/// The console's first load: the page, its stylesheet and every ES module it
/// imports (GraphiQL's files load only at `/graphiql`). flate2 is not a dependency,
/// so instead of the 300 KB compressed this checks a stricter raw budget.
const FIRST_LOAD_RAW_BUDGET: usize = 150 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_asset_is_served_with_its_type_and_cache_headers() {
    let s = TestServer::start().await;
    for asset in ASSETS {
        let url = format!("{}{}", s.url, asset.path);
        let res = s.http.get(&url).send().await.unwrap();
        assert_eq!(res.status(), 200, "{}", asset.path);
        let h = res.headers().clone();
        assert_eq!(h["content-type"], asset.content_type, "{}", asset.path);
        assert_eq!(h["cache-control"], "no-cache", "{}", asset.path);
        assert_eq!(h["x-content-type-options"], "nosniff", "{}", asset.path);
        let etag = h["etag"].to_str().unwrap().to_string();
        assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");
        if asset.content_type.starts_with("text/html") {
            let csp = h["content-security-policy"].to_str().unwrap();
            assert!(csp.contains("default-src 'self'"), "{csp}");
            assert!(csp.contains("connect-src 'self'"), "{csp}");
            assert!(csp.contains("script-src 'self'"), "{csp}");
        }
        let body = res.bytes().await.unwrap();
        assert_eq!(&body[..], asset.body, "{}", asset.path);

        // Revalidation: the same ETag gets 304 without a body.
        let again = s
            .http
            .get(&url)
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{}", asset.path);
        assert_eq!(again.headers()["etag"], etag.as_str());
        assert!(again.bytes().await.unwrap().is_empty());

        let head = s.http.head(&url).send().await.unwrap();
        assert_eq!(head.status(), 200, "HEAD {}", asset.path);
        assert_eq!(head.headers()["content-type"], asset.content_type);
    }
    // The console at `/`, GraphiQL at `/graphiql`, both from the binary.
    let root = s.get_text("/").await;
    assert!(root.contains("/console/js/main.js"), "{root}");
    let graphiql = s.get_text("/graphiql").await;
    assert!(graphiql.contains("/vendor/graphiql.min.js"), "{graphiql}");
    s.stop().await;
}

/// The URLs written in `text` (`http://...` or `https://...`).
fn urls(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for scheme in ["http://", "https://"] {
        let mut rest = text;
        while let Some(i) = rest.find(scheme) {
            let tail = &rest[i..];
            let end = tail
                .find(|c: char| c.is_whitespace() || "\"'`)<>".contains(c))
                .unwrap_or(tail.len());
            out.push(&tail[..end]);
            rest = &tail[scheme.len()..];
        }
    }
    out
}

#[test]
fn no_served_file_points_a_browser_at_another_host() {
    for asset in ASSETS {
        let text = String::from_utf8_lossy(asset.body);
        match asset.origin {
            // Our own files name no other host at all (the SVG namespace is a name,
            // not a request).
            Origin::Console => {
                let bad: Vec<_> = urls(&text)
                    .into_iter()
                    .filter(|u| !u.starts_with("http://www.w3.org/"))
                    .collect();
                assert!(bad.is_empty(), "{} names {bad:?}", asset.file);
            }
            // The vendored builds mention URLs in error messages and licence
            // comments; none is in a place a browser would load it from.
            Origin::Vendor => {
                let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                for load in [
                    "src=\"http",
                    "href=\"http",
                    "url(http",
                    "url(\"http",
                    "url('http",
                    "@import\"http",
                    "@importurl(",
                    "import(\"http",
                    "from\"http",
                    "importScripts(\"http",
                    "newWebSocket(\"ws",
                ] {
                    assert!(
                        !compact.contains(load),
                        "{} loads from another host: `{load}`",
                        asset.file
                    );
                }
            }
        }
    }
    // The pages load only paths of this server.
    for page in ASSETS
        .iter()
        .filter(|a| a.content_type.starts_with("text/html"))
    {
        let text = String::from_utf8_lossy(page.body);
        for attr in ["src=\"", "href=\""] {
            for part in text.split(attr).skip(1) {
                let target = &part[..part.find('"').unwrap()];
                assert!(
                    target.starts_with('/') || target.starts_with('#') || target == "data:,",
                    "{} refers to `{target}`",
                    page.file
                );
            }
        }
    }
}

#[test]
fn the_console_first_load_is_within_budget() {
    let first_load: usize = ASSETS
        .iter()
        .filter(|a| a.origin == Origin::Console && !a.file.starts_with("graphiql"))
        .map(|a| a.body.len())
        .sum();
    assert!(
        first_load < FIRST_LOAD_RAW_BUDGET,
        "the console's first load is {first_load} bytes uncompressed; the budget is {FIRST_LOAD_RAW_BUDGET}"
    );
}
