//! Method `lightning`, intent `charge` (draft-lightning-charge-00): request and verification.
//!
//! Request: `{"amount": "<sat>", "currency": "sat", "externalId": "<route service>",
//! "methodDetails": {"invoice", "paymentHash", "network"}}` — the BOLT11 invoice is
//! authoritative; `externalId` pins the route so that a challenge paid for one route is refused
//! on another. Payload: `{"preimage": "<64 hex>"}`.
//!
//! Verification order (the draft's, with the HMAC-bound id standing in for the stored
//! challenge, as the SDK plugins do): decode → preimage format → id HMAC / realm / method /
//! intent → `expires` → echoed amount, currency and route equal the offer → echoed
//! `paymentHash` well-formed → `sha256(preimage) == paymentHash` (constant time). The
//! single-use key is the payment hash (one fresh invoice per challenge id, so hash and id are
//! one-to-one); the gateway consumes it atomically before serving.

use std::borrow::Cow;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::challenge::MppChallenge;
use super::credential::MppCredential;
use super::digest::BodyDigest;
use super::{jcs, Mpp, CHARGE, METHOD};
use crate::{
    CredentialError, InvoiceFacts, Offer, ParseError, ProtocolId, Reference, Verified, VerifyError,
};

/// The fields of a charge request that verification reads (others are skipped).
#[derive(serde::Deserialize)]
struct ChargeView<'a> {
    #[serde(borrow)]
    amount: Cow<'a, str>,
    #[serde(borrow)]
    currency: Cow<'a, str>,
    #[serde(borrow, rename = "externalId", default)]
    external_id: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "methodDetails", default)]
    method_details: Option<DetailsView<'a>>,
}

/// `methodDetails` as read by verification.
#[derive(serde::Deserialize)]
struct DetailsView<'a> {
    #[serde(borrow, rename = "paymentHash", default)]
    payment_hash: Option<Cow<'a, str>>,
}

/// Prefix of charge single-use keys (followed by the 32-byte payment hash).
pub const CHARGE_KEY_PREFIX: &[u8] = b"mpp/charge/";

/// The Lightning network of a BOLT11 invoice, from its human-readable prefix.
pub fn network_of(bolt11: &str) -> &'static str {
    let lower = bolt11.get(..6).unwrap_or("").to_ascii_lowercase();
    if lower.starts_with("lnbcrt") {
        "regtest"
    } else if lower.starts_with("lntbs") {
        "signet"
    } else if lower.starts_with("lntb") {
        "testnet"
    } else {
        "mainnet"
    }
}

/// The charge `request` JSON for `offer` and its fresh `invoice`.
pub fn charge_request(offer: &Offer, invoice: &InvoiceFacts) -> Value {
    json!({
        "amount": (offer.price_msat / 1000).to_string(),
        "currency": "sat",
        "externalId": offer.service,
        "methodDetails": {
            "invoice": invoice.bolt11,
            "paymentHash": hex::encode(invoice.payment_hash),
            "network": network_of(&invoice.bolt11),
        },
    })
}

/// [`charge_request`] serialised as JCS, written directly (no JSON tree, no key sort: the
/// members are emitted in JCS order). Same bytes as `jcs::canonicalize(&charge_request(…))`.
pub(crate) fn charge_request_jcs(offer: &Offer, invoice: &InvoiceFacts) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(160 + invoice.bolt11.len() + offer.service.len());
    let _ = write!(
        out,
        "{{\"amount\":\"{}\",\"currency\":\"sat\",\"externalId\":",
        offer.price_msat / 1000
    );
    jcs::write_string(&mut out, &offer.service);
    out.push_str(",\"methodDetails\":{\"invoice\":");
    jcs::write_string(&mut out, &invoice.bolt11);
    out.push_str(",\"network\":\"");
    out.push_str(network_of(&invoice.bolt11));
    out.push_str("\",\"paymentHash\":\"");
    let mut hash = [0u8; 64];
    let _ = hex::encode_to_slice(invoice.payment_hash, &mut hash);
    out.push_str(std::str::from_utf8(&hash).unwrap_or_default());
    out.push_str("\"}}");
    out
}

/// A 32-byte value from 64 hex digits (either case).
pub(crate) fn hex32(s: &str, what: &'static str) -> Result<[u8; 32], ParseError> {
    if s.len() != 64 {
        return Err(ParseError::Hex(what));
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).map_err(|_| ParseError::Hex(what))?;
    Ok(out)
}

/// Whether `sha256(preimage) == hash`, in constant time.
pub(crate) fn preimage_matches(preimage: &[u8; 32], hash: &[u8; 32]) -> bool {
    let h: [u8; 32] = Sha256::digest(preimage).into();
    bool::from(h.ct_eq(hash))
}

/// Whether a request's decimal `amount` in satoshis pays `offer` ([`Offer::accepts_paid`]).
fn sat_pays(amount: &str, offer: &Offer) -> bool {
    let canonical = !amount.is_empty() && (!amount.starts_with('0') || amount == "0");
    canonical
        && amount.len() <= 20
        && amount.bytes().all(|b| b.is_ascii_digit())
        && amount
            .parse::<u64>()
            .ok()
            .and_then(|s| s.checked_mul(1000))
            .is_some_and(|m| offer.accepts_paid(m))
}

