//! Request bodies on priced routes: bounded to `[server.limits] max_body_bytes` ([`limit`]:
//! 413 from the declared length before anything is read, or while streaming), and bounded
//! buffering so that MPP challenges can be bound to a body (`digest`) and credentials checked
//! against it ([`buffer`]: only priced MPP routes with a body). Bodies above a limit answer 413
//! before anything is paid or minted (while streaming: before the upstream call completes).

use std::{
    pin::Pin,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    task::{ready, Context, Poll},
};

use axum::body::{Body, HttpBody};
use bytes::Bytes;
use gate402_protocols::mpp::BodyDigest;
use http::{header::CONTENT_LENGTH, Request};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::{Frame, SizeHint};

use crate::{error::GateError, server::limits::Throttle};

/// Read `req`'s body (at most `limit` bytes) and return the request with the buffered body,
/// the body's digest and its bytes (`None` for an empty body).
pub(super) async fn buffer(
    req: Request<Body>,
    limit: usize,
) -> Result<(Request<Body>, Option<BodyDigest>, Option<Bytes>), GateError> {
    if req.body().size_hint().exact() == Some(0) {
        return Ok((req, None, None));
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
    let kept = (!bytes.is_empty()).then(|| bytes.clone());
    Ok((Request::from_parts(parts, Body::from(bytes)), digest, kept))
}

/// One log line per second at most for bodies refused over the limit (strangers can send
/// many).
static REFUSED_LOG: Throttle = Throttle::new();

/// The paid-route body limit on a request whose body has no declared length (chunked
/// HTTP/1.1, HTTP/2 without `content-length`, gRPC streams): counted while it streams
/// upstream. Put in the request's extensions so the proxy can answer 413 instead of 502 when
/// the upstream call fails because the body went over the limit.
#[derive(Debug, Clone)]
pub struct StreamedBodyLimit {
    limit: usize,
    exceeded: Arc<AtomicBool>,
}

impl StreamedBodyLimit {
    /// `Some(limit)` once the body has gone over it.
    pub fn exceeded(&self) -> Option<usize> {
        self.exceeded.load(Ordering::Acquire).then_some(self.limit)
    }
}

/// Bound `req`'s body to `limit` bytes: a declared length above it is refused at once (413,
/// nothing read); a body of unknown length is counted frame by frame as it streams (an error
/// ends it past the limit, see [`StreamedBodyLimit`]); a declared length within it passes
/// untouched (hyper enforces the declared length itself).
pub(super) fn limit(req: Request<Body>, limit: usize) -> Result<Request<Body>, GateError> {
    let hint = req.body().size_hint();
    if hint.lower() > limit as u64 {
        if let Some(times) = REFUSED_LOG.hit() {
            tracing::info!(
                limit,
                declared = hint.lower(),
                times,
                "request body over the limit: 413 before reading it"
            );
        }
        return Err(GateError::BodyTooLarge { limit });
    }
    if hint.upper().is_some_and(|n| n <= limit as u64) || req.body().is_end_stream() {
        return Ok(req);
    }
    let marker = StreamedBodyLimit {
        limit,
        exceeded: Arc::new(AtomicBool::new(false)),
    };
    let (mut parts, body) = req.into_parts();
    let counted = CountedBody {
        inner: body,
        remaining: limit,
        marker: marker.clone(),
    };
    parts.extensions.insert(marker);
    Ok(Request::from_parts(parts, Body::new(counted)))
}

/// The error that ends a body past its limit.
#[derive(Debug, thiserror::Error)]
#[error("request body larger than {0} bytes")]
pub struct BodyLimitExceeded(pub usize);

pin_project_lite::pin_project! {
    struct CountedBody {
        #[pin]
        inner: Body,
        remaining: usize,
        marker: StreamedBodyLimit,
    }
}

impl HttpBody for CountedBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.project();
        match ready!(this.inner.poll_frame(cx)) {
            Some(Ok(frame)) => {
                let len = frame.data_ref().map_or(0, Bytes::len);
                if len > *this.remaining {
                    this.marker.exceeded.store(true, Ordering::Release);
                    if let Some(times) = REFUSED_LOG.hit() {
                        tracing::info!(
                            limit = this.marker.limit,
                            times,
                            "request body over the limit while streaming: 413"
                        );
                    }
                    return Poll::Ready(Some(Err(Box::new(BodyLimitExceeded(this.marker.limit)))));
                }
                *this.remaining -= len;
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => Poll::Ready(Some(Err(Box::new(e)))),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
