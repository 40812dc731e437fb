//! Conversions between the simulator's types and LND's messages, and LND-style errors.

use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, watch};
use tonic::Status;

use crate::lnd::proto::lnrpc::{self, invoice::InvoiceState as PbState};
use crate::simnet::{InvoiceRecord, SimNode};
use crate::{InvoiceState, PaymentHash, RailError, RailErrorKind};

/// `min_final_cltv_expiry_delta` of simnet invoices (the BOLT11 default).
const MIN_FINAL_CLTV_EXPIRY_DELTA: u64 = 18;

/// Capacity of each response stream's buffer.
pub(crate) const STREAM_BUFFER: usize = 64;

/// A response stream fed by a task.
pub(crate) type PbStream<T> = tokio_stream::wrappers::ReceiverStream<Result<T, Status>>;

/// A bounded channel and the stream reading it.
pub(crate) fn stream_channel<T>() -> (mpsc::Sender<Result<T, Status>>, PbStream<T>) {
    let (tx, rx) = mpsc::channel(STREAM_BUFFER);
    (tx, PbStream::new(rx))
}

/// Resolves when the server is shutting down.
pub(crate) async fn stopping(mut shutdown: watch::Receiver<bool>) {
    // An error means the handle is gone: stop as well.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// gRPC status for a simulator error, with the code LND uses for it.
pub(crate) fn status(e: RailError) -> Status {
    let RailError { kind, message } = e;
    match kind {
        RailErrorKind::Unavailable | RailErrorKind::Busy => Status::unavailable(message),
        RailErrorKind::NotFound => Status::not_found(message),
        RailErrorKind::InvalidInvoice => Status::invalid_argument(message),
        RailErrorKind::PermissionDenied => Status::permission_denied(message),
        RailErrorKind::Timeout => Status::deadline_exceeded(message),
        RailErrorKind::AlreadyPaid => Status::already_exists(message),
        RailErrorKind::NoRoute
        | RailErrorKind::InsufficientBalance
        | RailErrorKind::FeeLimitExceeded
        | RailErrorKind::Certificate
        | RailErrorKind::Internal => Status::unknown(message),
    }
}

/// `Unavailable` when the simulated node is down (for RPCs that do not go through the node).
pub(crate) fn ensure_online(node: &SimNode) -> Result<(), Status> {
    if node.network().faults(node.name()).offline {
        Err(Status::unavailable("simnet node is offline"))
    } else {
        Ok(())
    }
}

/// A 32-byte hash from request bytes.
pub(crate) fn hash32(bytes: &[u8]) -> Result<PaymentHash, Status> {
    PaymentHash::try_from(bytes).map_err(|_| {
        Status::invalid_argument(format!(
            "payment hash must be exactly 32 bytes, is instead {}",
            bytes.len()
        ))
    })
}

/// Current Unix time in nanoseconds.
pub(crate) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn pb_state(s: InvoiceState) -> PbState {
    match s {
        InvoiceState::Open => PbState::Open,
        InvoiceState::Settled => PbState::Settled,
        InvoiceState::Canceled => PbState::Canceled,
        InvoiceState::Accepted => PbState::Accepted,
    }
}

/// LND's `Invoice` for a simulator record (LND returns `r_preimage` to the invoice's owner).
pub(crate) fn invoice_pb(r: &InvoiceRecord) -> lnrpc::Invoice {
    let mut inv = lnrpc::Invoice {
        memo: r.memo.clone(),
        r_preimage: r.preimage.to_vec(),
        r_hash: r.payment_hash.to_vec(),
        value: i64_of(r.amount_msat / 1000),
        value_msat: i64_of(r.amount_msat),
        creation_date: i64_of(r.created_at),
        settle_date: i64_of(r.settled_at.unwrap_or(0)),
        payment_request: r.bolt11.clone(),
        expiry: i64_of(r.expiry_secs()),
        cltv_expiry: MIN_FINAL_CLTV_EXPIRY_DELTA,
        add_index: r.add_index,
        settle_index: r.settle_index,
        amt_paid_sat: i64_of(r.amt_paid_msat / 1000),
        amt_paid_msat: i64_of(r.amt_paid_msat),
        payment_addr: r.payment_secret.to_vec(),
        ..Default::default()
    };
    inv.set_state(pb_state(r.state));
    inv
}

/// Whether an invoice state is final (no further updates).
pub(crate) fn is_final(s: InvoiceState) -> bool {
    matches!(s, InvoiceState::Settled | InvoiceState::Canceled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_get_lnd_codes() {
        let e = |k| status(RailError::new(k, "m")).code();
        assert_eq!(e(RailErrorKind::Unavailable), tonic::Code::Unavailable);
        assert_eq!(e(RailErrorKind::NotFound), tonic::Code::NotFound);
        assert_eq!(e(RailErrorKind::AlreadyPaid), tonic::Code::AlreadyExists);
        assert_eq!(e(RailErrorKind::Internal), tonic::Code::Unknown);
        assert!(hash32(&[0; 31]).is_err());
        assert!(hash32(&[0; 32]).is_ok());
    }
}
