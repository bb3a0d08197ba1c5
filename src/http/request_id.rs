//! Request ids: every HTTP request (a WebSocket connection too) runs in a `request`
//! span carrying a `request_id`, the client's `X-Request-Id` if it is sane (1 to 128
//! characters of `A-Z a-z 0-9 - _ . :`), else a fresh ULID; the response returns it in
//! `X-Request-Id`. Work a request hands to other tasks is instrumented with the same
//! span, so all of it logs under that id.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

/// The header read and returned.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// Longest id taken from a client.
pub const MAX_LEN: usize = 128;

/// Whether a client's id may be logged and echoed as it is.
pub fn is_sane(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The request's id: the client's if sane, else a new one.
pub fn id_for(headers: &HeaderMap) -> String {
    headers
        .get(&HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| is_sane(id))
        .map(str::to_owned)
        .unwrap_or_else(|| ulid::Ulid::new().to_string())
}

/// The middleware (`actix_web::middleware::from_fn`).
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = id_for(req.headers());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.path(),
    );
    let started = std::time::Instant::now();
    async move {
        let mut res = next.call(req).await?;
        tracing::debug!(
            status = res.status().as_u16(),
            micros = started.elapsed().as_micros() as u64,
            "request served"
        );
        if let Ok(value) = HeaderValue::from_str(&id) {
            res.headers_mut().insert(HEADER, value);
        }
        Ok(res)
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sane_id_is_kept_and_anything_else_replaced() {
        let mut h = HeaderMap::new();
        h.insert(HEADER, HeaderValue::from_static("req-42.a:b_c"));
        assert_eq!(id_for(&h), "req-42.a:b_c");
        for bad in ["", "a b", "x\"y", "ü", &"a".repeat(MAX_LEN + 1)] {
            assert!(!is_sane(bad), "{bad:?}");
        }
        assert!(is_sane(&"a".repeat(MAX_LEN)));
        h.insert(HEADER, HeaderValue::from_static("has space"));
        let fresh = id_for(&h);
        assert_eq!(fresh.len(), 26, "a ULID: {fresh}");
        assert_ne!(fresh, id_for(&h), "a new one each time");
        assert_eq!(id_for(&HeaderMap::new()).len(), 26);
    }
}
