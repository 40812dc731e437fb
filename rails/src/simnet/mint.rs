//! Node keys and BOLT11 minting for simulated nodes.
//!
//! Keys are `sha256("gate402-simnet/" ‖ name)`: deterministic, public, simulation only.
//! Invoices are real regtest BOLT11 strings (`lnbcrt…`) signed with the shared secp256k1
//! context; like LND they carry no `n` field (the payee key is recovered from the signature)
//! and advertise `var_onion_optin`, `payment_secret` (required) and `basic_mpp` (optional).

use std::time::Duration;

use bitcoin::hashes::{sha256, Hash};
use bitcoin::secp256k1::SecretKey;
use lightning_invoice::{Currency, InvoiceBuilder, PaymentSecret};
use sha2::{Digest, Sha256};

use crate::invoice::secp;
use crate::{PaymentHash, RailError, RailErrorKind};

/// LND's `AddInvoice` default expiry, applied when `expiry_secs` is 0.
pub const DEFAULT_INVOICE_EXPIRY_SECS: u64 = 3600;
/// `min_final_cltv_expiry_delta` written into simnet invoices.
pub const MIN_FINAL_CLTV_EXPIRY_DELTA: u64 = 18;
/// Chain simnet nodes report (`GetInfo`) and invoice on.
pub const SIMNET_CHAIN: &str = "regtest";

/// Secret key of the node called `name`: `sha256("gate402-simnet/" ‖ name)`, re-hashed with a
/// big-endian counter in the astronomically unlikely case it is not a valid scalar.
pub(super) fn node_secret(name: &str) -> SecretKey {
    let mut counter: u32 = 0;
    loop {
        let mut h = Sha256::new();
        h.update(b"gate402-simnet/");
        h.update(name.as_bytes());
        if counter > 0 {
            h.update(counter.to_be_bytes());
        }
        if let Ok(key) = SecretKey::from_slice(&h.finalize()) {
            return key;
        }
        counter = counter.wrapping_add(1);
    }
}

/// Inputs of one BOLT11 mint.
pub(super) struct Mint<'a> {
    /// Description.
    pub memo: &'a str,
    /// SHA-256 of the preimage.
    pub payment_hash: PaymentHash,
    /// Payment secret (`s` field).
    pub payment_secret: [u8; 32],
    /// Amount; 0 for an amountless invoice.
    pub amount_msat: u64,
    /// Unix seconds.
    pub created_at: u64,
    /// Seconds of validity.
    pub expiry_secs: u64,
}

/// Build and sign the BOLT11 string with `key`. Builder errors (description over 639 bytes,
/// amount above the bitcoin supply, timestamp out of range) are `InvalidInvoice`.
pub(super) fn mint(key: &SecretKey, m: &Mint<'_>) -> Result<String, RailError> {
    let builder = InvoiceBuilder::new(Currency::Regtest);
    let builder = match m.amount_msat {
        0 => builder,
        amount => builder.amount_milli_satoshis(amount),
    };
    let invoice = builder
        .description(m.memo.to_owned())
        .payment_hash(sha256::Hash::from_byte_array(m.payment_hash))
        .payment_secret(PaymentSecret(m.payment_secret))
        .duration_since_epoch(Duration::from_secs(m.created_at))
        .min_final_cltv_expiry_delta(MIN_FINAL_CLTV_EXPIRY_DELTA)
        .expiry_time(Duration::from_secs(m.expiry_secs))
        .basic_mpp()
        .build_signed(|msg| secp().sign_ecdsa_recoverable(msg, key))
        .map_err(|e| {
            RailError::new(
                RailErrorKind::InvalidInvoice,
                format!("cannot create invoice: {e}"),
            )
        })?;
    Ok(invoice.to_string())
}

#[cfg(test)]
mod tests {
    use bitcoin::secp256k1::PublicKey;

    use super::*;
    use crate::decode_bolt11;

    #[test]
    fn keys_are_deterministic_and_distinct() {
        assert_eq!(node_secret("alice"), node_secret("alice"));
        assert_ne!(node_secret("alice"), node_secret("bob"));
        let expected: [u8; 32] = Sha256::digest(b"gate402-simnet/alice").into();
        assert_eq!(node_secret("alice").secret_bytes(), expected);
    }

    #[test]
    fn minted_invoice_decodes_to_its_inputs() {
        let key = node_secret("carol");
        let m = Mint {
            memo: "",
            payment_hash: [5; 32],
            payment_secret: [6; 32],
            amount_msat: 1_001,
            created_at: 1_700_000_000,
            expiry_secs: 90,
        };
        let bolt11 = mint(&key, &m).unwrap();
        assert!(bolt11.starts_with("lnbcrt10010p1"), "{bolt11}");
        let d = decode_bolt11(&bolt11).unwrap();
        let pubkey = PublicKey::from_secret_key(secp(), &key).serialize();
        assert_eq!(d.payee_pubkey, pubkey);
        assert_eq!(d.payment_hash, [5; 32]);
        assert_eq!(d.payment_secret, [6; 32]);
        assert_eq!(d.amount_msat, Some(1_001));
        assert_eq!((d.created_at, d.expires_at), (1_700_000_000, 1_700_000_090));
        assert_eq!(d.description.as_deref(), Some(""));
        let own = crate::invoice::read_own_invoice(&bolt11).unwrap();
        assert_eq!(
            (
                own.payment_hash,
                own.amount_msat,
                own.created_at,
                own.expires_at
            ),
            ([5; 32], Some(1_001), 1_700_000_000, 1_700_000_090)
        );
        let mut broken = bolt11.clone();
        broken.replace_range(20..21, if &bolt11[20..21] == "q" { "p" } else { "q" });
        assert!(
            crate::invoice::read_own_invoice(&broken).is_err(),
            "checksum"
        );
        assert_eq!(d.min_final_cltv_expiry_delta, MIN_FINAL_CLTV_EXPIRY_DELTA);
    }

    #[test]
    fn builder_errors_are_invalid_invoice() {
        let key = node_secret("carol");
        let memo = "x".repeat(640);
        let m = Mint {
            memo: &memo,
            payment_hash: [5; 32],
            payment_secret: [6; 32],
            amount_msat: 1,
            created_at: 1_700_000_000,
            expiry_secs: 90,
        };
        let e = mint(&key, &m).unwrap_err();
        assert_eq!(e.kind, RailErrorKind::InvalidInvoice);
    }
}
