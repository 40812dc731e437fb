//! The paywall: decides, per request, whether it is paid, and builds 402 challenges.
//!
//! [`Paywall::authorize`] has the shape of tower-http's `AsyncAuthorizeRequest`:
//! `request -> Result<(request, receipt), response>`. [`PaywallLayer`] wraps any tower service
//! (the reverse proxy, or an axum app) with it.

mod challenges;
mod check;
pub mod edge;
mod layer;
pub mod routes;
mod session;

use std::sync::Arc;

use axum::body::Body;
use gate402_protocols::{
    mpp::Mpp, CredentialError, HeaderPair, InvoiceFacts, PaymentProtocol, ProtocolId, Verified,
};
use gate402_rails::{InvoiceRequest, LightningRail};
use http::{Request, Response};

use crate::{
    error::GateError,
    store::{MemoryReplayGuard, ReplayGuard, SessionStore},
};
use check::Check;
pub use layer::{PaywallLayer, PaywallService, ResponseFuture};
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
const CREDENTIAL_HEADERS: [&str; 4] = [
    "authorization",
    "payment-authorization",
    "grpc-metadata-macaroon",
    "macaroon",
];

/// MPP client preferences (`method/intent;q=…`).
pub const ACCEPT_PAYMENT: &str = "accept-payment";

/// Seller-side payment logic shared by the proxy and the tower layer.
pub struct Paywall {
    routes: RouteTable,
    protocols: Vec<Arc<dyn PaymentProtocol>>,
    lightning: Arc<dyn LightningRail>,
    invoice_expiry_secs: u64,
    retry_after_secs: u64,
    replay: Arc<dyn ReplayGuard>,
    mpp: Option<Arc<Mpp>>,
    sessions: Option<Arc<dyn SessionStore>>,
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
            replay: Arc::new(MemoryReplayGuard::new()),
            mpp: None,
            sessions: None,
        }
    }

    /// Offer MPP (`Payment` scheme, Lightning charge) with `mpp`; with `sessions`, also the
    /// Lightning session intent, balances kept in that store.
    pub fn with_mpp(mut self, mpp: Arc<Mpp>, sessions: Option<Arc<dyn SessionStore>>) -> Self {
        self.protocols.retain(|p| p.id() != ProtocolId::Mpp);
        self.protocols.push(mpp.clone());
        self.mpp = Some(mpp);
        self.sessions = sessions;
        self
    }

    /// Where single-use proofs are consumed (default: in memory).
    pub fn with_replay_guard(mut self, replay: Arc<dyn ReplayGuard>) -> Self {
        self.replay = replay;
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
        let refused = match self.check(route, req.headers()).await {
            Check::Paid(receipt) => {
                let headers = req.headers_mut();
                for name in CREDENTIAL_HEADERS {
                    headers.remove(name);
                }
                req.extensions_mut().insert(receipt.clone());
                return Ok((req, Some(receipt)));
            }
            Check::Respond(resp) => return Err(resp),
            Check::Failed(e) => {
                tracing::warn!(route = %route.name, error = %e, "cannot check the credential");
                return Err(edge::error_response(&e, Vec::new(), self.retry_after_secs));
            }
            Check::Refused(refused) => refused,
        };
        let error = refused.as_ref().map(|(e, _)| e);
        let err = GateError::PaymentRequired {
            reason: error.map(CredentialError::reason),
            detail: error.map(ToString::to_string),
        };
        if let Some(e) = error {
            tracing::info!(route = %route.name, reason = e.reason(), "credential refused");
        }
        // The protocol that refused the credential (or, without one, the route's first
        // protocol) picks the problem type.
        let decider = match &refused {
            Some((_, id)) => Some(*id),
            None => route.protocols.first().copied(),
        };
        let problem_type = decider
            .and_then(|id| self.protocol(id))
            .and_then(|p| p.problem_type(error));
        let accept = req
            .headers()
            .get(ACCEPT_PAYMENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Err(match self.challenges_for(route, accept.as_deref()).await {
            Ok(challenges) => {
                edge::typed_error_response(&err, challenges, self.retry_after_secs, problem_type)
            }
            Err(e) => {
                tracing::warn!(route = %route.name, error = %e, "cannot issue a challenge");
                edge::error_response(&e, Vec::new(), self.retry_after_secs)
            }
        })
    }

    /// One fresh invoice for one challenge (never shared between protocols: each proof is
    /// worth exactly one access grant).
    async fn invoice(&self, route: &Route, amount_msat: u64) -> Result<InvoiceFacts, GateError> {
        let inv = self
            .lightning
            .create_invoice(InvoiceRequest {
                amount_msat,
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
