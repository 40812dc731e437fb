//! BOLT11 decoding: a full parse with signature check, flattened into [`DecodedInvoice`].
//!
//! Parsing and the BOLT11 semantic checks (exactly one payment hash, one description, a payment
//! secret, known feature bits, whole-msat amount, valid signature) are done by
//! `lightning-invoice`. The payee key, when the invoice carries no `n` field (LND never writes
//! one), is recovered here with the process-wide secp256k1 context, never a fresh
//! one. Every failure is a [`RailErrorKind::InvalidInvoice`]; no input makes this panic.

use std::str::FromStr;
use std::sync::LazyLock;

use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{All, Message, Secp256k1};
use lightning_invoice::{
    Bolt11Invoice, Bolt11InvoiceDescriptionRef, Currency, SignedRawBolt11Invoice, MAX_LENGTH,
};

use crate::{PaymentHash, RailError, RailErrorKind};

/// Longest BOLT11 string accepted (the limit LND and `lightning-invoice` apply).
pub const MAX_BOLT11_LEN: usize = MAX_LENGTH;

static SECP: LazyLock<Secp256k1<All>> = LazyLock::new(Secp256k1::new);

/// The process-wide secp256k1 context (created and randomised once; creating one per call
/// costs ≈ 20 µs).
pub(crate) fn secp() -> &'static Secp256k1<All> {
    &SECP
}

/// A decoded, signature-checked BOLT11 invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedInvoice {
    /// Payment hash (`p` field).
    pub payment_hash: PaymentHash,
    /// Amount in millisatoshis; `None` for an amountless invoice.
    pub amount_msat: Option<u64>,
    /// Compressed public key of the payee (from the `n` field or recovered from the signature).
    pub payee_pubkey: [u8; 33],
    /// Unix seconds of creation (invoice timestamp).
    pub created_at: u64,
    /// Unix seconds at which the invoice expires (`created_at + expiry`, saturating).
    pub expires_at: u64,
    /// Description (`d` field); `None` when the invoice commits to a description hash instead.
    pub description: Option<String>,
    /// Description hash (`h` field), when present instead of a description.
    pub description_hash: Option<[u8; 32]>,
    /// Network: `"bitcoin"`, `"testnet"`, `"regtest"`, `"signet"` or `"simnet"`.
    pub network: String,
    /// Payment secret (`s` field).
    pub payment_secret: [u8; 32],
    /// Minimum final CLTV expiry delta (`c` field; BOLT11 default 18).
    pub min_final_cltv_expiry_delta: u64,
}

impl DecodedInvoice {
    /// Whether the invoice can no longer be paid at Unix time `now` (seconds):
    /// true once `now >= expires_at`.
    pub fn is_expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }

    /// Seconds of validity (`expires_at - created_at`).
    pub fn expiry_secs(&self) -> u64 {
        self.expires_at.saturating_sub(self.created_at)
    }

    /// The payee public key as lowercase hex (66 characters), as LND prints it.
    pub fn payee_pubkey_hex(&self) -> String {
        hex::encode(self.payee_pubkey)
    }
}

/// Network name of a BOLT11 currency (LND's names, except `bitcoin` for mainnet).
pub(crate) fn network_name(currency: &Currency) -> &'static str {
    match currency {
        Currency::Bitcoin => "bitcoin",
        Currency::BitcoinTestnet => "testnet",
        Currency::Regtest => "regtest",
        Currency::Simnet => "simnet",
        Currency::Signet => "signet",
    }
}

fn invalid(message: impl Into<String>) -> RailError {
    RailError::new(RailErrorKind::InvalidInvoice, message)
}

/// Decode and fully validate a BOLT11 payment request.
///
/// Leading/trailing whitespace and a `lightning:` URI prefix are ignored. Inputs longer than
/// [`MAX_BOLT11_LEN`], malformed bech32, bad fields and invalid signatures all yield
/// [`RailErrorKind::InvalidInvoice`].
pub fn decode_bolt11(s: &str) -> Result<DecodedInvoice, RailError> {
    let s = strip_uri_prefix(s.trim());
    if s.len() > MAX_BOLT11_LEN {
        return Err(invalid(format!(
            "invalid invoice: longer than {MAX_BOLT11_LEN} characters"
        )));
    }
    if s.is_empty() {
        return Err(invalid("invalid invoice: empty payment request"));
    }
    let signed = SignedRawBolt11Invoice::from_str(s)
        .map_err(|e| invalid(format!("invalid invoice: {e}")))?;
    let msg = Message::from_digest(*signed.signable_hash());
    let signature = signed.signature().0;
    let invoice =
        Bolt11Invoice::from_signed(signed).map_err(|e| invalid(format!("invalid invoice: {e}")))?;
    let payee = match invoice.payee_pub_key() {
        Some(pk) => *pk,
        // `from_signed` already proved the signature recoverable; recover with the shared
        // context rather than `Bolt11Invoice::recover_payee_pub_key` (fresh context per call).
        None => secp()
            .recover_ecdsa(&msg, &signature)
            .map_err(|e| invalid(format!("invalid invoice signature: {e}")))?,
    };
    let created_at = invoice.duration_since_epoch().as_secs();
    let expires_at = created_at.saturating_add(invoice.expiry_time().as_secs());
    let (description, description_hash) = match invoice.description() {
        Bolt11InvoiceDescriptionRef::Direct(d) => (Some(d.as_inner().0.clone()), None),
        Bolt11InvoiceDescriptionRef::Hash(h) => (None, Some(h.0.to_byte_array())),
    };
    Ok(DecodedInvoice {
        payment_hash: invoice.payment_hash().to_byte_array(),
        amount_msat: invoice.amount_milli_satoshis(),
        payee_pubkey: payee.serialize(),
        created_at,
        expires_at,
        description,
        description_hash,
        network: network_name(&invoice.currency()).to_owned(),
        payment_secret: invoice.payment_secret().0,
        min_final_cltv_expiry_delta: invoice.min_final_cltv_expiry_delta(),
    })
}

