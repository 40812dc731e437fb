//! One log event per request (`[server] access_log`, on with `gate402 serve --log-format
//! json`): route, protocol, outcome, status, latency — target `gate402::access` — and the
//! request counter of the metrics (`gate402_requests_total`, when `[admin]` counts them), from
//! the same fields. Fields come
//! from what the paywall attached to the response (its [`Receipt`], the route of its own
//! answers, the `gate402-reason` header), never from credentials: no macaroon, preimage,
//! cookie, JWT or key is ever a field, and the path is logged without its query.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{ready, Context, Poll},
    time::Instant,
};

use axum::{body::Body, extract::Request, response::Response};
use http::{Method, StatusCode};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::metrics::Metrics;
use crate::paywall::{edge::REASON_HEADER, Receipt, RouteTag};

/// What [`ObserveLayer`] does.
#[derive(Debug)]
pub struct Observe {
    /// Log the access event.
    pub log: bool,
    /// Count the request.
    pub metrics: Option<Arc<Metrics>>,
}

/// The access log and request counter as a tower layer around the router: a plain
/// `Service`/`Future` pair, no boxing per request (an `axum::middleware::from_fn` clones a
/// boxed service and boxes a future for every request: measurable on the paid path, see
/// `docs/benchmarks.md`).
#[derive(Debug, Clone)]
pub struct ObserveLayer(pub Arc<Observe>);

impl<S> Layer<S> for ObserveLayer {
    type Service = ObserveService<S>;

    fn layer(&self, inner: S) -> ObserveService<S> {
        ObserveService {
            inner,
            observe: self.0.clone(),
        }
    }
}

/// See [`ObserveLayer`].
#[derive(Debug, Clone)]
pub struct ObserveService<S> {
    inner: S,
    observe: Arc<Observe>,
}

/// The request facts the access log keeps while the request runs.
struct Started {
    at: Instant,
    method: Method,
    path: String,
}

impl<S> Service<Request> for ObserveService<S>
where
    S: Service<Request, Response = Response<Body>, Error = Infallible>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ObserveFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let started = self.observe.log.then(|| Started {
            at: Instant::now(),
            method: req.method().clone(),
            path: redact(req.uri().path()),
        });
        ObserveFuture {
            inner: self.inner.call(req),
            observe: self.observe.clone(),
            started,
        }
    }
}

pin_project! {
    /// Response future of [`ObserveService`].
    pub struct ObserveFuture<F> {
        #[pin]
        inner: F,
        observe: Arc<Observe>,
        started: Option<Started>,
    }
}

impl<F> Future for ObserveFuture<F>
where
    F: Future<Output = Result<Response<Body>, Infallible>>,
{
    type Output = Result<Response<Body>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let resp = ready!(this.inner.poll(cx))?;
        if let Some(s) = this.started.take() {
            access_log(s, &resp);
        }
        if let Some(m) = &this.observe.metrics {
            let (route, protocol, outcome, reason) = fields(&resp);
            m.request(route, protocol, outcome, reason);
        }
        Poll::Ready(Ok(resp))
    }
}

/// `(route, protocol, outcome, reason)` of a response, all bounded: the reason only from the
/// paywall's own answers (an upstream cannot set a label through `gate402-reason`).
fn fields(resp: &Response<Body>) -> (&str, &'static str, &'static str, &str) {
    let receipt = resp.extensions().get::<Receipt>();
    let tag = resp.extensions().get::<RouteTag>();
    let route = receipt
        .map(|r| r.route.as_str())
        .or_else(|| tag.map(|t| t.0.as_str()))
        .unwrap_or("-");
    let protocol = receipt.map_or("-", |r| r.verified.protocol.as_str());
    let reason = tag
        .and_then(|_| resp.headers().get(REASON_HEADER))
        .and_then(|v| v.to_str().ok());
    let outcome = outcome(resp.status(), receipt.is_some(), reason);
    (route, protocol, outcome, reason.unwrap_or("-"))
}

/// Log the access event of a request `s` answered with `resp`.
fn access_log(s: Started, resp: &Response<Body>) {
    let latency_ms = s.at.elapsed().as_secs_f64() * 1000.0;
    let status = resp.status();
    let receipt = resp.extensions().get::<Receipt>();
    let route = receipt
        .map(|r| r.route.as_str())
        .or_else(|| resp.extensions().get::<RouteTag>().map(|t| t.0.as_str()))
        .unwrap_or("-");
    let protocol = receipt.map_or("-", |r| r.verified.protocol.as_str());
    let reason = resp
        .headers()
        .get(REASON_HEADER)
        .and_then(|v| v.to_str().ok());
    let outcome = outcome(status, receipt.is_some(), reason);
    tracing::info!(
        target: "gate402::access",
        method = %s.method,
        path = %s.path,
        route,
        protocol,
        outcome,
        reason = reason.unwrap_or("-"),
        status = status.as_u16(),
        latency_ms,
        "request"
    );
}

/// The path to log: the browser paywall's settlement tickets (which collect a session cookie
/// once paid) are cut off.
fn redact(path: &str) -> String {
    use crate::paywall::browser::endpoint::WAIT_PREFIX;
    if path.starts_with(WAIT_PREFIX) {
        format!("{WAIT_PREFIX}…")
    } else {
        path.to_owned()
    }
}

/// The request's outcome, one of a fixed set (bounded, for logs and metrics).
fn outcome(status: StatusCode, paid: bool, reason: Option<&str>) -> &'static str {
    match (status.as_u16(), paid, reason) {
        (500.., true, _) => "upstream_error",
        (_, true, _) => "paid",
        (402, _, Some("payment_required") | None) => "challenged",
        (402, _, Some("replayed")) => "replayed",
        (402, _, Some(_)) => "refused",
        (429, _, _) => "rate_limited",
        (503, _, Some(_)) => "unavailable",
        (502 | 504, _, _) => "upstream_error",
        (400 | 413 | 431, _, Some(_)) => "rejected",
        _ => "free",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paywall_tickets_are_not_logged() {
        assert_eq!(redact("/_gate402/paywall/eyJ.a.b"), "/_gate402/paywall/…");
        assert_eq!(redact("/api/x"), "/api/x");
    }

    #[test]
    fn outcomes() {
        let s = |n| StatusCode::from_u16(n).unwrap();
        assert_eq!(outcome(s(200), true, None), "paid");
        assert_eq!(outcome(s(502), true, None), "upstream_error");
        assert_eq!(
            outcome(s(402), false, Some("payment_required")),
            "challenged"
        );
        assert_eq!(outcome(s(402), false, Some("replayed")), "replayed");
        assert_eq!(outcome(s(402), false, Some("invalid_preimage")), "refused");
        assert_eq!(outcome(s(429), false, Some("rate_limited")), "rate_limited");
        assert_eq!(outcome(s(503), false, Some("busy")), "unavailable");
        assert_eq!(outcome(s(200), false, None), "free");
    }
}
