//! Fuzz the macaroon codecs (V2 and V1 binary, base64): decoding never panics and whatever
//! decodes re-encodes to an equal macaroon.
#![no_main]

use gate402_protocols::l402::Macaroon;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Macaroon::decode(data) {
        let v2 = m.encode_v2();
        assert_eq!(Macaroon::decode(&v2).as_ref(), Ok(&m));
        assert_eq!(Macaroon::from_base64(&m.to_base64()).as_ref(), Ok(&m));
        let _ = m.verify_signature(b"fuzz");
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Macaroon::from_base64(text);
    }
});
