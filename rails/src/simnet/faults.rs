//! Fault injection for simulated nodes: outages, unroutable nodes, slow calls, failing payments.

use std::time::Duration;

/// Faults injected into one simulated node. [`Default`] is a healthy node.
///
/// Mapping to LND behaviour:
/// * `offline`: the node's own RPCs fail with [`Unavailable`](crate::RailErrorKind::Unavailable)
///   (the client cannot reach it); as a *payee* it is unreachable, so payments to it fail like
///   LND's `FAILURE_REASON_NO_ROUTE` ([`NoRoute`](crate::RailErrorKind::NoRoute)).
/// * `no_route`: no usable channel to or from the node: payments it sends, and payments sent to
///   it, fail with [`NoRoute`](crate::RailErrorKind::NoRoute).
/// * `hang`: the node accepts calls and never answers them while the fault lasts (a hung lnd:
///   a deadlock, a stuck disk); calls resume when it is cleared.
/// * `hold_payments`: outgoing payments stay in flight for the duration, then settle (a slow
///   or stuck route); the caller's timeout does not cancel them.
/// * `fail_next_payments`: the next N payments this node *sends* fail with
///   [`NoRoute`](crate::RailErrorKind::NoRoute) (LND reports exhausted retries on temporary
///   channel failures as `FAILURE_REASON_NO_ROUTE`); each failure decrements the counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Faults {
    /// The node is down.
    pub offline: bool,
    /// No route to or from the node.
    pub no_route: bool,
    /// Extra latency of every `create_invoice` on this node (tokio sleep).
    pub add_invoice_delay: Option<Duration>,
    /// Extra latency of every payment this node sends or receives (payer and payee delays add
    /// up). A total delay longer than the payer's `PayLimits::timeout` fails with
    /// [`Timeout`](crate::RailErrorKind::Timeout) and moves no money.
    pub pay_delay: Option<Duration>,
    /// Outgoing payments of this node stay in flight this long whatever the payer's timeout
    /// (an HTLC already on the wire: LND's `timeout_seconds` only bounds new attempts), then
    /// settle. The settlement runs in its own task: a caller that gives up does not cancel it
    /// ([`LightningRail::track_payment`](crate::LightningRail::track_payment) sees the outcome).
    pub hold_payments: Option<Duration>,
    /// Number of upcoming outgoing payments that fail with `NoRoute`.
    pub fail_next_payments: u32,
    /// Every call waits without answering while this is set.
    pub hang: bool,
}

impl Faults {
    /// A node that is down.
    pub fn offline() -> Self {
        Faults {
            offline: true,
            ..Faults::default()
        }
    }

    /// A node without usable channels.
    pub fn no_route() -> Self {
        Faults {
            no_route: true,
            ..Faults::default()
        }
    }
}
