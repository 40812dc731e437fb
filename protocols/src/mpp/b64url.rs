//! base64url **without padding** (RFC 4648 §5), the only encoding MPP uses on the wire.
//!
//! Encoding never pads; decoding accepts padded and unpadded input (spec: "MUST accept input
//! with or without padding"), and nothing else (no standard alphabet, no whitespace).

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Encode as base64url without padding.
pub fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decode base64url, padded or not. `None` on any malformed input.
pub fn decode(input: &str) -> Option<Vec<u8>> {
    LENIENT.decode(input.as_bytes()).ok()
}

/// Decode base64url (padded or not) into exactly `out.len()` bytes, without allocating.
/// `false` on malformed input or another length.
pub fn decode_into(input: &str, out: &mut [u8]) -> bool {
    let mut buf = [0u8; 64];
    match LENIENT.decode_slice(input.as_bytes(), &mut buf) {
        Ok(n) if n == out.len() && n <= buf.len() => {
            out.copy_from_slice(&buf[..n]);
            true
        }
        _ => false,
    }
}

/// Append the base64url (no padding) of `bytes` to `out`.
pub fn encode_into(bytes: &[u8], out: &mut String) {
    URL_SAFE_NO_PAD.encode_string(bytes, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_and_padding() {
        assert_eq!(
            encode(br#"{"amount":"1000000"}"#),
            "eyJhbW91bnQiOiIxMDAwMDAwIn0"
        );
        assert_eq!(
            decode("eyJhbW91bnQiOiIxMDAwMDAwIn0=").unwrap(),
            br#"{"amount":"1000000"}"#
        );
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
        assert!(decode("+/8").is_none());
        assert!(decode("a").is_none());
        let mut two = [0u8; 2];
        assert!(decode_into("-_8", &mut two) && two == [0xfb, 0xff]);
        assert!(decode_into("-_8=", &mut two));
        assert!(!decode_into("-_-_", &mut two), "3 bytes");
        assert!(!decode_into("+/8", &mut two));
        let long = encode(&[1u8; 80]);
        assert!(
            !decode_into(&long, &mut two),
            "longer than the scratch buffer"
        );
        let mut s = String::from("x");
        encode_into(&[0xfb, 0xff], &mut s);
        assert_eq!(s, "x-_8");
    }
}
