//! `[route.rate_limit]` and `[server] trusted_proxies`: per-route rate limits (unpaid
//! requests per client address, paid requests per reusable token) and which peers'
//! `X-Forwarded-For` is believed (see `paywall::rate`).

use serde::Deserialize;

use super::ConfigError;
use crate::paywall::rate::{Limit, RouteLimits};

/// `[route.rate_limit]` (0 = no limit of that kind).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Requests without a valid credential per second, per client address.
    pub unpaid_per_second: u32,
    /// Such requests allowed at once above the rate (default: the rate).
    pub unpaid_burst: u32,
    /// Requests per second with one reusable token (L402).
    pub paid_per_second: u32,
    /// Such requests allowed at once above the rate (default: the rate).
    pub paid_burst: u32,
}

impl RateLimitConfig {
    /// The limiters of a route.
    pub fn limits(&self) -> RouteLimits {
        RouteLimits {
            unpaid: Limit::new("unpaid", self.unpaid_per_second, self.unpaid_burst),
            paid: Limit::new("paid", self.paid_per_second, self.paid_burst),
        }
    }

    pub(super) fn validate(&self, field: &str) -> Result<(), ConfigError> {
        let pairs = [
            ("unpaid", self.unpaid_per_second, self.unpaid_burst),
            ("paid", self.paid_per_second, self.paid_burst),
        ];
        for (kind, rate, burst) in pairs {
            if rate == 0 && burst > 0 {
                return Err(ConfigError::Invalid {
                    field: format!("{field}.{kind}_burst"),
                    message: format!("set {kind}_per_second too (a burst needs a rate)"),
                });
            }
        }
        Ok(())
    }
}

/// Parse `[server] trusted_proxies` (CIDRs or single addresses).
pub fn parse_trusted_proxies(list: &[String]) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    list.iter()
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| ConfigError::Invalid {
                    field: "server.trusted_proxies".into(),
                    message: format!("{s:?} is not an address or CIDR (e.g. 10.0.0.0/8)"),
                })
        })
        .collect()
}
