//! [`LndRail`]: the [`LightningRail`] implementation over LND's gRPC API.
//!
//! * Transport: TCP (`TCP_NODELAY`) → TLS pinned to the node's `tls.cert` → HTTP/2 (tonic),
//!   with the hex macaroon in the `macaroon` metadata of every call (module `transport`).
//! * Seller: `create_invoice` = `AddInvoice`; `invoice_state` is answered from memory, kept
//!   current by a background `SubscribeInvoices` stream, with `LookupInvoice` for invoices the
//!   stream has not shown (e.g. created before a restart).
//! * Buyer: `pay_invoice` = `routerrpc.SendPaymentV2`, reading the status stream to the end.
//! * Errors: gRPC codes and payment failure reasons are classified into [`RailErrorKind`]s.
//!
//! Connecting: [`LndRail::connect`] loads the certificate and macaroon (errors name the file)
//! and establishes the TLS connection before returning (no RPC is made, so any macaroon will
//! do); [`LndRail::connect_lazy`] only loads the files and connects on first use. In both
//! cases the channel reconnects by itself after an outage.

mod cache;
mod config;
mod errors;
mod node_rpc;
pub mod permissions;
pub mod proto;
mod rpc;
mod transport;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

pub use config::{CertSource, LndConfig, MacaroonSource};

use cache::{InvoiceCache, TaskGuard};
use errors::from_status;
use proto::lnrpc::lightning_client::LightningClient;
use proto::lnrpc::{self, GetInfoRequest};
use proto::routerrpc::router_client::RouterClient;
use proto::routerrpc::SendPaymentRequest;
use rpc::{final_payment, unary, with_deadline};
use transport::{LndChannel, MacaroonInterceptor};

use crate::{
    Invoice, InvoiceRequest, InvoiceState, LightningRail, NodeInfo, PayLimits, Payment,
    PaymentHash, RailError, RailErrorKind,
};

/// Extra time granted to a payment stream beyond `PayLimits::timeout`.
const PAY_GRACE: Duration = Duration::from_secs(5);

/// A Lightning node reached over LND's gRPC API. Cheap to clone (shared connection, cache and
/// subscription); the subscription task stops when the last clone is dropped.
#[derive(Clone)]
pub struct LndRail {
    inner: Arc<Inner>,
}

struct Inner {
    address: String,
    lightning: LightningClient<LndChannel>,
    router: RouterClient<LndChannel>,
    invoices: LndChannel,
    cache: Arc<InvoiceCache>,
    _subscription: TaskGuard,
}

impl fmt::Debug for LndRail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LndRail")
            .field("address", &self.inner.address)
            .field("subscribed", &self.is_connected())
            .finish_non_exhaustive()
    }
}

impl LndRail {
    /// Load the certificate and macaroon, connect (TCP + pinned TLS + HTTP/2) and start the
    /// invoice subscription. Fails with `Unavailable` if the node cannot be reached or presents
    /// another certificate (the message then names the pinned certificate's source).
    pub async fn connect(cfg: LndConfig) -> Result<Self, RailError> {
        Self::build(cfg, true).await
    }

    /// Like [`connect`](Self::connect) but without connecting: only the files are loaded and
    /// checked; the connection is made by the first call. Call within a Tokio runtime.
    pub async fn connect_lazy(cfg: LndConfig) -> Result<Self, RailError> {
        Self::build(cfg, false).await
    }

    async fn build(cfg: LndConfig, eager: bool) -> Result<Self, RailError> {
        let cert = config::load_cert(&cfg.tls_cert)?;
        let macaroon = config::load_macaroon(&cfg.macaroon)?;
        let interceptor = MacaroonInterceptor::new(&macaroon)?;
        let file = match &cfg.tls_cert {
            CertSource::Path(p) => Some(p.clone()),
            CertSource::Inline(_) => None,
        };
        let tls = transport::client_tls(cert, cfg.tls_cert.to_string(), file)?;
        let address = cfg.host_port().to_owned();
        let channel = transport::channel(&address, tls, eager).await?;
        let lightning = LightningClient::with_interceptor(channel.clone(), interceptor.clone());
        let invoices = LndChannel::new(channel.clone(), interceptor.clone());
        let router = RouterClient::with_interceptor(channel, interceptor);
        let cache = Arc::new(InvoiceCache::new());
        let subscription = cache::spawn(lightning.clone(), cache.clone());
        Ok(LndRail {
            inner: Arc::new(Inner {
                address,
                lightning,
                router,
                invoices,
                cache,
                _subscription: subscription,
            }),
        })
    }

