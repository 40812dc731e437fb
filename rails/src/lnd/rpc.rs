//! Calls of [`LndRail`] beyond the [`LightningRail`](crate::LightningRail) trait: cold
//! lookups, balance, single-invoice subscription, server-side decoding and payment tracking;
//! plus the helpers that run unary calls and read payment status streams.

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::cache;
use super::errors::{from_failure_reason, from_status};
use super::proto::invoicesrpc::invoices_client::InvoicesClient;
use super::proto::invoicesrpc::SubscribeSingleInvoiceRequest;
use super::proto::lnrpc::{self, payment::PaymentStatus};
use super::proto::routerrpc::TrackPaymentRequest;
use super::LndRail;
use crate::{InvoiceState, Payment, PaymentHash, RailError, RailErrorKind};

/// Deadline of one unary call.
const UNARY_TIMEOUT: Duration = Duration::from_secs(30);

impl LndRail {
    /// `LookupInvoice`: the node's current state of `hash` (cached afterwards).
    pub async fn lookup_invoice(&self, hash: &PaymentHash) -> Result<InvoiceState, RailError> {
        let req = lnrpc::PaymentHash {
            r_hash: hash.to_vec(),
            ..Default::default()
        };
        let mut client = self.inner.lightning.clone();
        let inv = unary("LookupInvoice", client.lookup_invoice(req)).await?;
        let state = cache::state_from_pb(inv.state());
        // Never advance the stream indices from a lookup: that could skip replayed events.
        self.inner
            .cache
            .record(*hash, state, cache::expires_at(&inv));
        Ok(state)
    }