/// What the gateway reads back from an invoice its own node just created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnInvoice {
    /// The `p` field.
    pub payment_hash: PaymentHash,
    /// `None` for an amountless invoice.
    pub amount_msat: Option<u64>,
    /// Unix seconds of the timestamp.
    pub created_at: u64,
    /// `created_at` plus the `x` field (default 3600 s).
    pub expires_at: u64,
}

/// Read the fields of an invoice the seller's own node returned from `AddInvoice` (over its
/// authenticated gRPC channel): bech32 checksum and field syntax are checked, the signature
/// is not. [`decode_bolt11`] recovers the payee key twice (≈ 40 µs per mint); nobody but the
/// node could have signed this string, and a payer's wallet checks the signature anyway.
/// Never use it on a string that came from a client.
pub fn read_own_invoice(s: &str) -> Result<OwnInvoice, RailError> {
    if s.len() > MAX_BOLT11_LEN {
        return Err(invalid("invalid invoice: too long"));
    }
    let signed = SignedRawBolt11Invoice::from_str(s)
        .map_err(|e| invalid(format!("invalid invoice: {e}")))?;
    let raw = signed.raw_invoice();
    let payment_hash = raw
        .payment_hash()
        .ok_or_else(|| invalid("invalid invoice: no payment hash"))?
        .0
        .to_byte_array();
    let amount_msat = match raw.amount_pico_btc() {
        None if raw.hrp.raw_amount.is_some() => return Err(invalid("invalid invoice: amount")),
        None => None,
        Some(p) if p % 10 != 0 => return Err(invalid("invalid invoice: sub-msat amount")),
        Some(p) => Some(p / 10),
    };
    let created_at = raw.data.timestamp.as_unix_timestamp();
    let expiry = raw
        .expiry_time()
        .map_or(lightning_invoice::DEFAULT_EXPIRY_TIME, |e| e.as_seconds());
    Ok(OwnInvoice {
        payment_hash,
        amount_msat,
        created_at,
        expires_at: created_at.saturating_add(expiry),
    })
}

/// Drop a case-insensitive `lightning:` URI scheme.
fn strip_uri_prefix(s: &str) -> &str {
    const PREFIX: &str = "lightning:";
    match s.get(..PREFIX.len()) {
        Some(head) if head.eq_ignore_ascii_case(PREFIX) => &s[PREFIX.len()..],
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_empty_and_oversized_input() {
        for s in ["", "   ", "lightning:", "LIGHTNING:"] {
            let e = decode_bolt11(s).unwrap_err();
            assert_eq!(e.kind, RailErrorKind::InvalidInvoice, "{s:?}");
        }
        let huge = format!("lnbcrt1{}", "q".repeat(MAX_BOLT11_LEN));
        let e = decode_bolt11(&huge).unwrap_err();
        assert_eq!(e.kind, RailErrorKind::InvalidInvoice);
        assert!(e.message.contains("longer than"));
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for s in [
            "lnbc",
            "lnbcrt1",
            "lnbc1qqqq",
            "hello world",
            "ln\u{1F600}bc1",
            "lnbcrt999999999999999999999999999999p1qqqqqq",
            "LNBCRT1pqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq",
        ] {
            let e = decode_bolt11(s).unwrap_err();
            assert_eq!(e.kind, RailErrorKind::InvalidInvoice, "{s:?}");
        }
    }

    #[test]
    fn strips_uri_prefix_safely() {
        assert_eq!(strip_uri_prefix("Lightning:lnbc1"), "lnbc1");
        assert_eq!(strip_uri_prefix("lnbc1"), "lnbc1");
        // Multi-byte char straddling the prefix length must not panic.
        assert_eq!(strip_uri_prefix("lightnin\u{e9}x"), "lightnin\u{e9}x");
    }

    #[test]
    fn is_expired_boundary() {
        let d = DecodedInvoice {
            payment_hash: [0; 32],
            amount_msat: Some(1),
            payee_pubkey: [2; 33],
            created_at: 100,
            expires_at: 160,
            description: None,
            description_hash: None,
            network: "regtest".into(),
            payment_secret: [0; 32],
            min_final_cltv_expiry_delta: 18,
        };
        assert!(!d.is_expired(159));
        assert!(d.is_expired(160));
        assert_eq!(d.expiry_secs(), 60);
        assert_eq!(d.payee_pubkey_hex().len(), 66);
    }
}
