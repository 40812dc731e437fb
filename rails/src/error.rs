//! Rail errors, classified so the edge can map them (outage → 503, refusal → client error).

use thiserror::Error;

/// Classification of a [`RailError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RailErrorKind {
    /// No route to the payee.
    NoRoute,
    /// Not enough outbound balance.
    InsufficientBalance,
    /// The node is down or unreachable.
    Unavailable,
    /// The operation did not finish in time.
    Timeout,
    /// The credential (macaroon) does not allow the call.
    PermissionDenied,
    /// The invoice is unknown to the node.
    NotFound,
    /// The invoice is malformed, expired, amountless or for another network.
    InvalidInvoice,
    /// The invoice was already paid.
    AlreadyPaid,
    /// The fee limit would be exceeded.
    FeeLimitExceeded,
    /// The node's TLS certificate does not match the pinned one (a configuration error).
    Certificate,
    /// Anything else reported by the node.
    Internal,
    /// The caller's own limits refused the call (e.g. the gateway's minting bounds): retry
    /// later; the node itself was not asked.
    Busy,
}

impl RailErrorKind {
    /// Stable string id.
    pub fn as_str(self) -> &'static str {
        match self {
            RailErrorKind::NoRoute => "no_route",
            RailErrorKind::InsufficientBalance => "insufficient_balance",
            RailErrorKind::Unavailable => "unavailable",
            RailErrorKind::Timeout => "timeout",
            RailErrorKind::PermissionDenied => "permission_denied",
            RailErrorKind::NotFound => "not_found",
            RailErrorKind::InvalidInvoice => "invalid_invoice",
            RailErrorKind::AlreadyPaid => "already_paid",
            RailErrorKind::FeeLimitExceeded => "fee_limit_exceeded",
            RailErrorKind::Certificate => "certificate_mismatch",
            RailErrorKind::Internal => "internal",
            RailErrorKind::Busy => "busy",
        }
    }
}

/// An error from a payment rail.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{kind:?}: {message}")]
pub struct RailError {
    /// Classification.
    pub kind: RailErrorKind,
    /// Human-readable detail (never contains secrets).
    pub message: String,
}

impl RailError {
    /// Build an error of `kind`.
    pub fn new(kind: RailErrorKind, message: impl Into<String>) -> Self {
        RailError {
            kind,
            message: message.into(),
        }
    }

    /// Whether retrying the same operation later may succeed (outage, timeout).
    pub fn retryable(&self) -> bool {
        matches!(
            self.kind,
            RailErrorKind::Unavailable | RailErrorKind::Timeout | RailErrorKind::Busy
        )
    }
}
