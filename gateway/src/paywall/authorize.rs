//! [`Paywall::authorize`]: find the request's priced route, bound (and for MPP, buffer) its
//! body, price it, check its credential (`check.rs`) and let it through with a receipt — or
//! answer 402 with fresh challenges (`challenges.rs`), 429, 413 or 503.

use std::sync::Arc;

use axum::body::Body;
use gate402_protocols::{CredentialError, ProtocolId};
use gate402_rails::{RailError, RailErrorKind};
use http::{Request, Response};

use super::{
    body, browser, edge, rate, Check, Paywall, Receipt, Route, RouteTable, RouteTag, ACCEPT_PAYMENT,
};
use crate::error::GateError;

/// Request headers that carry credentials; removed before forwarding upstream. Typed names:
/// removing by `HeaderName` skips parsing a string per lookup. `Authorization` first: the
/// others are rare (`strip_credentials`, `fast.rs`). A `static`: a `const` array would be built
/// and dropped again at every use (per header name in the scans).
pub(super) static CREDENTIAL_HEADERS: [http::HeaderName; 6] = [
    http::header::AUTHORIZATION,
    http::HeaderName::from_static("payment-authorization"),
    http::HeaderName::from_static("grpc-metadata-macaroon"),
    http::HeaderName::from_static("macaroon"),
    http::HeaderName::from_static("payment-signature"),
    http::HeaderName::from_static("x-payment"),
];

impl Paywall {
    /// The route table in force and the index of `req`'s route in it, when that route is
    /// priced (else [`Paywall::authorize`] lets the request through as is). One table read
    /// and one match per request: the layer finds the route once and authorizes on it.
    pub(crate) fn priced_route(&self, req: &Request<Body>) -> Option<(Arc<RouteTable>, usize)> {
        let table = self.routes();
        let i = table.position(req)?;
        table.routes()[i].is_priced().then_some((table, i))
    }

    /// Let a paid (or free) request through with its receipt, or answer it.
    ///
    /// On a priced route the request body is bounded (`max_request_body`, else 413); on a
    /// priced MPP route it is buffered (at most `max_body_bytes`, else 413) and its digest
    /// binds the challenges and is checked against credentials.
    pub async fn authorize(
        &self,
        req: Request<Body>,
    ) -> Result<(Request<Body>, Option<Receipt>), Response<Body>> {
        match self.priced_route(&req) {
            None => Ok((req, None)),
            Some((table, i)) => self.authorize_route(&table.routes()[i], req, true).await,
        }
    }

    /// [`Paywall::authorize`] on `route`, the priced route [`Paywall::priced_route`] found for
    /// `req`; `request_receipt`: put a copy of the receipt on a paid request too.
    pub(crate) async fn authorize_route(
        &self,
        route: &Route,
        req: Request<Body>,
        request_receipt: bool,
    ) -> Result<(Request<Body>, Option<Receipt>), Response<Body>> {
        let authorized = self.authorize_priced(route, req, request_receipt).await;
        authorized.map_err(|mut resp| {
            resp.extensions_mut().insert(RouteTag(route.name.clone()));
            resp
        })
    }