/// Check that `request` was issued for `offer`: amount, currency and route.
pub(crate) fn pin_offer(request: &Value, offer: &Offer) -> Result<(), VerifyError> {
    let amount = request.get("amount").and_then(Value::as_str);
    if !amount.is_some_and(|a| sat_pays(a, offer)) {
        return Err(VerifyError::OfferMismatch("amount"));
    }
    match request.get("currency").and_then(Value::as_str) {
        Some("sat" | "BTC") => {}
        _ => return Err(VerifyError::OfferMismatch("currency")),
    }
    if request.get("externalId").and_then(Value::as_str) != Some(offer.service.as_str()) {
        return Err(VerifyError::OfferMismatch("route"));
    }
    Ok(())
}

impl Mpp {
    /// The charge challenge for `offer` paid by `invoice`. `expires` is `now + ttl`, never
    /// later than the invoice expiry.
    pub fn charge_challenge(
        &self,
        offer: &Offer,
        invoice: &InvoiceFacts,
        now: u64,
    ) -> MppChallenge {
        self.charge_challenge_with(offer, invoice, now, None)
    }

    /// [`charge_challenge`](Self::charge_challenge) for a request with a body: the challenge
    /// carries (and its id binds) the body's `digest`.
    pub fn charge_challenge_with(
        &self,
        offer: &Offer,
        invoice: &InvoiceFacts,
        now: u64,
        body: Option<&BodyDigest>,
    ) -> MppChallenge {
        let expires = self.expires_at(now, invoice.expires_at);
        MppChallenge::issue_jcs(
            &self.key,
            [&self.realm, METHOD, CHARGE],
            &charge_request_jcs(offer, invoice),
            &super::time::format_rfc3339(expires),
            self.description.as_deref(),
            None,
            body.map(BodyDigest::header_value).as_deref(),
        )
    }

    /// Verify a charge credential for `offer` at `now` on a request without a body.
    pub fn verify_charge(
        &self,
        cred: &MppCredential,
        offer: &Offer,
        now: u64,
    ) -> Result<Verified, CredentialError> {
        self.verify_charge_with(cred, offer, now, None)
    }

    /// Verify a charge credential for `offer` at `now` on a request whose body has digest
    /// `body` (see the module docs for the order). The request is decoded into a borrowed,
    /// typed view (the invoice is skipped unread).
    pub fn verify_charge_with(
        &self,
        cred: &MppCredential,
        offer: &Offer,
        now: u64,
        body: Option<&BodyDigest>,
    ) -> Result<Verified, CredentialError> {
        let preimage = hex32(cred.payload_str("preimage")?, "preimage")?;
        let (id, bytes, expires_at) = self.check_bound_raw(&cred.challenge, CHARGE, now, body)?;
        let request: ChargeView<'_> = serde_json::from_slice(&bytes)
            .map_err(|_| ParseError::Syntax("invalid charge request"))?;
        if !sat_pays(&request.amount, offer) {
            return Err(VerifyError::OfferMismatch("amount").into());
        }
        if !matches!(&*request.currency, "sat" | "BTC") {
            return Err(VerifyError::OfferMismatch("currency").into());
        }
        if request.external_id.as_deref() != Some(offer.service.as_str()) {
            return Err(VerifyError::OfferMismatch("route").into());
        }
        let hash = request
            .method_details
            .and_then(|d| d.payment_hash)
            .ok_or(VerifyError::OfferMismatch("paymentHash"))?;
        let hash = hex32(&hash, "paymentHash")?;
        if !preimage_matches(&preimage, &hash) {
            return Err(VerifyError::PreimageMismatch.into());
        }
        let mut key = CHARGE_KEY_PREFIX.to_vec();
        key.extend_from_slice(&hash);
        Ok(Verified {
            protocol: ProtocolId::Mpp,
            reference: Reference::PaymentHash(hash),
            token_id: Some(id),
            single_use_key: Some(key),
            expires_at: Some(expires_at),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_jcs_request_is_the_canonical_form() {
        let invoice = InvoiceFacts {
            bolt11: "lnbcrt100n1pjqqqqqpp5qqqsyqcyq5rqwzqfqqqsyqcyq".into(),
            payment_hash: [0xab; 32],
            amount_msat: 10_000,
            expires_at: 1_700_003_600,
        };
        for service in ["api", "we\"ird\\name", "caf\u{e9} \u{1F600}", "tab\there\n"] {
            for price_msat in [1_000, 10_000, 21_000_000_000] {
                let offer = Offer {
                    service: service.into(),
                    price_msat,
                    capabilities: vec![],
                    valid_for_secs: None,
                    bind_price: false,
                };
                assert_eq!(
                    charge_request_jcs(&offer, &invoice),
                    jcs::canonicalize(&charge_request(&offer, &invoice)),
                    "{service} {price_msat}"
                );
            }
        }
    }
}
