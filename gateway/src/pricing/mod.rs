//! Dynamic pricing (issue K item 3): a route may take its price per request from a pricing
//! service instead of the config.
//!
//! * [`grpc`] — Aperture's `pricesrpc.Prices/GetPrice` (`proto/prices.proto`): a pricer written
//!   for Aperture prices gate402's routes unchanged;
//! * [`http`] — a plain HTTP JSON pricer (`POST` the request's facts, answer `{"price_sats": N}`);
//! * [`text`] — what a pricer is told about the request (Aperture's request text, the cache key).
//!
//! [`Pricer`] wraps either with what a stranger must not be able to exploit: a timeout per
//! call, a bound on concurrent calls (a caller waits at most half the timeout for a slot), a price
//! cache per key with a TTL and a bounded number of entries, and validation of the answer. A
//! pricer that is down, slow past its timeout or busy, or answers zero, a negative price, a
//! price above `max_price_sat` or garbage is a [`PricingError`]: the paywall answers 503 +
//! `Retry-After` — never a free or zero-priced request.
//!
//! The paywall prices a request **before** checking its credential, and the price it gets is
//! bound into the challenge (L402 `<service>_max_price_msat` caveat, MPP `request` amount,
//! x402 Lightning `amount`) and required of the credential (see
//! [`Offer::bind_price`](gate402_protocols::Offer::bind_price)): a token bought for a
//! cheaper request is refused on a dearer one.

pub mod grpc;
pub mod http;
pub mod text;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use axum::body::Body;
use bytes::Bytes;
use thiserror::Error;
use tokio::sync::Semaphore;

pub use text::PriceQuery;

/// What went wrong asking a pricer (every kind answers 503 + `Retry-After`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PricingErrorKind {
    /// The pricer could not be reached or failed the call.
    Unavailable,
    /// The pricer did not answer within `timeout_ms`.
    Timeout,
    /// Every call slot was taken for longer than `timeout_ms`.
    Busy,
    /// The answer is not a usable price (zero, negative, above `max_price_sat`, garbage).
    InvalidPrice,
}

impl PricingErrorKind {
    /// Stable id (the problem body's `reason`, logs).
    pub fn as_str(self) -> &'static str {
        match self {
            PricingErrorKind::Unavailable => "pricer_unavailable",
            PricingErrorKind::Timeout => "pricer_timeout",
            PricingErrorKind::Busy => "pricer_busy",
            PricingErrorKind::InvalidPrice => "pricer_invalid_price",
        }
    }
}

/// A pricer failure.
#[derive(Debug, Clone, Error)]
#[error("{} ({})", message, kind.as_str())]
pub struct PricingError {
    /// What kind of failure.
    pub kind: PricingErrorKind,
    /// Detail for logs and the problem body (never request secrets).
    pub message: String,
}

impl PricingError {
    /// An error of `kind`.
    pub fn new(kind: PricingErrorKind, message: impl Into<String>) -> PricingError {
        PricingError {
            kind,
            message: message.into(),
        }
    }
}

/// A pricing service: the price of one request in satoshis, as the service answered it
/// (validated by [`Pricer`]).
#[async_trait]
pub trait PriceSource: Send + Sync + std::fmt::Debug {
    /// Ask for the price of the request described by `query`.
    async fn price_sats(&self, query: &PriceQuery<'_>) -> Result<i64, PricingError>;
}

/// Bounds and caching of a [`Pricer`].
#[derive(Debug, Clone)]
pub struct PricerSettings {
    /// Longest wait for one answer (and for a call slot).
    pub timeout: Duration,
    /// How long an answer is reused for requests with the same key (zero: never).
    pub cache_ttl: Duration,
    /// Most cached prices (expired ones are dropped first; when full, new ones are not cached).
    pub cache_entries: usize,
    /// Most calls in flight at once.
    pub max_concurrent: usize,
    /// Highest price accepted from the pricer, msat (above: refused as garbage).
    pub max_price_msat: u64,
    /// Request headers (lowercase) that are part of the cache key and sent to HTTP pricers.
    pub vary: Vec<::http::HeaderName>,
}

/// A route's pricer: a [`PriceSource`] with timeout, concurrency bound, cache and validation.
#[derive(Debug)]
pub struct Pricer {
    source: Arc<dyn PriceSource>,
    settings: PricerSettings,
    permits: Semaphore,
    cache: Mutex<HashMap<[u8; 32], (u64, Instant)>>,
}

impl Pricer {
    /// A pricer over `source`.
    pub fn new(source: Arc<dyn PriceSource>, settings: PricerSettings) -> Pricer {
        Pricer {
            source,
            permits: Semaphore::new(settings.max_concurrent.max(1)),
            settings,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &PricerSettings {
        &self.settings
    }

    /// What to ask about `req` (with its buffered `body`, if any) on `route`.
    pub fn query<'a>(
        &'a self,
        route: &'a str,
        req: &'a ::http::Request<Body>,
        body: Option<&'a Bytes>,
    ) -> PriceQuery<'a> {
        PriceQuery::new(route, req, body, &self.settings.vary)
    }

