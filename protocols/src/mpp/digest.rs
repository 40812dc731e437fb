//! Request-body digests for challenges bound to a body (the `digest` auth-param).
//!
//! A challenge answering a request with a body carries `digest="sha-256=:<base64>:"` — the
//! RFC 9530 `Content-Digest` member for SHA-256 (a structured-field byte sequence, as in the
//! core draft's example) — and its id binds that string in the `digest` slot. A credential for
//! it is accepted only on a request whose body has the same SHA-256.
//!
//! Accepted on input: the RFC 9530 form (padding optional, RFC 8941 §4.2.7) and the bare
//! `sha-256=<base64>` form that mppx and `mpp` emit. Other algorithms never match.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const PREFIX: &str = "sha-256=";

/// The SHA-256 of a request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyDigest([u8; 32]);

impl BodyDigest {
    /// Digest of `body`.
    pub fn of(body: &[u8]) -> BodyDigest {
        BodyDigest(Sha256::digest(body).into())
    }

    /// The raw hash.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The auth-param value we emit: `sha-256=:<base64>:`.
    pub fn header_value(&self) -> String {
        format!("{PREFIX}:{}:", STANDARD.encode(self.0))
    }

    /// Whether a `digest` value (either accepted form) names this body.
    pub fn matches(&self, value: &str) -> bool {
        let Some(rest) = value.trim().strip_prefix(PREFIX) else {
            return false;
        };
        let b64 = match rest.strip_prefix(':') {
            Some(inner) => match inner.strip_suffix(':') {
                Some(b) => b,
                None => return false,
            },
            None => rest,
        };
        let b64 = b64.trim_end_matches('=');
        let mut out = [0u8; 32];
        match STANDARD_NO_PAD.decode_slice(b64, &mut out) {
            Ok(32) => bool::from(out.ct_eq(&self.0)),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_match_and_others_do_not() {
        let d = BodyDigest::of(b"hello");
        let v = d.header_value();
        assert_eq!(v, "sha-256=:LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=:");
        assert!(d.matches(&v));
        assert!(d.matches("sha-256=:LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ:"));
        assert!(d.matches("sha-256=LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="));
        assert!(!BodyDigest::of(b"world").matches(&v));
        for bad in [
            "",
            "sha-512=:LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=:",
            "sha-256=:LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=",
            "sha-256=:AAAA:",
            "sha-256=!!",
        ] {
            assert!(!d.matches(bad), "{bad}");
        }
    }
}
