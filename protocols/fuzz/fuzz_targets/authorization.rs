//! Fuzz the server side: credential discovery and parsing in request headers
//! (`Authorization`, `Grpc-Metadata-Macaroon`, `Macaroon`), then verification.
#![no_main]

use gate402_protocols::l402::L402;
use gate402_protocols::{NoRailFacts, Offer, PaymentProtocol};
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // First byte picks the header; the rest is its value.
    let Some((&sel, value)) = data.split_first() else {
        return;
    };
    let name = match sel % 3 {
        0 => "authorization",
        1 => "grpc-metadata-macaroon",
        _ => "macaroon",
    };
    let Ok(value) = HeaderValue::from_bytes(value) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.append(HeaderName::from_static(name), value);
    let l402 = L402::new(&[0x42; 32]).expect("valid secret");
    let offer = Offer {
        service: "api".into(),
        price_msat: 1_000,
        capabilities: vec!["read".into()],
        valid_for_secs: Some(3600),
        bind_price: false,
    };
    if let Some(Ok(credential)) = l402.parse_credential(&headers) {
        let _ = l402.verify(&credential, &offer, &NoRailFacts, 1_700_000_000);
    }
});
