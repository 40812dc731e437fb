//! Paying the chosen offer under a budget reservation, then retrying with the credential
//! (an L402 token or an MPP session is cached before the retry, so a failed retry loses
//! nothing).
//!
//! Reservation outcome rules: paid → settle (real amount and fee); refused before paying or a
//! Lightning failure that definitely moved nothing (no route, balance, fee limit, invalid
//! invoice, already paid, permission) → release; anything else (timeout, node unreachable
//! mid-payment, a preimage that does not match) → keep as `unknown`. An x402 EVM
//! authorization moves money when the server settles it: a 2xx/3xx retry → settle; a 402
//! retry → release (not settled); another status or no answer → `unknown`.

use gate402_rails::{Payment, RailErrorKind};
use http::{HeaderName, HeaderValue, Response};

use bytes::Bytes;

use super::budget::{Charge, Reservation};
use super::offers::{Offer, Payload};
use super::transport::Target;
use super::{
    l402, receipt, x402, Client, ClientError, ClientRequest, Event, PaidResponse, PaymentInfo,
};

/// The credential header a paid retry carried (a bearer secret: `Debug` shows its name only).
pub type CredentialHeader = (HeaderName, HeaderValue);

/// A payment made by [`Client::pay_quoted`]: the paid response and the credential presented.
pub struct PaidAttempt {
    /// The retry's response and what it cost.
    pub paid: PaidResponse,
    credential: CredentialHeader,
}

impl PaidAttempt {
    /// The credential header presented with the paid retry (to present it again, e.g. to
    /// check that a single-use credential is refused the second time). Never log it.
    pub fn credential(&self) -> CredentialHeader {
        self.credential.clone()
    }
}

impl std::fmt::Debug for PaidAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaidAttempt")
            .field("paid", &self.paid)
            .field("credential", &self.credential.0)
            .finish()
    }
}

impl Client {
    /// Pay `offer` — one of the offers of a [`Client::quote_response`] for `req` — under
    /// the policy, the budgets and `req.max_cost` (checked again here: an offer over them is
    /// refused with nothing paid), then retry `req` with the credential.
    pub async fn pay_quoted(
        &self,
        req: &ClientRequest,
        offer: Offer,
    ) -> Result<PaidAttempt, ClientError> {
        let target = Target::of(&req.url)?;
        let now = crate::clock::now_unix();
        self.acceptable(&offer, &target.host, req.max_cost, now)?;
        let (paid, credential) = self.pay_and_retry_with(req, &target, offer, now).await?;
        Ok(PaidAttempt { paid, credential })
    }

    pub(super) async fn pay_and_retry(
        &self,
        req: &ClientRequest,
        target: &Target,
        offer: Offer,
        now: u64,
    ) -> Result<PaidResponse, ClientError> {
        Ok(self.pay_and_retry_with(req, target, offer, now).await?.0)
    }

    async fn pay_and_retry_with(
        &self,
        req: &ClientRequest,
        target: &Target,
        offer: Offer,
        now: u64,
    ) -> Result<(PaidResponse, CredentialHeader), ClientError> {
        let amount = offer
            .amount
            .clone()
            .unwrap_or_else(|| super::Amount::msat(0));
        let fee_cap = if amount.is_msat() {
            u128::from(self.limits.max_fee_msat)
        } else {
            0
        };
        let charge = Charge {
            domain: &target.host,
            unit: &amount.unit,
            amount: amount.value + fee_cap,
            protocol: offer.protocol,
        };
        let r = self.cache.reserve(&charge, &self.policy, now)?;
        let mut info = PaymentInfo {
            protocol: offer.protocol_id(),
            rail: offer.rail.clone(),
            amount: amount.clone(),
            amount_msat: 0,
            fee_msat: 0,
            payment_hash: String::new(),
            receipt: None,
        };
        if let Payload::X402(c) = &offer.payload {
            if !c.is_lightning() {
                return self.pay_evm_and_retry(req, c, r, info).await;
            }
        }
        let (payment, header) = match self.pay_lightning_offer(target, &offer).await {
            Ok(p) => p,
            Err(e) => {
                self.finish_failed(r, &e)?;
                return Err(e);
            }
        };
        self.cache.settle(
            r,
            payment.amount_msat.into(),
            payment.fee_msat.into(),
            &hex::encode(payment.payment_hash),
        )?;
        info.amount_msat = payment.amount_msat;
        info.fee_msat = payment.fee_msat;
        info.payment_hash = hex::encode(payment.payment_hash);
        self.emit(Event::Paid(info.clone()));
        let response = self.execute(req, Some(header.clone())).await?;
        info.receipt = match &offer.payload {
            Payload::L402(c) => l402::receipt(c),
            Payload::X402(_) => receipt::x402(&response),
            _ => receipt::mpp(&response),
        };
        let paid = PaidResponse {
            url: req.url.to_string(),
            response,
            payment: Some(info),
            reused_credential: false,
            attempts: Vec::new(),
        };
        Ok((paid, header))
    }

