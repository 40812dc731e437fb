//! x402 (v1 and v2): HTTP 402 with signed stablecoin authorizations, plus its Lightning variant.
//!
//! Wire formats (see `specs/x402.md`):
//!
//! * v2 challenge: header `PAYMENT-REQUIRED` = base64(JSON `PaymentRequired`); payment header
//!   `PAYMENT-SIGNATURE` = base64(JSON `PaymentPayload` with `accepted` = the chosen entry,
//!   verbatim); receipt header `PAYMENT-RESPONSE` = base64(JSON `SettleResponse`).
//! * v1: JSON body `{x402Version:1, accepts:[…]}`; `X-PAYMENT`; `X-PAYMENT-RESPONSE`.
//! * scheme `exact` on EVM ([`exact`]): EIP-3009 `transferWithAuthorization`, EIP-712 domain
//!   from `extra.name` / `extra.version` ([`evm`]).
//! * the Lightning variant of `@getalby/lightning-tools` ([`lightning`]).
//!
//! Sans-IO like the rest of the crate: verification here is everything that needs no chain
//! (decode, EIP-712 digest, ecrecover, payTo/amount/network/asset/time checks). Chain facts
//! (nonce state, balance, simulation) and settlement belong to the EVM rail.

mod client;
pub mod evm;
pub mod exact;
pub mod lightning;
mod protocol;
pub mod wire;

use http::{HeaderName, HeaderValue};
use serde_json::Value;

pub use exact::{EvmPayment, EvmPrice};
pub use protocol::{X402Route, X402};
pub use wire::{PaymentPayload, PaymentRequirements, ResourceInfo, SettleResponse};

use crate::{HeaderPair, ParseError};

/// Scheme id of the only scheme implemented.
pub const SCHEME_EXACT: &str = "exact";
/// v2 challenge header.
pub const PAYMENT_REQUIRED: HeaderName = HeaderName::from_static("payment-required");
/// v2 payment header.
pub const PAYMENT_SIGNATURE: HeaderName = HeaderName::from_static("payment-signature");
/// v2 receipt header.
pub const PAYMENT_RESPONSE: HeaderName = HeaderName::from_static("payment-response");
/// v1 payment header.
pub const X_PAYMENT: HeaderName = HeaderName::from_static("x-payment");
/// v1 receipt header.
pub const X_PAYMENT_RESPONSE: HeaderName = HeaderName::from_static("x-payment-response");

/// A parsed x402 payment (server side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct X402Credential {
    /// Protocol version of the payload (1 or 2).
    pub version: u8,
    /// The chosen requirement: v2 `accepted`, or for v1 only `scheme`/`network` are known.
    pub accepted: PaymentRequirements,
    /// What was paid with.
    pub kind: X402Kind,
    /// The payload as received (forwarded verbatim to an external facilitator).
    pub payload: PaymentPayload,
}

/// The scheme-specific part of an [`X402Credential`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum X402Kind {
    /// `exact` on EVM: a signed EIP-3009 authorization.
    Evm(EvmPayment),
    /// The Lightning variant: the BOLT11 invoice that was paid.
    Lightning {
        /// The invoice (lowercase).
        invoice: String,
    },
}

/// One `accepts` entry of a 402 (client side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct X402Challenge {
    /// Protocol version of the 402 (1: JSON body, 2: `PAYMENT-REQUIRED` header).
    pub version: u8,
    /// v2 top-level `resource`.
    pub resource: Option<Value>,
    /// The entry exactly as received (echoed verbatim in `accepted`).
    pub raw: Value,
    /// The entry, v2-shaped.
    pub requirement: PaymentRequirements,
}

impl X402Challenge {
    /// Is this the Lightning variant?
    pub fn is_lightning(&self) -> bool {
        lightning::is_lightning(&self.requirement)
    }

    /// The BOLT11 invoice of a Lightning-variant entry.
    pub fn invoice(&self) -> Option<&str> {
        self.is_lightning()
            .then(|| self.requirement.extra_str("invoice"))
            .flatten()
    }

    /// The unsigned EIP-3009 authorization a client signs for this entry, and its domain:
    /// `to = payTo`, `value = amount`, `validBefore = now + maxTimeoutSeconds`, `validAfter`
    /// 0 (v2) or `now − 600` (v1), as the reference client does.
    pub fn authorization(
        &self,
        from: evm::Address,
        nonce: [u8; 32],
        now: u64,
    ) -> Result<(evm::Authorization, evm::Domain), crate::VerifyError> {
        let price = EvmPrice::from_requirement(&self.requirement)?;
        let auth = evm::Authorization {
            from,
            to: price.pay_to,
            value: price.amount,
            valid_after: if self.version == 1 {
                now.saturating_sub(600)
            } else {
                0
            },
            valid_before: now.saturating_add(price.max_timeout_secs),
            nonce,
        };
        Ok((auth, price.domain()))
    }
}

/// The receipt header for a settlement: `PAYMENT-RESPONSE` (v2) or `X-PAYMENT-RESPONSE` (v1).
pub fn settle_response_header(
    version: u8,
    resp: &SettleResponse,
) -> Result<HeaderPair, ParseError> {
    let name = if version == 1 {
        X_PAYMENT_RESPONSE
    } else {
        PAYMENT_RESPONSE
    };
    let value = HeaderValue::try_from(wire::encode_header(resp))
        .map_err(|_| ParseError::Syntax("invalid header value"))?;
    Ok((name, value))
}
