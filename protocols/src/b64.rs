//! Base64 helpers shared by the protocols.
//!
//! Peers disagree on the alphabet and on padding (Go `StdEncoding` wants standard + padding,
//! the Rust `macaroon` crate emits URL-safe + padding, `pymacaroons` URL-safe without padding),
//! so decoding is tolerant while encoding always produces **standard alphabet with padding**,
//! the only form every peer decodes.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

/// Decoder config: padding optional, trailing bits must be zero (canonical input only).
const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);

/// Standard alphabet (`+`, `/`), padding optional.
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);

/// URL-safe alphabet (`-`, `_`), padding optional.
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Encode with the standard alphabet and `=` padding.
pub fn encode_std(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// [`encode_std`], appended to `out`.
pub fn encode_std_into(bytes: &[u8], out: &mut String) {
    STANDARD.encode_string(bytes, out);
}

/// Decode base64 in the standard or the URL-safe alphabet, padded or not.
///
/// The standard alphabet is tried first (what conforming peers send), then the URL-safe one;
/// mixing both alphabets is an error. Returns `None` on any malformed input.
pub fn decode_flexible(input: &[u8]) -> Option<Vec<u8>> {
    STANDARD_LENIENT
        .decode(input)
        .or_else(|_| URL_SAFE_LENIENT.decode(input))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_variant() {
        let bytes = [0xfbu8, 0xff, 0xfe, 0x01];
        for s in ["+//+AQ==", "+//+AQ", "-__-AQ==", "-__-AQ"] {
            assert_eq!(
                decode_flexible(s.as_bytes()).as_deref(),
                Some(&bytes[..]),
                "{s}"
            );
        }
        assert_eq!(encode_std(&bytes), "+//+AQ==");
        let mut s = String::from("x");
        encode_std_into(&bytes, &mut s);
        assert_eq!(s, "x+//+AQ==");
    }

    #[test]
    fn rejects_garbage() {
        for s in ["+_", "a", "a===", "ab!c", "AR=="] {
            assert_eq!(decode_flexible(s.as_bytes()), None, "{s}");
        }
    }
}
