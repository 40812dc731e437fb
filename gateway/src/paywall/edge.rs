//! The edge: the one place where gateway errors become HTTP responses.

use axum::body::Body;
use gate402_protocols::HeaderPair;
use http::{header, HeaderValue, Response, StatusCode};
use serde_json::{Map, Value};

use crate::error::GateError;

/// Header carrying the machine-readable reason a credential was refused.
pub const REASON_HEADER: &str = "gate402-reason";

/// `Access-Control-Expose-Headers` of the gateway's own 402/503 answers: browser clients
/// (`fetch`) may read only CORS-safelisted headers unless the others are exposed, and none of
/// the challenge headers is safelisted.
pub const EXPOSE_CHALLENGE: &str = "WWW-Authenticate, PAYMENT-REQUIRED, PAYMENT-RESPONSE, \
X-PAYMENT-RESPONSE, Payment-Receipt, Retry-After, Gate402-Reason";

/// `Access-Control-Expose-Headers` added to paid responses: the receipt headers.
pub const EXPOSE_RECEIPT: &str = "Payment-Receipt, PAYMENT-RESPONSE, X-PAYMENT-RESPONSE";

/// Build the response for `err`. `challenges` are the fresh challenge headers of a 402.
pub fn error_response(
    err: &GateError,
    challenges: Vec<HeaderPair>,
    retry_after_secs: u64,
) -> Response<Body> {
    problem_response(err, challenges, retry_after_secs, None, None)
}

/// [`error_response`] with the RFC 9457 `type` chosen by the protocol that refused the
/// credential (e.g. MPP's `https://paymentauth.org/problems/…`); `None` keeps
/// `https://gate402.dev/problems/<code>`. The other members (`reason`, `detail`…) stay.
pub fn typed_error_response(
    err: &GateError,
    challenges: Vec<HeaderPair>,
    retry_after_secs: u64,
    problem_type: Option<&str>,
) -> Response<Body> {
    problem_response(err, challenges, retry_after_secs, problem_type, None)
}

/// [`error_response`] with extra members merged into the problem body (RFC 9457 extension
/// members), e.g. x402 v1's `x402Version` / `accepts`.
pub fn error_response_with(
    err: &GateError,
    challenges: Vec<HeaderPair>,
    retry_after_secs: u64,
    extra: Option<Map<String, Value>>,
) -> Response<Body> {
    problem_response(err, challenges, retry_after_secs, None, extra)
}

/// The RFC 9457 body of [`problem_response`] (members: type, title, status, reason, detail,
/// then the extra members).
#[derive(serde::Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: std::borrow::Cow<'a, str>,
    title: &'a str,
    status: u16,
    reason: &'a str,
    detail: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    extra: Option<Map<String, Value>>,
}

/// The one builder: status from the error, `application/problem+json` body with `type`
/// (`problem_type` or gate402's), `reason`, `detail` and any `extra` members (which never
/// overwrite the standard ones), `Cache-Control: no-store`, `Gate402-Reason`, `Retry-After`
/// on 503 and on retryable upstream failures (502/504: a paid credential stays usable),
/// `Access-Control-Expose-Headers` ([`EXPOSE_CHALLENGE`]) and the challenge headers.
pub fn problem_response(
    err: &GateError,
    challenges: Vec<HeaderPair>,
    retry_after_secs: u64,
    problem_type: Option<&str>,
    extra: Option<Map<String, Value>>,
) -> Response<Body> {
    let status = err.status();
    let code = err.code();
    let detail = match err {
        GateError::PaymentRequired { detail, .. } => detail.clone(),
        GateError::BadRequest { detail, .. } => Some(detail.clone()),
        other => Some(other.to_string()),
    };
    let body = Problem {
        kind: match problem_type {
            Some(t) => std::borrow::Cow::Borrowed(t),
            None => std::borrow::Cow::Owned(format!("https://gate402.dev/problems/{code}")),
        },
        title: status.canonical_reason().unwrap_or("error"),
        status: status.as_u16(),
        reason: code,
        detail,
        // Extra members never replace the standard ones.
        extra: extra.map(|mut m| {
            for k in ["type", "title", "status", "reason", "detail"] {
                m.remove(k);
            }
            m
        }),
    };
    // Serialized straight from a struct (a `json!` value, then its `Display`, cost ≈ 1 µs
    // more per 402).
    // Sized once: a 402 body is ≈ 150 bytes (growing from empty reallocated 4 times).
    let mut text = Vec::with_capacity(256);
    if serde_json::to_writer(&mut text, &body).is_err() {
        text.clear();
    }
    let mut resp = Response::new(Body::from(text));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_CHALLENGE),
    );
    if let Ok(v) = HeaderValue::from_str(code) {
        h.insert(REASON_HEADER, v);
    }
    let upstream = err.source_kind() == crate::error::ErrorSource::Upstream && err.retryable();
    if status == StatusCode::SERVICE_UNAVAILABLE || upstream {
        h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    }
    for (name, value) in challenges {
        h.append(name, value);
    }
    resp
}

/// A payment that verified but could not be settled (x402, as the reference server answers):
/// 402, body `{}`, `Cache-Control: no-store`, `Gate402-Reason`, and the protocol's failed
/// receipt header. The upstream's response is not released.
pub fn settlement_failed(reason: &str, receipt: Option<HeaderPair>) -> Response<Body> {
    let mut resp = Response::new(Body::from("{}"));
    *resp.status_mut() = StatusCode::PAYMENT_REQUIRED;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_CHALLENGE),
    );
    if let Ok(v) = HeaderValue::from_str(reason) {
        h.insert(REASON_HEADER, v);
    }
    if let Some((name, value)) = receipt {
        h.insert(name, value);
    }
    resp
}
