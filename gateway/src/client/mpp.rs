//! MPP on the buyer side: paying a Lightning `charge`, and minimal Lightning sessions
//! (open → use → top up → close).
//!
//! Before paying, the invoice is decoded and checked against the challenge (draft rule: the
//! client MUST decode it): amount present and equal to the announced amount, within the
//! policy, payment hash equal to the announced one, not expired.

use bytes::Bytes;
use gate402_protocols::mpp::{MppCredential, MppOffer};
use gate402_rails::Payment;
use http::{HeaderName, HeaderValue, Response, StatusCode};
use serde_json::{Map, Value};

use super::{lightning::Expected, Client, ClientError, ClientRequest, PolicyError};

/// `Accept-Payment` request header name.
pub const ACCEPT_PAYMENT: &str = "accept-payment";
/// What [`Client::send`] accepts: Lightning charges.
pub const ACCEPT_CHARGE: &str = "lightning/charge";
/// What session requests accept.
const ACCEPT_SESSION: &str = "lightning/session";

/// An open Lightning session (the preimage is the bearer secret: `Debug` redacts it).
#[derive(Clone)]
pub struct MppSession {
    /// The session challenge that was paid (echoed in every credential).
    pub offer: MppOffer,
    /// Session id (deposit payment hash).
    pub session_id: [u8; 32],
    preimage: [u8; 32],
    /// Satoshis deposited so far.
    pub deposited_sats: u64,
    /// Satoshis paid to the network in routing fees.
    pub fees_msat: u64,
}

impl std::fmt::Debug for MppSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MppSession")
            .field("session_id", &hex::encode(self.session_id))
            .field("deposited_sats", &self.deposited_sats)
            .finish_non_exhaustive()
    }
}

impl MppSession {
    fn credential(&self, action: &str, return_invoice: Option<String>) -> MppCredential {
        let mut fields = vec![
            ("action", action.to_owned()),
            ("sessionId", hex::encode(self.session_id)),
            ("preimage", hex::encode(self.preimage)),
        ];
        if let Some(inv) = return_invoice {
            fields.push(("returnInvoice", inv));
        }
        MppCredential::new(&self.offer.challenge, payload(&fields))
    }

    /// Rebuild a session from its stored parts.
    pub(super) fn restore(
        offer: MppOffer,
        session_id: [u8; 32],
        preimage: [u8; 32],
        deposited_sats: u64,
        fees_msat: u64,
    ) -> MppSession {
        MppSession {
            offer,
            session_id,
            preimage,
            deposited_sats,
            fees_msat,
        }
    }

    /// The bearer secret (deposit preimage).
    pub(super) fn preimage(&self) -> [u8; 32] {
        self.preimage
    }

    /// The `bearer` credential header of a request on this session (the same for every
    /// request: another HTTP client or a load generator can send it as is). It carries the
    /// session's secret.
    pub fn bearer(&self) -> Result<(HeaderName, HeaderValue), ClientError> {
        header(&self.credential("bearer", None))
    }
}

