//! Route table: which requests are priced, at what, with which protocols. First match wins.

use gate402_protocols::{Offer, ProtocolId};
use http::Request;

/// One priced route.
#[derive(Debug, Clone)]
pub struct Route {
    /// Route/service name.
    pub name: String,
    /// Lowercase host to match, without port; `None` = any.
    pub host: Option<String>,
    /// Path prefix.
    pub path_prefix: String,
    /// What one access costs and grants.
    pub offer: Offer,
    /// Protocols offered, in challenge order.
    pub protocols: Vec<ProtocolId>,
    /// L402 tokens sold for this many uses (counted in the store); `None` = unlimited.
    pub uses: Option<u64>,
    /// Rate limits (unpaid per client address, paid per token).
    pub limits: std::sync::Arc<super::rate::RouteLimits>,
    /// Prices each request (dynamic pricing; `offer.price_msat` is then unused, 0).
    pub pricer: Option<std::sync::Arc<crate::pricing::Pricer>>,
    /// While a run-time price change is recent: the lowest price an outstanding challenge
    /// may carry ([`Route::repriced`], [`Route::at_floor`]).
    pub floor_msat: Option<u64>,
}

impl Route {
    /// Whether requests on this route are paid for (a static price above zero, or a pricer).
    pub fn is_priced(&self) -> bool {
        self.offer.price_msat > 0 || self.pricer.is_some()
    }

    /// This route at `price_msat`, set for one request by its pricer: the price is bound
    /// into challenges and required of credentials ([`Offer::bind_price`]).
    pub fn priced_at(&self, price_msat: u64) -> Route {
        let mut r = self.clone();
        r.offer.price_msat = price_msat;
        r.offer.bind_price = true;
        r
    }

    /// This route at its run-time price (admin API): new challenges ask `p.price_msat`
    /// (a static price: exact amounts, L402 tokens unbound as before), and while `p`'s floor
    /// is in force credentials issued at an older price may pass ([`Route::at_floor`]).
    pub fn repriced(&self, p: &crate::store::admin::RoutePrice, now: u64) -> Route {
        let mut r = self.clone();
        r.offer.price_msat = p.price_msat;
        r.floor_msat = p.floor_at(now);
        r
    }

    /// The route as a single-use credential issued before a recent price change sees it:
    /// any amount at or above the floor is accepted (its challenge was ours, bound by HMAC or
    /// by our invoice). `None` without a floor in force. Not for L402: a static route's token
    /// carries no price and stays valid whatever the price becomes.
    pub fn at_floor(&self) -> Option<Route> {
        let floor = self.floor_msat?;
        let mut r = self.clone();
        r.offer.price_msat = floor;
        r.offer.bind_price = true;
        r.floor_msat = None;
        Some(r)
    }

    fn matches(&self, host: Option<&str>, path: &str) -> bool {
        if let Some(want) = &self.host {
            match host {
                Some(h) if h.eq_ignore_ascii_case(want) => {}
                _ => return false,
            }
        }
        path.starts_with(&self.path_prefix)
    }
}

/// Ordered routes.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    /// Build from routes in priority order.
    pub fn new(routes: Vec<Route>) -> Self {
        RouteTable { routes }
    }

    /// All routes.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The first route matching the request's host and path.
    pub fn find<B>(&self, req: &Request<B>) -> Option<&Route> {
        self.position(req).map(|i| &self.routes[i])
    }

    /// The index in [`RouteTable::routes`] of the first route matching the request.
    pub fn position<B>(&self, req: &Request<B>) -> Option<usize> {
        let host = request_host(req);
        let path = req.uri().path();
        self.routes.iter().position(|r| r.matches(host, path))
    }
}

/// Host of a request without port: the URI authority (HTTP/2, absolute-form) or `Host`.
pub fn request_host<B>(req: &Request<B>) -> Option<&str> {
    let raw = match req.uri().host() {
        Some(h) => h,
        None => req.headers().get(http::header::HOST)?.to_str().ok()?,
    };
    Some(strip_port(raw))
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split(']')
            .next()
            .map_or(host, |h| &host[..h.len() + 1]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(host: Option<&str>, prefix: &str) -> Route {
        Route {
            name: "r".into(),
            host: host.map(str::to_string),
            path_prefix: prefix.into(),
            offer: Offer {
                service: "r".into(),
                price_msat: 1000,
                capabilities: vec![],
                valid_for_secs: None,
                bind_price: false,
            },
            protocols: vec![ProtocolId::L402],
            uses: None,
            limits: Default::default(),
            pricer: None,
            floor_msat: None,
        }
    }

    fn req(host: &str, path: &str) -> Request<()> {
        Request::builder()
            .uri(path)
            .header("host", host)
            .body(())
            .unwrap()
    }

    #[test]
    fn first_match_wins_and_host_is_case_insensitive() {
        let t = RouteTable::new(vec![route(Some("api.example"), "/a/"), route(None, "/")]);
        assert_eq!(
            t.find(&req("API.example:8080", "/a/x"))
                .unwrap()
                .path_prefix,
            "/a/"
        );
        assert_eq!(t.find(&req("other", "/a/x")).unwrap().path_prefix, "/");
        let only = RouteTable::new(vec![route(Some("api.example"), "/a/")]);
        assert!(only.find(&req("api.example", "/b")).is_none());
    }

    #[test]
    fn strips_ports_including_ipv6() {
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("h:1"), "h");
        assert_eq!(strip_port("h"), "h");
    }
}