    async fn authorize_priced(
        &self,
        route: &Route,
        req: Request<Body>,
        request_receipt: bool,
    ) -> Result<(Request<Body>, Option<Receipt>), Response<Body>> {
        let req = match body::limit(req, self.max_request_body) {
            Ok(r) => r,
            Err(e) => return Err(edge::error_response(&e, Vec::new(), self.retry_after_secs)),
        };
        let mpp = self.mpp.is_some() && route.protocols.contains(&ProtocolId::Mpp);
        let (mut req, digest, bytes) = if mpp || route.pricer.is_some() {
            let buffered = self.max_body_bytes.min(self.max_request_body);
            // The rarely taken awaits are boxed: the common paid path's future (boxed per
            // request by the layer) stays small instead of as large as its largest branch.
            match Box::pin(body::buffer(req, buffered)).await {
                Ok(r) => r,
                Err(e) => return Err(edge::error_response(&e, Vec::new(), self.retry_after_secs)),
            }
        } else {
            (req, None, None)
        };
        let digest = digest.as_ref().filter(|_| mpp);
        // A price set at run time (admin API) replaces the configured one.
        let repriced;
        let route = match self.run_time_price(route) {
            Some(p) => {
                repriced = route.repriced(&p, crate::clock::now_unix());
                &repriced
            }
            None => route,
        };
        // A dynamically priced route: the price of this request, fixed before its credential
        // is checked or a challenge issued (and bound into both).
        let priced;
        let route = match &route.pricer {
            None => route,
            Some(pricer) => {
                let query = pricer.query(&route.name, &req, bytes.as_ref());
                match Box::pin(pricer.price(query)).await {
                    Ok(msat) => {
                        priced = route.priced_at(msat);
                        &priced
                    }
                    Err(e) => {
                        if let Some(n) = PRICER_LOG.hit() {
                            tracing::warn!(route = %route.name, error = %e, failures = n, "no price: answering 503");
                        }
                        let e = GateError::Pricing(e);
                        return Err(edge::error_response(&e, Vec::new(), self.retry_after_secs));
                    }
                }
            }
        };
        let client = rate::client_ip(&req, &self.trusted_proxies).map(rate::client_key);
        let started = self.metrics.as_ref().map(|_| std::time::Instant::now());
        let checked = self.check(route, req.headers(), digest, client).await;
        if let (Some(m), Some(t), Check::Paid(_)) = (&self.metrics, started, &checked) {
            m.verify_seconds.observe(t.elapsed().as_secs_f64());
        }
        let refused = match checked {
            Check::Paid(receipt) => {
                strip_credentials(req.headers_mut());
                if request_receipt {
                    req.extensions_mut().insert(receipt.clone());
                }
                return Ok((req, Some(receipt)));
            }
            Check::Respond(resp) => return Err(resp),
            Check::Failed(e) => {
                tracing::warn!(route = %route.name, error = %e, "cannot check the credential");
                return Err(edge::error_response(&e, Vec::new(), self.retry_after_secs));
            }
            Check::Refused(refused) => refused,
        };
        // Before any invoice is minted for a challenge: the unpaid limit per client address.
        if let Some(limit) = &route.limits.unpaid {
            if let Some(ip) = client {
                if let Some(resp) = limit.check(&ip) {
                    tracing::debug!(route = %route.name, "unpaid rate limit");
                    return Err(resp);
                }
            }
        }
        let error = refused.as_ref().map(|(e, _)| e);
        let err = GateError::PaymentRequired {
            reason: error.map(CredentialError::reason),
            detail: error.map(ToString::to_string),
        };
        if let Some(e) = error {
            tracing::info!(route = %route.name, reason = e.reason(), "credential refused");
        }
        // The protocol that refused the credential picks the problem type; without a
        // credential, the first protocol of the route that defines one (MPP's paymentauth
        // types are the standard ones; L402 and x402 define none).
        let problem_type = match &refused {
            Some((_, id)) => self.protocol(*id).and_then(|p| p.problem_type(error)),
            None => route
                .protocols
                .iter()
                .filter_map(|id| self.protocol(*id))
                .find_map(|p| p.problem_type(None)),
        };
        if let Some(e) = error.filter(|e| e.is_bad_request()) {
            let bad = GateError::BadRequest {
                reason: e.reason(),
                detail: e.to_string(),
            };
            return Err(edge::typed_error_response(
                &bad,
                Vec::new(),
                self.retry_after_secs,
                problem_type,
            ));
        }
        if !self.health.is_up() {
            let cause = self.health.last_error().unwrap_or_else(|| {
                RailError::new(RailErrorKind::Unavailable, "lightning backend unavailable")
            });
            return Err(edge::error_response(
                &GateError::Rail(cause),
                Vec::new(),
                self.retry_after_secs,
            ));
        }
        let accept = req
            .headers()
            .get(ACCEPT_PAYMENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // Only x402 names the resource (`resource.url`): no URL formatted for other routes.
        let resource = self
            .x402
            .as_ref()
            .filter(|_| route.protocols.contains(&ProtocolId::X402))
            .map(|_| resource_url(&req));
        // A browser navigation without a protocol credential gets the same 402 with the
        // paywall page as its body (the L402 challenge's invoice in it).
        let page = self.browser.as_ref().filter(|_| {
            route.pricer.is_none()
                && route.protocols.contains(&ProtocolId::L402)
                && refused
                    .as_ref()
                    .is_none_or(|(_, id)| *id == ProtocolId::Browser)
                && browser::wants_html(req.headers())
        });
        let mut l402_invoice = None;
        let issued = Box::pin(self.issue(
            route,
            accept.as_deref(),
            digest,
            resource.as_deref(),
            page.map(|_| &mut l402_invoice),
        ))
        .await;
        Err(match issued {
            Ok(challenges) => {
                // x402 v1 clients read the requirements from the JSON body.
                let v1 = self
                    .x402
                    .as_ref()
                    .and_then(|x| x.protocol.v1_body_at(&route.offer, resource.as_deref()));
                let resp = edge::problem_response(
                    &err,
                    challenges,
                    self.retry_after_secs,
                    problem_type,
                    v1,
                );
                match (page, &l402_invoice) {
                    (Some(b), Some(inv)) => match b.page(route, req.uri().path(), inv) {
                        Some(html) => browser::endpoint::html_402(resp, html),
                        None => resp,
                    },
                    _ => resp,
                }
            }
            Err(e) => {
                tracing::warn!(route = %route.name, error = %e, "cannot issue a challenge");
                edge::error_response(&e, Vec::new(), self.retry_after_secs)
            }
        })
    }
}

/// Remove every credential header: `Authorization` by lookup, the rare others only when one
/// pass over the request's names finds any (a hashed lookup per name costs more).
fn strip_credentials(headers: &mut http::HeaderMap) {
    headers.remove(&CREDENTIAL_HEADERS[0]);
    if headers.keys().any(|n| CREDENTIAL_HEADERS[1..].contains(n)) {
        for name in &CREDENTIAL_HEADERS[1..] {
            headers.remove(name);
        }
    }
}

/// One warning per second at most for pricer failures (a stranger can cause many).
static PRICER_LOG: crate::server::limits::Throttle = crate::server::limits::Throttle::new();

/// The absolute URL a request was made to (x402 `resource.url`): scheme from
/// `X-Forwarded-Proto` (`http`/`https`, as set by a TLS terminator in front) or the request
/// URI, else `http`; host from `Host` or the URI's authority; the path without the query.
fn resource_url(req: &Request<Body>) -> String {
    let forwarded = req
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| v == "http" || v == "https");
    let scheme = forwarded
        .or_else(|| req.uri().scheme_str().map(str::to_owned))
        .unwrap_or_else(|| "http".into());
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| h.parse::<http::uri::Authority>().is_ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".into());
    format!("{scheme}://{host}{}", req.uri().path())
}
