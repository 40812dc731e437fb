//! Bounded buffering of a request body, so that MPP challenges can be bound to it (`digest`)
//! and credentials checked against it. Only requests on priced MPP routes that carry a body
//! are buffered; bodies above the limit answer 413 before anything is paid or minted.

use axum::body::Body;
use axum::body::HttpBody as _;
use gate402_protocols::mpp::BodyDigest;
use http::{header::CONTENT_LENGTH, Request};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::error::GateError;

/// Read `req`'s body (at most `limit` bytes) and return the request with the buffered body
/// and the body's digest (`None` for an empty body).
pub(super) async fn buffer(
    req: Request<Body>,
    limit: usize,
) -> Result<(Request<Body>, Option<BodyDigest>), GateError> {
    if req.body().size_hint().exact() == Some(0) {
        return Ok((req, None));
    }
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(GateError::BodyTooLarge { limit });
    }
    let (parts, body) = req.into_parts();
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => return Err(GateError::BodyTooLarge { limit }),
        Err(e) => return Err(GateError::Body(e.to_string())),
    };
    let digest = (!bytes.is_empty()).then(|| BodyDigest::of(&bytes));
    Ok((Request::from_parts(parts, Body::from(bytes)), digest))
}