    /// The price of the request `query` describes ([`Pricer::query`]), in millisatoshis.
    pub async fn price(&self, query: PriceQuery<'_>) -> Result<u64, PricingError> {
        let key = query.cache_key();
        if let Some(msat) = self.cached(&key) {
            return Ok(msat);
        }
        let start = Instant::now();
        let deadline = start + self.settings.timeout;
        // At most half the timeout waiting for a slot: under a flood the slot would come with
        // no time left for the call.
        let slot_deadline = start + self.settings.timeout / 2;
        let _permit = tokio::time::timeout_at(slot_deadline.into(), self.permits.acquire())
            .await
            .map_err(|_| {
                PricingError::new(
                    PricingErrorKind::Busy,
                    format!(
                        "all {} pricer calls busy for {} ms",
                        self.settings.max_concurrent,
                        (self.settings.timeout / 2).as_millis()
                    ),
                )
            })?
            .map_err(|_| PricingError::new(PricingErrorKind::Unavailable, "pricer closed"))?;
        // Another caller may have priced the same key while this one waited for a slot.
        if let Some(msat) = self.cached(&key) {
            return Ok(msat);
        }
        let sats = tokio::time::timeout_at(deadline.into(), self.source.price_sats(&query))
            .await
            .map_err(|_| {
                PricingError::new(
                    PricingErrorKind::Timeout,
                    format!("no price within {} ms", self.settings.timeout.as_millis()),
                )
            })??;
        let msat = self.validate(sats)?;
        self.remember(key, msat);
        Ok(msat)
    }

    /// `sats` as msat if it is a usable price.
    fn validate(&self, sats: i64) -> Result<u64, PricingError> {
        let invalid = |why: String| PricingError::new(PricingErrorKind::InvalidPrice, why);
        if sats <= 0 {
            return Err(invalid(format!(
                "the pricer answered {sats} sat; a price must be positive (refused, not served free)"
            )));
        }
        let msat = (sats as u64).saturating_mul(1000);
        if msat > self.settings.max_price_msat {
            return Err(invalid(format!(
                "the pricer answered {sats} sat, above max_price_sat ({} sat)",
                self.settings.max_price_msat / 1000
            )));
        }
        Ok(msat)
    }

    fn cached(&self, key: &[u8; 32]) -> Option<u64> {
        if self.settings.cache_ttl.is_zero() {
            return None;
        }
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .get(key)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(msat, _)| *msat)
    }

    fn remember(&self, key: [u8; 32], msat: u64) {
        if self.settings.cache_ttl.is_zero() || self.settings.cache_entries == 0 {
            return;
        }
        let now = Instant::now();
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= self.settings.cache_entries && !cache.contains_key(&key) {
            cache.retain(|_, (_, until)| *until > now);
            if cache.len() >= self.settings.cache_entries {
                return;
            }
        }
        cache.insert(key, (msat, now + self.settings.cache_ttl));
    }

    /// Prices cached now (expired ones included until they are dropped).
    pub fn cached_entries(&self) -> usize {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests;
