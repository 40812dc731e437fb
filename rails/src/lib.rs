//! Payment rails: the I/O side of gate402.
//!
//! A rail moves money and answers questions about it. [`LightningRail`] is the interface the
//! gateway (seller: create invoices, know their state) and the buyer client (pay invoices)
//! use; [`simnet`] is an in-process simulated Lightning network implementing it with real,
//! signed BOLT11 invoices. The LND gRPC implementation plugs in behind the same trait.

mod error;
#[cfg(feature = "evm")]
pub mod evm;
pub mod invoice;
#[cfg(feature = "lnd")]
pub mod lnd;
#[cfg(feature = "lnd-server")]
pub mod lnd_server;
pub mod multi;
pub mod simnet;

use std::time::Duration;

use async_trait::async_trait;

pub use error::{RailError, RailErrorKind};
pub use invoice::{decode_bolt11, DecodedInvoice};
#[cfg(feature = "lnd")]
pub use lnd::{CertSource, LndConfig, LndRail, MacaroonSource};

/// A 32-byte payment hash (SHA-256 of the preimage).
pub type PaymentHash = [u8; 32];

/// What a seller asks its node to invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRequest {
    /// Amount in millisatoshis; 0 asks for an amountless invoice (the payer chooses the
    /// amount, as LND's `AddInvoice` with `value = 0`).
    pub amount_msat: u64,
    /// Invoice description (BOLT11 `d` field).
    pub memo: String,
    /// Seconds until the invoice expires.
    pub expiry_secs: u64,
}

/// An invoice created by a rail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    /// BOLT11 payment request.
    pub bolt11: String,
    /// Payment hash.
    pub payment_hash: PaymentHash,
    /// Amount in millisatoshis.
    pub amount_msat: u64,
    /// Unix seconds of creation.
    pub created_at: u64,
    /// Unix seconds after which it can no longer be paid.
    pub expires_at: u64,
}

/// Invoice state as LND reports it (`lnrpc.Invoice.InvoiceState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvoiceState {
    /// OPEN = 0.
    Open,
    /// SETTLED = 1.
    Settled,
    /// CANCELED = 2.
    Canceled,
    /// ACCEPTED = 3.
    Accepted,
}

/// Limits for an outgoing payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayLimits {
    /// Maximum routing fee in millisatoshis.
    pub max_fee_msat: u64,
    /// Give up after this long.
    pub timeout: Duration,
}

impl Default for PayLimits {
    fn default() -> Self {
        PayLimits {
            max_fee_msat: 10_000,
            timeout: Duration::from_secs(60),
        }
    }
}

/// A successful outgoing payment. `Debug` never prints the preimage.
#[derive(Clone, PartialEq, Eq)]
pub struct Payment {
    /// The preimage revealed by the payee: the proof of payment.
    pub preimage: [u8; 32],
    /// Payment hash.
    pub payment_hash: PaymentHash,
    /// Amount delivered to the payee, in millisatoshis.
    pub amount_msat: u64,
    /// Routing fees paid, in millisatoshis.
    pub fee_msat: u64,
}

/// The state of an outgoing payment ([`LightningRail::track_payment`]).
#[derive(Debug, Clone)]
pub enum PaymentStatus {
    /// Settled: the preimage is the proof.
    Succeeded(Payment),
    /// Final failure: no money moved (LND `FAILED`, or never started: `NotFound`).
    Failed(RailError),
    /// Still in flight after the wait.
    InFlight,
}

impl std::fmt::Debug for Payment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payment")
            .field("preimage", &"<redacted>")
            .field("payment_hash", &hex::encode(self.payment_hash))
            .field("amount_msat", &self.amount_msat)
            .field("fee_msat", &self.fee_msat)
            .finish()
    }
}

/// Identity and readiness of a node (LND `GetInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// Node alias.
    pub alias: String,
    /// Compressed public key, hex.
    pub pubkey: String,
    /// Network name (`regtest`, `testnet`, `mainnet`, `signet`, `simnet`).
    pub network: String,
    /// Whether the node is synced and ready to route.
    pub synced: bool,
}

/// A Lightning node as seen by gate402. Implemented by [`simnet::SimNode`] and the LND client.
#[async_trait]
pub trait LightningRail: Send + Sync + 'static {
    /// Stable id of the rail implementation (`"simnet"`, `"lnd"`).
    fn rail_id(&self) -> &'static str;

    /// Identity and readiness.
    async fn info(&self) -> Result<NodeInfo, RailError>;

    /// Whether the node answers and is usable for this side's calls. Defaults to
    /// [`info`](Self::info) reporting `synced`; implementations whose least-privilege
    /// credentials cannot call `GetInfo` (LND's `invoice.macaroon`) override it.
    async fn ready(&self) -> Result<(), RailError> {
        let info = self.info().await?;
        if info.synced {
            Ok(())
        } else {
            Err(RailError::new(
                RailErrorKind::Unavailable,
                format!("node {} is not synced", info.alias),
            ))
        }
    }

    /// Create an invoice (seller side, LND `AddInvoice`).
    async fn create_invoice(&self, req: InvoiceRequest) -> Result<Invoice, RailError>;

    /// State of one of our invoices (seller side, LND `LookupInvoice`).
    async fn invoice_state(&self, payment_hash: &PaymentHash) -> Result<InvoiceState, RailError>;

    /// Pay a BOLT11 invoice and return the preimage (buyer side, LND `SendPaymentV2`).
    async fn pay_invoice(&self, bolt11: &str, limits: PayLimits) -> Result<Payment, RailError>;

    /// Pay `amount_msat` to an amountless BOLT11 invoice (LND `SendPaymentV2` with `amt_msat`),
    /// e.g. a refund to the return invoice a wallet gave when it opened a session. An invoice
    /// that carries an amount is refused (`InvalidInvoice`), as LND does: pay it with
    /// [`pay_invoice`](Self::pay_invoice). Rails that cannot pay answer `Internal`.
    async fn pay_amountless_invoice(
        &self,
        bolt11: &str,
        amount_msat: u64,
        limits: PayLimits,
    ) -> Result<Payment, RailError> {
        let _ = (bolt11, amount_msat, limits);
        Err(RailError::new(
            RailErrorKind::Internal,
            format!("the {} rail cannot pay amountless invoices", self.rail_id()),
        ))
    }

    /// Where one of our outgoing payments stands (buyer side, LND `TrackPaymentV2`): waits
    /// at most `wait` for a final state. A payment the node never started is `Failed` with
    /// [`NotFound`](RailErrorKind::NotFound) (nothing moved). Rails that cannot track answer
    /// `Err` (the outcome stays unknown).
    async fn track_payment(
        &self,
        payment_hash: &PaymentHash,
        wait: std::time::Duration,
    ) -> Result<PaymentStatus, RailError> {
        let _ = (payment_hash, wait);
        Err(RailError::new(
            RailErrorKind::Internal,
            format!("the {} rail cannot track payments", self.rail_id()),
        ))
    }

    /// Decode a BOLT11 invoice locally (signature checked).
    fn decode(&self, bolt11: &str) -> Result<DecodedInvoice, RailError> {
        decode_bolt11(bolt11)
    }

    /// Health of each node behind this rail when it spans several ([`multi::MultiNode`]);
    /// empty for a single node.
    fn nodes(&self) -> Vec<multi::NodeStatus> {
        Vec::new()
    }
}

/// `e` and its sources on one line, for logs and error messages (the top-level message of
/// hyper/reqwest errors hides the cause, e.g. the certificate error of a TLS handshake).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}
