//! `routerrpc.Router` over a simulated node: `SendPaymentV2`, `TrackPaymentV2` and
//! `EstimateRouteFee` (module `lists`).
//!
//! A payment streams `IN_FLIGHT` (unless `no_inflight_updates`), then `SUCCEEDED` with the
//! preimage or `FAILED` with LND's failure reason. The payment itself runs in its own task, so
//! a client that disconnects does not cancel it. Payments are remembered per server instance
//! for `TrackPaymentV2`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast;
use tonic::{Request, Response, Status};

use super::auth::Rpc;
use super::convert::{ensure_online, hash32, now_ns, stopping, stream_channel, PbStream};
use super::Shared;
use crate::lnd::proto::lnrpc::{self, payment::PaymentStatus, PaymentFailureReason};
use crate::lnd::proto::routerrpc::{
    router_server::Router, RouteFeeRequest, RouteFeeResponse, SendPaymentRequest,
    TrackPaymentRequest,
};
use crate::simnet::amount_to_pay;
use crate::{decode_bolt11, LightningRail, PayLimits, PaymentHash, RailError, RailErrorKind};

/// LND's default `timeout_seconds`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Payments sent through this server, and their updates.
#[derive(Debug)]
pub(crate) struct Payments {
    by_hash: Mutex<HashMap<PaymentHash, lnrpc::Payment>>,
    updates: broadcast::Sender<lnrpc::Payment>,
}

impl Payments {
    pub(crate) fn new() -> Self {
        Payments {
            by_hash: Mutex::new(HashMap::new()),
            updates: broadcast::channel(256).0,
        }
    }

    /// Every payment, by `payment_index` (for `ListPayments`).
    pub(crate) fn all(&self) -> Vec<lnrpc::Payment> {
        let map = self.by_hash.lock().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<lnrpc::Payment> = map.values().cloned().collect();
        all.sort_by_key(|p| p.payment_index);
        all
    }

    fn get(&self, hash: &PaymentHash) -> Option<lnrpc::Payment> {
        self.by_hash
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(hash)
            .cloned()
    }

    /// Start tracking a payment unless one for `hash` is in flight or succeeded.
    fn begin(&self, hash: PaymentHash, p: lnrpc::Payment) -> Result<lnrpc::Payment, Status> {
        let mut map = self.by_hash.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(&hash).map(|p| p.status()) {
            Some(PaymentStatus::InFlight | PaymentStatus::Initiated) => {
                Err(Status::already_exists("payment is in transition"))
            }
            Some(PaymentStatus::Succeeded) => {
                Err(Status::already_exists("invoice is already paid"))
            }
            _ => {
                let index = u64::try_from(map.len()).unwrap_or(u64::MAX) + 1;
                let p = lnrpc::Payment {
                    payment_index: index,
                    ..p
                };
                map.insert(hash, p.clone());
                Ok(p)
            }
        }
    }

    fn update(&self, hash: PaymentHash, p: lnrpc::Payment) {
        let mut map = self.by_hash.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(hash, p.clone());
        drop(map);
        let _ = self.updates.send(p);
    }
}

fn is_final(p: &lnrpc::Payment) -> bool {
    matches!(p.status(), PaymentStatus::Succeeded | PaymentStatus::Failed)
}

/// The final update for a payment outcome, or the status error LND returns instead.
fn outcome(
    mut p: lnrpc::Payment,
    result: Result<crate::Payment, RailError>,
) -> Result<lnrpc::Payment, Status> {
    use PaymentFailureReason as R;
    let reason = match result {
        Ok(done) => {
            p.payment_preimage = hex::encode(done.preimage);
            p.fee_msat = i64::try_from(done.fee_msat).unwrap_or(i64::MAX);
            p.fee_sat = p.fee_msat / 1000;
            p.set_status(PaymentStatus::Succeeded);
            return Ok(p);
        }
        Err(e) => match e.kind {
            RailErrorKind::NoRoute | RailErrorKind::FeeLimitExceeded => R::FailureReasonNoRoute,
            RailErrorKind::InsufficientBalance => R::FailureReasonInsufficientBalance,
            RailErrorKind::Timeout => R::FailureReasonTimeout,
            RailErrorKind::InvalidInvoice => R::FailureReasonIncorrectPaymentDetails,
            RailErrorKind::AlreadyPaid => {
                return Err(Status::already_exists("invoice is already paid"))
            }
            RailErrorKind::Unavailable => return Err(Status::unavailable(e.message)),
            _ => R::FailureReasonError,
        },
    };
    p.set_status(PaymentStatus::Failed);
    p.set_failure_reason(reason);
    Ok(p)
}

fn negative() -> Status {
    Status::unknown("amount must not be negative")
}

/// The `Router` service.
pub(crate) struct RouterSvc(pub(crate) Arc<Shared>);

#[tonic::async_trait]
impl Router for RouterSvc {
    type SendPaymentV2Stream = PbStream<lnrpc::Payment>;

