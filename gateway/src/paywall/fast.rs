//! The paid path without a future: a reusable L402 token this process verified and
//! recorded before ([`super::verified`], [`super::settle`]) is decided synchronously, in the
//! layer's `call`, with no boxed authorization future, no store access and no await.
//!
//! [`Paywall::authorize_cached`] answers only when the full path
//! ([`Paywall::authorize_route`]) would reach the same decision without I/O:
//!
//! * the route has a fixed price (no pricer, no run-time price), no use quota, and lists L402;
//! * the request carries exactly one `Authorization` header, found in the verified cache for
//!   this route, and no other credential header (an x402 payment or an MPP
//!   `Payment-Authorization` the full path might check first);
//! * on a route that also sells MPP, the request has no body (the full path buffers it);
//! * the token is not revoked and its first use is already recorded in this process.
//!
//! Everything else — first use, revocation (a 402), quotas, single-use proofs, other
//! protocols — goes to the full path unchanged ([`Fast::Slow`]). Results match it: the body
//! limit, the paid rate limit (429), the credential headers stripped, the [`Receipt`] on the
//! request (when the layer asks for it) and the `gate402_verify_seconds` observation.

use axum::body::Body;
use gate402_protocols::ProtocolId;
use http::{Request, Response};
use hyper::body::Body as _;

use super::{authorize::CREDENTIAL_HEADERS, body, edge, Paywall, Receipt, Route, RouteTag};
use crate::clock::now_unix;

/// What [`Paywall::authorize_cached`] decided.
pub(crate) enum Fast {
    /// Paid: serve with this receipt (also on the request, as an extension), boxed as the
    /// layer's response future keeps it.
    Paid(Request<Body>, Box<Receipt>),
    /// Answered without serving (413, 429).
    Answer(Response<Body>),
    /// Not decidable without the full path: the request, untouched.
    Slow(Request<Body>),
}

impl Paywall {
    /// See the module docs. `route` is the priced route [`Paywall::priced_route`] found;
    /// `request_receipt`: put a copy of the receipt on the request too.
    pub(crate) fn authorize_cached(
        &self,
        route: &Route,
        req: Request<Body>,
        request_receipt: bool,
    ) -> Fast {
        let started = self.metrics.as_ref().map(|_| std::time::Instant::now());
        let now = now_unix();
        let Some(verified) = self.cached_token(route, &req, now) else {
            return Fast::Slow(req);
        };
        let Some(proto) = self.protocol(ProtocolId::L402) else {
            return Fast::Slow(req);
        };
        // Revoked (a 402) or not recorded yet (the first use writes): the full path.
        if let Some(s) = &self.settlement {
            if !matches!(s.in_memory(&verified), Some(Ok(_))) {
                return Fast::Slow(req);
            }
        }
        let mut req = match body::limit(req, self.max_request_body) {
            Ok(r) => r,
            Err(e) => {
                let resp = edge::error_response(&e, Vec::new(), self.retry_after_secs);
                return Fast::Answer(tagged(route, resp));
            }
        };
        let receipt = self.receipt(route, proto, verified, now);
        if let (Some(limit), Some(tid)) = (&route.limits.paid, receipt.verified.token_id) {
            if let Some(resp) = limit.check(&tid) {
                return Fast::Answer(tagged(route, resp));
            }
        }
        // Observed for paid requests only, as on the full path.
        if let (Some(m), Some(t)) = (&self.metrics, started) {
            m.verify_seconds.observe(t.elapsed().as_secs_f64());
        }
        req.headers_mut().remove(http::header::AUTHORIZATION);
        if request_receipt {
            req.extensions_mut().insert(receipt.clone());
        }
        Fast::Paid(req, Box::new(receipt))
    }

    /// The verified facts of `req`'s L402 token on `route`, when the fast path applies to
    /// the route and the request (module docs) and the token is in the cache.
    fn cached_token(
        &self,
        route: &Route,
        req: &Request<Body>,
        now: u64,
    ) -> Option<gate402_protocols::Verified> {
        if route.pricer.is_some() || route.uses.is_some() {
            return None;
        }
        if !route.protocols.contains(&ProtocolId::L402) || self.run_time_price(route).is_some() {
            return None;
        }
        let mpp = self.mpp.is_some() && route.protocols.contains(&ProtocolId::Mpp);
        if mpp && !req.body().is_end_stream() {
            return None;
        }
        let headers = req.headers();
        // One pass over the request's names instead of a hashed lookup per credential header.
        if headers
            .keys()
            .any(|name| CREDENTIAL_HEADERS[1..].contains(name))
        {
            return None;
        }
        let credential = super::verified::single_authorization(headers)?;
        self.verified.get(credential, &route.name, now)
    }
}

