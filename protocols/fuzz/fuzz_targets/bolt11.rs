//! Fuzz BOLT11 handling on the buyer side: `gate402_rails::decode_bolt11` (the decoder the
//! buyer checks every invoice of a challenge with before paying) on arbitrary text. Never
//! panics; a decoded invoice has a consistent expiry.
#![no_main]

use gate402_rails::decode_bolt11;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(inv) = decode_bolt11(text) {
        assert!(inv.expires_at >= inv.created_at);
    }
});
