//! The paywall's side of the admin API and of config reloads (issue G item 2): the route
//! table swapped in place (`SIGHUP`), run-time prices set fleet-wide through the store and
//! applied to new challenges, and what the admin API reports about routes.

use std::sync::Arc;

use serde::Serialize;

use super::{Paywall, Route, RouteTable};
use crate::{
    clock::now_unix,
    store::{admin::RoutePrice, Prices, StoreError},
};

/// Why a run-time price was not set.
#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    /// No route has this name.
    #[error("no route named {0:?}")]
    UnknownRoute(String),
    /// Free or dynamically priced routes have no price to change.
    #[error("route {0:?} has no static price to change (free or priced by a pricer)")]
    NotStatic(String),
    /// A zero price would make the route free: edit the config instead.
    #[error("a price must be at least 1 msat")]
    Zero,
    /// Run-time prices live in the store (shared by the fleet).
    #[error("run-time prices need a store ([store])")]
    NoStore,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One route as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RouteView {
    /// Route name.
    pub name: String,
    /// Host matched, if any.
    pub host: Option<String>,
    /// Path prefix matched.
    pub path_prefix: String,
    /// Protocols offered.
    pub protocols: Vec<&'static str>,
    /// Price from the config, msat (0 for free or dynamically priced routes).
    pub config_price_msat: u64,
    /// Price of new challenges now, msat.
    pub price_msat: u64,
    /// Priced per request by a pricer.
    pub dynamic: bool,
    /// The run-time price, if one is set.
    pub run_time: Option<RoutePrice>,
    /// Invoices ready in this gateway's pool front.
    pub pool_stock: usize,
}

impl Paywall {
    /// The run-time prices (admin API), shared with the store refresher.
    pub fn prices(&self) -> &Arc<Prices> {
        &self.prices
    }

    /// Whether this paywall speaks protocol `id` (a reloaded route may only offer these).
    pub fn offers(&self, id: gate402_protocols::ProtocolId) -> bool {
        self.protocol(id).is_some()
            || (id == gate402_protocols::ProtocolId::Browser && self.browser.is_some())
    }

    /// The run-time price of a statically priced `route`, if one is set.
    pub(super) fn run_time_price(&self, route: &Route) -> Option<RoutePrice> {
        if route.pricer.is_some() || route.offer.price_msat == 0 {
            return None;
        }
        self.prices.get(&route.name)
    }

    /// Keep invoice stocks for every priced route of `table` that has none yet.
    pub(super) fn register_stocks(&self, table: &RouteTable) {
        for route in table.routes() {
            let needs = route.protocols.iter().any(|id| {
                self.protocol(*id)
                    .is_some_and(|p| p.needs_invoice_for(&route.offer))
            });
            if route.offer.price_msat > 0 && needs && !self.pool.is_registered(&route.name) {
                let req = self.invoice_request(route, route.offer.price_msat);
                self.pool.register(&route.name, req);
            }
        }
    }

    /// Serve `table` from now on (a config reload). Requests already past route matching
    /// finish on the table they matched; new routes get invoice stocks.
    pub fn replace_routes(&self, table: RouteTable) {
        self.register_stocks(&table);
        *self.routes.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(table);
        self.verified.clear();
    }

    /// Set `route`'s price for new challenges on every gateway sharing the store (each sees
    /// it within its refresh interval; this one at once). Challenges issued before stay
    /// payable at their price until their invoices expire; L402 tokens already bought stay
    /// valid (a static route's token carries no price).
    pub async fn set_price(&self, route: &str, price_msat: u64) -> Result<RoutePrice, PriceError> {
        if price_msat == 0 {
            return Err(PriceError::Zero);
        }
        let table = self.routes();
        let Some(r) = table.routes().iter().find(|r| r.name == route) else {
            return Err(PriceError::UnknownRoute(route.to_owned()));
        };
        if r.pricer.is_some() || r.offer.price_msat == 0 {
            return Err(PriceError::NotStatic(route.to_owned()));
        }
        let store = self.store().ok_or(PriceError::NoStore)?;
        let grace = self.invoice_expiry_secs;
        let row = store
            .set_route_price(route, r.offer.price_msat, price_msat, grace, now_unix())
            .await?;
        self.prices.insert(row.clone());
        tracing::info!(route, price_msat, "route price set at run time");
        Ok(row)
    }

    /// Every route with its live price.
    pub fn route_views(&self) -> Vec<RouteView> {
        let table = self.routes();
        table
            .routes()
            .iter()
            .map(|r| {
                let run_time = self.run_time_price(r);
                RouteView {
                    name: r.name.clone(),
                    host: r.host.clone(),
                    path_prefix: r.path_prefix.clone(),
                    protocols: r.protocols.iter().map(|p| p.as_str()).collect(),
                    config_price_msat: r.offer.price_msat,
                    price_msat: run_time
                        .as_ref()
                        .map_or(r.offer.price_msat, |p| p.price_msat),
                    dynamic: r.pricer.is_some(),
                    run_time,
                    pool_stock: self.pool.stock(&r.name),
                }
            })
            .collect()
    }
}
