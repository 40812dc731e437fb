//! `[route.pricer]`: take a route's price per request from a pricing service (see
//! [`crate::pricing`]) instead of `price_sat`/`price_msat`.
//!
//! ```toml
//! [[route]]
//! name = "report"
//! path_prefix = "/report"
//! protocols = ["l402", "mpp"]
//! [route.pricer]
//! grpc = "http://127.0.0.1:10009"     # Aperture's pricesrpc (or `http = "https://…/price"`)
//! timeout_ms = 1000
//! cache_ttl_secs = 30
//! vary = ["x-tier"]
//! max_price_sat = 1000000
//! ```

use std::{path::PathBuf, sync::Arc, time::Duration};

use serde::Deserialize;

use super::ConfigError;
use crate::pricing::{grpc::GrpcPricer, http::HttpPricer, PriceSource, Pricer, PricerSettings};

/// `[route.pricer]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PricerConfig {
    /// Aperture-compatible `pricesrpc` gRPC pricer: `http://host:port` (plaintext HTTP/2) or
    /// `https://host:port` (exclusive with `http`).
    #[serde(default)]
    pub grpc: Option<String>,
    /// HTTP JSON pricer URL, `http(s)://host[:port]/path` (exclusive with `grpc`).
    #[serde(default)]
    pub http: Option<String>,
    /// Extra CA certificates (PEM) trusted for an `https://` pricer (Aperture's `tlscertpath`).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Longest wait for a price, ms (also for a call slot); past it the request answers 503.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// How long a price is reused for requests with the same key, seconds (0: ask every time).
    #[serde(default = "default_ttl")]
    pub cache_ttl_secs: u64,
    /// Most prices cached.
    #[serde(default = "default_entries")]
    pub cache_entries: usize,
    /// Most pricer calls in flight at once.
    #[serde(default = "default_concurrent")]
    pub max_concurrent: usize,
    /// Highest price accepted from the pricer, satoshis (a higher answer is refused: 503).
    #[serde(default = "default_max_price")]
    pub max_price_sat: u64,
    /// Request headers that change the price: part of the cache key and sent to HTTP pricers.
    #[serde(default)]
    pub vary: Vec<String>,
}

fn default_timeout_ms() -> u64 {
    1000
}
fn default_ttl() -> u64 {
    30
}
fn default_entries() -> usize {
    10_000
}
fn default_concurrent() -> usize {
    64
}
fn default_max_price() -> u64 {
    1_000_000
}

impl PricerConfig {
    pub(super) fn validate(&self, field: &str) -> Result<(), ConfigError> {
        let bad = |f: &str, m: String| ConfigError::Invalid {
            field: format!("{field}.{f}"),
            message: m,
        };
        let (f, url) = match (&self.grpc, &self.http) {
            (Some(_), Some(_)) => return Err(bad("grpc", "set grpc or http, not both".into())),
            (None, None) => return Err(bad("grpc", "set grpc or http (the pricer's URL)".into())),
            (Some(u), None) => ("grpc", u),
            (None, Some(u)) => ("http", u),
        };
        if self.timeout_ms == 0 || self.timeout_ms > 60_000 {
            return Err(bad("timeout_ms", "must be between 1 and 60000".into()));
        }
        if self.max_concurrent == 0 {
            return Err(bad("max_concurrent", "must be at least 1".into()));
        }
        if self.max_price_sat == 0 || self.max_price_sat > 21_000_000 * 100_000_000 {
            return Err(bad("max_price_sat", "must be between 1 and 21e14".into()));
        }
        for h in &self.vary {
            if http::HeaderName::from_bytes(h.as_bytes()).is_err() {
                return Err(bad("vary", format!("{h:?} is not a header name")));
            }
        }
        if let Some(ca) = &self.ca_file {
            crate::proxy::upstream::tls_config(Some(ca))
                .map_err(|e| bad("ca_file", e.to_string()))?;
        }
        let uri: http::Uri = url
            .parse()
            .map_err(|e| bad(f, format!("invalid URL {url:?}: {e}")))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(bad(f, format!("{url:?}: expected http(s)://host[:port]")));
        }
        Ok(())
    }

    fn source(&self) -> Result<Arc<dyn PriceSource>, String> {
        let ca = self.ca_file.as_deref();
        Ok(match (&self.grpc, &self.http) {
            (Some(url), _) => Arc::new(GrpcPricer::new(url, ca)?),
            (_, Some(url)) => Arc::new(HttpPricer::new(url, ca)?),
            _ => return Err("no pricer URL".into()),
        })
    }

    /// The route's pricer (after [`validate`](super::Config::validate); a URL that no longer
    /// builds is an error).
    pub fn pricer(&self) -> Result<Pricer, ConfigError> {
        let source = self.source().map_err(|m| ConfigError::Invalid {
            field: "route.pricer".into(),
            message: m,
        })?;
        Ok(Pricer::new(
            source,
            PricerSettings {
                timeout: Duration::from_millis(self.timeout_ms),
                cache_ttl: Duration::from_secs(self.cache_ttl_secs),
                cache_entries: self.cache_entries,
                max_concurrent: self.max_concurrent,
                max_price_msat: self.max_price_sat.saturating_mul(1000),
                vary: self
                    .vary
                    .iter()
                    .filter_map(|h| {
                        http::HeaderName::from_bytes(h.to_ascii_lowercase().as_bytes()).ok()
                    })
                    .collect(),
            },
        ))
    }
}