fn payload(pairs: &[(&str, String)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
        .collect()
}

fn header(cred: &MppCredential) -> Result<(HeaderName, HeaderValue), ClientError> {
    let v = HeaderValue::try_from(cred.to_header_value())
        .map_err(|e| ClientError::Usage(e.to_string()))?;
    Ok((cred.header_name(), v))
}

impl Client {
    /// Check a Lightning offer against its request and the policy, then pay it.
    async fn pay_offer(
        &self,
        offer: &MppOffer,
        announced_sats: Option<u64>,
    ) -> Result<Payment, ClientError> {
        let bolt11 = offer
            .invoice
            .as_deref()
            .ok_or(PolicyError::InvoiceMismatch("no invoice"))?;
        let expected = Expected {
            amount_msat: Some(announced_sats.map_or(0, |s| s.saturating_mul(1000))),
            payment_hash: Some(offer.payment_hash()),
        };
        let payment = self.pay_lightning(bolt11, expected).await?;
        Ok(payment)
    }

    /// Pay an MPP Lightning charge; returns the payment and the credential header.
    pub(super) async fn pay_mpp_charge(
        &self,
        offer: &MppOffer,
    ) -> Result<(Payment, (HeaderName, HeaderValue)), ClientError> {
        let payment = self.pay_offer(offer, offer.amount_sats()).await?;
        let cred = MppCredential::new(
            &offer.challenge,
            payload(&[("preimage", hex::encode(payment.preimage))]),
        );
        Ok((payment, header(&cred)?))
    }

    /// Pay the deposit of a session offer found in a 402: the payment, the session and the
    /// `open` credential header.
    pub(super) async fn open_from_offer(
        &self,
        offer: &MppOffer,
    ) -> Result<(Payment, MppSession, (HeaderName, HeaderValue)), ClientError> {
        let deposit = offer
            .request
            .get("depositAmount")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok());
        let payment = self.pay_offer(offer, deposit).await?;
        let cred = MppCredential::new(
            &offer.challenge,
            payload(&[
                ("action", "open".to_owned()),
                ("preimage", hex::encode(payment.preimage)),
            ]),
        );
        let session = MppSession {
            session_id: payment.payment_hash,
            preimage: payment.preimage,
            deposited_sats: payment.amount_msat / 1000,
            fees_msat: payment.fee_msat,
            offer: offer.clone(),
        };
        Ok((payment, session, header(&cred)?))
    }

    /// Ask `req` for a session challenge (402) and pay its deposit invoice.
    async fn pay_session_challenge(
        &self,
        req: &ClientRequest,
    ) -> Result<(MppOffer, Payment), ClientError> {
        let mut ask = req.clone();
        ask.headers
            .insert(ACCEPT_PAYMENT, HeaderValue::from_static(ACCEPT_SESSION));
        let resp = self.execute(&ask, None).await?;
        if resp.status() != StatusCode::PAYMENT_REQUIRED {
            return Err(ClientError::Http(format!(
                "expected 402 with a session offer, got {}",
                resp.status()
            )));
        }
        let offer = gate402_protocols::mpp::client::parse_challenges(resp.headers())
            .into_iter()
            .flatten()
            .find(MppOffer::is_lightning_session)
            .ok_or(ClientError::NoPayableChallenge(None))?;
        let deposit = offer
            .request
            .get("depositAmount")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok());
        let payment = self.pay_offer(&offer, deposit).await?;
        Ok((offer, payment))
    }

    /// Open a session on `req`'s route (pay the deposit) and send `req` with it.
    /// `return_invoice` is registered for the refund.
    pub async fn open_session(
        &self,
        req: &ClientRequest,
        return_invoice: Option<String>,
    ) -> Result<(MppSession, Response<Bytes>), ClientError> {
        let (offer, payment) = self.pay_session_challenge(req).await?;
        let mut fields = vec![
            ("action", "open".to_owned()),
            ("preimage", hex::encode(payment.preimage)),
        ];
        if let Some(inv) = return_invoice {
            fields.push(("returnInvoice", inv));
        }
        let cred = MppCredential::new(&offer.challenge, payload(&fields));
        let resp = self.execute(req, Some(header(&cred)?)).await?;
        let session = MppSession {
            session_id: payment.payment_hash,
            preimage: payment.preimage,
            deposited_sats: payment.amount_msat / 1000,
            fees_msat: payment.fee_msat,
            offer,
        };
        Ok((session, resp))
    }

    /// Present the open credential of `s` again (its deposit is paid already): after the
    /// gateway answered the open with 429 `too_many_sessions` and the payer closed another
    /// session, before the session challenge expires. Nothing is paid.
    pub async fn session_retry_open(
        &self,
        s: &MppSession,
        req: &ClientRequest,
        return_invoice: Option<String>,
    ) -> Result<Response<Bytes>, ClientError> {
        let mut fields = vec![
            ("action", "open".to_owned()),
            ("preimage", hex::encode(s.preimage)),
        ];
        if let Some(inv) = return_invoice {
            fields.push(("returnInvoice", inv));
        }
        let cred = MppCredential::new(&s.offer.challenge, payload(&fields));
        self.execute(req, Some(header(&cred)?)).await
    }

    /// Send `req` paid by the session (bearer).
    pub async fn session_send(
        &self,
        s: &MppSession,
        req: &ClientRequest,
    ) -> Result<Response<Bytes>, ClientError> {
        self.session_action(s, req, "bearer", None).await
    }

    /// Pay a fresh deposit invoice for `req`'s route and credit it to the session.
    pub async fn session_top_up(
        &self,
        s: &mut MppSession,
        req: &ClientRequest,
    ) -> Result<Response<Bytes>, ClientError> {
        let (offer, payment) = self.pay_session_challenge(req).await?;
        let cred = MppCredential::new(
            &offer.challenge,
            payload(&[
                ("action", "topUp".into()),
                ("sessionId", hex::encode(s.session_id)),
                ("topUpPreimage", hex::encode(payment.preimage)),
            ]),
        );
        let resp = self.execute(req, Some(header(&cred)?)).await?;
        if resp.status().is_success() {
            s.deposited_sats += payment.amount_msat / 1000;
            s.fees_msat += payment.fee_msat;
        }
        Ok(resp)
    }

    /// Close the session; the gateway refunds the balance to `return_invoice` (an invoice for
    /// exactly the remaining balance) or to the one registered at open.
    pub async fn session_close(
        &self,
        s: &MppSession,
        req: &ClientRequest,
        return_invoice: Option<String>,
    ) -> Result<Response<Bytes>, ClientError> {
        if let Ok(t) = super::transport::Target::of(&req.url) {
            self.cache.remove_session(&t.session_key);
        }
        self.session_action(s, req, "close", return_invoice).await
    }

    async fn session_action(
        &self,
        s: &MppSession,
        req: &ClientRequest,
        action: &str,
        return_invoice: Option<String>,
    ) -> Result<Response<Bytes>, ClientError> {
        let cred = s.credential(action, return_invoice);
        self.execute(req, Some(header(&cred)?)).await
    }
}
