//! The gRPC form of the gateway's own answers, as Aperture sends them.
//!
//! A gRPC client reads `grpc-status` and `grpc-message`, not the HTTP status, so an answer the
//! gateway makes itself (402 with challenges, 503, 413, 502, …) to a request whose
//! `Content-Type` is `application/grpc…` becomes a *trailers-only* gRPC response: HTTP 200,
//! `content-type: application/grpc`, `grpc-status`, `grpc-message`, the original headers
//! (`WWW-Authenticate` challenges, `Retry-After`, `Gate402-Reason`) and no body.
//!
//! A 402 is `grpc-status: 13` (INTERNAL) with `grpc-message: payment required`, exactly what
//! Aperture sends (`proxy/proxy.go`, `sendDirectResponse`) and what its client interceptor
//! (`l402/client_interceptor.go`) looks for before reading the challenges from the response
//! header metadata; a tonic client gets `Err(Status)` with `code() == Internal` and the
//! challenges in `status.metadata()`. The other statuses follow the gRPC HTTP mapping
//! (503/502 → UNAVAILABLE, 504 → DEADLINE_EXCEEDED, 413/429 → RESOURCE_EXHAUSTED, …).

use axum::body::Body;
use http::{header, HeaderMap, HeaderValue, Response, StatusCode};

use super::edge::REASON_HEADER;

/// `grpc-message` of a payment-required answer (Aperture's, matched by its client).
pub const PAYMENT_REQUIRED_MESSAGE: &str = "payment required";

/// Whether a request is a gRPC call (`Content-Type: application/grpc`, `+proto`, …).
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// The gRPC status code for an HTTP status the gateway answers with.
pub fn code_for(status: StatusCode) -> u8 {
    match status.as_u16() {
        402 | 500 => 13,      // INTERNAL (402: as Aperture)
        400 => 3,             // INVALID_ARGUMENT
        401 => 16,            // UNAUTHENTICATED
        403 => 7,             // PERMISSION_DENIED
        404 => 12,            // UNIMPLEMENTED
        408 | 504 => 4,       // DEADLINE_EXCEEDED
        413 | 429 | 431 => 8, // RESOURCE_EXHAUSTED
        502 | 503 => 14,      // UNAVAILABLE
        _ => 2,               // UNKNOWN
    }
}

/// Rewrite a gateway-made answer into its trailers-only gRPC form (see the module docs).
/// Successful responses are returned as they are.
pub fn into_grpc(resp: Response<Body>) -> Response<Body> {
    let status = resp.status();
    if status.is_success() {
        return resp;
    }
    let (mut parts, _) = resp.into_parts();
    let message = if status == StatusCode::PAYMENT_REQUIRED {
        PAYMENT_REQUIRED_MESSAGE.to_owned()
    } else {
        let reason = parts
            .headers
            .get(REASON_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error"));
        percent_encode(reason)
    };
    let h = &mut parts.headers;
    h.remove(header::CONTENT_LENGTH);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    h.insert(
        "grpc-status",
        HeaderValue::from(u16::from(code_for(status))),
    );
    if let Ok(v) = HeaderValue::from_str(&message) {
        h.insert("grpc-message", v);
    }
    parts.status = StatusCode::OK;
    Response::from_parts(parts, Body::empty())
}

/// gRPC's `Percent-Encoded` form of `grpc-message`: bytes outside `%x20-%x7E`, and `%`
/// itself, as `%XX`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::GateError;
    use crate::paywall::edge;

    #[test]
    fn a_402_becomes_apertures_trailers_only_internal_status_with_its_challenges() {
        let err = GateError::PaymentRequired {
            reason: None,
            detail: None,
        };
        let challenge = (
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("L402 macaroon=\"m\", invoice=\"i\""),
        );
        let resp = into_grpc(edge::error_response(&err, vec![challenge], 5));
        assert_eq!(resp.status(), StatusCode::OK);
        let h = resp.headers();
        assert_eq!(h["content-type"], "application/grpc");
        assert_eq!(h["grpc-status"], "13");
        assert_eq!(h["grpc-message"], "payment required");
        assert_eq!(
            h[header::WWW_AUTHENTICATE],
            "L402 macaroon=\"m\", invoice=\"i\""
        );
        assert!(h.get(header::CONTENT_LENGTH).is_none());
    }

    #[test]
    fn outages_and_limits_map_to_grpc_codes_with_the_reason() {
        let resp = into_grpc(edge::error_response(&GateError::UpstreamTimeout, vec![], 5));
        assert_eq!(resp.headers()["grpc-status"], "4");
        assert_eq!(resp.headers()["grpc-message"], "upstream_timeout");
        let resp = into_grpc(edge::error_response(
            &GateError::BodyTooLarge { limit: 1 },
            vec![],
            5,
        ));
        assert_eq!(resp.headers()["grpc-status"], "8");
        assert_eq!(code_for(StatusCode::SERVICE_UNAVAILABLE), 14);
        assert_eq!(percent_encode("ü 100%"), "%C3%BC 100%25");
        let ok = Response::new(Body::empty());
        assert_eq!(into_grpc(ok).headers().len(), 0);
    }

    #[test]
    fn grpc_requests_are_recognised_by_content_type() {
        let mut h = HeaderMap::new();
        assert!(!is_grpc(&h));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc+proto"),
        );
        assert!(is_grpc(&h));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert!(!is_grpc(&h));
    }
}
