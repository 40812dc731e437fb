//! Shared fixtures for the integration tests of `gate402-protocols`.
#![allow(dead_code)]

use gate402_protocols::l402::{L402Credential, Macaroon, L402};
use gate402_protocols::{
    Credential, CredentialError, InvoiceFacts, NoRailFacts, Offer, ParseError, PaymentProtocol,
    Verified, VerifyError,
};
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest, Sha256};

/// Master secret of the test gateway.
pub const MASTER: [u8; 32] = [0x42; 32];
/// "Current" time of the tests (Unix seconds).
pub const NOW: u64 = 1_700_000_000;
/// Preimage the test wallet reveals.
pub const PREIMAGE: [u8; 32] = [0x07; 32];
/// A BOLT11-looking invoice (bech32 text).
pub const BOLT11: &str =
    "lnbc10n1pjq7w2ypp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdqqcqzzsxqyz5vq";

/// The protocol under test.
pub fn l402() -> L402 {
    L402::new(&MASTER).expect("32-byte secret")
}

/// SHA-256 of `preimage`.
pub fn hash(preimage: &[u8; 32]) -> [u8; 32] {
    Sha256::digest(preimage).into()
}

/// The macaroon the test gateway mints for [`offer`] and [`PREIMAGE`] at [`NOW`].
pub fn minted() -> Macaroon {
    l402().mint(&offer(), hash(&PREIMAGE), NOW)
}

/// A credential from a macaroon and a preimage.
pub fn cred(m: &Macaroon, preimage: [u8; 32]) -> Credential {
    Credential::L402(L402Credential {
        macaroon: m.clone(),
        preimage,
    })
}

/// Verify `m` with [`PREIMAGE`] for [`offer`] at `now`.
pub fn verify(m: &Macaroon, now: u64) -> Result<Verified, CredentialError> {
    l402().verify(&cred(m, PREIMAGE), &offer(), &NoRailFacts, now)
}

/// The [`VerifyError`] of verifying `m` at [`NOW`]; panics on success or a parse error.
pub fn verify_err(m: &Macaroon) -> VerifyError {
    match verify(m, NOW) {
        Err(CredentialError::Verify(e)) => e,
        other => panic!("expected a VerifyError, got {other:?}"),
    }
}

/// The route's offer: service `api`, two capabilities, one hour.
pub fn offer() -> Offer {
    Offer {
        service: "api".into(),
        price_msat: 10_000,
        capabilities: vec!["read".into(), "write".into()],
        valid_for_secs: Some(3600),
        bind_price: false,
    }
}

/// An offer for another service.
pub fn offer_for(service: &str) -> Offer {
    Offer {
        service: service.into(),
        ..offer()
    }
}

/// The rail's invoice for [`PREIMAGE`].
pub fn invoice() -> InvoiceFacts {
    InvoiceFacts {
        bolt11: BOLT11.into(),
        payment_hash: hash(&PREIMAGE),
        amount_msat: 10_000,
        expires_at: NOW + 86_400,
    }
}

/// A header map from `(name, value)` pairs (values as raw bytes).
pub fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            HeaderValue::from_bytes(value).expect("header value"),
        );
    }
    map
}

/// Parse the credential in `h`; panics when there is none.
pub fn parse(h: &HeaderMap) -> Result<Credential, ParseError> {
    l402()
        .parse_credential(h)
        .expect("an L402 credential is present")
}

/// Parse and verify the credential in `h` for `offer` at `now`.
pub fn check(h: &HeaderMap, offer: &Offer, now: u64) -> Result<Verified, CredentialError> {
    let p = l402();
    let cred = parse(h)?;
    p.verify(&cred, offer, &NoRailFacts, now)
}

/// `Authorization` headers with one value.
pub fn auth(value: &str) -> HeaderMap {
    headers(&[("authorization", value.as_bytes())])
}

/// Deterministic xorshift64* PRNG (no extra crates).
pub struct Rng(pub u64);

impl Rng {
    /// Next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}
