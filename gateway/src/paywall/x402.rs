//! x402 on the paid path: after local verification, consume the single-use key, check with
//! the rail (EVM simulation, or the Lightning invoice is ours and settled); after the upstream
//! answered successfully, settle **before** its response is released (`x402_settle.rs`).
//!
//! Outcomes: refused payment → 402 with a fresh challenge; chain/node/store unreachable → 503
//! with `Retry-After` (never a 200 without payment, never a 402 a client would pay again);
//! settlement refused → 402 with a failed `PAYMENT-RESPONSE` and an empty `{}` body (as the
//! reference server); upstream status ≥ 400 → nothing is settled and the reservation is freed.
//!
//! A payment presented again whose single-use key is taken is a replay — unless its payment
//! is recorded `unserved` (settled, but the upstream failed or the response never reached
//! the buyer: served now from that row, once), or its settlement waits in the journal
//! unconfirmed (the first attempt got a 503 `settlement_pending`, its client went away, the
//! gateway crashed): then the chain is asked again and a landed settlement is served to this
//! retry, once ([`ExactEvmBackend::reconcile`]), on whichever gateway it reaches.

use std::sync::Arc;

use gate402_protocols::x402::{EvmPayment, EvmPrice, PaymentPayload, X402Kind, X402};
use gate402_protocols::{CredentialError, Reference, Verified, VerifyError};
use gate402_rails::evm::{EvmError, ExactEvmBackend, PaymentRef, Settled};
use gate402_rails::{InvoiceState, RailError, RailErrorKind};

use super::{Paywall, Route};
use crate::{clock::now_unix, error::GateError};

/// x402 support of a paywall: the protocol (for route prices) and the EVM backend.
#[derive(Clone)]
pub struct X402Support {
    /// The protocol instance also registered among the paywall's protocols.
    pub protocol: Arc<X402>,
    /// Chain or facilitator access for EVM prices (`None`: Lightning variant only).
    pub evm: Option<Arc<dyn ExactEvmBackend>>,
}

impl std::fmt::Debug for X402Support {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let evm = self.evm.as_ref().map(|e| e.describe());
        f.debug_struct("X402Support").field("evm", &evm).finish()
    }
}

/// A verified x402 payment waiting for the upstream's answer.
#[derive(Debug, Clone)]
pub enum Pending {
    /// EVM: settle after a successful upstream answer.
    Evm(Box<EvmPending>),
    /// Lightning variant: already paid; only the receipt remains.
    Lightning {
        /// Protocol version.
        version: u8,
        /// The paid invoice's hash.
        payment_hash: [u8; 32],
        /// The reserved single-use key.
        key: Vec<u8>,
    },
}

/// An EVM payment verified with the chain, to settle after the upstream answered.
#[derive(Debug, Clone)]
pub struct EvmPending {
    /// Protocol version (receipt header name).
    pub version: u8,
    /// The route's price.
    pub price: EvmPrice,
    /// The signed authorization.
    pub payment: EvmPayment,
    /// The client's payload (for external facilitators).
    pub payload: PaymentPayload,
    /// The reserved single-use key.
    pub key: Vec<u8>,
    /// Already settled (a reconciled earlier settlement): serve without settling again.
    pub settled: Option<Settled>,
}

impl Pending {
    pub(super) fn key_mut(&mut self) -> &mut Vec<u8> {
        match self {
            Pending::Evm(e) => &mut e.key,
            Pending::Lightning { key, .. } => key,
        }
    }
}

/// Why an x402 payment was not admitted.
pub(super) enum Refusal {
    /// 402 with a fresh challenge.
    Payment(CredentialError),
    /// 503 (or 500) without a challenge.
    Outage(GateError),
}

fn outage(e: &EvmError) -> Refusal {
    Refusal::Outage(GateError::Rail(RailError::new(
        RailErrorKind::Unavailable,
        format!("evm: {e}"),
    )))
}

