//! The paywall: decides, per request, whether it is paid, and builds 402 challenges.
//!
//! [`Paywall::authorize`] has the shape of tower-http's `AsyncAuthorizeRequest`:
//! `request -> Result<(request, receipt), response>`. [`PaywallLayer`] wraps any tower service
//! (the reverse proxy, or an axum app) with it.

pub mod edge;
pub mod health;
mod layer;
pub mod pool;
pub mod routes;

use std::{sync::Arc, time::Duration};

use axum::body::Body;
use gate402_protocols::{
    CredentialError, HeaderPair, InvoiceFacts, NoRailFacts, PaymentProtocol, ProtocolId, Verified,
};
use gate402_rails::{InvoiceRequest, LightningRail, RailError, RailErrorKind};
use http::{Request, Response};

use crate::{clock::now_unix, error::GateError};
use health::RailHealth;
pub use layer::{PaywallLayer, PaywallService, ResponseFuture};
use pool::{InvoicePool, PoolConfig};
pub use routes::{Route, RouteTable};

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
}

/// Request headers that carry credentials; removed before forwarding upstream.
const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "grpc-metadata-macaroon", "macaroon"];

/// Seller-side payment logic shared by the proxy and the tower layer.
pub struct Paywall {
    routes: RouteTable,
    protocols: Vec<Arc<dyn PaymentProtocol>>,
    lightning: Arc<dyn LightningRail>,
    pool: InvoicePool,
    health: Arc<RailHealth>,
    monitor: Option<tokio::task::JoinHandle<()>>,
    invoice_expiry_secs: u64,
    retry_after_secs: u64,
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
}

impl PaywallBuilder {
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

    /// Register invoice stocks for every priced route and start the health monitor.
    pub fn build(self) -> Paywall {
        let health = Arc::new(RailHealth::default());
        let pool = InvoicePool::new(self.lightning.clone(), health.clone(), self.pool);
        let mut paywall = Paywall {
            routes: self.routes,
            protocols: self.protocols,
            lightning: self.lightning,
            pool,
            health,
            monitor: None,
            invoice_expiry_secs: self.invoice_expiry_secs,
            retry_after_secs: self.retry_after_secs,
        };
        for route in paywall.routes.routes() {
            let needs = route
                .protocols
                .iter()
                .any(|id| paywall.protocol(*id).is_some_and(|p| p.needs_invoice()));
            if route.offer.price_msat > 0 && needs {
                paywall
                    .pool
                    .register(&route.name, paywall.invoice_request(route));
            }
        }
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
        }
    }

    /// The invoice pool (stock levels and counters).
    pub fn pool(&self) -> &InvoicePool {
        &self.pool
    }

    /// Health of the Lightning rail as last observed.
    pub fn rail_health(&self) -> &RailHealth {
        &self.health
    }

    /// The route table.
    pub fn routes(&self) -> &RouteTable {
        &self.routes
    }

    /// The Lightning rail used for invoices.
    pub fn lightning(&self) -> &Arc<dyn LightningRail> {
        &self.lightning
    }

    fn protocol(&self, id: ProtocolId) -> Option<&Arc<dyn PaymentProtocol>> {
        self.protocols.iter().find(|p| p.id() == id)
    }

    /// Let a paid (or free) request through with its receipt, or answer it.
    pub async fn authorize<B>(
        &self,
        mut req: Request<B>,
    ) -> Result<(Request<B>, Option<Receipt>), Response<Body>> {
        let Some(route) = self.routes.find(&req) else {
            return Ok((req, None));
        };
        if route.offer.price_msat == 0 {
            return Ok((req, None));
        }
        let refused = match self.check(route, &req) {
            Ok(receipt) => {
                let headers = req.headers_mut();
                for name in CREDENTIAL_HEADERS {
                    headers.remove(name);
                }
                req.extensions_mut().insert(receipt.clone());
                return Ok((req, Some(receipt)));
            }
            Err(refused) => refused,
        };
        let err = GateError::PaymentRequired {
            reason: refused.as_ref().map(CredentialError::reason),
            detail: refused.as_ref().map(ToString::to_string),
        };
        if let Some(e) = &refused {
            tracing::info!(route = %route.name, reason = e.reason(), "credential refused");
        }
        if !self.health.is_up() {
            let cause = self.health.last_error().unwrap_or_else(|| {
                RailError::new(RailErrorKind::Unavailable, "lightning backend unavailable")
            });
            return Err(edge::error_response(
                &GateError::Rail(cause),
                Vec::new(),
                self.retry_after_secs,
            ));
        }
        Err(match self.challenges(route).await {
            Ok(challenges) => edge::error_response(&err, challenges, self.retry_after_secs),
            Err(e) => {
                tracing::warn!(route = %route.name, error = %e, "cannot issue a challenge");
                edge::error_response(&e, Vec::new(), self.retry_after_secs)
            }
        })
    }

    /// Verify whatever credential the request carries. `Err(None)`: none presented.
    fn check<B>(
        &self,
        route: &Route,
        req: &Request<B>,
    ) -> Result<Receipt, Option<CredentialError>> {
        let now = now_unix();
        let mut refused = None;
        for id in &route.protocols {
            let Some(proto) = self.protocol(*id) else {
                continue;
            };
            let outcome = match proto.parse_credential(req.headers()) {
                None => continue,
                Some(Err(e)) => Err(CredentialError::from(e)),
                Some(Ok(cred)) => proto.verify(&cred, &route.offer, &NoRailFacts, now),
            };
            match outcome {
                Ok(verified) => {
                    return Ok(Receipt {
                        route: route.name.clone(),
                        price_msat: route.offer.price_msat,
                        headers: proto.receipt(&verified),
                        verified,
                    })
                }
                Err(e) => refused = Some(e),
            }
        }
        Err(refused)
    }

    /// Fresh challenges of every protocol on the route, in order (L402 first by convention).
    pub async fn challenges(&self, route: &Route) -> Result<Vec<HeaderPair>, GateError> {
        let now = now_unix();
        let mut out = Vec::new();
        for id in &route.protocols {
            let Some(proto) = self.protocol(*id) else {
                continue;
            };
            let invoice = if proto.needs_invoice() {
                Some(self.invoice(route).await?)
            } else {
                None
            };
            out.extend(proto.challenge(&route.offer, invoice.as_ref(), now)?);
        }
        Ok(out)
    }

    fn invoice_request(&self, route: &Route) -> InvoiceRequest {
        InvoiceRequest {
            amount_msat: route.offer.price_msat,
            memo: format!("gate402 {}", route.name),
            expiry_secs: self.invoice_expiry_secs,
        }
    }

    /// One fresh invoice for one challenge (never shared between protocols: each proof is
    /// worth exactly one access grant).
    async fn invoice(&self, route: &Route) -> Result<InvoiceFacts, GateError> {
        let inv = self
            .pool
            .take(&route.name, &self.invoice_request(route))
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
