//! One log event per request (`[server] access_log`, on with `gate402 serve --log-format
//! json`): route, protocol, outcome, status, latency — target `gate402::access` — and the
//! request counter of the metrics (`gate402_requests_total`, when `[admin]` counts them), from
//! the same fields. Fields come
//! from what the paywall attached to the response (its [`Receipt`], the route of its own
//! answers, the `gate402-reason` header), never from credentials: no macaroon, preimage,
//! cookie, JWT or key is ever a field, and the path is logged without its query.

use std::{sync::Arc, time::Instant};

use axum::{
    body::Body,
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use http::StatusCode;

use crate::metrics::Metrics;
use crate::paywall::{edge::REASON_HEADER, Receipt, RouteTag};

/// What [`observe`] does.
#[derive(Debug)]
pub struct Observe {
    /// Log the access event.
    pub log: bool,
    /// Count the request.
    pub metrics: Option<Arc<Metrics>>,
}

/// The middleware (`axum::middleware::from_fn_with_state(Arc<Observe>, observe)`).
pub async fn observe(State(o): State<Arc<Observe>>, req: Request, next: Next) -> Response<Body> {
    if !o.log {
        let resp = next.run(req).await;
        if let Some(m) = &o.metrics {
            let (route, protocol, outcome, reason) = fields(&resp);
            m.request(route, protocol, outcome, reason);
        }
        return resp;
    }
    let resp = access_log(req, next).await;
    if let Some(m) = &o.metrics {
        let (route, protocol, outcome, reason) = fields(&resp);
        m.request(route, protocol, outcome, reason);
    }
    resp
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

/// Log one access event around `next`.
async fn access_log(req: Request, next: Next) -> Response<Body> {
    let start = Instant::now();
    let method = req.method().clone();
    let path = redact(req.uri().path());
    let resp = next.run(req).await;
    let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
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
        method = %method,
        path = %path,
        route,
        protocol,
        outcome,
        reason = reason.unwrap_or("-"),
        status = status.as_u16(),
        latency_ms,
        "request"
    );
    resp
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
