//! alloy's transport errors as [`EvmError`]s: anything between us and a well-formed JSON-RPC
//! answer (refused, reset, TLS, timeout, HTTP 4xx/5xx, bad JSON, null result) is
//! [`EvmErrorKind::Unavailable`]; a JSON-RPC error answer is a refusal of the payment
//! ([`EvmErrorKind::Rejected`], reason from the revert text) where the call judges the
//! payment (`eth_call`, `eth_estimateGas`, `eth_sendRawTransaction`), and node trouble
//! everywhere else; local signing/usage failures are [`EvmErrorKind::Config`].

use alloy::transports::{RpcError, TransportError, TransportErrorKind};

use super::{revert_reason, EvmError, EvmErrorKind};
use crate::error_chain;

/// Longest piece of a node's answer quoted in an error message.
const QUOTE: usize = 200;

/// What a JSON-RPC error answer means for the call that got it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnErrorAnswer {
    /// The call judges the payment: a node error is a refusal (reverts, insufficient funds).
    Reject,
    /// A bookkeeping call (nonce, receipt, chain id): a node error is an outage.
    Outage,
}

/// Classify `e` from `what` (the RPC method or step, for the message).
pub(crate) fn classify(what: &str, e: &TransportError, on_answer: OnErrorAnswer) -> EvmError {
    match e {
        RpcError::ErrorResp(payload) => {
            let message = format!("{what}: {}", payload.message);
            match on_answer {
                OnErrorAnswer::Reject => EvmError::new(
                    EvmErrorKind::Rejected,
                    revert_reason(&payload.message),
                    message,
                ),
                OnErrorAnswer::Outage => {
                    EvmError::new(EvmErrorKind::Unavailable, "rpc_error", message)
                }
            }
        }
        RpcError::Transport(kind) => transport(what, kind),
        RpcError::DeserError { text, .. } => EvmError::new(
            EvmErrorKind::Unavailable,
            "rpc_bad_answer",
            format!("{what}: not a JSON-RPC answer: {}", quote(text)),
        ),
        RpcError::NullResp => EvmError::new(
            EvmErrorKind::Unavailable,
            "rpc_bad_answer",
            format!("{what}: null result"),
        ),
        RpcError::LocalUsageError(inner) => EvmError::new(
            EvmErrorKind::Config,
            "local_error",
            format!("{what}: {}", error_chain(inner.as_ref())),
        ),
        other => EvmError::new(
            EvmErrorKind::Unavailable,
            "rpc_error",
            format!("{what}: {other}"),
        ),
    }
}

fn transport(what: &str, kind: &TransportErrorKind) -> EvmError {
    let (reason, detail) = match kind {
        TransportErrorKind::HttpError(h) => (
            "rpc_http_error",
            format!("HTTP {}: {}", h.status, quote(&h.body)),
        ),
        TransportErrorKind::Custom(inner) => {
            let timeout = inner
                .downcast_ref::<reqwest::Error>()
                .is_some_and(reqwest::Error::is_timeout);
            let reason = if timeout {
                "timeout"
            } else {
                "rpc_unreachable"
            };
            (reason, error_chain(inner.as_ref()))
        }
        other => ("rpc_unreachable", other.to_string()),
    };
    EvmError::new(
        EvmErrorKind::Unavailable,
        reason,
        format!("{what}: {detail}"),
    )
}

fn quote(text: &str) -> String {
    let mut end = text.len().min(QUOTE);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let more = if end < text.len() { "…" } else { "" };
    format!("{}{more}", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revert(msg: &'static str) -> TransportError {
        let payload = serde_json::json!({"code": 3, "message": msg});
        RpcError::ErrorResp(serde_json::from_value(payload).unwrap())
    }

    #[test]
    fn reverts_are_refusals_only_where_the_call_judges_the_payment() {
        let e = revert("execution reverted: FiatTokenV2: authorization is used or canceled");
        let r = classify("eth_call", &e, OnErrorAnswer::Reject);
        assert_eq!(
            (r.kind, r.reason),
            (EvmErrorKind::Rejected, "nonce_already_used")
        );
        let r = classify("eth_getTransactionCount", &e, OnErrorAnswer::Outage);
        assert_eq!(r.kind, EvmErrorKind::Unavailable);
    }

    #[test]
    fn transport_trouble_is_unavailable() {
        let http = TransportErrorKind::http_error(502, "<html>bad gateway</html>".repeat(50));
        let r = classify("eth_call", &http, OnErrorAnswer::Reject);
        assert_eq!(
            (r.kind, r.reason),
            (EvmErrorKind::Unavailable, "rpc_http_error")
        );
        assert!(r.message.len() < 300, "long bodies are cut: {}", r.message);
        let bad: TransportError = RpcError::DeserError {
            err: serde_json::from_str::<u8>("x").unwrap_err(),
            text: "not json".into(),
        };
        let r = classify("eth_call", &bad, OnErrorAnswer::Reject);
        assert_eq!(
            (r.kind, r.reason),
            (EvmErrorKind::Unavailable, "rpc_bad_answer")
        );
        let r = classify("eth_call", &RpcError::NullResp, OnErrorAnswer::Reject);
        assert_eq!(r.kind, EvmErrorKind::Unavailable);
    }
}