    /// Readiness probe needing only `invoices:read` (what LND's `invoice.macaroon` grants,
    /// unlike `GetInfo`): `LookupInvoice` of the all-zero hash, whose expected "unable to locate
    /// invoice" proves the node reachable and the macaroon accepted.
    pub async fn ping(&self) -> Result<(), RailError> {
        let req = lnrpc::PaymentHash {
            r_hash: vec![0; 32],
            ..Default::default()
        };
        let mut client = self.inner.lightning.clone();
        match unary("LookupInvoice", client.lookup_invoice(req)).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind == RailErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `ChannelBalance`: spendable local channel balance in millisatoshis.
    pub async fn channel_balance_msat(&self) -> Result<u64, RailError> {
        let mut client = self.inner.lightning.clone();
        let req = lnrpc::ChannelBalanceRequest {};
        let resp = unary("ChannelBalance", client.channel_balance(req)).await?;
        Ok(resp.local_balance.map(|a| a.msat).unwrap_or_default())
    }

    /// `invoicesrpc.SubscribeSingleInvoice`: follow one invoice until it is settled or
    /// canceled, or `timeout` passes; returns the last state seen (and caches it).
    pub async fn watch_invoice(
        &self,
        hash: &PaymentHash,
        timeout: Duration,
    ) -> Result<InvoiceState, RailError> {
        let op = "SubscribeSingleInvoice";
        let req = SubscribeSingleInvoiceRequest {
            r_hash: hash.to_vec(),
        };
        let mut client = InvoicesClient::new(self.inner.invoices.clone());
        let mut last = None;
        let follow = async {
            let mut stream = client
                .subscribe_single_invoice(req)
                .await
                .map_err(|s| from_status(op, &s))?
                .into_inner();
            while let Some(inv) = stream.message().await.map_err(|s| from_status(op, &s))? {
                let state = cache::state_from_pb(inv.state());
                self.inner
                    .cache
                    .record(*hash, state, cache::expires_at(&inv));
                last = Some(state);
                if cache::is_final(state) {
                    break;
                }
            }
            Ok::<_, RailError>(())
        };
        if let Ok(Err(e)) = tokio::time::timeout(timeout, follow).await {
            return Err(e);
        }
        last.ok_or_else(|| {
            let msg = format!("LND {op}: no invoice state received");
            RailError::new(RailErrorKind::Unavailable, msg)
        })
    }

    /// `DecodePayReq`: the node's own decoding of a payment request.
    pub async fn decode_pay_req(&self, bolt11: &str) -> Result<lnrpc::PayReq, RailError> {
        let req = lnrpc::PayReqString {
            pay_req: bolt11.trim().to_owned(),
        };
        let mut client = self.inner.lightning.clone();
        unary("DecodePayReq", client.decode_pay_req(req)).await
    }

    /// `routerrpc.TrackPaymentV2`: the outcome of an earlier payment of `hash` (e.g. after a
    /// crash, before paying again). Waits up to `timeout` for a final status.
    pub async fn track_final(
        &self,
        hash: &PaymentHash,
        timeout: Duration,
    ) -> Result<Payment, RailError> {
        let req = TrackPaymentRequest {
            payment_hash: hash.to_vec(),
            no_inflight_updates: true,
        };
        let mut client = self.inner.router.clone();
        let call = async {
            let stream = client
                .track_payment_v2(req)
                .await
                .map_err(|s| from_status("TrackPaymentV2", &s))?;
            final_payment("TrackPaymentV2", stream.into_inner()).await
        };
        with_deadline(timeout, call).await
    }
}

/// Run a unary call with [`UNARY_TIMEOUT`] and classify its error.
pub(super) async fn unary<T>(
    op: &str,
    call: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T, RailError> {
    match tokio::time::timeout(UNARY_TIMEOUT, call).await {
        Ok(Ok(resp)) => Ok(resp.into_inner()),
        Ok(Err(status)) => Err(from_status(op, &status)),
        Err(_) => Err(RailError::new(
            RailErrorKind::Timeout,
            format!("LND {op}: no answer within {UNARY_TIMEOUT:?}"),
        )),
    }
}

pub(super) async fn with_deadline<T>(
    timeout: Duration,
    fut: impl std::future::Future<Output = Result<T, RailError>>,
) -> Result<T, RailError> {
    tokio::time::timeout(timeout, fut)
        .await
        .unwrap_or_else(|_| {
            Err(RailError::new(
                RailErrorKind::Timeout,
                "payment not final in time (it may still complete; track it before retrying)",
            ))
        })
}

/// Read a payment status stream to SUCCEEDED (→ [`Payment`]) or FAILED (→ classified error).
pub(super) async fn final_payment(
    op: &str,
    mut stream: tonic::Streaming<lnrpc::Payment>,
) -> Result<Payment, RailError> {
    loop {
        let p = match stream.message().await {
            Ok(Some(p)) => p,
            Ok(None) => {
                let msg = format!("LND {op}: stream ended before the payment was final");
                return Err(RailError::new(RailErrorKind::Unavailable, msg));
            }
            Err(status) => return Err(from_status(op, &status)),
        };
        match p.status() {
            PaymentStatus::Succeeded => return payment_from_pb(&p),
            PaymentStatus::Failed => return Err(from_failure_reason(p.failure_reason())),
            _ => continue,
        }
    }
}

fn payment_from_pb(p: &lnrpc::Payment) -> Result<Payment, RailError> {
    let bad = |what: &str| RailError::new(RailErrorKind::Internal, format!("LND payment: {what}"));
    let hex32 = |s: &str| -> Option<[u8; 32]> { hex::decode(s).ok()?.try_into().ok() };
    let preimage = hex32(&p.payment_preimage).ok_or_else(|| bad("invalid preimage"))?;
    let payment_hash = hex32(&p.payment_hash).ok_or_else(|| bad("invalid payment hash"))?;
    if <[u8; 32]>::from(Sha256::digest(preimage)) != payment_hash {
        return Err(bad("preimage does not match the payment hash"));
    }
    Ok(Payment {
        preimage,
        payment_hash,
        amount_msat: u64::try_from(p.value_msat).unwrap_or_default(),
        fee_msat: u64::try_from(p.fee_msat).unwrap_or_default(),
    })
}
