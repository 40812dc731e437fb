//! Rules on a paid exchange (`--pay`): the paid retry is served, the receipt is there and
//! says what was paid, an L402 token is reusable, and a single-use credential (MPP charge,
//! x402 payment) presented again is refused.

use bytes::Bytes;
use gate402_protocols::mpp::{self, MppReceipt};
use gate402_protocols::x402::wire::{decode_header, SettleResponse};
use http::{header, Response, StatusCode};

use super::report::{Finding, Level, Rule};

rule!(
    L402_ACCEPTED,
    "l402.pay.accepted",
    "L402 protocol-specification.md \"Client Flow\"",
    "the paid L402 token is accepted"
);
rule!(
    L402_REUSE,
    "l402.pay.reuse",
    "L402 macaroon-spec.md; lnget token cache",
    "the L402 token works again (tokens are reusable until their caveats expire)"
);
rule!(
    MPP_ACCEPTED,
    "mpp.pay.accepted",
    "draft-ryan-httpauth-payment-01 §4.2",
    "the paid MPP credential is accepted"
);
rule!(
    MPP_RECEIPT,
    "mpp.receipt.present",
    "draft-ryan-httpauth-payment-01 §5.3; draft-lightning-charge-00 §10.2",
    "the paid response carries Payment-Receipt"
);
rule!(
    MPP_RECEIPT_VALID,
    "mpp.receipt.valid",
    "draft-ryan-httpauth-payment-01 §5.3; draft-lightning-charge-00 §10.2",
    "the receipt decodes: status success, method, reference = payment hash, challengeId"
);
rule!(
    MPP_PRIVATE,
    "mpp.receipt.cache-control",
    "draft-ryan-httpauth-payment-01 §11.10",
    "a response with Payment-Receipt carries Cache-Control: private"
);
rule!(
    MPP_REPLAY,
    "mpp.replay.refused",
    "draft-ryan-httpauth-payment-01 §11.3; draft-lightning-charge-00 §10",
    "the same MPP credential presented again is refused"
);
rule!(
    X402_ACCEPTED,
    "x402.pay.accepted",
    "x402 transports-v2/http.md",
    "the paid x402 payment is accepted"
);
rule!(
    X402_RECEIPT,
    "x402.receipt.present",
    "x402 transports-v2/http.md \"Settlement Response Delivery\"",
    "the paid response carries PAYMENT-RESPONSE (v1: X-PAYMENT-RESPONSE)"
);
rule!(
    X402_RECEIPT_VALID,
    "x402.receipt.valid",
    "x402-specification-v2 §5.3",
    "the settlement response decodes: success, transaction, network"
);
rule!(
    X402_REPLAY,
    "x402.replay.refused",
    "x402-specification-v2 §9 (replay); EIP-3009 nonces",
    "the same x402 payment presented again is refused"
);

/// Every rule about paid exchanges.
pub const RULES: &[&Rule] = &[
    &L402_ACCEPTED,
    &L402_REUSE,
    &MPP_ACCEPTED,
    &MPP_RECEIPT,
    &MPP_RECEIPT_VALID,
    &MPP_PRIVATE,
    &MPP_REPLAY,
    &X402_ACCEPTED,
    &X402_RECEIPT,
    &X402_RECEIPT_VALID,
    &X402_REPLAY,
];

/// The paid retry was served.
pub fn accepted(protocol: &str, resp: &Response<Bytes>) -> Finding {
    let rule = match protocol {
        "l402" => &L402_ACCEPTED,
        "mpp" => &MPP_ACCEPTED,
        _ => &X402_ACCEPTED,
    };
    let s = resp.status();
    let reason = resp
        .headers()
        .get("gate402-reason")
        .and_then(|v| v.to_str().ok())
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    Finding::check(
        rule,
        s.is_success() || s.is_redirection(),
        Level::Fail,
        format!("paid request served: {s}"),
        format!("paid request answered {s}{reason}: the payment bought nothing"),
    )
}

/// An L402 token presented a second time.
pub fn l402_reuse(resp: &Response<Bytes>) -> Finding {
    let s = resp.status();
    Finding::check(
        &L402_REUSE,
        s.is_success() || s.is_redirection(),
        Level::Warn,
        format!("the token works again: {s}"),
        format!("the token was refused the second time ({s}): clients (lnget) cache and reuse L402 tokens"),
    )
}

