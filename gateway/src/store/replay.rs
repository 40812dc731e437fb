//! [`ReplayGuard`]: atomic, exactly-once consumption of single-use proof keys.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::StoreError;

/// Consumes single-use keys ([`Verified::single_use_key`](gate402_protocols::Verified)).
#[async_trait]
pub trait ReplayGuard: Send + Sync + 'static {
    /// Consume `key`, remembered until `expires_at` (Unix seconds; after that the proof is
    /// refused as expired anyway). `Ok(true)`: first use, serve; `Ok(false)`: already consumed.
    /// Exactly one of any number of concurrent calls with the same key gets `true`.
    async fn consume(&self, key: &[u8], expires_at: u64, now: u64) -> Result<bool, StoreError>;
}

/// In-memory [`ReplayGuard`] (lost on restart). Expired keys are swept on insert.
#[derive(Debug, Default)]
pub struct MemoryReplayGuard {
    keys: Mutex<HashMap<Vec<u8>, u64>>,
}

impl MemoryReplayGuard {
    /// An empty guard.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keys currently remembered.
    pub fn len(&self) -> usize {
        self.keys.lock().map(|k| k.len()).unwrap_or(0)
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl ReplayGuard for MemoryReplayGuard {
    async fn consume(&self, key: &[u8], expires_at: u64, now: u64) -> Result<bool, StoreError> {
        let mut keys = self
            .keys
            .lock()
            .map_err(|_| StoreError::Local("replay guard poisoned".into()))?;
        if keys.len() > 4096 && keys.len().is_power_of_two() {
            keys.retain(|_, exp| *exp >= now);
        }
        if keys.get(key).is_some_and(|exp| *exp >= now) {
            return Ok(false);
        }
        keys.insert(key.to_vec(), expires_at);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn exactly_one_concurrent_winner() {
        let g = Arc::new(MemoryReplayGuard::new());
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let g = g.clone();
                tokio::spawn(async move { g.consume(b"k", 100, 10).await.unwrap() })
            })
            .collect();
        let mut wins = 0;
        for t in tasks {
            wins += usize::from(t.await.unwrap());
        }
        assert_eq!(wins, 1);
        assert!(!g.consume(b"k", 100, 50).await.unwrap());
        assert!(g.consume(b"other", 100, 50).await.unwrap());
    }
}

/// A [`ReplayGuard`] backed by the shared [`Store`](super::Store): consumption is one atomic
/// statement in the database, so it holds across every gateway sharing it.
#[derive(Debug, Clone)]
pub struct StoreReplayGuard {
    store: std::sync::Arc<dyn super::Store>,
}

impl StoreReplayGuard {
    /// Consume in `store`.
    pub fn new(store: std::sync::Arc<dyn super::Store>) -> Self {
        StoreReplayGuard { store }
    }
}

#[async_trait]
impl ReplayGuard for StoreReplayGuard {
    async fn consume(&self, key: &[u8], expires_at: u64, _now: u64) -> Result<bool, StoreError> {
        self.store.consume(key, "replay", expires_at).await
    }
}
