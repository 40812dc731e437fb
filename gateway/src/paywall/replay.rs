//! [`Reservations`]: the gateway's one single-use mechanism — atomic reservation of
//! [`Verified::single_use_key`]s (x402 `(chain, token, from, nonce)` and Lightning invoices;
//! MPP session deposits and top-ups; MPP charges and others without a store). In memory
//! ([`MemoryReservations`]) or in the shared store ([`StoreReservations`]).
//!
//! `reserve` is the only synchronisation point: of N concurrent requests carrying the same
//! proof exactly one gets `true`, before any upstream handler runs. A reservation is
//! `release`d when the payment was not taken (rail refusal, upstream error), so the client may
//! retry with the same proof; otherwise it stays until the proof could no longer be valid.
//!
//! [`Verified::single_use_key`]: gate402_protocols::Verified::single_use_key

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::store::StoreError;

/// Single-use proof consumption. Implementations must make `reserve` atomic.
#[async_trait]
pub trait Reservations: Send + Sync + 'static {
    /// Reserve `key` until `expires_at` (Unix seconds; `None` = keep). `Ok(false)`: already taken.
    async fn reserve(
        &self,
        key: &[u8],
        expires_at: Option<u64>,
        now: u64,
    ) -> Result<bool, StoreError>;
    /// Give a reservation back (the payment was not taken).
    async fn release(&self, key: &[u8]);
}

/// Prune expired entries when the map grows past this many since the last prune.
const PRUNE_EVERY: usize = 4096;

/// In-memory [`Reservations`] (one process; lost on restart, when the chain's own nonce check
/// still prevents double settlement).
#[derive(Debug, Default)]
pub struct MemoryReservations {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    keys: HashMap<Vec<u8>, u64>,
    next_prune: usize,
}

impl MemoryReservations {
    /// An empty guard.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of live reservations.
    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.keys.len()).unwrap_or(0)
    }

    /// Whether there are no reservations.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl Reservations for MemoryReservations {
    async fn reserve(
        &self,
        key: &[u8],
        expires_at: Option<u64>,
        now: u64,
    ) -> Result<bool, StoreError> {
        let mut g = self
            .inner
            .lock()
            .map_err(|_| StoreError::Local("reservations lock poisoned".into()))?;
        if g.keys.len() >= g.next_prune {
            g.keys.retain(|_, exp| *exp > now);
            g.next_prune = g.keys.len() + PRUNE_EVERY;
        }
        match g.keys.get(key) {
            Some(exp) if *exp > now => Ok(false),
            _ => {
                g.keys.insert(key.to_vec(), expires_at.unwrap_or(u64::MAX));
                Ok(true)
            }
        }
    }

    async fn release(&self, key: &[u8]) {
        if let Ok(mut g) = self.inner.lock() {
            g.keys.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn exactly_once_under_concurrency_and_release() {
        let g = Arc::new(MemoryReservations::new());
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let g = g.clone();
                tokio::spawn(async move { g.reserve(b"k", Some(100), 10).await.unwrap() })
            })
            .collect();
        let mut wins = 0;
        for t in tasks {
            wins += usize::from(t.await.unwrap());
        }
        assert_eq!(wins, 1);
        g.release(b"k").await;
        assert!(g.reserve(b"k", Some(100), 10).await.unwrap());
        // Past its expiry the key is free again (the proof itself is dead by then).
        assert!(g.reserve(b"k", Some(100), 100).await.unwrap());
    }
}

/// [`Reservations`] in the shared [`Store`](crate::store::Store): a reservation is one
/// atomic `INSERT … ON CONFLICT DO NOTHING`, so of N copies of a proof presented to any number
/// of gateways sharing the database exactly one is admitted; a release deletes the row.
#[derive(Debug, Clone)]
pub struct StoreReservations {
    store: std::sync::Arc<dyn crate::store::Store>,
}

impl StoreReservations {
    /// Reserve in `store`.
    pub fn new(store: std::sync::Arc<dyn crate::store::Store>) -> Self {
        StoreReservations { store }
    }
}

/// Kept this long when the proof carries no expiry (Lightning-variant invoices stay settled).
const KEEP_WITHOUT_EXPIRY_SECS: u64 = 366 * 86_400;

#[async_trait]
impl Reservations for StoreReservations {
    async fn reserve(
        &self,
        key: &[u8],
        expires_at: Option<u64>,
        now: u64,
    ) -> Result<bool, StoreError> {
        let keep_until = expires_at.unwrap_or(now + KEEP_WITHOUT_EXPIRY_SECS);
        self.store.consume(key, "single-use", keep_until).await
    }

    async fn release(&self, key: &[u8]) {
        if let Err(e) = self.store.release(key).await {
            tracing::warn!(error = %e, "cannot release an x402 reservation; the proof stays used");
        }
    }
}
