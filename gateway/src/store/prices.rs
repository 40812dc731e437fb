//! [`Prices`]: the run-time route prices (admin API, `route_prices`) the paywall reads on
//! every priced request — a read lock and a hash lookup, no I/O on the hot path.
//!
//! Staleness bound like [`Revocations`](super::Revocations): a price set on another gateway
//! sharing the store is used here within one refresh interval plus one query (≤ 2 s with the
//! default 1 s); one set through this process is used at once. With the store unreachable the
//! last loaded prices stay in force (logged).

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use super::{admin::RoutePrice, Store};

/// Run-time prices by route name, shared by the paywall, the admin API and the refresher.
#[derive(Debug, Default)]
pub struct Prices {
    by_route: RwLock<HashMap<String, RoutePrice>>,
    /// Whether any price is set (skips the lock on the common path: no run-time prices).
    any: std::sync::atomic::AtomicBool,
}

impl Prices {
    /// The run-time price of `route`, if one is set.
    pub fn get(&self, route: &str) -> Option<RoutePrice> {
        if !self.any.load(std::sync::atomic::Ordering::Acquire) {
            return None;
        }
        self.by_route
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(route)
            .cloned()
    }

    /// Every run-time price.
    pub fn all(&self) -> Vec<RoutePrice> {
        let map = self.by_route.read().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = map.values().cloned().collect();
        v.sort_by(|a, b| a.route.cmp(&b.route));
        v
    }

    /// Replace every price (a refresh from the store).
    pub fn replace(&self, rows: Vec<RoutePrice>) {
        let mut map = self.by_route.write().unwrap_or_else(|e| e.into_inner());
        *map = rows.into_iter().map(|r| (r.route.clone(), r)).collect();
        self.any
            .store(!map.is_empty(), std::sync::atomic::Ordering::Release);
    }

    /// Use `row` here at once (it was just written to the store).
    pub fn insert(&self, row: RoutePrice) {
        let mut map = self.by_route.write().unwrap_or_else(|e| e.into_inner());
        map.insert(row.route.clone(), row);
        self.any.store(true, std::sync::atomic::Ordering::Release);
    }

    /// Reload from `store` every `every` until these prices are dropped.
    pub fn spawn_refresh(
        self: &Arc<Self>,
        store: Arc<dyn Store>,
        every: Duration,
    ) -> tokio::task::JoinHandle<()> {
        super::refresh::spawn(
            self,
            store,
            every,
            "route prices",
            |s| s.route_prices(),
            Prices::replace,
        )
    }
}
