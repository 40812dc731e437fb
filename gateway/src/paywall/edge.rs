//! The edge: the one place where gateway errors become HTTP responses.

use axum::body::Body;
use gate402_protocols::HeaderPair;
use http::{header, HeaderValue, Response, StatusCode};
use serde_json::{Map, Value};

use crate::error::GateError;

/// Header carrying the machine-readable reason a credential was refused.
pub const REASON_HEADER: &str = "gate402-reason";

/// [`REASON_HEADER`] as a typed name (inserting by `&str` parses it on every answer).
const REASON: http::HeaderName = http::HeaderName::from_static(REASON_HEADER);

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
    let body = |extra| {
        let detail = match err {
            GateError::PaymentRequired { detail, .. } => detail.clone(),
            GateError::BadRequest { detail, .. } => Some(detail.clone()),
            other => Some(other.to_string()),
        };
        serialize(&Problem {
            kind: match problem_type {
                Some(t) => std::borrow::Cow::Borrowed(t),
                None => std::borrow::Cow::Owned(format!("https://gate402.dev/problems/{code}")),
            },
            title: status.canonical_reason().unwrap_or("error"),
            status: status.as_u16(),
            reason: code,
            detail,
            extra,
        })
    };
    // Extra members never replace the standard ones.
    let extra = extra.map(|mut m| {
        for k in ["type", "title", "status", "reason", "detail"] {
            m.remove(k);
        }
        m
    });
    // The commonest answer, a 402 to a request without a credential, has one body: made
    // once, then shared.
    let plain = matches!(
        err,
        GateError::PaymentRequired {
            reason: None,
            detail: None
        }
    ) && problem_type.is_none()
        && extra.is_none();
    let text = if plain {
        static PLAIN_402: std::sync::OnceLock<bytes::Bytes> = std::sync::OnceLock::new();
        PLAIN_402.get_or_init(|| body(None)).clone()
    } else {
        body(extra)
    };
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
        h.insert(REASON, v);
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

/// The body of [`problem_response`]: serialized straight from the struct (a `json!` value,
/// then its `Display`, cost ≈ 1 µs more per 402), into a buffer sized once (a 402 body is
/// ≈ 150 bytes; growing from empty reallocated 4 times).
fn serialize(body: &Problem<'_>) -> bytes::Bytes {
    let mut text = Vec::with_capacity(256);
    if serde_json::to_writer(&mut text, body).is_err() {
        text.clear();
    }
    text.into()
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
        h.insert(REASON, v);
    }
    if let Some((name, value)) = receipt {
        h.insert(name, value);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(resp: Response<Body>) -> serde_json::Value {
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    /// The shared body of a plain 402 is the one the builder would make, and answers that
    /// differ from it (a refusal, another problem type, extra members) get their own.
    #[tokio::test]
    async fn the_plain_402_body_is_shared_and_nothing_else_is() {
        let plain = GateError::PaymentRequired {
            reason: None,
            detail: None,
        };
        let want = serde_json::json!({
            "type": "https://gate402.dev/problems/payment_required",
            "title": "Payment Required", "status": 402,
            "reason": "payment_required", "detail": null,
        });
        for _ in 0..2 {
            let resp = error_response(&plain, Vec::new(), 1);
            assert_eq!(resp.headers()[REASON_HEADER], "payment_required");
            assert_eq!(body(resp).await, want);
        }
        let refused = GateError::PaymentRequired {
            reason: Some("bad_signature"),
            detail: Some("signature mismatch".into()),
        };
        let got = body(error_response(&refused, Vec::new(), 1)).await;
        assert_eq!(got["reason"], "bad_signature");
        assert_eq!(got["detail"], "signature mismatch");
        let typed = typed_error_response(&plain, Vec::new(), 1, Some("https://x.test/p"));
        assert_eq!(body(typed).await["type"], "https://x.test/p");
        let mut extra = Map::new();
        extra.insert("x402Version".into(), 1.into());
        extra.insert("status".into(), 200.into());
        let got = body(error_response_with(&plain, Vec::new(), 1, Some(extra))).await;
        assert_eq!(got["x402Version"], 1);
        assert_eq!(
            got["status"], 402,
            "extra members never replace the standard ones"
        );
        // The plain body is still the plain one after the others.
        assert_eq!(body(error_response(&plain, Vec::new(), 1)).await, want);
    }
}
