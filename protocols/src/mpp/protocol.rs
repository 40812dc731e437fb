//! [`Mpp`] as a [`PaymentProtocol`]: the Lightning charge challenge, credential and receipt.
//!
//! Session credentials are recognised by [`parse_credential`](PaymentProtocol::parse_credential)
//! too, but their stateful part (balances) belongs to the caller: [`Mpp::verify_session`].

use http::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Map;

use super::credential::{find_credential, MppCredential};
use super::receipt::{MppReceipt, PAYMENT_RECEIPT};
use super::{b64url, client, problem, Mpp, CHARGE, METHOD};
use crate::{
    ChallengeError, ClientChallenge, Credential, CredentialError, HeaderPair, InvoiceFacts, Offer,
    ParseError, PaymentProof, PaymentProtocol, ProtocolId, RailFacts, Verified, VerifyError,
    MAX_HEADER_BYTES,
};

impl Mpp {
    /// Receipt headers for a verified charge at `now`: `Payment-Receipt` (reference = payment
    /// hash, `challengeId`) and `Cache-Control: private`.
    pub fn receipt_headers(
        &self,
        verified: &Verified,
        now: u64,
        extra: Map<String, serde_json::Value>,
    ) -> Vec<HeaderPair> {
        let receipt = MppReceipt {
            method: METHOD.into(),
            reference: verified.reference.to_string(),
            challenge_id: verified.token_id.map(|id| b64url::encode(&id)),
            timestamp: super::time::format_rfc3339(now),
            status: "success".into(),
            extra,
        };
        let Ok(value) = HeaderValue::try_from(receipt.to_header_value()) else {
            return Vec::new();
        };
        vec![
            (HeaderName::from_static(PAYMENT_RECEIPT), value),
            (CACHE_CONTROL, HeaderValue::from_static("private")),
        ]
    }
}

impl PaymentProtocol for Mpp {
    fn id(&self) -> ProtocolId {
        ProtocolId::Mpp
    }

    fn needs_invoice(&self) -> bool {
        true
    }

    fn challenge(
        &self,
        offer: &Offer,
        invoice: Option<&InvoiceFacts>,
        now: u64,
    ) -> Result<Vec<HeaderPair>, ChallengeError> {
        let invoice = invoice.ok_or(ChallengeError::InvoiceRequired)?;
        if !offer.price_msat.is_multiple_of(1000) || offer.price_msat == 0 {
            return Err(ChallengeError::InvalidOffer(
                "MPP Lightning prices are whole satoshis",
            ));
        }
        let value = self
            .charge_challenge(offer, invoice, now)
            .to_header_value()
            .map_err(|_| ChallengeError::InvalidOffer("challenge value has control characters"))?;
        if value.len() > MAX_HEADER_BYTES {
            return Err(ChallengeError::InvalidOffer(
                "challenge larger than MAX_HEADER_BYTES",
            ));
        }
        let value = HeaderValue::try_from(value)
            .map_err(|_| ChallengeError::InvalidOffer("challenge is not a valid header value"))?;
        Ok(vec![(WWW_AUTHENTICATE, value)])
    }

    fn parse_credential(&self, headers: &HeaderMap) -> Option<Result<Credential, ParseError>> {
        find_credential(headers).map(|r| r.map(Credential::Mpp))
    }

    /// Charge credentials only (no request body: see [`Mpp::verify_charge_with`]); `session`
    /// ones answer [`VerifyError::UnknownChallenge`] here (use [`Mpp::verify_session`]), other
    /// intents [`VerifyError::MethodUnsupported`].
    fn verify(
        &self,
        credential: &Credential,
        offer: &Offer,
        _facts: &dyn RailFacts,
        now: u64,
    ) -> Result<Verified, CredentialError> {
        match credential {
            Credential::Mpp(c) if c.challenge.intent == CHARGE => self.verify_charge(c, offer, now),
            Credential::Mpp(c) if c.challenge.intent == super::SESSION => {
                Err(VerifyError::UnknownChallenge("session credentials need verify_session").into())
            }
            Credential::Mpp(_) => Err(VerifyError::MethodUnsupported("intent").into()),
            #[allow(unreachable_patterns)]
            _ => Err(ParseError::Syntax("not an MPP credential").into()),
        }
    }

    /// Without a clock the receipt cannot carry its timestamp: use
    /// [`receipt_at`](PaymentProtocol::receipt_at).
    fn receipt(&self, verified: &Verified) -> Vec<HeaderPair> {
        self.receipt_at(verified, 0)
    }

    fn receipt_at(&self, verified: &Verified, now: u64) -> Vec<HeaderPair> {
        self.receipt_headers(verified, now, Map::new())
    }

    fn problem_type(&self, err: Option<&CredentialError>) -> Option<&'static str> {
        Some(problem::problem_type(err))
    }

    fn parse_challenges(
        &self,
        headers: &HeaderMap,
        _body: &[u8],
    ) -> Vec<Result<ClientChallenge, ParseError>> {
        client::parse_challenges(headers)
            .into_iter()
            .map(|r| r.map(ClientChallenge::Mpp))
            .collect()
    }

    fn credential_header(
        &self,
        challenge: &ClientChallenge,
        proof: &PaymentProof,
    ) -> Result<HeaderPair, ParseError> {
        let (offer, preimage) = match (challenge, proof) {
            (ClientChallenge::Mpp(o), PaymentProof::Preimage(p)) if o.is_lightning_charge() => {
                (o, p)
            }
            _ => {
                return Err(ParseError::Syntax(
                    "not an MPP Lightning charge and preimage",
                ))
            }
        };
        let mut payload = Map::new();
        payload.insert("preimage".into(), hex::encode(preimage).into());
        let cred = MppCredential::new(&offer.challenge, payload);
        let value = HeaderValue::try_from(cred.to_header_value())
            .map_err(|_| ParseError::Syntax("invalid header value"))?;
        Ok((cred.header_name(), value))
    }
}
