//! Per-route rate limits (`[route.rate_limit]`): unpaid requests per client address (so a
//! flood cannot drain the invoice pool or LND) and paid requests per reusable token. GCRA
//! (`governor`, keyed); an exceeded limit answers 429 with `Retry-After` and the IETF
//! httpapi `RateLimit` / `RateLimit-Policy` fields; a token over its rate stays valid.
//!
//! Limits are per gateway process: behind a load balancer spreading one client over N
//! gateways, the effective rate is up to N× the configured one.
//!
//! Memory: keys are client addresses (IPv6 folded to its /64) and 32-byte token ids; every
//! [`SWEEP_EVERY`] checks, keys whose state equals a fresh one are dropped
//! (`retain_recent`), so the maps hold only clients active within a burst window.

use std::{
    hash::Hash,
    net::{IpAddr, Ipv6Addr},
    num::NonZeroU32,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use std::net::SocketAddr;

use axum::{body::Body, extract::ConnectInfo};
use governor::{
    clock::{Clock, DefaultClock},
    DefaultKeyedRateLimiter, Quota, RateLimiter,
};
use http::Request;
use http::{HeaderValue, Response, StatusCode};
use ipnet::IpNet;
use serde_json::json;

/// Checks between two sweeps of idle keys.
const SWEEP_EVERY: u64 = 4096;

/// One keyed limit and its policy name.
pub struct Limit<K: Hash + Eq + Clone> {
    name: &'static str,
    per_second: u32,
    burst: u32,
    limiter: DefaultKeyedRateLimiter<K>,
    checks: AtomicU64,
}

impl<K: Hash + Eq + Clone> std::fmt::Debug for Limit<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Limit({}: {}/s burst {})",
            self.name, self.per_second, self.burst
        )
    }
}

impl<K: Hash + Eq + Clone> Limit<K> {
    /// `per_second` sustained, `burst` at once; `None` when `per_second` is 0 (no limit).
    pub fn new(name: &'static str, per_second: u32, burst: u32) -> Option<Self> {
        let rate = NonZeroU32::new(per_second)?;
        let burst = NonZeroU32::new(burst).unwrap_or(rate);
        Some(Limit {
            name,
            per_second: rate.get(),
            burst: burst.get(),
            limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            checks: AtomicU64::new(0),
        })
    }

    /// `None` if `key` may go on, else the 429 answer.
    pub fn check(&self, key: &K) -> Option<Response<Body>> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        let not_until = self.limiter.check_key(key).err()?;
        Some(self.too_many(not_until.wait_time_from(DefaultClock::default().now())))
    }

    /// Keys held now (for tests and metrics).
    pub fn keys(&self) -> usize {
        self.limiter.len()
    }

    fn too_many(&self, wait: Duration) -> Response<Body> {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let secs = secs.max(1);
        let body = json!({
            "type": "https://gate402.dev/problems/rate_limited",
            "title": "Too Many Requests",
            "status": 429,
            "reason": "rate_limited",
            "detail": format!("{} rate limit: {}/s, burst {}", self.name, self.per_second, self.burst),
        });
        let mut resp = Response::new(Body::from(body.to_string()));
        *resp.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        let h = resp.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        h.insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
        h.insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
        h.insert(
            super::edge::REASON_HEADER,
            HeaderValue::from_static("rate_limited"),
        );
        // draft-ietf-httpapi-ratelimit-headers: quota `q` per window `w` seconds; `r`
        // remaining, `t` seconds until it is available again.
        let window = u64::from(self.burst.div_ceil(self.per_second)).max(1);
        if let Ok(v) =
            HeaderValue::from_str(&format!("\"{}\";q={};w={window}", self.name, self.burst))
        {
            h.insert("ratelimit-policy", v);
        }
        if let Ok(v) = HeaderValue::from_str(&format!("\"{}\";r=0;t={secs}", self.name)) {
            h.insert("ratelimit", v);
        }
        h.insert(
            http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Retry-After, RateLimit, RateLimit-Policy"),
        );
        resp
    }
}

/// A route's limits.
#[derive(Debug, Default)]
pub struct RouteLimits {
    /// Requests without a valid credential, per client address.
    pub unpaid: Option<Limit<IpAddr>>,
    /// Requests with a reusable token, per token id.
    pub paid: Option<Limit<[u8; 32]>>,
}

/// The client's address: the peer's, or — when the peer is one of `trusted` proxies — the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy. `None` without
/// connection info (a paywall used in-process).
pub fn client_ip(req: &Request<Body>, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>()?.0.ip();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let mut client = peer;
    for value in req.headers().get_all("x-forwarded-for").iter().rev() {
        let Ok(text) = value.to_str() else {
            return Some(client);
        };
        for part in text.rsplit(',') {
            let Ok(ip) = part.trim().parse::<IpAddr>() else {
                return Some(client);
            };
            client = ip;
            if !is_trusted(&ip) {
                return Some(ip);
            }
        }
    }
    Some(client)
}

/// The key of a client address: IPv4 as is, IPv6 folded to its /64 (one subscriber's
/// allocation), so rotating through one prefix does not multiply keys.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_429_with_headers_and_other_keys_unaffected() {
        let l = Limit::new("unpaid", 1, 3).unwrap();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert!(l.check(&a).is_none());
        }
        let resp = l.check(&a).unwrap();
        assert_eq!(resp.status(), 429);
        let h = resp.headers();
        assert_eq!(h["retry-after"], "1");
        assert_eq!(h["ratelimit-policy"], "\"unpaid\";q=3;w=3");
        assert_eq!(h["ratelimit"], "\"unpaid\";r=0;t=1");
        assert!(l.check(&b).is_none());
        assert!(Limit::<IpAddr>::new("x", 0, 5).is_none());
    }

    #[test]
    fn ipv6_folds_to_its_64() {
        let a = client_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = client_key("2001:db8:1:2:bbbb::9".parse().unwrap());
        assert_eq!(a, b);
        assert_eq!(
            client_key("::ffff:10.1.2.3".parse().unwrap()),
            "10.1.2.3".parse::<IpAddr>().unwrap()
        );
    }
}
