//! Buyer failover (issue #16 "L"): when paying the chosen offer of a 402 fails in a way that
//! proves no money moved (no route, insufficient balance, fee limit, invoice refused by the
//! wallet, ...), the client tries the next acceptable offer of the same 402, under the same
//! policy, `--max-cost` and budgets (the failed attempt's reservation is released first, so
//! the budget is charged once). A Lightning payment whose outcome is unknown (timeout, wallet
//! lost mid-payment) is first tracked to a final state (`TrackPaymentV2`, at most twice the
//! payment timeout, see `client::lightning`): a late success is used, a final failure fails
//! over; still unknown, it never fails over (paying another offer could pay twice).
//! `--no-failover` ([`Client::with_failover`](super::Client::with_failover)) disables it.

use gate402_protocols::ProtocolId;
use serde_json::{json, Value};

use super::ClientError;

/// One failed payment attempt before the final outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// Protocol of the offer tried.
    pub protocol: ProtocolId,
    /// Its rail (`lightning`, `evm:<network>`).
    pub rail: String,
    /// Error kind (`no_route`, `insufficient_balance`, ... or `invalid_invoice`).
    pub error: String,
    /// Human-readable message.
    pub message: String,
}

impl Attempt {
    /// Record a failed attempt.
    pub(super) fn new(protocol: ProtocolId, rail: String, e: &ClientError) -> Attempt {
        let error = match e {
            ClientError::Payment(r) | ClientError::TrackedFailure(r) => r.kind.as_str().to_owned(),
            ClientError::Invoice(_) => "invalid_invoice".to_owned(),
            _ => "error".to_owned(),
        };
        Attempt {
            protocol,
            rail,
            error,
            message: e.to_string(),
        }
    }

    /// As reported by `get --json` and the MCP tools.
    pub fn to_json(&self) -> Value {
        json!({
            "protocol": self.protocol.as_str(),
            "rail": self.rail,
            "error": self.error,
            "message": self.message,
        })
    }
}

/// Whether a failed attempt may be followed by the next offer: a payment failure that
/// proves no money moved.
pub(super) fn may_fail_over(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Payment(_) | ClientError::Invoice(_) | ClientError::TrackedFailure(_)
    ) && e.nothing_moved()
}