impl Paywall {
    /// Consume the proof's single-use key and check the payment with the rail.
    pub(super) async fn x402_admit(
        &self,
        route: &Route,
        credential: &gate402_protocols::x402::X402Credential,
        verified: &mut Verified,
    ) -> Result<Pending, Refusal> {
        let support = self.x402.as_ref().ok_or(Refusal::Payment(
            VerifyError::Mismatch("not_offered").into(),
        ))?;
        let key = verified.single_use_key.clone().unwrap_or_default();
        let now = now_unix();
        match self
            .reservations
            .reserve(&key, verified.expires_at, now)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                if let Some(mut p) = self
                    .x402_claim_unserved(support, route, credential, &key)
                    .await?
                {
                    *p.key_mut() = key;
                    return Ok(p);
                }
                return match self.x402_reconcile(support, route, credential).await? {
                    Some(mut p) => {
                        *p.key_mut() = key;
                        Ok(p)
                    }
                    None => Err(Refusal::Payment(VerifyError::Replayed.into())),
                };
            }
            Err(e) => return Err(Refusal::Outage(GateError::Store(e))),
        }
        let result = self.x402_check(support, route, credential, verified).await;
        if result.is_err() {
            self.reservations.release(&key).await;
        }
        result.map(|mut p| {
            *p.key_mut() = key;
            p
        })
    }

    /// A taken single-use key whose EVM payment is recorded unserved: serve it now (once).
    async fn x402_claim_unserved(
        &self,
        support: &X402Support,
        route: &Route,
        credential: &gate402_protocols::x402::X402Credential,
        key: &[u8],
    ) -> Result<Option<Pending>, Refusal> {
        let (X402Kind::Evm(payment), Some(store)) = (&credential.kind, self.store()) else {
            return Ok(None);
        };
        let Some(price) = support
            .protocol
            .route(&route.offer.service)
            .and_then(|r| r.evm.clone())
        else {
            return Ok(None);
        };
        let row = match store.claim_unserved(key).await {
            Ok(Some(row)) => row,
            Ok(None) => return Ok(None),
            Err(e) => return Err(Refusal::Outage(GateError::Store(e))),
        };
        tracing::info!(transaction = %row.reference, "unserved x402 payment presented again: served now");
        Ok(Some(Pending::Evm(Box::new(EvmPending {
            version: credential.version,
            price,
            payment: payment.clone(),
            payload: credential.payload.clone(),
            key: Vec::new(),
            settled: Some(Settled {
                transaction: row.reference,
                payer: row.payer.unwrap_or_default(),
            }),
        }))))
    }

    /// A taken single-use key: is this the retry of an undelivered settlement?
    async fn x402_reconcile(
        &self,
        support: &X402Support,
        route: &Route,
        credential: &gate402_protocols::x402::X402Credential,
    ) -> Result<Option<Pending>, Refusal> {
        let (X402Kind::Evm(payment), Some(backend)) = (&credential.kind, support.evm.as_ref())
        else {
            return Ok(None);
        };
        let Some(price) = support
            .protocol
            .route(&route.offer.service)
            .and_then(|r| r.evm.clone())
        else {
            return Ok(None);
        };
        let payload = credential.payload.clone();
        let r = PaymentRef {
            price: &price,
            payment,
            payload: &payload,
        };
        match backend.reconcile(r).await {
            Ok(None) => Ok(None),
            Ok(Some(settled)) => Ok(Some(Pending::Evm(Box::new(EvmPending {
                version: credential.version,
                price,
                payment: payment.clone(),
                payload,
                key: Vec::new(),
                settled: Some(settled),
            })))),
            Err(e) if e.retryable() => Err(outage(&e)),
            Err(e) => Err(Refusal::Payment(
                VerifyError::Rejected(e.reason, e.message).into(),
            )),
        }
    }

    async fn x402_check(
        &self,
        support: &X402Support,
        route: &Route,
        credential: &gate402_protocols::x402::X402Credential,
        verified: &mut Verified,
    ) -> Result<Pending, Refusal> {
        let version = credential.version;
        match &credential.kind {
            X402Kind::Evm(payment) => {
                let price = support
                    .protocol
                    .route(&route.offer.service)
                    .and_then(|r| r.evm.clone())
                    .ok_or(Refusal::Payment(
                        VerifyError::Mismatch("not_offered").into(),
                    ))?;
                let backend = support.evm.as_ref().ok_or_else(|| {
                    outage(&EvmError::new(
                        gate402_rails::evm::EvmErrorKind::Config,
                        "no_backend",
                        "no [evm] backend",
                    ))
                })?;
                let payload = credential.payload.clone();
                let r = PaymentRef {
                    price: &price,
                    payment,
                    payload: &payload,
                };
                match backend.verify(r).await {
                    Ok(()) => Ok(Pending::Evm(Box::new(EvmPending {
                        version,
                        price,
                        payment: payment.clone(),
                        payload,
                        key: Vec::new(),
                        settled: None,
                    }))),
                    Err(e) if e.retryable() => Err(outage(&e)),
                    Err(e) => Err(Refusal::Payment(
                        VerifyError::Rejected(e.reason, e.message).into(),
                    )),
                }
            }
            X402Kind::Lightning { invoice } => {
                let decoded = self.lightning.decode(invoice).map_err(|_| {
                    Refusal::Payment(VerifyError::Mismatch("invoice_mismatch").into())
                })?;
                if decoded.amount_msat.unwrap_or(0) < route.offer.price_msat {
                    return Err(Refusal::Payment(
                        VerifyError::Mismatch("amount_mismatch").into(),
                    ));
                }
                let state = tokio::time::timeout(
                    super::pool::MINT_TIMEOUT,
                    self.lightning.invoice_state(&decoded.payment_hash),
                )
                .await
                .unwrap_or_else(|_| {
                    Err(RailError::new(
                        RailErrorKind::Timeout,
                        "invoice lookup timed out",
                    ))
                });
                match state {
                    Ok(InvoiceState::Settled) => {}
                    Ok(_) => return Err(Refusal::Payment(VerifyError::NotSettled.into())),
                    Err(e) if e.kind == RailErrorKind::NotFound => {
                        return Err(Refusal::Payment(
                            VerifyError::Mismatch("invoice_mismatch").into(),
                        ))
                    }
                    Err(e) => return Err(Refusal::Outage(GateError::Rail(e))),
                }
                verified.reference = Reference::PaymentHash(decoded.payment_hash);
                Ok(Pending::Lightning {
                    version,
                    payment_hash: decoded.payment_hash,
                    key: Vec::new(),
                })
            }
        }
    }
}
