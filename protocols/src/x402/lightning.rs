//! The Lightning variant of x402 as spoken by `@getalby/lightning-tools` 9.0.1
//! (`fetchWithX402`): an `accepts` entry with `extra.paymentMethod = "lightning"` and a BOLT11
//! `extra.invoice`, amount in millisatoshis; the paid retry carries the **invoice** (not the
//! preimage) in `payload.invoice` and echoes the entry in `accepted`.
//!
//! The protocol checks shape and binding (the echoed entry is ours, its invoice is the paid
//! one, the amount is the route's price); that the invoice was issued by our node and is
//! **settled** is a rail fact the gateway looks up before accepting.

use serde_json::{Map, Value};

use super::wire::PaymentRequirements;
use super::SCHEME_EXACT;
use crate::{InvoiceFacts, Offer, ParseError, VerifyError};

/// CAIP-2 id of Bitcoin mainnet (`bip122:<genesis hash prefix>`), as in `xf#1311` and Alby.
pub const LIGHTNING_NETWORK: &str = "bip122:000000000019d6689c085ae165831e93";
/// `extra.paymentMethod` of the Lightning variant.
pub const PAYMENT_METHOD: &str = "lightning";
/// `asset` of the Lightning variant.
pub const ASSET: &str = "BTC";
/// `payTo` of the Lightning variant (the invoice names the payee).
pub const PAY_TO: &str = "anonymous";

/// The `accepts` entry for a fresh invoice.
pub fn requirement(invoice: &InvoiceFacts, now: u64) -> PaymentRequirements {
    let mut extra = Map::new();
    extra.insert("paymentMethod".into(), PAYMENT_METHOD.into());
    extra.insert("invoice".into(), Value::String(invoice.bolt11.clone()));
    PaymentRequirements {
        scheme: SCHEME_EXACT.into(),
        network: LIGHTNING_NETWORK.into(),
        amount: invoice.amount_msat.to_string(),
        asset: ASSET.into(),
        pay_to: PAY_TO.into(),
        max_timeout_seconds: invoice.expires_at.saturating_sub(now).max(1),
        extra,
    }
}

/// Is this entry the Lightning variant?
pub fn is_lightning(req: &PaymentRequirements) -> bool {
    req.extra_str("paymentMethod") == Some(PAYMENT_METHOD)
}

/// The invoice carried in a Lightning payload (`{"invoice": "<bolt11>"}`).
pub fn payload_invoice(payload: &Value) -> Result<String, ParseError> {
    let inv = payload
        .get("invoice")
        .and_then(Value::as_str)
        .ok_or(ParseError::MissingParam("payload.invoice"))?;
    if inv.is_empty() || inv.len() > 2048 || !inv.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ParseError::Syntax("payload.invoice is not BOLT11 text"));
    }
    Ok(inv.to_ascii_lowercase())
}

/// Check the echoed entry and the paid invoice against the offer's price (msat; at least the
/// price when it is bound, see [`Offer::accepts_paid`]).
pub fn check(
    accepted: &PaymentRequirements,
    invoice: &str,
    offer: &Offer,
) -> Result<(), VerifyError> {
    if accepted.scheme != SCHEME_EXACT {
        return Err(VerifyError::Mismatch("scheme_mismatch"));
    }
    if accepted.network != LIGHTNING_NETWORK {
        return Err(VerifyError::Mismatch("network_mismatch"));
    }
    if accepted.asset != ASSET {
        return Err(VerifyError::Mismatch("asset_mismatch"));
    }
    let amount = &accepted.amount;
    let canonical = !amount.is_empty()
        && amount.len() <= 20
        && amount.bytes().all(|b| b.is_ascii_digit())
        && (!amount.starts_with('0') || amount == "0");
    if !canonical || !amount.parse().is_ok_and(|m| offer.accepts_paid(m)) {
        return Err(VerifyError::Mismatch("amount_mismatch"));
    }
    match accepted.extra_str("invoice") {
        Some(i) if i.eq_ignore_ascii_case(invoice) => Ok(()),
        _ => Err(VerifyError::Mismatch("invoice_mismatch")),
    }
}

/// Single-use key of a Lightning-variant payment (one access per paid invoice).
pub fn single_use_key(invoice: &str) -> Vec<u8> {
    let mut k = b"x402:ln:".to_vec();
    k.extend_from_slice(invoice.as_bytes());
    k
}
