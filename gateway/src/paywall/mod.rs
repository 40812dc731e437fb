//! The paywall: decides, per request, whether it is paid, and builds 402 challenges.
//!
//! [`Paywall::authorize`] has the shape of tower-http's `AsyncAuthorizeRequest`:
//! `request -> Result<(request, receipt), response>`. [`PaywallLayer`] wraps any tower service
//! (the reverse proxy, or an axum app) with it.

pub mod admin;
mod authorize;
mod body;
pub mod browser;
mod challenges;
mod check;
pub mod edge;
mod fast;
mod first_use;
pub mod grpc;
pub mod health;
mod layer;
pub mod mint_gate;
pub mod pool;
mod pool_refill;
pub mod rate;
mod reconcile;
mod refund;
pub mod replay;
pub mod routes;
pub mod served;
mod session;
mod settle;
pub mod sweep;
mod verified;
pub mod x402;
mod x402_settle;

use std::{sync::Arc, time::Duration};

use gate402_protocols::{
    mpp::Mpp, HeaderPair, InvoiceFacts, PaymentProtocol, ProtocolId, Verified,
};
use gate402_rails::{InvoiceRequest, LightningRail};

use crate::{
    error::GateError,
    store::{Revocations, SessionStore, Store},
};
pub use body::{BodyLimitExceeded, StreamedBodyLimit};
use check::Check;
pub use first_use::FirstUse;
use health::RailHealth;
pub use layer::{PaywallLayer, PaywallService, ResponseFuture};
use pool::{InvoicePool, PoolConfig};
pub use replay::{MemoryReservations, Reservations};
pub use routes::{Route, RouteTable};
use settle::Settlement;
pub use x402::X402Support;

/// Proof that a request was paid, attached to the request (extension) and the response.
#[derive(Debug, Clone)]
pub struct Receipt {
    /// Route that was paid for.
    pub route: String,
    /// Price of the route, millisatoshis.
    pub price_msat: u64,
    /// What the protocol verified.
    pub verified: Verified,
    /// Receipt headers to add to the response.
    pub headers: Vec<HeaderPair>,
    /// An x402 payment to settle before the response is released.
    pub pending: Option<x402::Pending>,
    /// The ledger row this request recorded (or took back), marked served or unserved by
    /// its response.
    pub ledger: Option<served::LedgerEntry>,
    /// A reusable token's first-use write, finished before the response is released.
    pub first_use: Option<first_use::FirstUse>,
}

/// MPP client preferences (`method/intent;q=…`).
pub const ACCEPT_PAYMENT: &str = "accept-payment";

/// Seller-side payment logic shared by the proxy and the tower layer.
pub struct Paywall {
    routes: std::sync::RwLock<Arc<RouteTable>>,
    prices: Arc<crate::store::Prices>,
    protocols: Vec<Arc<dyn PaymentProtocol>>,
    lightning: Arc<dyn LightningRail>,
    pool: InvoicePool,
    health: Arc<RailHealth>,
    monitor: Option<tokio::task::JoinHandle<()>>,
    invoice_expiry_secs: u64,
    retry_after_secs: u64,
    mpp: Option<Arc<Mpp>>,
    max_body_bytes: usize,
    max_request_body: usize,
    trusted_proxies: Vec<ipnet::IpNet>,
    max_sessions_per_payer: u64,
    offer_sessions: bool,
    sessions: Option<Arc<dyn SessionStore>>,
    settlement: Option<Settlement>,
    x402: Option<X402Support>,
    x402_max_response_bytes: usize,
    upstream_timeout: Duration,
    reservations: Arc<dyn Reservations>,
    metrics: Option<Arc<crate::metrics::Metrics>>,
    browser: Option<Arc<browser::Browser>>,
    verified: verified::VerifiedCache,
}

impl Drop for Paywall {
    fn drop(&mut self) {
        if let Some(m) = self.monitor.take() {
            m.abort();
        }
    }
}

