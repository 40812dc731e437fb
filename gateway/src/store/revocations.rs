//! [`Revocations`]: the in-memory set of revoked L402 token ids the paywall checks on every
//! paid request (a read lock and a hash lookup — no I/O on the hot path).
//!
//! Staleness bound: a revocation made anywhere (another gateway, `gate402 revoke`) is seen by
//! every gateway within one refresh interval plus one query (default 1 s → ≤ 2 s). A
//! revocation made through this process's [`Revocations::revoke`] is seen here at once. If the
//! database is unreachable the last loaded set stays in force (logged) until it is back.

use std::{
    collections::HashSet,
    sync::{Arc, RwLock},
    time::Duration,
};

use super::{Store, StoreResult};

/// Revoked token ids, shared by the paywall and its refresher.
#[derive(Debug, Default)]
pub struct Revocations {
    ids: RwLock<HashSet<[u8; 32]>>,
}

impl Revocations {
    /// Load the current set from `store`.
    pub async fn load(store: &dyn Store) -> StoreResult<Arc<Revocations>> {
        let me = Arc::new(Revocations::default());
        me.replace(store.revoked().await?);
        Ok(me)
    }

    /// Whether `token_id` is revoked (as of the last refresh).
    pub fn contains(&self, token_id: &[u8; 32]) -> bool {
        self.ids
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(token_id)
    }

    /// Number of revoked ids known.
    pub fn len(&self) -> usize {
        self.ids.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no id is revoked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn replace(&self, ids: Vec<[u8; 32]>) {
        *self.ids.write().unwrap_or_else(|e| e.into_inner()) = ids.into_iter().collect();
    }

    /// Revoke in the store, then locally at once.
    pub async fn revoke(&self, store: &dyn Store, token_id: &[u8; 32]) -> StoreResult<bool> {
        let fresh = store.revoke(token_id, crate::clock::now_unix()).await?;
        self.ids
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(*token_id);
        Ok(fresh)
    }

    /// Reload from `store` every `every` until this set is dropped.
    pub fn spawn_refresh(
        self: &Arc<Self>,
        store: Arc<dyn Store>,
        every: Duration,
    ) -> tokio::task::JoinHandle<()> {
        super::refresh::spawn(
            self,
            store,
            every,
            "revocations",
            |s| s.revoked(),
            Revocations::replace,
        )
    }
}