    /// The node's `host:port`.
    pub fn address(&self) -> &str {
        &self.inner.address
    }

    /// Whether the invoice subscription stream is up (readiness of the seller hot path).
    /// Against a real LND the stream counts as up once LND has sent its first event.
    pub fn is_connected(&self) -> bool {
        self.inner.cache.is_connected()
    }

    /// Watch [`is_connected`](Self::is_connected) change.
    pub fn connection_watch(&self) -> watch::Receiver<bool> {
        self.inner.cache.connected_watch()
    }

    /// The state of `hash` as last seen by this client (stream, `AddInvoice` or lookup); no I/O.
    pub fn cached_state(&self, hash: &PaymentHash) -> Option<InvoiceState> {
        self.inner.cache.get(hash).map(|e| e.state)
    }

    /// A counter bumped whenever a cached state changes; await `changed()` on it to react to
    /// invoice updates without polling.
    pub fn state_changes(&self) -> watch::Receiver<u64> {
        self.inner.cache.version_watch()
    }

    /// Wait until the cached state of `hash` satisfies `done`, or `timeout` passes; returns
    /// the last cached state (which satisfies `done` unless the wait timed out).
    pub async fn wait_for_state(
        &self,
        hash: &PaymentHash,
        timeout: Duration,
        done: impl Fn(InvoiceState) -> bool,
    ) -> Option<InvoiceState> {
        let mut changes = self.state_changes();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            changes.borrow_and_update();
            let state = self.cached_state(hash);
            if state.is_some_and(&done) {
                return state;
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => continue,
                _ => return self.cached_state(hash),
            }
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[async_trait]
impl LightningRail for LndRail {
    fn rail_id(&self) -> &'static str {
        "lnd"
    }

    /// `LookupInvoice` of an unknown hash: needs only `invoices:read`, which LND's
    /// `invoice.macaroon` has (its `GetInfo` would be refused).
    async fn ready(&self) -> Result<(), RailError> {
        self.ping().await
    }

    async fn info(&self) -> Result<NodeInfo, RailError> {
        let mut client = self.inner.lightning.clone();
        let r = unary("GetInfo", client.get_info(GetInfoRequest {})).await?;
        let network = r.chains.first().map(|c| c.network.clone());
        Ok(NodeInfo {
            alias: r.alias,
            pubkey: r.identity_pubkey,
            network: network.unwrap_or_else(|| "unknown".to_owned()),
            synced: r.synced_to_chain && r.synced_to_graph,
        })
    }

    async fn create_invoice(&self, req: InvoiceRequest) -> Result<Invoice, RailError> {
        // 0 is an amountless invoice, as in LND.
        let value_msat = i64::try_from(req.amount_msat).map_err(|_| {
            RailError::new(RailErrorKind::InvalidInvoice, "amount_msat out of range")
        })?;
        let add = lnrpc::Invoice {
            memo: req.memo,
            value_msat,
            expiry: i64::try_from(req.expiry_secs).unwrap_or(i64::MAX),
            ..Default::default()
        };
        let mut client = self.inner.lightning.clone();
        let resp = unary("AddInvoice", client.add_invoice(add)).await?;
        // Our own node's answer on the authenticated channel: fields, not the signature.
        let decoded = crate::invoice::read_own_invoice(&resp.payment_request)?;
        if resp.r_hash != decoded.payment_hash {
            let msg = "LND AddInvoice: r_hash does not match the payment request";
            return Err(RailError::new(RailErrorKind::Internal, msg));
        }
        let hash = decoded.payment_hash;
        let cache = &self.inner.cache;
        cache.record(hash, InvoiceState::Open, decoded.expires_at);
        Ok(Invoice {
            bolt11: resp.payment_request,
            payment_hash: decoded.payment_hash,
            amount_msat: decoded.amount_msat.unwrap_or(req.amount_msat),
            created_at: decoded.created_at,
            expires_at: decoded.expires_at,
        })
    }

    async fn invoice_state(&self, payment_hash: &PaymentHash) -> Result<InvoiceState, RailError> {
        if let Some(entry) = self.inner.cache.get(payment_hash) {
            // A non-final state is only trustworthy while the stream delivers updates, and
            // until the invoice expires (LND does not stream expiries).
            let expired = entry.expires_at != 0 && unix_now() >= entry.expires_at;
            if cache::is_final(entry.state) || (self.is_connected() && !expired) {
                return Ok(entry.state);
            }
        }
        self.lookup_invoice(payment_hash).await
    }

    async fn pay_invoice(&self, bolt11: &str, limits: PayLimits) -> Result<Payment, RailError> {
        self.send_payment(bolt11, 0, limits).await
    }

    async fn pay_amountless_invoice(
        &self,
        bolt11: &str,
        amount_msat: u64,
        limits: PayLimits,
    ) -> Result<Payment, RailError> {
        if amount_msat == 0 {
            let msg = "amount must be specified when paying a zero amount invoice";
            return Err(RailError::new(RailErrorKind::InvalidInvoice, msg));
        }
        let amt_msat = i64::try_from(amount_msat)
            .map_err(|_| RailError::new(RailErrorKind::InvalidInvoice, "amount out of range"))?;
        self.send_payment(bolt11, amt_msat, limits).await
    }

    async fn track_payment(
        &self,
        payment_hash: &PaymentHash,
        wait: Duration,
    ) -> Result<crate::PaymentStatus, RailError> {
        // `track_final` bounds itself by `wait` + a grace; hitting our own `wait` first means
        // still in flight. A node we cannot reach leaves the outcome unknown (`Err`).
        match tokio::time::timeout(wait, self.track_final(payment_hash, wait + PAY_GRACE)).await {
            Err(_) => Ok(crate::PaymentStatus::InFlight),
            Ok(Ok(p)) => Ok(crate::PaymentStatus::Succeeded(p)),
            Ok(Err(e)) => match e.kind {
                RailErrorKind::Unavailable
                | RailErrorKind::Internal
                | RailErrorKind::PermissionDenied
                | RailErrorKind::Certificate => Err(e),
                RailErrorKind::Timeout if e.message.contains("not final in time") => {
                    Ok(crate::PaymentStatus::InFlight)
                }
                _ => Ok(crate::PaymentStatus::Failed(e)),
            },
        }
    }
}

impl LndRail {
    /// `SendPaymentV2` for `bolt11` (with `amt_msat` when nonzero: an amountless invoice),
    /// reading the status stream to its final update.
    async fn send_payment(
        &self,
        bolt11: &str,
        amt_msat: i64,
        limits: PayLimits,
    ) -> Result<Payment, RailError> {
        let req = SendPaymentRequest {
            payment_request: bolt11.trim().to_owned(),
            amt_msat,
            timeout_seconds: i32::try_from(limits.timeout.as_secs().max(1)).unwrap_or(i32::MAX),
            fee_limit_msat: i64::try_from(limits.max_fee_msat).unwrap_or(i64::MAX),
            no_inflight_updates: true,
            ..Default::default()
        };
        let mut client = self.inner.router.clone();
        let call = async {
            let stream = client
                .send_payment_v2(req)
                .await
                .map_err(|s| from_status("SendPaymentV2", &s))?;
            final_payment("SendPaymentV2", stream.into_inner()).await
        };
        with_deadline(limits.timeout + PAY_GRACE, call).await
    }
}
