//! The EVM rail for x402 `exact` (EIP-3009): chain checks and settlement.
//!
//! * [`EvmRail`] talks to the chain's JSON-RPC: `verify` simulates `transferWithAuthorization`
//!   with `eth_call` (covers signature, nonce state, balance and time window as the token sees
//!   them, like the reference facilitator); `settle` submits it from the settler key as an
//!   EIP-1559 transaction and waits for the receipt.
//! * [`FacilitatorClient`] delegates both to an external x402 facilitator (`POST /verify`,
//!   `POST /settle`).
//!
//! Both implement [`ExactEvmBackend`]. Errors say whether the chain was unreachable
//! ([`EvmErrorKind::Unavailable`]: retryable, the gateway answers 503) or the payment was
//! refused ([`EvmErrorKind::Rejected`]: the gateway answers 402).
//!
//! The settler key is never logged: [`SettlerKey`]'s `Debug` prints only the address.

mod chain;
mod facilitator;
pub mod rpc;
pub mod tx;

use async_trait::async_trait;
use gate402_protocols::x402::evm::{self, Address};
use gate402_protocols::x402::{EvmPayment, EvmPrice, PaymentPayload};

pub use chain::EvmRail;
pub use facilitator::FacilitatorClient;

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
    /// Short description for logs (`rpc http://…`, `facilitator http://…`).
    fn describe(&self) -> String;
}

/// The settler's private key. `Debug` shows the address only.
#[derive(Clone)]
pub struct SettlerKey {
    key: secp256k1::SecretKey,
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
        let key = secp256k1::SecretKey::from_slice(&b).map_err(|_| bad())?;
        Ok(SettlerKey {
            address: evm::address_of_key(&key),
            key,
        })
    }

    /// The settler's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The secret key (for signing only).
    pub fn secret(&self) -> &secp256k1::SecretKey {
        &self.key
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
