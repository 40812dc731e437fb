//! The EVM rail for x402 `exact` (EIP-3009): chain checks and settlement, on alloy.
//!
//! * [`EvmRail`] talks to the chain's JSON-RPC through an alloy provider: `verify` simulates
//!   `transferWithAuthorization` with `eth_call` (covers signature, nonce state, balance and
//!   time window as the token sees them, like the reference facilitator); `settle` submits it
//!   from the settler key (alloy wallet + gas/chain-id fillers, our own serialised nonce) and
//!   waits, bounded, for the receipt and confirmations. Every settlement is written to a
//!   [`SettlementJournal`] before it is sent; one whose buyer did not see the outcome stays
//!   there until a retry of the same payment or a background reconciler settles its fate.
//! * [`FacilitatorClient`] delegates both to an external x402 facilitator (`POST /verify`,
//!   `POST /settle`).
//! * [`HttpOptions`]: both speak `http://` and `https://` (rustls on `ring`, webpki roots plus
//!   an optional extra CA file), through one reqwest client each.
//!
//! Both implement [`ExactEvmBackend`]. Errors say whether the chain was unreachable
//! ([`EvmErrorKind::Unavailable`]: retryable, the gateway answers 503) or the payment was
//! refused ([`EvmErrorKind::Rejected`]: the gateway answers 402).
//!
//! The settler key is never logged: [`SettlerKey`]'s `Debug` prints only the address.

mod chain;
mod errors;
mod facilitator;
mod http;
mod journal;
mod reconcile;
mod settle;
pub mod token;

use std::sync::Arc;

use alloy::signers::local::PrivateKeySigner;
use async_trait::async_trait;
use gate402_protocols::x402::evm::{self, Address};
use gate402_protocols::x402::{EvmPayment, EvmPrice, PaymentPayload};

pub use chain::{settlement_key, EvmRail};
pub use facilitator::FacilitatorClient;
pub use http::HttpOptions;
pub use journal::{MemoryJournal, PendingSettlement, Resolution, SettlementJournal, SettlementKey};

/// The alloy version this rail is built on, re-exported for tests and tools that talk to the
/// same chain (one alloy in the tree).
pub use alloy;

/// Classification of an [`EvmError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvmErrorKind {
    /// RPC or facilitator unreachable, timed out, or answering nonsense: retry later.
    Unavailable,
    /// The payment was refused (simulation revert, failed transaction, facilitator says no).
    Rejected,
    /// Misconfiguration (no settler key, wrong chain).
    Config,
}

/// An error of the EVM rail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct EvmError {
    /// Classification.
    pub kind: EvmErrorKind,
    /// Stable machine-readable reason (`insufficient_funds`, `nonce_already_used`, …).
    pub reason: &'static str,
    /// Human-readable detail (never contains secrets).
    pub message: String,
    /// Transaction hash, when a transaction was broadcast.
    pub transaction: Option<String>,
}

impl EvmError {
    /// Build an error.
    pub fn new(kind: EvmErrorKind, reason: &'static str, message: impl Into<String>) -> Self {
        EvmError {
            kind,
            reason,
            message: message.into(),
            transaction: None,
        }
    }

    /// Whether the same operation may succeed later unchanged.
    pub fn retryable(&self) -> bool {
        self.kind == EvmErrorKind::Unavailable
    }
}

/// A settled payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    /// Transaction hash, `0x`-hex.
    pub transaction: String,
    /// Payer, checksummed.
    pub payer: String,
}

/// What one background reconciliation pass decided.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Settlements found landed (now ledger rows their buyers' retries are served from).
    pub landed: u32,
    /// Settlements that reverted or can never land (their payments may be presented again).
    pub released: u32,
    /// Settlements still undecided (left for the next pass).
    pub pending: u32,
}

/// One payment to check or settle: the price it must meet, the decoded payment and the
/// client's payload as received (for external facilitators).
#[derive(Debug, Clone, Copy)]
pub struct PaymentRef<'a> {
    /// The seller's price (asset, payee, amount, chain, EIP-712 domain).
    pub price: &'a EvmPrice,
    /// The decoded authorization and signature.
    pub payment: &'a EvmPayment,
    /// The client's PaymentPayload.
    pub payload: &'a PaymentPayload,
}