/// The MPP receipt rules for a paid response (`id`, `hash`: the challenge paid).
pub fn mpp_receipt(
    resp: &Response<Bytes>,
    method: &str,
    id: &str,
    hash: Option<&str>,
) -> Vec<Finding> {
    let Some(value) = resp
        .headers()
        .get("payment-receipt")
        .and_then(|v| v.to_str().ok())
    else {
        return vec![Finding::new(
            &MPP_RECEIPT,
            Level::Warn,
            "no Payment-Receipt on the paid response",
        )];
    };
    let mut out = vec![Finding::new(
        &MPP_RECEIPT,
        Level::Pass,
        "Payment-Receipt present",
    )];
    out.push(match MppReceipt::parse(value) {
        Err(e) => Finding::new(
            &MPP_RECEIPT_VALID,
            Level::Warn,
            format!("Payment-Receipt does not decode: {e}"),
        ),
        Ok(r) => {
            let mut bad = Vec::new();
            if r.status != "success" {
                bad.push(format!("status {:?}", r.status));
            }
            if r.method != method {
                bad.push(format!("method {:?} (paid {method})", r.method));
            }
            if mpp::time::parse_rfc3339(&r.timestamp).is_none() {
                bad.push(format!("timestamp {:?} not RFC 3339", r.timestamp));
            }
            if method == mpp::METHOD {
                if hash.is_some_and(|h| !r.reference.eq_ignore_ascii_case(h)) {
                    bad.push("reference is not the payment hash".into());
                }
                if r.challenge_id.as_deref() != Some(id) {
                    bad.push(format!("challengeId {:?} (paid {id})", r.challenge_id));
                }
            }
            Finding::check(
                &MPP_RECEIPT_VALID,
                bad.is_empty(),
                Level::Warn,
                format!("receipt: success, {}, reference {}", r.method, r.reference),
                bad.join("; "),
            )
        }
    });
    let cc = resp
        .headers()
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let private = cc.split(',').any(|d| {
        matches!(
            d.trim().to_ascii_lowercase().as_str(),
            "private" | "no-store"
        )
    });
    out.push(Finding::check(
        &MPP_PRIVATE,
        private,
        Level::Warn,
        format!("Cache-Control: {cc}"),
        format!("Cache-Control {cc:?} on a receipt: shared caches may store it (private expected)"),
    ));
    out
}

/// The x402 receipt rules (`network`: the entry paid).
pub fn x402_receipt(resp: &Response<Bytes>, network: &str) -> Vec<Finding> {
    let h = resp
        .headers()
        .get("payment-response")
        .or_else(|| resp.headers().get("x-payment-response"));
    let Some(h) = h else {
        return vec![Finding::new(
            &X402_RECEIPT,
            Level::Warn,
            "no PAYMENT-RESPONSE on the paid response",
        )];
    };
    let mut out = vec![Finding::new(
        &X402_RECEIPT,
        Level::Pass,
        "PAYMENT-RESPONSE present",
    )];
    out.push(
        match decode_header::<SettleResponse>(h.as_bytes(), "PAYMENT-RESPONSE") {
            Err(e) => Finding::new(
                &X402_RECEIPT_VALID,
                Level::Warn,
                format!("does not decode: {e}"),
            ),
            Ok(r) => {
                let ok = r.success && !r.transaction.is_empty() && r.network == network;
                Finding::check(
                    &X402_RECEIPT_VALID,
                    ok,
                    Level::Warn,
                    format!("settled on {}: {}", r.network, r.transaction),
                    format!(
                        "success {}, transaction {:?}, network {:?} (paid on {network})",
                        r.success, r.transaction, r.network
                    ),
                )
            }
        },
    );
    out
}

/// A single-use credential presented a second time must not be served.
pub fn replay(protocol: &str, resp: &Response<Bytes>) -> Finding {
    let rule = if protocol == "mpp" {
        &MPP_REPLAY
    } else {
        &X402_REPLAY
    };
    let s = resp.status();
    if s.is_success() || s.is_redirection() {
        return Finding::new(
            rule,
            Level::Fail,
            format!(
                "the replayed credential was served ({s}): one payment buys unlimited requests"
            ),
        );
    }
    let ok = matches!(s, StatusCode::PAYMENT_REQUIRED | StatusCode::FORBIDDEN);
    Finding::check(
        rule,
        ok,
        Level::Warn,
        format!("replay refused: {s}"),
        format!("replay refused with {s} (402 with a fresh challenge, or 403, expected)"),
    )
}
