//! The settle step of x402: after the upstream answered, settle the payment and only then
//! release the upstream's response — or withhold it (402 + failed `PAYMENT-RESPONSE`, body
//! `{}`, as the reference server; 503 when the chain is unreachable).

use axum::body::Body;
use gate402_protocols::x402::lightning::LIGHTNING_NETWORK;
use gate402_protocols::x402::{settle_response_header, SettleResponse};
use gate402_rails::evm::{EvmError, PaymentRef};
use gate402_rails::{RailError, RailErrorKind};
use http::Response;

use super::x402::{EvmPending, Pending};
use super::{edge, Paywall};
use crate::error::GateError;

impl Paywall {
    /// After the upstream answered: settle, then release its response (or refuse it).
    pub async fn x402_finish(
        &self,
        mut pending: Pending,
        mut resp: Response<Body>,
    ) -> Response<Body> {
        let key = pending.key_mut().clone();
        if resp.status().is_client_error() || resp.status().is_server_error() {
            self.x402_unsettled(pending).await;
            return resp;
        }
        let (version, settled) = match pending {
            Pending::Lightning {
                version,
                payment_hash,
                ..
            } => (
                version,
                Ok(SettleResponse::settled(
                    None,
                    hex::encode(payment_hash),
                    LIGHTNING_NETWORK.into(),
                )),
            ),
            Pending::Evm(e) => {
                let EvmPending {
                    version,
                    price,
                    payment,
                    payload,
                    settled,
                    ..
                } = *e;
                let backend = self.x402.as_ref().and_then(|s| s.evm.clone());
                let r = PaymentRef {
                    price: &price,
                    payment: &payment,
                    payload: &payload,
                };
                let out = match (settled, backend) {
                    (Some(s), _) => Ok(s),
                    (None, Some(b)) => b.settle(r).await,
                    (None, None) => Err(EvmError::new(
                        gate402_rails::evm::EvmErrorKind::Config,
                        "no_backend",
                        "no [evm] backend",
                    )),
                };
                let network = price.network();
                (
                    version,
                    match out {
                        Ok(s) => Ok(SettleResponse::settled(
                            Some(s.payer),
                            s.transaction,
                            network,
                        )),
                        Err(e) => Err((
                            e,
                            network,
                            gate402_protocols::x402::evm::checksum(&payment.authorization.from),
                        )),
                    },
                )
            }
        };
        match settled {
            Ok(s) => {
                let receipt = resp.extensions().get::<super::Receipt>().cloned();
                self.record_x402(receipt, &s).await;
                if let Ok((name, value)) = settle_response_header(version, &s) {
                    resp.headers_mut().insert(name, value);
                }
                resp
            }
            Err((e, network, payer)) => {
                tracing::warn!(reason = e.reason, error = %e, "x402 settlement failed; response withheld");
                if e.transaction.is_none() {
                    self.reservations.release(&key).await;
                }
                if e.retryable() {
                    return edge::error_response(
                        &GateError::Rail(RailError::new(RailErrorKind::Unavailable, e.to_string())),
                        Vec::new(),
                        self.retry_after_secs,
                    );
                }
                settlement_failed(version, &e, network, payer)
            }
        }
    }
}

impl Paywall {
    /// The upstream failed, so nothing is settled: free the single-use key — or, for an
    /// already settled (reconciled) payment, hand the settlement back to the rail for the
    /// buyer's next retry (the money moved; the key stays taken).
    async fn x402_unsettled(&self, pending: Pending) {
        match pending {
            Pending::Evm(e) if e.settled.is_some() => {
                let backend = self.x402.as_ref().and_then(|s| s.evm.clone());
                if let (Some(b), Some(s)) = (backend, e.settled) {
                    let r = PaymentRef {
                        price: &e.price,
                        payment: &e.payment,
                        payload: &e.payload,
                    };
                    b.unserved(r, s);
                }
            }
            Pending::Evm(e) => self.reservations.release(&e.key).await,
            Pending::Lightning { key, .. } => self.reservations.release(&key).await,
        }
    }

    /// Write a settled x402 payment to the ledger (when a store is attached). The money has
    /// already moved, so a failed write is logged loudly but does not withhold the response.
    /// EVM rows carry the route's nominal price; the on-chain amount is in the transaction.
    async fn record_x402(&self, receipt: Option<super::Receipt>, s: &SettleResponse) {
        let (Some(store), Some(receipt)) = (self.store(), receipt) else {
            return;
        };
        let rail = if s.network == LIGHTNING_NETWORK {
            self.lightning().rail_id().to_string()
        } else {
            format!("evm:{}", s.network)
        };
        let record = crate::store::PaymentRecord {
            protocol: "x402".into(),
            rail,
            reference: s.transaction.clone(),
            token_id: None,
            route: receipt.route.clone(),
            amount_msat: receipt.price_msat,
            payer: s.payer.clone(),
            created_at: crate::clock::now_unix(),
        };
        if let Err(e) = store.record_payment(&record).await {
            tracing::error!(error = %e, reference = %record.reference,
                "x402 payment settled but NOT recorded in the ledger");
        }
    }
}

/// 402 + failed `PAYMENT-RESPONSE`, body `{}` (reference server's settlement failure).
fn settlement_failed(version: u8, e: &EvmError, network: String, payer: String) -> Response<Body> {
    let s = SettleResponse::failed(
        e.reason,
        e.message.clone(),
        Some(payer),
        e.transaction.clone(),
        network,
    );
    edge::settlement_failed(e.reason, settle_response_header(version, &s).ok())
}