impl std::fmt::Debug for Paywall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Paywall")
            .field("routes", &self.routes)
            .field("rail", &self.lightning.rail_id())
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Paywall`]: settings first, then [`build`](PaywallBuilder::build) registers the
/// invoice stocks and starts the background workers (inside a Tokio runtime).
pub struct PaywallBuilder {
    routes: RouteTable,
    protocols: Vec<Arc<dyn PaymentProtocol>>,
    lightning: Arc<dyn LightningRail>,
    pool: PoolConfig,
    health_interval: Duration,
    invoice_expiry_secs: u64,
    retry_after_secs: u64,
    mpp: Option<Arc<Mpp>>,
    max_body_bytes: usize,
    max_request_body: usize,
    offer_sessions: bool,
    x402: Option<X402Support>,
    x402_max_response_bytes: usize,
    upstream_timeout: Duration,
    trusted_proxies: Vec<ipnet::IpNet>,
    max_sessions_per_payer: u64,
    metrics: Option<Arc<crate::metrics::Metrics>>,
    browser: Option<Arc<browser::Browser>>,
}

/// Default of [`PaywallBuilder::x402_max_response_bytes`]: 8 MiB.
pub const X402_MAX_RESPONSE_BYTES: usize = 8 << 20;

impl PaywallBuilder {
    /// Largest upstream response buffered before an x402 EVM payment is settled (502 above,
    /// nothing settled), and how long reading it may take (504 after).
    pub fn x402_buffer(mut self, max_bytes: usize, timeout: Duration) -> Self {
        self.x402_max_response_bytes = max_bytes;
        self.upstream_timeout = timeout;
        self
    }

    /// Enable x402 (its protocol is added to the paywall's protocols).
    pub fn x402(mut self, support: X402Support) -> Self {
        self.protocols.retain(|p| p.id() != ProtocolId::X402);
        self.protocols.push(support.protocol.clone());
        self.x402 = Some(support);
        self
    }

    /// Expiry of minted invoices, seconds.
    pub fn invoice_expiry(mut self, secs: u64) -> Self {
        self.invoice_expiry_secs = secs;
        self
    }

    /// `Retry-After` seconds for 503 answers.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = secs;
        self
    }

    /// Largest request body buffered on MPP routes to bind challenges to it (413 above).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Largest request body on a priced route (every protocol), bytes: a larger declared
    /// length answers 413 before anything is read or minted; a body without a length is
    /// counted while it streams upstream (413 past it).
    pub fn max_request_body(mut self, bytes: usize) -> Self {
        self.max_request_body = bytes;
        self
    }

    /// Peers whose `X-Forwarded-For` is believed when rate-limiting by client address.
    pub fn trusted_proxies(mut self, nets: Vec<ipnet::IpNet>) -> Self {
        self.trusted_proxies = nets;
        self
    }

    /// Count requests, challenges, payments and latencies in `metrics`.
    pub fn metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Serve browsers the paywall page and accept its session cookie ([`browser`]).
    pub fn browser(mut self, browser: browser::Browser) -> Self {
        self.browser = Some(Arc::new(browser));
        self
    }

    /// Invoice pool settings.
    pub fn pool(mut self, cfg: PoolConfig) -> Self {
        self.pool = cfg;
        self
    }

    /// How often the rail's readiness is checked while it is up.
    pub fn health_interval(mut self, every: Duration) -> Self {
        self.health_interval = every;
        self
    }

    /// Offer MPP (`Payment` scheme, Lightning charge) with `mpp`; with `sessions`, also the
    /// Lightning session intent once a store is attached ([`Paywall::with_store`]: balances
    /// live in the store, shared by every gateway using it).
    /// Open MPP sessions per payer at most (0 = unlimited; default 16).
    pub fn max_sessions_per_payer(mut self, max: u64) -> Self {
        self.max_sessions_per_payer = max;
        self
    }

    /// Offer MPP (`Payment` scheme, Lightning charge) with `mpp`; with `sessions`, also the
    /// Lightning session intent (see [`PaywallBuilder::mpp`]'s first form).
    pub fn mpp(mut self, mpp: Arc<Mpp>, sessions: bool) -> Self {
        self.protocols.retain(|p| p.id() != ProtocolId::Mpp);
        self.protocols.push(mpp.clone());
        self.mpp = Some(mpp);
        self.offer_sessions = sessions;
        self
    }

    /// Register invoice stocks for every priced route and start the health monitor.
    pub fn build(self) -> Paywall {
        let health = Arc::new(RailHealth::default());
        let pool = InvoicePool::new(self.lightning.clone(), health.clone(), self.pool);
        let mut paywall = Paywall {
            routes: std::sync::RwLock::new(Arc::new(self.routes)),
            prices: Arc::default(),
            protocols: self.protocols,
            lightning: self.lightning,
            pool,
            health,
            monitor: None,
            invoice_expiry_secs: self.invoice_expiry_secs,
            retry_after_secs: self.retry_after_secs,
            mpp: self.mpp,
            max_body_bytes: self.max_body_bytes,
            max_request_body: self.max_request_body,
            trusted_proxies: self.trusted_proxies,
            max_sessions_per_payer: self.max_sessions_per_payer,
            offer_sessions: self.offer_sessions,
            sessions: None,
            settlement: None,
            x402: self.x402,
            x402_max_response_bytes: self.x402_max_response_bytes,
            upstream_timeout: self.upstream_timeout,
            reservations: Arc::new(MemoryReservations::default()),
            metrics: self.metrics,
            browser: self.browser,
            verified: verified::VerifiedCache::default(),
        };
        paywall.register_stocks(&paywall.routes());
        paywall.monitor = tokio::runtime::Handle::try_current().ok().map(|_| {
            health::spawn_monitor(
                paywall.lightning.clone(),
                paywall.health.clone(),
                self.health_interval,
            )
        });
        paywall
    }
}

impl Paywall {
    /// Start building a paywall over `routes`, speaking `protocols`, minting on `lightning`.
    pub fn builder(
        routes: RouteTable,
        protocols: Vec<Arc<dyn PaymentProtocol>>,
        lightning: Arc<dyn LightningRail>,
    ) -> PaywallBuilder {
        PaywallBuilder {
            routes,
            protocols,
            lightning,
            pool: PoolConfig::default(),
            health_interval: Duration::from_secs(1),
            invoice_expiry_secs: 3600,
            retry_after_secs: 5,
            mpp: None,
            max_body_bytes: 1 << 20,
            max_request_body: 10 << 20,
            offer_sessions: false,
            x402: None,
            x402_max_response_bytes: X402_MAX_RESPONSE_BYTES,
            upstream_timeout: Duration::from_secs(30),
            trusted_proxies: Vec::new(),
            max_sessions_per_payer: 16,
            metrics: None,
            browser: None,
        }
    }

    /// The x402 support, if enabled.
    pub fn x402(&self) -> Option<&X402Support> {
        self.x402.as_ref()
    }

    /// Record payments in `store`, consume single-use credentials there (exactly once across
    /// every gateway sharing it), and refuse the token ids in `revocations` (keep it fresh
    /// with [`Revocations::spawn_refresh`]). Without a store the paywall verifies
    /// statelessly, consumes in memory and records nothing (and offers no MPP sessions).
    pub fn with_store(mut self, store: Arc<dyn Store>, revocations: Arc<Revocations>) -> Self {
        if self.offer_sessions && self.mpp.is_some() {
            let sessions: Arc<dyn SessionStore> = store.clone();
            self.sessions = Some(sessions);
        }
        self.reservations = Arc::new(replay::StoreReservations::new(store.clone()));
        self.pool.attach_store(store.clone());
        if let Some(evm) = self.x402.as_ref().and_then(|x| x.evm.as_ref()) {
            // Settlements are journaled in the store: a restart or another gateway of the
            // fleet reconciles what a request left behind.
            evm.set_journal(Arc::new(crate::store::StoreJournal::new(store.clone())));
        }
        self.settlement = Some(Settlement::new(store, revocations));
        self
    }

    /// The store, if one is attached.
    pub fn store(&self) -> Option<&Arc<dyn Store>> {
        self.settlement.as_ref().map(|s| &s.store)
    }

    /// The revocation set, if a store is attached.
    pub fn revocations(&self) -> Option<&Arc<Revocations>> {
        self.settlement.as_ref().map(|s| &s.revocations)
    }

    /// The metrics, if counted ([`PaywallBuilder::metrics`]).
    pub fn metrics(&self) -> Option<&Arc<crate::metrics::Metrics>> {
        self.metrics.as_ref()
    }

    /// Refresh the scrape-time gauges (pool levels and counters, rail and store health) and
    /// render the metrics; `None` when none are counted.
    pub async fn render_metrics(&self) -> Option<String> {
        let m = self.metrics.as_ref()?;
        let pools: Vec<crate::metrics::PoolLevel> = self
            .routes()
            .routes()
            .iter()
            .map(|r| crate::metrics::PoolLevel {
                route: r.name.clone(),
                front: self.pool.stock(&r.name),
                reserve: self.pool.reserve(&r.name),
            })
            .collect();
        let stats = self.pool.stats();
        let store_up = self.store_up().await;
        m.set_state(
            &pools,
            stats.hits,
            stats.misses,
            self.health.is_up(),
            store_up,
        );
        Some(m.render())
    }

    /// Whether the store answers a trivial read within 2 s (`None`: no store). For the
    /// metrics' `gate402_store_up` and the admin API's status.
    pub async fn store_up(&self) -> Option<bool> {
        let s = self.store()?;
        let probe = tokio::time::timeout(Duration::from_secs(2), s.is_revoked(&[0u8; 32]));
        Some(probe.await.is_ok_and(|r| r.is_ok()))
    }

    /// The browser paywall, if on.
    pub fn browser(&self) -> Option<&Arc<browser::Browser>> {
        self.browser.as_ref()
    }

    /// The invoice pool (stock levels and counters).
    pub fn pool(&self) -> &InvoicePool {
        &self.pool
    }

    /// Health of the Lightning rail as last observed.
    pub fn rail_health(&self) -> &RailHealth {
        &self.health
    }

    /// The route table in force (replaced by a config reload, [`Paywall::replace_routes`]).
    pub fn routes(&self) -> Arc<RouteTable> {
        self.routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The Lightning rail used for invoices.
    pub fn lightning(&self) -> &Arc<dyn LightningRail> {
        &self.lightning
    }

    fn protocol(&self, id: ProtocolId) -> Option<&Arc<dyn PaymentProtocol>> {
        self.protocols.iter().find(|p| p.id() == id)
    }

    fn invoice_request(&self, route: &Route, amount_msat: u64) -> InvoiceRequest {
        InvoiceRequest {
            amount_msat,
            memo: format!("gate402 {}", route.name),
            expiry_secs: self.invoice_expiry_secs,
        }
    }

    /// One fresh invoice for one challenge (never shared between protocols: each proof is
    /// worth exactly one access grant). Invoices for the route's price come from the pool;
    /// other amounts (session deposits) are minted on the spot.
    async fn invoice(&self, route: &Route, amount_msat: u64) -> Result<InvoiceFacts, GateError> {
        let key = if amount_msat == route.offer.price_msat && !route.offer.bind_price {
            route.name.as_str()
        } else {
            ""
        };
        let inv = self
            .pool
            .take(key, amount_msat, || {
                self.invoice_request(route, amount_msat)
            })
            .await
            .map_err(GateError::Rail)?;
        Ok(InvoiceFacts {
            bolt11: inv.bolt11,
            payment_hash: inv.payment_hash,
            amount_msat: inv.amount_msat,
            expires_at: inv.expires_at,
        })
    }
}

/// The route a paywall answer (402, 429, 503…) was made for, in its response extensions
/// (for the access log and metrics).
#[derive(Debug, Clone)]
pub struct RouteTag(pub String);
