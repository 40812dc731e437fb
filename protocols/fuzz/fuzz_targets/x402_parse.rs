//! Fuzz the x402 parsers a stranger reaches: the `PAYMENT-SIGNATURE` (v2) / `X-PAYMENT` (v1)
//! payment header and its EVM payload (server side); the `PAYMENT-REQUIRED` header, the v1
//! JSON 402 body and `PAYMENT-RESPONSE` (buyer side).
#![no_main]

use gate402_protocols::x402::{exact, wire, EvmPayment, SettleResponse, X402};
use gate402_protocols::{NoRailFacts, Offer, PaymentProtocol};
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let x402 = X402::new(std::iter::empty());
    match sel % 4 {
        0 | 1 => {
            let name = if sel % 2 == 0 {
                "payment-signature"
            } else {
                "x-payment"
            };
            if let Ok(value) = HeaderValue::from_bytes(rest) {
                let mut headers = HeaderMap::new();
                headers.append(HeaderName::from_static(name), value);
                if let Some(Ok(credential)) = x402.parse_credential(&headers) {
                    let offer = Offer {
                        service: "api".into(),
                        price_msat: 1_000,
                        capabilities: vec![],
                        valid_for_secs: None,
                        bind_price: false,
                    };
                    let _ = x402.verify(&credential, &offer, &NoRailFacts, 1_750_000_000);
                }
            }
            if let Ok(value) = serde_json::from_slice::<serde_json::Value>(rest) {
                if let Ok(p) = EvmPayment::from_payload(&value) {
                    let again = EvmPayment::from_payload(&p.to_payload()).expect("round trip");
                    assert_eq!(again.to_payload(), p.to_payload());
                }
            }
            if let Ok(text) = std::str::from_utf8(rest) {
                let _ = (exact::parse_network(text), exact::parse_dec(text));
            }
        }
        2 => {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_bytes(rest) {
                headers.append(HeaderName::from_static("payment-required"), value);
            }
            for c in x402.parse_challenges(&headers, b"").into_iter().flatten() {
                let _ = c;
            }
            // The same bytes as a v1 JSON body.
            for c in x402
                .parse_challenges(&HeaderMap::new(), rest)
                .into_iter()
                .flatten()
            {
                let _ = c;
            }
        }
        _ => {
            let _ = wire::decode_header::<SettleResponse>(rest, "PAYMENT-RESPONSE");
        }
    }
});
