//! CORS for consoles served from other origins (`--cors-origin`, repeatable; none by
//! default). An allowed origin may call `/graphql` (and the other routes) with
//! `GET`/`POST` and the `Content-Type`, `Authorization` and `Accept` headers; a
//! preflight from any other origin is refused and other requests from it get no CORS
//! headers, so browsers keep their answers from its scripts. Tokens travel in
//! `Authorization`, never in cookies, so credentials are not allowed.

use actix_cors::Cors;
use actix_web::http::{header, Method, Uri};

/// The CORS middleware for `origins` (each checked by [`parse_origin`]).
pub fn cors(origins: &[String]) -> Cors {
    origins
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
        .allowed_methods([Method::GET, Method::POST])
        .allowed_headers([header::CONTENT_TYPE, header::AUTHORIZATION, header::ACCEPT])
        .max_age(3600)
}

/// An origin as browsers send it: `scheme://host[:port]`, nothing after it. `*` is
/// refused: name each console's origin.
pub fn parse_origin(origin: &str) -> Result<String, String> {
    let origin = origin.trim().trim_end_matches('/');
    let uri: Uri = origin
        .parse()
        .map_err(|e| format!("`{origin}` is not an origin: {e}"))?;
    match (uri.scheme_str(), uri.authority(), uri.path_and_query()) {
        (Some("http" | "https"), Some(_), None) => Ok(origin.to_string()),
        (Some("http" | "https"), Some(_), Some(p)) if p.as_str() == "/" || p.as_str().is_empty() => {
            Ok(origin.to_string())
        }
        _ => Err(format!(
            "`{origin}` is not an origin: write it as scheme://host[:port], e.g. https://console.example.com"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port() {
        assert_eq!(
            parse_origin("https://console.example.com/").unwrap(),
            "https://console.example.com"
        );
        assert!(parse_origin("http://localhost:5173").is_ok());
        for bad in [
            "*",
            "console.example.com",
            "https://x.example/app",
            "ftp://x.example",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }
}
