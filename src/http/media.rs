//! GraphQL over HTTP's media types and status codes (the GraphQL-over-HTTP draft, as
//! audited by graphql-http's `auditServer`).
//!
//! - A `POST` body must be `application/json` (`415` otherwise, also without a
//!   `Content-Type`).
//! - The response's media type follows `Accept`: `application/graphql-response+json`
//!   when it is the client's first choice; `application/json` when that is, and for
//!   `*/*`, `application/*` or no `Accept` at all (what clients that predate the
//!   draft expect); `406` when `Accept` allows neither.
//! - With `application/graphql-response+json`, a request error (the document does not
//!   parse or validate, its variables do not fit, it exceeds a limit) is `400` and
//!   the body has no `data` entry. With `application/json` every GraphQL response is
//!   `200`, as before the draft.

use actix_web::http::header::{self, Header, Quality};
use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use async_graphql::{BatchResponse, Response};

use crate::api::error::TIMEOUT;

pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// The media type of a GraphQL response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    GraphqlResponse,
    /// `application/json`, for clients that predate `application/graphql-response+json`.
    Json,
}

/// The media type `req`'s `Accept` header prefers; `None` when it accepts neither.
pub fn negotiate(req: &HttpRequest) -> Option<Media> {
    let Ok(accept) = header::Accept::parse(req) else {
        // An unreadable header says nothing.
        return Some(Media::Json);
    };
    if accept.is_empty() {
        return Some(Media::Json);
    }
    let refused: Vec<_> = accept
        .iter()
        .filter(|item| item.quality == Quality::ZERO)
        .map(|item| item.item.clone())
        .collect();
    accept
        .ranked()
        .into_iter()
        .filter(|mime| !refused.contains(mime))
        .find_map(|mime| match mime.essence_str() {
            GRAPHQL_RESPONSE_JSON => Some(Media::GraphqlResponse),
            JSON | "application/*" | "*/*" => Some(Media::Json),
            _ => None,
        })
}

/// Whether a `POST` body is declared as JSON (any parameters, e.g. `charset=utf-8`).
pub fn is_json_body(req: &HttpRequest) -> bool {
    matches!(req.mime_type(), Ok(Some(mime)) if mime.essence_str() == JSON)
}

/// A response that never reached execution: it has no data, and its errors point at
/// no field (field errors always have a path). A timeout is not the request's fault.
fn is_request_error(response: &Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| {
            let code = e.extensions.as_ref().and_then(|x| x.get("code"));
            e.path.is_empty() && code != Some(&async_graphql::Value::from(TIMEOUT.name()))
        })
}

/// The HTTP response for a GraphQL response, in the negotiated media type.
pub fn respond(media: Media, response: BatchResponse) -> HttpResponse {
    let (status, body) = match (&media, &response) {
        (Media::GraphqlResponse, BatchResponse::Single(single)) if is_request_error(single) => {
            // No `data` entry: the operation was never executed.
            let mut body = serde_json::json!({ "errors": single.errors });
            if !single.extensions.is_empty() {
                body["extensions"] = serde_json::json!(single.extensions);
            }
            (StatusCode::BAD_REQUEST, serde_json::to_vec(&body))
        }
        _ => (StatusCode::OK, serde_json::to_vec(&response)),
    };
    let content_type = match media {
        Media::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
        Media::Json => "application/json",
    };
    match body {
        Ok(body) => HttpResponse::build(status)
            .insert_header((header::CONTENT_TYPE, content_type))
            .body(body),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn accepting(value: Option<&str>) -> Option<Media> {
        let mut req = TestRequest::default();
        if let Some(v) = value {
            req = req.insert_header((header::ACCEPT, v));
        }
        negotiate(&req.to_http_request())
    }

    #[test]
    fn accept_picks_the_clients_first_choice() {
        use Media::*;
        assert_eq!(accepting(None), Some(Json));
        assert_eq!(accepting(Some("*/*")), Some(Json));
        assert_eq!(accepting(Some("application/json")), Some(Json));
        assert_eq!(
            accepting(Some(GRAPHQL_RESPONSE_JSON)),
            Some(GraphqlResponse)
        );
        assert_eq!(
            accepting(Some(
                "application/graphql-response+json, application/json;q=0.9"
            )),
            Some(GraphqlResponse)
        );
        assert_eq!(
            accepting(Some(
                "application/json, application/graphql-response+json;q=0.5"
            )),
            Some(Json)
        );
        assert_eq!(
            accepting(Some("text/html, application/graphql-response+json;q=0.1")),
            Some(GraphqlResponse)
        );
        assert_eq!(
            accepting(Some("application/graphql-response+json;q=0, */*")),
            Some(Json)
        );
        assert_eq!(accepting(Some("text/html")), None);
    }
}
