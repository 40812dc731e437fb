//! Client side of x402: reading challenges (v2 header, v1 body) and building payment headers.

use http::{HeaderMap, HeaderValue};
use serde_json::{json, Value};

use super::wire::{self, PaymentRequired, PaymentRequiredV1, PaymentRequirements};
use super::{X402Challenge, PAYMENT_REQUIRED, PAYMENT_SIGNATURE, X_PAYMENT};
use crate::{HeaderPair, ParseError, PaymentProof};

/// Every x402 `accepts` entry of a 402: the `PAYMENT-REQUIRED` header (v2) if present, else a
/// JSON body with `x402Version: 1` (what `@x402/fetch` does).
pub fn parse_challenges(
    headers: &HeaderMap,
    body: &[u8],
) -> Vec<Result<X402Challenge, ParseError>> {
    if let Some(v) = headers.get(PAYMENT_REQUIRED) {
        let pr: PaymentRequired = match wire::decode_header(v.as_bytes(), "PAYMENT-REQUIRED") {
            Ok(pr) => pr,
            Err(e) => return vec![Err(e)],
        };
        let resource = serde_json::to_value(&pr.resource).ok();
        return pr
            .accepts
            .into_iter()
            .map(|raw| {
                let requirement: PaymentRequirements = serde_json::from_value(raw.clone())
                    .map_err(|_| ParseError::Json("accepts entry"))?;
                Ok(X402Challenge {
                    version: 2,
                    resource: resource.clone(),
                    raw,
                    requirement,
                })
            })
            .collect();
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    if v.get("x402Version").and_then(Value::as_u64) != Some(1) {
        return Vec::new();
    }
    match serde_json::from_value::<PaymentRequiredV1>(v.clone()) {
        Ok(pr) => pr
            .accepts
            .into_iter()
            .zip(v["accepts"].as_array().cloned().unwrap_or_default())
            .map(|(entry, raw)| {
                Ok(X402Challenge {
                    version: 1,
                    resource: None,
                    raw,
                    requirement: entry.to_v2(),
                })
            })
            .collect(),
        Err(_) => vec![Err(ParseError::Json("x402 v1 body"))],
    }
}

/// The payment header for `challenge`: a Lightning-variant entry needs no proof beyond having
/// paid its invoice (Alby's format sends the invoice); an EVM entry needs a signed
/// [`PaymentProof::Evm`].
pub fn credential_header(
    c: &X402Challenge,
    proof: &PaymentProof,
) -> Result<HeaderPair, ParseError> {
    let payload = if let Some(invoice) = c.invoice() {
        json!({ "invoice": invoice })
    } else {
        match proof {
            PaymentProof::Evm(p) => p.to_payload(),
            _ => {
                return Err(ParseError::Syntax(
                    "an EVM x402 entry needs a signed authorization",
                ))
            }
        }
    };
    let (name, body) = if c.version == 1 {
        let body = json!({
            "x402Version": 1,
            "scheme": c.requirement.scheme,
            "network": c.requirement.network,
            "payload": payload,
        });
        (X_PAYMENT, body)
    } else if c.is_lightning() {
        let body = json!({
            "x402Version": 2,
            "scheme": c.requirement.scheme,
            "network": c.requirement.network,
            "payload": payload,
            "accepted": c.raw,
        });
        (PAYMENT_SIGNATURE, body)
    } else {
        let mut body = json!({ "x402Version": 2, "payload": payload, "accepted": c.raw });
        if let Some(r) = &c.resource {
            body["resource"] = r.clone();
        }
        (PAYMENT_SIGNATURE, body)
    };
    let value = HeaderValue::try_from(wire::encode_header(&body))
        .map_err(|_| ParseError::Syntax("invalid header value"))?;
    Ok((name, value))
}
