//! Classification of LND's answers into [`RailError`]s: gRPC status codes, and the
//! `failure_reason` of failed payments.
//!
//! LND returns many errors with code `Unknown` and a Go error string, so when the code says
//! nothing the message is matched against LND's known texts ("invoice is already paid",
//! "unable to locate invoice", macaroon verification failures, …).

use tonic::{Code, Status};

use super::proto::lnrpc::PaymentFailureReason;
use crate::{RailError, RailErrorKind};

/// `e` and its sources, joined with `": "`, skipping messages already included.
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = String::new();
    append_chain(&mut out, Some(e));
    out
}

/// Append `e` and its sources to `out`, skipping messages `out` already contains.
fn append_chain(out: &mut String, mut cur: Option<&(dyn std::error::Error + 'static)>) {
    while let Some(e) = cur {
        let msg = e.to_string();
        if !out.contains(&msg) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&msg);
        }
        cur = e.source();
    }
}

/// Kind for an LND error message, when its text is recognisable.
fn kind_from_message(msg: &str) -> Option<RailErrorKind> {
    let m = msg.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| m.contains(n));
    if has(&["already paid", "already settled"]) {
        Some(RailErrorKind::AlreadyPaid)
    } else if has(&["unable to locate invoice", "there are no existing invoices"]) {
        Some(RailErrorKind::NotFound)
    } else if has(&["macaroon", "verification failed", "permission denied"]) {
        Some(RailErrorKind::PermissionDenied)
    } else if has(&[
        "invoice expired",
        "invalid payment request",
        "invalid bech32",
        "checksum failed",
        "not for current active network",
        "zero amount invoice",
    ]) {
        Some(RailErrorKind::InvalidInvoice)
    } else if has(&["insufficient", "not enough balance"]) {
        Some(RailErrorKind::InsufficientBalance)
    } else if has(&["unable to find a path", "no route"]) {
        Some(RailErrorKind::NoRoute)
    } else {
        None
    }
}

/// Classify a gRPC status from LND (or from the transport).
pub(crate) fn from_status(op: &str, status: &Status) -> RailError {
    let tls = std::error::Error::source(status).is_some_and(super::transport::is_tls_failure);
    let kind = match status.code() {
        Code::Unavailable if tls => RailErrorKind::Certificate,
        Code::Unavailable | Code::Cancelled | Code::Aborted => RailErrorKind::Unavailable,
        Code::PermissionDenied | Code::Unauthenticated => RailErrorKind::PermissionDenied,
        Code::DeadlineExceeded => RailErrorKind::Timeout,
        Code::AlreadyExists => RailErrorKind::AlreadyPaid,
        Code::NotFound => RailErrorKind::NotFound,
        Code::InvalidArgument => {
            kind_from_message(status.message()).unwrap_or(RailErrorKind::InvalidInvoice)
        }
        _ => kind_from_message(status.message()).unwrap_or(RailErrorKind::Internal),
    };
    let mut message = format!("LND {op}: {}", status.message());
    append_chain(&mut message, std::error::Error::source(status));
    RailError::new(kind, message)
}

/// Classify a `FAILED` payment by its `failure_reason`.
pub(crate) fn from_failure_reason(reason: PaymentFailureReason) -> RailError {
    use PaymentFailureReason as R;
    let kind = match reason {
        R::FailureReasonNoRoute => RailErrorKind::NoRoute,
        R::FailureReasonInsufficientBalance => RailErrorKind::InsufficientBalance,
        R::FailureReasonTimeout => RailErrorKind::Timeout,
        R::FailureReasonIncorrectPaymentDetails => RailErrorKind::InvalidInvoice,
        R::FailureReasonNone | R::FailureReasonError | R::FailureReasonCanceled => {
            RailErrorKind::Internal
        }
    };
    RailError::new(kind, format!("payment failed: {}", reason.as_str_name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_map_to_kinds() {
        let cases = [
            (
                Status::unavailable("connection refused"),
                RailErrorKind::Unavailable,
            ),
            (
                Status::permission_denied("x"),
                RailErrorKind::PermissionDenied,
            ),
            (
                Status::unauthenticated("x"),
                RailErrorKind::PermissionDenied,
            ),
            (Status::deadline_exceeded("x"), RailErrorKind::Timeout),
            (
                Status::already_exists("invoice is already paid"),
                RailErrorKind::AlreadyPaid,
            ),
            (
                Status::not_found("unable to locate invoice"),
                RailErrorKind::NotFound,
            ),
            (
                Status::unknown("verification failed: signature mismatch"),
                RailErrorKind::PermissionDenied,
            ),
            (
                Status::unknown("invoice is already paid"),
                RailErrorKind::AlreadyPaid,
            ),
            (Status::unknown("boom"), RailErrorKind::Internal),
            (
                Status::invalid_argument("bad"),
                RailErrorKind::InvalidInvoice,
            ),
        ];
        for (status, kind) in cases {
            assert_eq!(from_status("Call", &status).kind, kind, "{status:?}");
        }
    }

    #[test]
    fn failure_reasons_map_to_kinds() {
        use PaymentFailureReason as R;
        let cases = [
            (R::FailureReasonNoRoute, RailErrorKind::NoRoute),
            (
                R::FailureReasonInsufficientBalance,
                RailErrorKind::InsufficientBalance,
            ),
            (R::FailureReasonTimeout, RailErrorKind::Timeout),
            (
                R::FailureReasonIncorrectPaymentDetails,
                RailErrorKind::InvalidInvoice,
            ),
            (R::FailureReasonError, RailErrorKind::Internal),
            (R::FailureReasonCanceled, RailErrorKind::Internal),
        ];
        for (reason, kind) in cases {
            assert_eq!(from_failure_reason(reason).kind, kind);
        }
    }
}