/// The paywall's own answer on `route`, tagged with it (access log, metrics).
fn tagged(route: &Route, mut resp: Response<Body>) -> Response<Body> {
    resp.extensions_mut().insert(RouteTag(route.name.clone()));
    resp
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use gate402_protocols::{l402::L402, Offer};
    use gate402_rails::{simnet::SimNetwork, InvoiceRequest, LightningRail, PayLimits};

    use super::*;
    use crate::config::Config;

    const SECRET: [u8; 32] = [9; 32];

    fn get(authorization: &str) -> Request<Body> {
        Request::get("/api/x")
            .header(http::header::AUTHORIZATION, authorization)
            .body(Body::empty())
            .unwrap()
    }

    /// A paywall with one 1000-msat L402 route `api` (`/api/`) and a paid token for it.
    async fn paywall_and_token() -> (Arc<Paywall>, String) {
        let net = SimNetwork::new();
        let buyer = net.add_node("buyer", 1_000_000);
        let seller = net.add_node("seller", 0);
        let config = Config::from_toml(
            r#"
            [server]
            listen = "127.0.0.1:0"
            upstream = "http://127.0.0.1:1"
            [lightning]
            backend = "simnet"
            [[route]]
            name = "api"
            path_prefix = "/api/"
            price_msat = 1000
            "#,
        )
        .unwrap();
        let paywall =
            crate::server::paywall_with_secret(&config, Arc::new(seller.clone()), &SECRET).unwrap();
        let inv = seller
            .create_invoice(InvoiceRequest {
                amount_msat: 1000,
                memo: "t".into(),
                expiry_secs: 600,
            })
            .await
            .unwrap();
        let paid = buyer
            .pay_invoice(&inv.bolt11, PayLimits::default())
            .await
            .unwrap();
        let offer = Offer {
            service: "api".into(),
            price_msat: 1000,
            capabilities: Vec::new(),
            valid_for_secs: None,
            bind_price: false,
        };
        let mac = L402::new(&SECRET)
            .unwrap()
            .mint(&offer, inv.payment_hash, now_unix());
        let token = format!("L402 {}:{}", mac.to_base64(), hex::encode(paid.preimage));
        (Arc::new(paywall), token)
    }

    #[tokio::test]
    async fn the_fast_lane_takes_a_token_once_the_full_path_verified_it() {
        let (paywall, token) = paywall_and_token().await;
        let routes = paywall.routes();
        let route = &routes.routes()[0];

        // Not verified yet: the full path's, untouched.
        let Fast::Slow(req) = paywall.authorize_cached(route, get(&token), true) else {
            panic!("an unseen token took the fast lane");
        };
        assert!(req.headers().contains_key(http::header::AUTHORIZATION));
        assert!(paywall.authorize(req).await.is_ok());
        // Verified once: decided here, stripped, with its receipt on the request.
        let Fast::Paid(req, receipt) = paywall.authorize_cached(route, get(&token), true) else {
            panic!("a verified token missed the fast lane");
        };
        assert!(!req.headers().contains_key(http::header::AUTHORIZATION));
        assert_eq!(req.extensions().get::<Receipt>().unwrap().route, "api");
        assert_eq!((receipt.route.as_str(), receipt.price_msat), ("api", 1000));
        assert_eq!(receipt.verified.protocol, ProtocolId::L402);
        // Behind a layer that keeps the receipt off the request: only the returned one.
        let Fast::Paid(req, receipt) = paywall.authorize_cached(route, get(&token), false) else {
            panic!("a verified token missed the fast lane");
        };
        assert!(req.extensions().get::<Receipt>().is_none());
        assert_eq!(receipt.route, "api");
        // Another credential header, several tokens, or a wrong preimage: the full path.
        let mut req = get(&token);
        req.headers_mut()
            .insert("payment-signature", http::HeaderValue::from_static("e30="));
        assert!(matches!(
            paywall.authorize_cached(route, req, true),
            Fast::Slow(_)
        ));
        let mut req = get(&token);
        req.headers_mut()
            .append(http::header::AUTHORIZATION, token.parse().unwrap());
        assert!(matches!(
            paywall.authorize_cached(route, req, true),
            Fast::Slow(_)
        ));
        let last = if token.ends_with('0') { "1" } else { "0" };
        let forged = format!("{}{last}", &token[..token.len() - 1]);
        assert!(matches!(
            paywall.authorize_cached(route, get(&forged), true),
            Fast::Slow(_)
        ));
    }

    #[tokio::test]
    async fn a_layer_without_request_receipts_keeps_them_off_both_paths() {
        use tower::{Layer, Service, ServiceExt};

        let (paywall, token) = paywall_and_token().await;
        let inner = tower::service_fn(|req: Request<Body>| async move {
            let status = match req.extensions().get::<Receipt>() {
                Some(_) => http::StatusCode::IM_A_TEAPOT,
                None => http::StatusCode::OK,
            };
            let mut resp = Response::new(Body::empty());
            *resp.status_mut() = status;
            Ok::<_, std::convert::Infallible>(resp)
        });
        let mut without = crate::paywall::PaywallLayer::new(paywall.clone())
            .without_request_receipt()
            .layer(inner);
        let mut with = crate::paywall::PaywallLayer::new(paywall.clone()).layer(inner);
        // First the full path (an unseen token), then the fast lane; the response keeps it.
        for _ in 0..2 {
            let resp = without
                .ready()
                .await
                .unwrap()
                .call(get(&token))
                .await
                .unwrap();
            assert_eq!(resp.status(), http::StatusCode::OK);
            assert_eq!(resp.extensions().get::<Receipt>().unwrap().route, "api");
        }
        let routes = paywall.routes();
        let fast = paywall.authorize_cached(&routes.routes()[0], get(&token), false);
        assert!(
            matches!(fast, Fast::Paid(..)),
            "the second request took the fast lane"
        );
        let resp = with.ready().await.unwrap().call(get(&token)).await.unwrap();
        assert_eq!(resp.status(), http::StatusCode::IM_A_TEAPOT);
    }
}