    async fn send_payment_v2(
        &self,
        req: Request<SendPaymentRequest>,
    ) -> Result<Response<Self::SendPaymentV2Stream>, Status> {
        self.0.auth.check(req.metadata(), Rpc::SendPaymentV2)?;
        ensure_online(&self.0.node)?;
        let req = req.into_inner();
        let decoded =
            decode_bolt11(&req.payment_request).map_err(|e| Status::invalid_argument(e.message))?;
        if req.amt != 0 && req.amt_msat != 0 {
            return Err(Status::unknown("amt and amt_msat are mutually exclusive"));
        }
        let requested = match (req.amt, req.amt_msat) {
            (0, 0) => None,
            (sat, 0) => Some(
                u64::try_from(sat)
                    .map_err(|_| negative())?
                    .saturating_mul(1000),
            ),
            (_, msat) => Some(u64::try_from(msat).map_err(|_| negative())?),
        };
        // LND answers these with plain errors (gRPC code Unknown).
        let amount_msat = amount_to_pay(decoded.amount_msat, requested)
            .map_err(|e| Status::unknown(e.message))?;
        let timeout = match u64::try_from(req.timeout_seconds) {
            Ok(s) if s > 0 => Duration::from_secs(s),
            _ => DEFAULT_TIMEOUT,
        };
        let fee_limit = if req.fee_limit_msat > 0 {
            req.fee_limit_msat
        } else {
            req.fee_limit_sat.saturating_mul(1000)
        };
        let limits = PayLimits {
            max_fee_msat: u64::try_from(fee_limit).unwrap_or(0),
            timeout,
        };
        let hash = decoded.payment_hash;
        let mut started = lnrpc::Payment {
            payment_hash: hex::encode(hash),
            value_sat: i64::try_from(amount_msat / 1000).unwrap_or(i64::MAX),
            value_msat: i64::try_from(amount_msat).unwrap_or(i64::MAX),
            payment_request: req.payment_request.clone(),
            creation_time_ns: now_ns(),
            ..Default::default()
        };
        started.set_status(PaymentStatus::InFlight);
        let started = self.0.payments.begin(hash, started)?;

        // The payment runs to completion even if the client goes away.
        let (node, payments, bolt11) = (
            self.0.node.clone(),
            self.0.payments.clone(),
            req.payment_request,
        );
        let amountless = requested.is_some();
        let first = started.clone();
        let payment = tokio::spawn(async move {
            let result = if amountless {
                node.pay_amountless_invoice(&bolt11, amount_msat, limits)
                    .await
            } else {
                node.pay_invoice(&bolt11, limits).await
            };
            let out = outcome(started.clone(), result);
            let record = match &out {
                Ok(p) => p.clone(),
                Err(_) => {
                    let mut p = started;
                    p.set_status(PaymentStatus::Failed);
                    p.set_failure_reason(PaymentFailureReason::FailureReasonError);
                    p
                }
            };
            payments.update(hash, record);
            out
        });

        let (tx, stream) = stream_channel();
        let stop = stopping(self.0.shutdown.clone());
        let inflight = !req.no_inflight_updates;
        tokio::spawn(async move {
            if inflight && tx.send(Ok(first)).await.is_err() {
                return;
            }
            let out = tokio::select! {
                _ = stop => return,
                out = payment => out.unwrap_or_else(|e| Err(Status::internal(format!("payment task: {e}")))),
            };
            let _ = tx.send(out).await;
        });
        Ok(Response::new(stream))
    }

    type TrackPaymentV2Stream = PbStream<lnrpc::Payment>;

    async fn track_payment_v2(
        &self,
        req: Request<TrackPaymentRequest>,
    ) -> Result<Response<Self::TrackPaymentV2Stream>, Status> {
        self.0.auth.check(req.metadata(), Rpc::TrackPaymentV2)?;
        ensure_online(&self.0.node)?;
        let req = req.into_inner();
        let hash = hash32(&req.payment_hash)?;
        let mut updates = self.0.payments.updates.subscribe();
        let current = self
            .0
            .payments
            .get(&hash)
            .ok_or_else(|| Status::not_found("payment isn't initiated"))?;
        let (tx, stream) = stream_channel();
        let stop = stopping(self.0.shutdown.clone());
        let want_hash = hex::encode(hash);
        let payments = self.0.payments.clone();
        tokio::spawn(async move {
            tokio::pin!(stop);
            let show = is_final(&current) || !req.no_inflight_updates;
            if show && (tx.send(Ok(current.clone())).await.is_err() || is_final(&current)) {
                return;
            }
            loop {
                let update = tokio::select! {
                    _ = &mut stop => return,
                    _ = tx.closed() => return,
                    u = updates.recv() => u,
                };
                match update {
                    Ok(p) if p.payment_hash == want_hash && is_final(&p) => {
                        let _ = tx.send(Ok(p)).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Missed updates: the store has the latest one.
                        if let Some(p) = payments.get(&hash).filter(is_final) {
                            let _ = tx.send(Ok(p)).await;
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        Ok(Response::new(stream))
    }

    async fn estimate_route_fee(
        &self,
        req: Request<RouteFeeRequest>,
    ) -> Result<Response<RouteFeeResponse>, Status> {
        self.0.auth.check(req.metadata(), Rpc::EstimateRouteFee)?;
        ensure_online(&self.0.node)?;
        let resp = super::lists::estimate_route_fee(&self.0.node, req.get_ref())?;
        Ok(Response::new(resp))
    }
}
