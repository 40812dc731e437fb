//! Fuzz the client side: the generic RFC 9110 challenge-list parser and the L402 challenge
//! reader over `WWW-Authenticate` values.
#![no_main]

use gate402_protocols::auth_header::parse_challenges;
use gate402_protocols::l402::L402;
use gate402_protocols::PaymentProtocol;
use http::header::WWW_AUTHENTICATE;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(challenges) = parse_challenges(text) {
            for c in &challenges {
                // Every parsed challenge has a non-empty scheme.
                assert!(!c.scheme.is_empty());
            }
        }
    }
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.append(WWW_AUTHENTICATE, value);
    let l402 = L402::new(&[0x42; 32]).expect("valid secret");
    for challenge in l402.parse_challenges(&headers, b"").into_iter().flatten() {
        let _ = challenge.invoice();
    }
});
