//! The paywall: decides, per request, whether it is paid, and builds 402 challenges.
//!
//! [`Paywall::authorize`] has the shape of tower-http's `AsyncAuthorizeRequest`:
//! `request -> Result<(request, receipt), response>`. [`PaywallLayer`] wraps any tower service
//! (the reverse proxy, or an axum app) with it.

pub mod edge;
mod layer;
pub mod replay;
pub mod routes;
pub mod x402;
mod x402_settle;

use std::sync::Arc;

use axum::body::Body;
use gate402_protocols::{
    Credential, CredentialError, HeaderPair, InvoiceFacts, NoRailFacts, PaymentProtocol,
    ProtocolId, Verified,
};
use gate402_rails::{InvoiceRequest, LightningRail};
use http::{Request, Response};

use crate::{clock::now_unix, error::GateError};
pub use layer::{PaywallLayer, PaywallService, ResponseFuture};
pub use replay::{MemoryReplayGuard, ReplayGuard};
pub use routes::{Route, RouteTable};
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
}

/// Request headers that carry credentials; removed before forwarding upstream.
const CREDENTIAL_HEADERS: [&str; 5] = [
    "authorization",
    "grpc-metadata-macaroon",
    "macaroon",
    "payment-signature",
    "x-payment",
];

/// Seller-side payment logic shared by the proxy and the tower layer.
pub struct Paywall {
    routes: RouteTable,
    protocols: Vec<Arc<dyn PaymentProtocol>>,
    lightning: Arc<dyn LightningRail>,
    invoice_expiry_secs: u64,
    retry_after_secs: u64,
    x402: Option<X402Support>,
    replay: Arc<dyn ReplayGuard>,
}

impl std::fmt::Debug for Paywall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Paywall")
            .field("routes", &self.routes)
            .field("rail", &self.lightning.rail_id())
            .finish_non_exhaustive()
    }
}

impl Paywall {
    /// A paywall over `routes`, speaking `protocols`, minting invoices on `lightning`.
    pub fn new(
        routes: RouteTable,
        protocols: Vec<Arc<dyn PaymentProtocol>>,
        lightning: Arc<dyn LightningRail>,
    ) -> Self {
        Paywall {
            routes,
            protocols,
            lightning,
            invoice_expiry_secs: 3600,
            retry_after_secs: 5,
            x402: None,
            replay: Arc::new(MemoryReplayGuard::new()),
        }
    }

    /// Enable x402 (the protocol must also be among the paywall's protocols to be offered).
    pub fn with_x402(mut self, support: X402Support) -> Self {
        self.x402 = Some(support);
        self
    }

    /// Use `guard` for single-use proofs (default: in memory).
    pub fn with_replay_guard(mut self, guard: Arc<dyn ReplayGuard>) -> Self {
        self.replay = guard;
        self
    }

    /// Expiry of minted invoices, seconds.
    pub fn with_invoice_expiry(mut self, secs: u64) -> Self {
        self.invoice_expiry_secs = secs;
        self
    }

    /// `Retry-After` seconds for 503 answers.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = secs;
        self
    }

    /// The route table.
    pub fn routes(&self) -> &RouteTable {
        &self.routes
    }

    /// The x402 support, if enabled.
    pub fn x402(&self) -> Option<&X402Support> {
        self.x402.as_ref()
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
            Ok((mut receipt, credential)) => {
                if let Credential::X402(c) = &credential {
                    match self.x402_admit(route, c, &mut receipt.verified).await {
                        Ok(p) => receipt.pending = Some(p),
                        Err(x402::Refusal::Payment(e)) => {
                            return Err(self.refuse(route, Some(e)).await);
                        }
                        Err(x402::Refusal::Outage(e)) => {
                            tracing::warn!(route = %route.name, error = %e, "x402 rail unavailable");
                            return Err(edge::error_response(
                                &e,
                                Vec::new(),
                                self.retry_after_secs,
                            ));
                        }
                    }
                }
                let headers = req.headers_mut();
                for name in CREDENTIAL_HEADERS {
                    headers.remove(name);
                }
                req.extensions_mut().insert(receipt.clone());
                return Ok((req, Some(receipt)));
            }
            Err(refused) => refused,
        };
        Err(self.refuse(route, refused).await)
    }

    /// A 402 with fresh challenges (or 503 when none can be issued).
    async fn refuse(&self, route: &Route, refused: Option<CredentialError>) -> Response<Body> {
        let err = GateError::PaymentRequired {
            reason: refused.as_ref().map(CredentialError::reason),
            detail: refused.as_ref().map(ToString::to_string),
        };
        if let Some(e) = &refused {
            tracing::info!(route = %route.name, reason = e.reason(), "credential refused");
        }
        match self.challenges(route).await {
            Ok(challenges) => {
                let v1 = self
                    .x402
                    .as_ref()
                    .and_then(|x| x.protocol.v1_body(&route.offer));
                edge::error_response_with(&err, challenges, self.retry_after_secs, v1)
            }
            Err(e) => {
                tracing::warn!(route = %route.name, error = %e, "cannot issue a challenge");
                edge::error_response(&e, Vec::new(), self.retry_after_secs)
            }
        }
    }

    /// Verify whatever credential the request carries. `Err(None)`: none presented.
    fn check<B>(
        &self,
        route: &Route,
        req: &Request<B>,
    ) -> Result<(Receipt, Credential), Option<CredentialError>> {
        let now = now_unix();
        let mut refused = None;
        for id in &route.protocols {
            let Some(proto) = self.protocol(*id) else {
                continue;
            };
            let outcome = match proto.parse_credential(req.headers()) {
                None => continue,
                Some(Err(e)) => Err(CredentialError::from(e)),
                Some(Ok(cred)) => proto
                    .verify(&cred, &route.offer, &NoRailFacts, now)
                    .map(|v| (v, cred)),
            };
            match outcome {
                Ok((verified, credential)) => {
                    let receipt = Receipt {
                        route: route.name.clone(),
                        price_msat: route.offer.price_msat,
                        headers: proto.receipt(&verified),
                        verified,
                        pending: None,
                    };
                    return Ok((receipt, credential));
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
            let invoice = if proto.needs_invoice_for(&route.offer) {
                Some(self.invoice(route).await?)
            } else {
                None
            };
            out.extend(proto.challenge(&route.offer, invoice.as_ref(), now)?);
        }
        Ok(out)
    }

    /// One fresh invoice for one challenge (never shared between protocols: each proof is
    /// worth exactly one access grant).
    async fn invoice(&self, route: &Route) -> Result<InvoiceFacts, GateError> {
        let inv = self
            .lightning
            .create_invoice(InvoiceRequest {
                amount_msat: route.offer.price_msat,
                memo: format!("gate402 {}", route.name),
                expiry_secs: self.invoice_expiry_secs,
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
