//! Challenge-id binding: `id = base64url(HMAC-SHA256(secret, slots))` (the SDKs' scheme).
//!
//! Slots, joined by `|`, absent fields as empty strings:
//! `realm | method | intent | request | expires | digest | opaque`, and, when the challenge
//! advertises `header="Payment-Authorization"`, that value inserted **before** `opaque`
//! (mppx 0.11.0 `idBindingInput`, `mpp` 0.18.2 `compute_challenge_id_with_header`). The
//! `request` and `opaque` slots take the wire strings as sent. Ids are compared in constant
//! time. An [`IdKey`] keeps the HMAC state after the key schedule, so each id costs only the
//! message blocks (the key's two compressions are paid once, at start).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::b64url;

/// The one credential header a challenge may advertise besides the default `Authorization`.
pub const PAYMENT_AUTHORIZATION: &str = "Payment-Authorization";

/// The fields of a challenge that its id binds (`description` is never bound).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BoundFields<'a> {
    /// `realm`.
    pub realm: &'a str,
    /// `method`.
    pub method: &'a str,
    /// `intent`.
    pub intent: &'a str,
    /// `request`, the base64url wire string.
    pub request: &'a str,
    /// `expires`, as sent.
    pub expires: Option<&'a str>,
    /// `digest`, as sent.
    pub digest: Option<&'a str>,
    /// `opaque`, the base64url wire string.
    pub opaque: Option<&'a str>,
    /// `header`; only `Payment-Authorization` (any case) is bound, anything else is ignored.
    pub header: Option<&'a str>,
}

/// An HMAC-SHA256 key ready for use (inner and outer pads already absorbed). `Debug` shows
/// nothing of the key.
#[derive(Clone)]
pub struct IdKey(Hmac<Sha256>);

impl std::fmt::Debug for IdKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdKey(<redacted>)")
    }
}

impl IdKey {
    /// The key for `secret`.
    pub fn new(secret: &[u8]) -> IdKey {
        IdKey(<Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length"))
    }

    /// The raw 32-byte HMAC of `fields`.
    pub fn compute_raw(&self, fields: &BoundFields<'_>) -> [u8; 32] {
        raw_with(self.0.clone(), fields)
    }

    /// The challenge id (base64url, no padding) of `fields`.
    pub fn compute(&self, fields: &BoundFields<'_>) -> String {
        b64url::encode(&self.compute_raw(fields))
    }

    /// Whether `id` is the id of `fields` (constant time in the HMAC bytes); the decoded id
    /// bytes on success.
    pub fn verify(&self, id: &str, fields: &BoundFields<'_>) -> Option<[u8; 32]> {
        let mut presented = [0u8; 32];
        if !b64url::decode_into(id, &mut presented) {
            return None;
        }
        let expected = self.compute_raw(fields);
        bool::from(presented.ct_eq(&expected)).then_some(presented)
    }
}

/// The raw 32-byte HMAC of `fields` under `secret`.
pub fn compute_raw(secret: &[u8], fields: &BoundFields<'_>) -> [u8; 32] {
    IdKey::new(secret).compute_raw(fields)
}

fn raw_with(mut mac: Hmac<Sha256>, fields: &BoundFields<'_>) -> [u8; 32] {
    let slots = [
        fields.realm,
        fields.method,
        fields.intent,
        fields.request,
        fields.expires.unwrap_or(""),
        fields.digest.unwrap_or(""),
    ];
    for s in slots {
        mac.update(s.as_bytes());
        mac.update(b"|");
    }
    if let Some(h) = fields
        .header
        .filter(|h| h.eq_ignore_ascii_case(PAYMENT_AUTHORIZATION))
    {
        mac.update(h.as_bytes());
        mac.update(b"|");
    }
    mac.update(fields.opaque.unwrap_or("").as_bytes());
    mac.finalize().into_bytes().into()
}

/// The challenge id (base64url, no padding) of `fields` under `secret`.
pub fn compute(secret: &[u8], fields: &BoundFields<'_>) -> String {
    b64url::encode(&compute_raw(secret, fields))
}

/// Whether `id` is the id of `fields` under `secret` (constant time in the HMAC bytes).
/// Returns the decoded id bytes on success.
pub fn verify(secret: &[u8], id: &str, fields: &BoundFields<'_>) -> Option<[u8; 32]> {
    IdKey::new(secret).verify(id, fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"test-vector-secret-minimum-32-byte-secret";

    fn base() -> BoundFields<'static> {
        BoundFields {
            realm: "api.example.com",
            method: "tempo",
            intent: "charge",
            request: "eyJhbW91bnQiOiIxMDAwMDAwIn0",
            ..BoundFields::default()
        }
    }

    #[test]
    fn golden_vectors() {
        assert_eq!(
            compute(SECRET, &base()),
            "6QDs0BmhrI_v67iWeCMvGqQJEFQ6ErWKlk7zi5xL6t0"
        );
        let opaque = BoundFields {
            opaque: Some("trace-123"),
            ..base()
        };
        assert_eq!(
            compute(SECRET, &opaque),
            "1XJ-Ti0DACNe3E1zHvwH6OdnKlhUx6xKxDbhJyexng4"
        );
        let header = BoundFields {
            header: Some(PAYMENT_AUTHORIZATION),
            ..base()
        };
        assert_eq!(
            compute(SECRET, &header),
            "re8MIMJYpIJ0r_aiizscg6ghtipQM8IpOa_NtpwIU8E"
        );
        let ignored = BoundFields {
            header: Some("Authorization"),
            ..base()
        };
        assert_eq!(compute(SECRET, &ignored), compute(SECRET, &base()));
        // mpp-rs cross-SDK vectors (secret shorter than we accept, but the HMAC is the same).
        let v = BoundFields {
            expires: Some("2025-01-06T12:00:00Z"),
            ..base()
        };
        assert_eq!(
            compute(b"test-vector-secret", &v),
            "ChPX33RkKSZoSUyZcu8ai4hhkvjZJFkZVnvWs5s0iXI"
        );
    }

    #[test]
    fn verify_is_strict() {
        let id = compute(SECRET, &base());
        assert!(verify(SECRET, &id, &base()).is_some());
        assert!(verify(SECRET, &format!("{id}="), &base()).is_some());
        assert!(verify(SECRET, &id[1..], &base()).is_none());
        assert!(verify(b"another-secret-of-at-least-32-bytes!!", &id, &base()).is_none());
        let other = BoundFields {
            realm: "evil.example",
            ..base()
        };
        assert!(verify(SECRET, &id, &other).is_none());
    }
}
