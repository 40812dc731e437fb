//! Decoding what a paid response says about the payment: MPP `Payment-Receipt`
//! (base64url JSON) and x402 `PAYMENT-RESPONSE` / `X-PAYMENT-RESPONSE` (base64 JSON).

use bytes::Bytes;
use gate402_protocols::x402::wire::decode_header;
use http::Response;
use serde_json::Value;

/// The decoded MPP receipt, if the response carries one.
pub(super) fn mpp(resp: &Response<Bytes>) -> Option<Value> {
    let v = resp.headers().get("payment-receipt")?.to_str().ok()?;
    let bytes = gate402_protocols::mpp::b64url::decode(v.trim())?;
    serde_json::from_slice(&bytes).ok()
}

/// The decoded x402 settlement response, if the response carries one.
pub(super) fn x402(resp: &Response<Bytes>) -> Option<Value> {
    let h = resp
        .headers()
        .get("payment-response")
        .or_else(|| resp.headers().get("x-payment-response"))?;
    decode_header::<Value>(h.as_bytes(), "receipt").ok()
}