/// Verification and settlement of `exact` EVM payments (local chain access or a facilitator).
#[async_trait]
pub trait ExactEvmBackend: Send + Sync + 'static {
    /// Check with the chain that the payment would settle now (no state change).
    async fn verify(&self, p: PaymentRef<'_>) -> Result<(), EvmError>;
    /// Settle the payment and wait for confirmation.
    async fn settle(&self, p: PaymentRef<'_>) -> Result<Settled, EvmError>;
    /// [`settle`](Self::settle), journaling the settlement with the caller's `tag` (context
    /// the journal's owner needs to resolve it later: route, price, single-use key).
    async fn settle_with(&self, p: PaymentRef<'_>, tag: &str) -> Result<Settled, EvmError> {
        let _ = tag;
        self.settle(p).await
    }
    /// Short description for logs (`rpc http://…`, `facilitator http://…`).
    fn describe(&self) -> String;
    /// A payment presented again whose earlier settlement was sent but never confirmed to
    /// its buyer (a 503, a dropped request, a crashed gateway): check it now. `Ok(None)`: no
    /// such settlement is waiting (a plain replay, or another caller holds it). `Ok(Some(_))`:
    /// it landed and the caller now owns serving it — remove it from the journal once the
    /// payment is recorded ([`forget`](Self::forget), or in the journal's own transaction),
    /// or hand it back with [`unserved`](Self::unserved). `Err(Unavailable)`: still
    /// unconfirmed; `Err(Rejected)`: it failed or can never land (released).
    async fn reconcile(&self, p: PaymentRef<'_>) -> Result<Option<Settled>, EvmError> {
        let _ = p;
        Ok(None)
    }
    /// Reconcile up to `limit` settlements nobody is waiting for (crashed or gone callers),
    /// resolving each through the journal.
    async fn reconcile_due(&self, limit: u32) -> Result<Reconciled, EvmError> {
        let _ = limit;
        Ok(Reconciled::default())
    }
    /// A landed settlement could not be delivered after all: leave it for the next retry.
    async fn unserved(&self, p: PaymentRef<'_>) {
        let _ = p;
    }
    /// A settlement's outcome was delivered and recorded: drop it from the journal.
    async fn forget(&self, p: PaymentRef<'_>) {
        let _ = p;
    }
    /// Journal settlements in `journal` (the gateway's store) from now on.
    fn set_journal(&self, journal: Arc<dyn SettlementJournal>) {
        let _ = journal;
    }
}

/// The settler's private key (an alloy local signer). `Debug` shows the address only.
#[derive(Clone)]
pub struct SettlerKey {
    signer: PrivateKeySigner,
    address: Address,
}

impl SettlerKey {
    /// Parse a hex key (`0x` optional, surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Result<SettlerKey, EvmError> {
        let t = text.trim();
        let t = t.strip_prefix("0x").unwrap_or(t);
        let bad = || EvmError::new(EvmErrorKind::Config, "invalid_key", "not a 32-byte hex key");
        let mut b = [0u8; 32];
        hex::decode_to_slice(t, &mut b).map_err(|_| bad())?;
        let signer = PrivateKeySigner::from_bytes(&b.into()).map_err(|_| bad())?;
        Ok(SettlerKey {
            address: signer.address().into_array(),
            signer,
        })
    }

    /// The settler's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The alloy signer (for the provider's wallet only).
    pub(crate) fn signer(&self) -> &PrivateKeySigner {
        &self.signer
    }
}

impl std::fmt::Debug for SettlerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SettlerKey({})", evm::checksum(&self.address))
    }
}

/// Map a revert message of the token to a stable reason.
pub fn revert_reason(message: &str) -> &'static str {
    let m = message.to_ascii_lowercase();
    if m.contains("used or canceled") {
        "nonce_already_used"
    } else if m.contains("exceeds balance") || m.contains("insufficient") {
        "insufficient_funds"
    } else if m.contains("not yet valid") {
        "not_yet_valid"
    } else if m.contains("expired") {
        "expired"
    } else if m.contains("invalid signature") {
        "invalid_signature"
    } else {
        "simulation_failed"
    }
}
