//! The web console (`/`) and GraphiQL (`/graphiql`): static files from `console/`,
//! embedded in the binary at compile time, so both work on a host without internet
//! access. Every file is served with its content type, an `ETag` (its SHA-256) and
//! `Cache-Control: no-cache` (browsers revalidate and get `304 Not Modified` while
//! the binary is the same). The pages get a Content-Security-Policy that allows
//! nothing but this origin, so no request can leave the machine.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// Whose file an asset is: the console's own (counted against the first-load
/// budget, written here) or a pinned third-party build (`console/vendor/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Console,
    Vendor,
}

/// One embedded file and the URL path it is served at.
#[derive(Debug)]
pub struct Asset {
    pub path: &'static str,
    /// Its file under `console/`.
    pub file: &'static str,
    pub content_type: &'static str,
    pub origin: Origin,
    pub body: &'static [u8],
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

macro_rules! asset {
    ($path:literal, $file:literal, $type:expr, $origin:ident) => {
        Asset {
            path: $path,
            file: $file,
            content_type: $type,
            origin: Origin::$origin,
            body: include_bytes!(concat!("../../console/", $file)),
        }
    };
}

/// Every file the server serves for the console and GraphiQL.
pub const ASSETS: &[Asset] = &[
    asset!("/", "index.html", HTML, Console),
    asset!("/console/console.css", "console.css", CSS, Console),
    asset!("/console/js/main.js", "js/main.js", JS, Console),
    asset!("/console/js/api.js", "js/api.js", JS, Console),
    asset!("/console/js/ui.js", "js/ui.js", JS, Console),
    asset!("/console/js/queue.js", "js/queue.js", JS, Console),
    asset!("/console/js/case.js", "js/case.js", JS, Console),
    asset!("/console/js/rules.js", "js/rules.js", JS, Console),
    asset!("/console/js/audit.js", "js/audit.js", JS, Console),
    asset!("/console/js/admin.js", "js/admin.js", JS, Console),
    asset!("/console/js/customer.js", "js/customer.js", JS, Console),
    asset!("/graphiql", "graphiql.html", HTML, Console),
    asset!("/console/graphiql.js", "graphiql.js", JS, Console),
    asset!(
        "/vendor/react.production.min.js",
        "vendor/react.production.min.js",
        JS,
        Vendor
    ),
    asset!(
        "/vendor/react-dom.production.min.js",
        "vendor/react-dom.production.min.js",
        JS,
        Vendor
    ),
    asset!(
        "/vendor/graphiql.min.js",
        "vendor/graphiql.min.js",
        JS,
        Vendor
    ),
    asset!(
        "/vendor/graphiql.min.css",
        "vendor/graphiql.min.css",
        CSS,
        Vendor
    ),
];

/// The console's pages: scripts, styles and connections from this origin only.
const CONSOLE_CSP: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data:; \
     style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// GraphiQL injects its styles at run time (`<style>` elements), so it needs inline
/// styles; scripts and connections stay same-origin.
const GRAPHIQL_CSP: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data:; \
     font-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The `ETag` of each asset, in [`ASSETS`]' order, computed on first use.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let digest = Sha256::digest(a.body);
                let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
                format!("\"{hex}\"")
            })
            .collect()
    })
}

/// Registers a `GET` and a `HEAD` route for every asset.
pub fn configure(cfg: &mut web::ServiceConfig) {
    for (i, _) in ASSETS.iter().enumerate() {
        let handler = move |req: HttpRequest| async move { serve(i, &req) };
        cfg.route(ASSETS[i].path, web::get().to(handler))
            .route(ASSETS[i].path, web::head().to(handler));
    }
}

fn serve(i: usize, req: &HttpRequest) -> HttpResponse {
    let asset = &ASSETS[i];
    let etag = &etags()[i];
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut res = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, etag.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if asset.content_type == HTML {
        let csp = if asset.path == "/graphiql" {
            GRAPHIQL_CSP
        } else {
            CONSOLE_CSP
        };
        res.insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        ))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    }
    if matches {
        return res.finish();
    }
    res.content_type(asset.content_type).body(asset.body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Every file under `console/` (but the vendored builds' licences and notes) is
    /// served, and every asset is a file there: a new module cannot be forgotten.
    #[test]
    fn the_table_lists_every_console_file() {
        fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, root, out);
                } else {
                    let rel = path.strip_prefix(root).unwrap();
                    out.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
        let mut files = Vec::new();
        walk(&root, &root, &mut files);
        files.retain(|f| !f.starts_with("vendor/licenses/") && !f.ends_with(".md"));
        files.sort();
        let mut listed: Vec<String> = ASSETS.iter().map(|a| a.file.to_string()).collect();
        listed.sort();
        assert_eq!(files, listed);
    }

    #[test]
    fn paths_are_unique_and_etags_differ() {
        let mut paths: Vec<_> = ASSETS.iter().map(|a| a.path).collect();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), ASSETS.len());
        let mut tags = etags().to_vec();
        tags.sort();
        tags.dedup();
        assert_eq!(tags.len(), ASSETS.len());
    }
}
