//! The settle step of x402: after the upstream answered, settle the payment and only then
//! release the upstream's response — or withhold it (402 + failed `PAYMENT-RESPONSE`, body
//! `{}`, as the reference server; 503 when the chain is unreachable).
//!
//! An EVM payment's response is **buffered whole before settling** (at most `[evm]
//! max_response_bytes`, within `[server] upstream_timeout_secs`): money moves only for a
//! response the gateway holds in full. An upstream body that breaks off, is larger than the
//! bound or too slow is not settled: 502 (`upstream_unavailable`,
//! `upstream_response_too_large`) or 504 with `Retry-After`, and the authorization is
//! released so the buyer may present it again. The settlement is journaled (store: the
//! `x402_pending` table) with an [`X402Tag`] so a settlement nobody waits for any more is
//! still recorded (`paywall/reconcile.rs`).

use axum::body::Body;
use gate402_protocols::x402::lightning::LIGHTNING_NETWORK;
use gate402_protocols::x402::{settle_response_header, SettleResponse};
use gate402_rails::evm::{settlement_key, EvmError, EvmErrorKind, PaymentRef, Settled};
use gate402_rails::{RailError, RailErrorKind};
use http::{header, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::served::LedgerEntry;
use super::x402::{EvmPending, Pending};
use super::{edge, Paywall, Receipt};
use crate::error::GateError;
use crate::store::{PaymentRecord, PaymentState, X402Tag};

impl Paywall {
    /// After the upstream answered: settle, then release its response (or refuse it).
    pub async fn x402_finish(&self, mut pending: Pending, resp: Response<Body>) -> Response<Body> {
        let receipt = resp.extensions().get::<Receipt>().cloned();
        if resp.status().is_client_error() || resp.status().is_server_error() {
            self.x402_unsettled(pending, receipt.as_ref()).await;
            return resp;
        }
        let key = pending.key_mut().clone();
        match pending {
            Pending::Lightning {
                version,
                payment_hash,
                ..
            } => {
                let s = SettleResponse::settled(
                    None,
                    hex::encode(payment_hash),
                    LIGHTNING_NETWORK.into(),
                );
                let entry = self.record_x402(receipt.as_ref(), &s, None, None).await;
                self.release(version, &s, entry, resp)
            }
            Pending::Evm(e) => self.x402_finish_evm(*e, key, receipt, resp).await,
        }
    }

    async fn x402_finish_evm(
        &self,
        e: EvmPending,
        key: Vec<u8>,
        receipt: Option<Receipt>,
        resp: Response<Body>,
    ) -> Response<Body> {
        let resp = match self.buffer_response(resp).await {
            Ok(r) => r,
            Err(err) => {
                tracing::warn!(error = %err, "x402: upstream response not settled");
                self.x402_unsettled(Pending::Evm(Box::new(e)), receipt.as_ref())
                    .await;
                return edge::error_response(&err, Vec::new(), self.retry_after_secs);
            }
        };
        let backend = self.x402.as_ref().and_then(|s| s.evm.clone());
        let r = PaymentRef {
            price: &e.price,
            payment: &e.payment,
            payload: &e.payload,
        };
        let network = e.price.network();
        let tag = X402Tag {
            route: receipt
                .as_ref()
                .map(|r| r.route.clone())
                .unwrap_or_default(),
            amount_msat: receipt.as_ref().map_or(0, |r| r.price_msat),
            rail: format!("evm:{network}"),
            use_key: hex::encode(&key),
        };
        let out = match (e.settled.clone(), &backend) {
            (Some(s), _) => Ok(s),
            (None, Some(b)) => b.settle_with(r, &tag.encode()).await,
            (None, None) => Err(EvmError::new(
                EvmErrorKind::Config,
                "no_backend",
                "no [evm] backend",
            )),
        };
        let payer = gate402_protocols::x402::evm::checksum(&e.payment.authorization.from);
        match out {
            Ok(Settled { payer, transaction }) => {
                let s = SettleResponse::settled(Some(payer), transaction, network);
                let pending_key = settlement_key(&r).to_bytes();
                let entry = self
                    .record_x402(receipt.as_ref(), &s, Some(&key), Some(&pending_key))
                    .await;
                if self.store().is_none() {
                    if let Some(b) = &backend {
                        b.forget(r).await;
                    }
                }
                self.release(e.version, &s, entry, resp)
            }
            Err(err) => {
                tracing::warn!(reason = err.reason, error = %err, "x402 settlement failed; response withheld");
                // Refused before sending, or reverted: no money moved.
                if err.transaction.is_none() || err.kind == EvmErrorKind::Rejected {
                    self.reservations.release(&key).await;
                }
                if err.retryable() {
                    return edge::error_response(
                        &GateError::Rail(RailError::new(
                            RailErrorKind::Unavailable,
                            err.to_string(),
                        )),
                        Vec::new(),
                        self.retry_after_secs,
                    );
                }
                settlement_failed(e.version, &err, network, payer)
            }
        }
    }

    /// The upstream's response, read whole (bounded in size and time).
    async fn buffer_response(&self, resp: Response<Body>) -> Result<Response<Body>, GateError> {
        let limit = self.x402_max_response_bytes;
        let declared = resp
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(GateError::UpstreamTooLarge { limit });
        }
        let (parts, body) = resp.into_parts();
        let read = tokio::time::timeout(self.upstream_timeout, Limited::new(body, limit).collect());
        match read.await {
            Err(_) => Err(GateError::UpstreamTimeout),
            Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
                Err(GateError::UpstreamTooLarge { limit })
            }
            Ok(Err(e)) => Err(GateError::Upstream(format!("upstream body: {e}"))),
            Ok(Ok(c)) => Ok(Response::from_parts(parts, Body::from(c.to_bytes()))),
        }
    }

    /// Add the receipt header and let the response go, marking its payment served once
    /// delivered.
    fn release(
        &self,
        version: u8,
        s: &SettleResponse,
        entry: Option<LedgerEntry>,
        mut resp: Response<Body>,
    ) -> Response<Body> {
        if let Ok((name, value)) = settle_response_header(version, s) {
            resp.headers_mut().insert(name, value);
        }
        match entry {
            Some(entry) => self.track(entry, resp),
            None => resp,
        }
    }

    /// The upstream failed, so nothing is settled: free the single-use key — or, for an
    /// already settled payment (reconciled, or taken back from an unserved row), keep it for
    /// the buyer's next retry (the money moved; the key stays taken).
    async fn x402_unsettled(&self, pending: Pending, receipt: Option<&Receipt>) {
        match pending {
            Pending::Evm(e) if e.settled.is_some() => {
                let r = PaymentRef {
                    price: &e.price,
                    payment: &e.payment,
                    payload: &e.payload,
                };
                let Some(s) = e.settled.clone() else { return };
                let network = e.price.network();
                let sr = SettleResponse::settled(Some(s.payer), s.transaction, network);
                if let (Some(store), Some(receipt)) = (self.store(), receipt) {
                    let mut record = x402_record(self, receipt, &sr, Some(e.key.clone()));
                    record.state = PaymentState::Unserved;
                    let pending_key = settlement_key(&r).to_bytes();
                    let refs = [(record.protocol.clone(), record.reference.clone())];
                    let written = match store.record_settled(&record, &pending_key).await {
                        Ok(_) => store.mark_payments(&refs, PaymentState::Unserved).await,
                        Err(e) => Err(e),
                    };
                    if let Err(err) = written {
                        tracing::error!(error = %err, reference = %record.reference,
                            "x402 payment settled, not served, and NOT recorded as unserved");
                    }
                } else if let Some(b) = self.x402.as_ref().and_then(|s| s.evm.clone()) {
                    b.unserved(r).await;
                }
            }
            Pending::Evm(e) => self.reservations.release(&e.key).await,
            Pending::Lightning { key, .. } => self.reservations.release(&key).await,
        }
    }

    /// Write a settled x402 payment to the ledger as admitted (when a store is attached),
    /// dropping its journal entry `pending_key` in the same transaction. The money has
    /// already moved, so a failed write is logged loudly but does not withhold the response
    /// (the journal entry stays; the reconciler records it later). EVM rows carry the
    /// route's nominal price; the on-chain amount is in the transaction.
    async fn record_x402(
        &self,
        receipt: Option<&Receipt>,
        s: &SettleResponse,
        use_key: Option<&[u8]>,
        pending_key: Option<&[u8]>,
    ) -> Option<LedgerEntry> {
        let (Some(store), Some(receipt)) = (self.store(), receipt) else {
            return None;
        };
        let record = x402_record(self, receipt, s, use_key.map(<[u8]>::to_vec));
        let written = match pending_key {
            Some(k) => store.record_settled(&record, k).await,
            None => store.record_payment(&record).await,
        };
        match written {
            Ok(fresh) => {
                if let (Some(m), true) = (&self.metrics, fresh) {
                    m.payment(
                        &record.route,
                        &record.protocol,
                        &record.rail,
                        record.amount_msat,
                    );
                    let evm_price = self
                        .x402
                        .as_ref()
                        .and_then(|x| x.protocol.route(&record.route))
                        .and_then(|r| r.evm.as_ref())
                        .filter(|_| record.rail.starts_with("evm:"));
                    if let Some(p) = evm_price {
                        let asset = gate402_protocols::x402::evm::checksum(&p.asset);
                        m.revenue_atomic(
                            &record.route,
                            &asset,
                            u64::try_from(p.amount).unwrap_or(u64::MAX),
                        );
                    }
                }
                Some(LedgerEntry {
                    protocol: record.protocol,
                    reference: record.reference,
                    token_id: None,
                    fresh,
                })
            }
            Err(e) => {
                tracing::error!(error = %e, reference = %record.reference,
                    "x402 payment settled but NOT recorded in the ledger");
                None
            }
        }
    }
}

/// The ledger row of a settled x402 payment (admitted).
fn x402_record(
    paywall: &Paywall,
    receipt: &Receipt,
    s: &SettleResponse,
    use_key: Option<Vec<u8>>,
) -> PaymentRecord {
    let rail = if s.network == LIGHTNING_NETWORK {
        paywall.lightning().rail_id().to_string()
    } else {
        format!("evm:{}", s.network)
    };
    PaymentRecord {
        protocol: "x402".into(),
        rail,
        reference: s.transaction.clone(),
        token_id: None,
        route: receipt.route.clone(),
        amount_msat: receipt.price_msat,
        payer: s.payer.clone(),
        created_at: crate::clock::now_unix(),
        state: PaymentState::Admitted,
        use_key,
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
