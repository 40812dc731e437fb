//! Method `lightning`, intent `session` (draft-lightning-session-00): the sans-IO half.
//!
//! The deposit preimage is a bearer secret; the session id is the deposit payment hash.
//! `open` and `topUp` prove payment of a deposit invoice bound to an HMAC challenge (checked
//! like a charge: id, realm, expiry, route, `sha256(preimage) == paymentHash`); `bearer` and
//! `close` only prove ownership (`sha256(preimage) == sessionId`) and never look at the echoed
//! challenge. Balances, consumption and refunds are the gateway's (stateful) business.
//!
//! The `returnInvoice` given at `open` is normally amountless (the gateway pays it for exactly
//! the refund). gate402 extension: `close` may carry a `returnInvoice` (amountless, or for
//! exactly the refund), which replaces the one registered at `open`.

use serde_json::{json, Value};

use super::challenge::MppChallenge;
use super::charge::{hex32, pin_offer, preimage_matches};
use super::credential::MppCredential;
use super::digest::BodyDigest;
use super::{Mpp, METHOD, SESSION};
use crate::{CredentialError, InvoiceFacts, Offer, ParseError, VerifyError};

/// Prefix of session single-use keys (followed by the deposit or top-up payment hash).
pub const SESSION_KEY_PREFIX: &[u8] = b"mpp/session/";

/// A verified session action.
#[derive(Clone, PartialEq, Eq)]
pub enum SessionStep {
    /// A paid deposit opens a session.
    Open {
        /// Session id (deposit payment hash).
        session_id: [u8; 32],
        /// Deposit, satoshis.
        deposit_sats: u64,
        /// Where to refund on close.
        return_invoice: Option<String>,
        /// Id of the challenge paid.
        challenge_id: [u8; 32],
        /// Unix seconds when the challenge expires (keep its key that long).
        expires_at: u64,
    },
    /// Use the session for this request.
    Bearer {
        /// Session id.
        session_id: [u8; 32],
    },
    /// A paid top-up.
    TopUp {
        /// Session id.
        session_id: [u8; 32],
        /// Payment hash of the top-up invoice (single-use).
        topup_hash: [u8; 32],
        /// Top-up, satoshis.
        deposit_sats: u64,
        /// Unix seconds when the challenge expires.
        expires_at: u64,
    },
    /// Close the session and refund the rest.
    Close {
        /// Session id.
        session_id: [u8; 32],
        /// Refund invoice sent with the close (gate402 extension), if any.
        return_invoice: Option<String>,
    },
}

impl std::fmt::Debug for SessionStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (name, id) = match self {
            SessionStep::Open { session_id, .. } => ("Open", session_id),
            SessionStep::Bearer { session_id } => ("Bearer", session_id),
            SessionStep::TopUp { session_id, .. } => ("TopUp", session_id),
            SessionStep::Close { session_id, .. } => ("Close", session_id),
        };
        write!(f, "SessionStep::{name}({})", hex::encode(id))
    }
}

/// The single-use key of a deposit or top-up payment hash.
pub fn session_key(hash: &[u8; 32]) -> Vec<u8> {
    let mut k = SESSION_KEY_PREFIX.to_vec();
    k.extend_from_slice(hash);
    k
}

impl Mpp {
    /// Deposit asked when opening (or topping up) a session on `offer`, satoshis.
    pub fn deposit_sats(&self, offer: &Offer) -> u64 {
        (offer.price_msat / 1000).saturating_mul(self.deposit_units)
    }

    /// The session challenge for `offer` with a fresh deposit invoice; `body` binds it to the
    /// digest of the request's body.
    pub fn session_challenge(
        &self,
        offer: &Offer,
        deposit: &InvoiceFacts,
        now: u64,
        body: Option<&BodyDigest>,
    ) -> MppChallenge {
        let request = json!({
            "amount": (offer.price_msat / 1000).to_string(),
            "currency": "sat",
            "externalId": offer.service,
            "unitType": "request",
            "depositInvoice": deposit.bolt11,
            "paymentHash": hex::encode(deposit.payment_hash),
            "depositAmount": (deposit.amount_msat / 1000).to_string(),
            "idleTimeout": self.idle_timeout_secs.to_string(),
        });
        let expires = self.expires_at(now, deposit.expires_at);
        MppChallenge::issue_jcs(
            &self.key,
            [&self.realm, METHOD, SESSION],
            &super::jcs::canonicalize(&request),
            &super::time::format_rfc3339(expires),
            self.description.as_deref(),
            None,
            body.map(BodyDigest::header_value).as_deref(),
        )
    }

    /// Verify the sans-IO part of a session credential for `offer` at `now`, on a request
    /// whose body has digest `body` (`open`/`topUp` check it like a charge).
    pub fn verify_session(
        &self,
        cred: &MppCredential,
        offer: &Offer,
        now: u64,
        body: Option<&BodyDigest>,
    ) -> Result<SessionStep, CredentialError> {
        let action = cred.payload_str("action")?;
        let return_invoice = cred
            .payload
            .get("returnInvoice")
            .and_then(Value::as_str)
            .map(str::to_owned);
        match action {
            "open" | "topUp" => {
                let field = if action == "open" {
                    "preimage"
                } else {
                    "topUpPreimage"
                };
                let preimage = hex32(cred.payload_str(field)?, "preimage")?;
                let (challenge_id, request, expires_at) =
                    self.check_bound(&cred.challenge, SESSION, now, body)?;
                pin_offer(&request, offer)?;
                let text = |k: &'static str| {
                    request
                        .get(k)
                        .and_then(Value::as_str)
                        .ok_or(VerifyError::OfferMismatch(k))
                };
                let hash = hex32(text("paymentHash")?, "paymentHash")?;
                let deposit_sats = text("depositAmount")?
                    .parse()
                    .map_err(|_| VerifyError::OfferMismatch("depositAmount"))?;
                if !preimage_matches(&preimage, &hash) {
                    return Err(VerifyError::PreimageMismatch.into());
                }
                if action == "open" {
                    return Ok(SessionStep::Open {
                        session_id: hash,
                        deposit_sats,
                        return_invoice,
                        challenge_id,
                        expires_at,
                    });
                }
                let session_id = hex32(cred.payload_str("sessionId")?, "sessionId")?;
                Ok(SessionStep::TopUp {
                    session_id,
                    topup_hash: hash,
                    deposit_sats,
                    expires_at,
                })
            }
            "bearer" | "close" => {
                let session_id = hex32(cred.payload_str("sessionId")?, "sessionId")?;
                let preimage = hex32(cred.payload_str("preimage")?, "preimage")?;
                if !preimage_matches(&preimage, &session_id) {
                    return Err(VerifyError::PreimageMismatch.into());
                }
                Ok(if action == "bearer" {
                    SessionStep::Bearer { session_id }
                } else {
                    SessionStep::Close {
                        session_id,
                        return_invoice,
                    }
                })
            }
            _ => Err(ParseError::Syntax("unknown session action").into()),
        }
    }
}
