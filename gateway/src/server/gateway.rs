//! [`Gateway`]: the service every connection calls. Paths under the gateway's own prefixes
//! (`/_gate402/…`, the facilitator's) go to the axum [`Router`]; everything else goes
//! straight to the paid stack — access log / metrics, paywall, proxy — as concrete tower
//! services, without the router's per-request boxing, cloning and route matching (≈ 1 µs of
//! a proxied request, see `docs/benchmarks.md` "End-to-end load").

use std::{
    convert::Infallible,
    sync::Arc,
    task::{Context, Poll},
};

use axum::{body::Body, Router};
use futures_util::future::Either;
use http::{Request, Response};
use tower::Service;

use super::access_log::ObserveService;
use crate::{paywall::PaywallService, proxy::Proxy};

/// The paid stack: observe → paywall → proxy.
pub type Gated = ObserveService<PaywallService<Proxy>>;

/// See the module docs. A plain [`Router`] converts into a `Gateway` that routes everything
/// through it.
#[derive(Clone, Debug)]
pub struct Gateway {
    own: Router,
    gated: Option<(Gated, Arc<[String]>)>,
}

impl Gateway {
    /// `own` for paths starting with one of `prefixes`, `gated` for the rest.
    pub fn new(own: Router, gated: Gated, prefixes: Vec<String>) -> Gateway {
        Gateway {
            own,
            gated: Some((gated, prefixes.into())),
        }
    }
}

impl From<Router> for Gateway {
    fn from(own: Router) -> Gateway {
        Gateway { own, gated: None }
    }
}

impl Service<Request<Body>> for Gateway {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Either<
        <Router as Service<Request<Body>>>::Future,
        <Gated as Service<Request<Body>>>::Future,
    >;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Both are always ready (the router, the observe/paywall/proxy stack).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        match &mut self.gated {
            Some((gated, prefixes))
                if !prefixes
                    .iter()
                    .any(|p| req.uri().path().starts_with(p.as_str())) =>
            {
                Either::Right(gated.call(req))
            }
            _ => Either::Left(self.own.call(req)),
        }
    }
}