    /// Pay a Lightning offer; the payment and the credential header for the retry.
    async fn pay_lightning_offer(
        &self,
        target: &Target,
        offer: &Offer,
    ) -> Result<(Payment, (HeaderName, HeaderValue)), ClientError> {
        match &offer.payload {
            Payload::L402(c) => {
                let (payment, token) = self.pay(c).await?;
                self.cache.put(&target.key, &token)?;
                let value = HeaderValue::from_str(&c.credential(payment.preimage).authorization())
                    .map_err(|e| ClientError::Usage(e.to_string()))?;
                Ok((payment, (http::header::AUTHORIZATION, value)))
            }
            Payload::MppCharge(m) => self.pay_mpp_charge(m).await,
            Payload::MppSession(m) => {
                let (payment, session, header) = self.open_from_offer(m).await?;
                self.cache
                    .put_session(&target.session_key, &session, crate::clock::now_unix())?;
                Ok((payment, header))
            }
            Payload::X402(c) => {
                let payment = self.pay_x402_lightning(c).await?;
                let proof = gate402_protocols::PaymentProof::Preimage(payment.preimage);
                Ok((payment, x402::header(c, &proof)?))
            }
            Payload::MppOther(_) => Err(ClientError::NoPayableChallenge(None)),
        }
    }

    /// Release the reservation if nothing can have moved, else keep it as unknown.
    fn finish_failed(&self, r: Reservation, e: &ClientError) -> Result<(), ClientError> {
        if e.nothing_moved() {
            self.cache.release(r)?;
        } else {
            self.cache.mark_unknown(r)?;
        }
        Ok(())
    }

    async fn pay_evm_and_retry(
        &self,
        req: &ClientRequest,
        c: &gate402_protocols::x402::X402Challenge,
        r: Reservation,
        mut info: PaymentInfo,
    ) -> Result<(PaidResponse, CredentialHeader), ClientError> {
        let header = match self.sign_x402_evm(c).and_then(|p| x402::header(c, &p)) {
            Ok(h) => h,
            Err(e) => {
                self.cache.release(r)?;
                return Err(e);
            }
        };
        self.emit(Event::Signing(info.amount.clone()));
        let response: Response<Bytes> = match self.execute(req, Some(header.clone())).await {
            Ok(resp) => resp,
            Err(e) => {
                self.cache.mark_unknown(r)?;
                return Err(e);
            }
        };
        info.receipt = receipt::x402(&response);
        let reference = info
            .receipt
            .as_ref()
            .and_then(|v| v.get("transaction"))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        let status = response.status();
        if status.is_success() || status.is_redirection() {
            self.cache.settle(r, info.amount.value, 0, &reference)?;
            info.payment_hash = reference;
            self.emit(Event::Paid(info.clone()));
        } else if status == http::StatusCode::PAYMENT_REQUIRED {
            self.cache.release(r)?;
            return Err(ClientError::Payment(gate402_rails::RailError::new(
                RailErrorKind::Internal,
                format!("the server refused the signed x402 payment (402): {reference}"),
            )));
        } else {
            self.cache.mark_unknown(r)?;
        }
        let paid = PaidResponse {
            url: req.url.to_string(),
            response,
            payment: Some(info),
            reused_credential: false,
            attempts: Vec::new(),
        };
        Ok((paid, header))
    }
}
