//! Client side: every `Payment` challenge of a 402 response, and the Lightning offers in them.
//!
//! Challenges come as separate `WWW-Authenticate` lines or comma-merged in one value, mixed
//! with other schemes (`L402 …, Payment …`); the list parser splits at scheme boundaries
//! outside quoted strings. Each challenge is parsed independently; one bad challenge does not
//! hide the others.

use http::header::WWW_AUTHENTICATE;
use http::HeaderMap;
use serde_json::Value;

use super::challenge::MppChallenge;
use super::{CHARGE, METHOD, SCHEME, SESSION};
use crate::auth_header;
use crate::{ParseError, MAX_HEADER_BYTES};

/// A parsed `Payment` challenge with the Lightning facts a payer needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MppOffer {
    /// The challenge, as sent (echoed unchanged in the credential).
    pub challenge: MppChallenge,
    /// The decoded `request`.
    pub request: Value,
    /// BOLT11 to pay: `methodDetails.invoice` (charge) or `depositInvoice` (session).
    pub invoice: Option<String>,
}

impl MppOffer {
    /// Build from a challenge (decodes `request`).
    pub fn from_challenge(challenge: MppChallenge) -> Result<MppOffer, ParseError> {
        let request = challenge.request_json()?;
        let invoice = if challenge.intent == SESSION {
            request.get("depositInvoice")
        } else {
            request.get("methodDetails").and_then(|d| d.get("invoice"))
        }
        .and_then(Value::as_str)
        .map(str::to_owned);
        Ok(MppOffer {
            challenge,
            request,
            invoice,
        })
    }

    /// Whether this is a Lightning charge we can pay (has an invoice).
    pub fn is_lightning_charge(&self) -> bool {
        self.challenge.method == METHOD && self.challenge.intent == CHARGE && self.invoice.is_some()
    }

    /// Whether this is a Lightning session offer (has a deposit invoice).
    pub fn is_lightning_session(&self) -> bool {
        self.challenge.method == METHOD
            && self.challenge.intent == SESSION
            && self.invoice.is_some()
    }

    /// Price in satoshis (`amount`).
    pub fn amount_sats(&self) -> Option<u64> {
        self.request.get("amount")?.as_str()?.parse().ok()
    }

    /// The payment hash the request announces (`methodDetails.paymentHash` or `paymentHash`).
    pub fn payment_hash(&self) -> Option<[u8; 32]> {
        let h = self
            .request
            .get("methodDetails")
            .and_then(|d| d.get("paymentHash"))
            .or_else(|| self.request.get("paymentHash"))?
            .as_str()?;
        super::charge::hex32(h, "paymentHash").ok()
    }
}

/// Every `Payment` challenge in the `WWW-Authenticate` lines of a response, in order.
pub fn parse_challenges(headers: &HeaderMap) -> Vec<Result<MppOffer, ParseError>> {
    let mut out = Vec::new();
    for v in headers.get_all(WWW_AUTHENTICATE) {
        let bytes = v.as_bytes();
        let mentions = bytes
            .windows(SCHEME.len())
            .any(|w| w.eq_ignore_ascii_case(SCHEME.as_bytes()));
        let parsed = if bytes.len() > 8 * MAX_HEADER_BYTES {
            Err(ParseError::Oversized {
                len: bytes.len(),
                max: 8 * MAX_HEADER_BYTES,
            })
        } else {
            std::str::from_utf8(bytes)
                .map_err(|_| ParseError::NotText)
                .and_then(auth_header::parse_challenges_max(8 * MAX_HEADER_BYTES))
        };
        match parsed {
            Ok(list) => out.extend(
                list.iter()
                    .filter(|c| c.scheme_is(SCHEME))
                    .map(|c| MppChallenge::from_auth(c).and_then(MppOffer::from_challenge)),
            ),
            Err(e) if mentions => out.push(Err(e)),
            Err(_) => {}
        }
    }
    out
}
