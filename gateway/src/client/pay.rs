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

impl Client {
    pub(super) async fn pay_and_retry(
        &self,
        req: &ClientRequest,
        target: &Target,
        offer: Offer,
        now: u64,
    ) -> Result<PaidResponse, ClientError> {
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
        let response = self.execute(req, Some(header)).await?;
        info.receipt = match &offer.payload {
            Payload::L402(c) => l402::receipt(c),
            Payload::X402(_) => receipt::x402(&response),
            _ => receipt::mpp(&response),
        };
        Ok(PaidResponse {
            url: req.url.to_string(),
            response,
            payment: Some(info),
            reused_credential: false,
        })
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
    ) -> Result<PaidResponse, ClientError> {
        let header = match self.sign_x402_evm(c).and_then(|p| x402::header(c, &p)) {
            Ok(h) => h,
            Err(e) => {
                self.cache.release(r)?;
                return Err(e);
            }
        };
        self.emit(Event::Signing(info.amount.clone()));
        let response: Response<Bytes> = match self.execute(req, Some(header)).await {
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
        Ok(PaidResponse {
            url: req.url.to_string(),
            response,
            payment: Some(info),
            reused_credential: false,
        })
    }
}
