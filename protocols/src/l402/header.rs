//! Server side: find and parse an L402 credential in request headers.
//!
//! Accepted (spec §0 "Accept"), in order of precedence:
//!
//! 1. `Authorization: <L402|LSAT> <base64 macaroon>:<hex preimage>` — scheme in any case,
//!    one or more spaces, base64 standard or URL-safe, padded or not, hex in either case.
//!    With several `Authorization` lines the **last** L402/LSAT one decides (Aperture).
//! 2. `Grpc-Metadata-Macaroon: <hex macaroon>`, then 3. `Macaroon: <hex macaroon>`, the
//!    preimage taken from a `preimage=<hex>` first-party caveat (Aperture's gRPC client).
//!
//! Several comma-separated macaroons before the `:` (a spec form nobody implements; the extra
//! macaroons would be discharges for third-party caveats we never accept) are refused.
//! Any value over [`MAX_HEADER_BYTES`] is refused before decoding.

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::{codec, hexfmt, L402Credential, Macaroon};
use crate::{b64, ParseError, MAX_HEADER_BYTES};

/// Aperture's gRPC metadata header, as seen over HTTP.
const GRPC_MACAROON: HeaderName = HeaderName::from_static("grpc-metadata-macaroon");
/// Plain macaroon header.
const MACAROON: HeaderName = HeaderName::from_static("macaroon");

fn check_size(v: &HeaderValue) -> Result<&[u8], ParseError> {
    let b = v.as_bytes();
    if b.len() > MAX_HEADER_BYTES {
        return Err(ParseError::Oversized {
            len: b.len(),
            max: MAX_HEADER_BYTES,
        });
    }
    Ok(b)
}

fn trim(mut b: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = b {
        b = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = b {
        b = rest;
    }
    b
}

/// The credentials after an `L402`/`LSAT` scheme, or `None` for other schemes.
fn strip_scheme(value: &[u8]) -> Option<&[u8]> {
    let value = trim(value);
    let (scheme, rest) = value.split_at_checked(4)?;
    if !scheme.eq_ignore_ascii_case(b"L402") && !scheme.eq_ignore_ascii_case(b"LSAT") {
        return None;
    }
    match rest.first() {
        None => Some(rest),
        Some(b' ' | b'\t') => Some(trim(rest)),
        Some(_) => None,
    }
}

fn decode_preimage(hex_text: &[u8]) -> Result<[u8; 32], ParseError> {
    hexfmt::decode32(hex_text).ok_or(ParseError::Hex("preimage"))
}

/// Parse `<base64 macaroon>:<hex preimage>`.
pub(crate) fn parse_token(token: &[u8]) -> Result<L402Credential, ParseError> {
    if !token.is_ascii() {
        return Err(ParseError::NotText);
    }
    if token.is_empty() {
        return Err(ParseError::MissingParam("macaroon"));
    }
    // The preimage is a fixed 64 hex digits at the end: search from there. A stray `:` in the
    // macaroon part is then refused by the base64 decoder.
    let colon = token
        .iter()
        .rposition(|&b| b == b':')
        .ok_or(ParseError::MissingParam("preimage"))?;
    let (mac, preimage) = (&token[..colon], &token[colon + 1..]);
    if mac.is_empty() {
        return Err(ParseError::MissingParam("macaroon"));
    }
    if mac.contains(&b',') {
        return Err(ParseError::Syntax("several macaroons are not supported"));
    }
    let preimage = decode_preimage(preimage)?;
    let bytes = b64::decode_flexible(mac).ok_or(ParseError::Base64("macaroon"))?;
    Ok(L402Credential {
        macaroon: codec::decode(bytes)?,
        preimage,
    })
}

/// Parse a hex macaroon carrying a `preimage=<hex>` caveat.
fn parse_macaroon_header(value: &[u8]) -> Result<L402Credential, ParseError> {
    let bytes = hex::decode(trim(value)).map_err(|_| ParseError::Hex("macaroon"))?;
    let macaroon = codec::decode(bytes)?;
    let preimage = macaroon
        .caveats()
        .find_map(|c| c.strip_prefix(b"preimage="))
        .ok_or(ParseError::MissingParam("preimage"))
        .and_then(decode_preimage)?;
    Ok(L402Credential { macaroon, preimage })
}

/// Find the L402 credential in `headers` (`None` when there is none at all).
pub(crate) fn parse_credential(headers: &HeaderMap) -> Option<Result<L402Credential, ParseError>> {
    let mut chosen = None;
    for v in headers.get_all(AUTHORIZATION) {
        let b = match check_size(v) {
            Ok(b) => b,
            Err(e) => return Some(Err(e)),
        };
        if let Some(token) = strip_scheme(b) {
            chosen = Some(token);
        }
    }
    if let Some(token) = chosen {
        return Some(parse_token(token));
    }
    for name in [GRPC_MACAROON, MACAROON] {
        if let Some(v) = headers.get(name) {
            return Some(check_size(v).and_then(parse_macaroon_header));
        }
    }
    None
}

/// `L402 <std-b64 macaroon>:<lowercase hex preimage>`.
pub(crate) fn authorization_value(macaroon: &Macaroon, preimage: &[u8; 32]) -> String {
    format!("L402 {}:{}", macaroon.to_base64(), hexfmt::encode(preimage))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_detection() {
        assert_eq!(strip_scheme(b"L402 a:b"), Some(&b"a:b"[..]));
        assert_eq!(strip_scheme(b"  lsat \t a:b "), Some(&b"a:b"[..]));
        assert_eq!(strip_scheme(b"LsAt"), Some(&b""[..]));
        assert_eq!(strip_scheme(b"L402x a:b"), None);
        assert_eq!(strip_scheme(b"Bearer x"), None);
        assert_eq!(strip_scheme(b"L40"), None);
    }
}
