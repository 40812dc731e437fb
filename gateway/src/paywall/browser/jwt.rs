//! HS256 for `jsonwebtoken` on the HMAC-SHA256 the workspace already builds.
//!
//! `jsonwebtoken` ≥ 10 leaves its cryptography to a [`CryptoProvider`]: the built-in ones
//! compile either aws-lc (a C build) or the whole RustCrypto signature stack (RSA, P-256,
//! P-384, Ed25519). The gateway signs and verifies only HS256, so it installs a provider with
//! that one algorithm (`hmac` 0.12 + `sha2` 0.10, constant-time comparison). Any other
//! algorithm — `none`, RS256, a header lying about the key type — is refused by `decode`
//! before a signature is looked at (the [`Validation`] allows HS256 only) and again here.

use std::sync::OnceLock;

use hmac::{Hmac, Mac};
use jsonwebtoken::{
    crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils},
    errors::{Error, ErrorKind},
    signature::{self, Signer, Verifier},
    Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use serde::{de::DeserializeOwned, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

struct Hs256(HmacSha256);

impl Hs256 {
    fn new(key: &[u8]) -> Result<Hs256, Error> {
        HmacSha256::new_from_slice(key)
            .map(Hs256)
            .map_err(|_| ErrorKind::InvalidKeyFormat.into())
    }
}

impl Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let mut mac = self.0.clone();
        mac.update(msg);
        Ok(mac.finalize().into_bytes().to_vec())
    }
}

impl Verifier<Vec<u8>> for Hs256 {
    fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> Result<(), signature::Error> {
        let mut mac = self.0.clone();
        mac.update(msg);
        mac.verify_slice(sig).map_err(|_| signature::Error::new())
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

fn signer(alg: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>, Error> {
    match alg {
        Algorithm::HS256 => Ok(Box::new(Hs256::new(key.as_bytes())?)),
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    }
}

fn verifier(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    match alg {
        Algorithm::HS256 => Ok(Box::new(Hs256::new(key.try_get_as_bytes()?)?)),
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    }
}

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: signer,
    verifier_factory: verifier,
    key_utils: KeyUtils::new_unimplemented(),
};

/// Install the HS256 provider once per process (a provider installed by someone else first
/// is kept: `jsonwebtoken`'s own ones verify HS256 the same way).
fn ensure_provider() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if CryptoProvider::try_get_default().is_none() {
            let _ = PROVIDER.install_default();
        }
    });
}

/// An HS256 key: signs and verifies compact JWTs.
pub(crate) struct Hs256Key {
    encoding: EncodingKey,
    decoding: DecodingKey,
    audience: &'static str,
}

impl Hs256Key {
    /// A key for tokens whose `aud` is `audience`.
    pub(crate) fn new(secret: &[u8; 32], audience: &'static str) -> Hs256Key {
        ensure_provider();
        Hs256Key {
            encoding: match EncodingKey::from_secret(secret) {
                Ok(k) => k,
                Err(_) => unreachable!("a 32-byte secret is an HMAC key"),
            },
            decoding: match DecodingKey::from_secret(secret) {
                Ok(k) => k,
                Err(_) => unreachable!("a 32-byte secret is an HMAC key"),
            },
            audience,
        }
    }

    /// Sign `claims` (which must carry `aud` = this key's audience and `exp`).
    pub(crate) fn sign<T: Serialize>(&self, claims: &T) -> Result<String, Error> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
    }

    /// Verify signature, algorithm (HS256 only), `aud` and `exp` (no leeway; `exp` required)
    /// at `now`, and return the claims.
    pub(crate) fn verify<T: DeserializeOwned>(&self, token: &str, now: u64) -> Result<T, Error> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        v.validate_exp = false; // checked below against the caller's clock
        v.set_required_spec_claims(&["exp", "aud"]);
        v.set_audience(&[self.audience]);
        let data = jsonwebtoken::decode::<serde_json::Value>(token, &self.decoding, &v)?;
        let exp = data.claims.get("exp").and_then(serde_json::Value::as_u64);
        match exp {
            Some(exp) if exp > now => {}
            _ => return Err(ErrorKind::ExpiredSignature.into()),
        }
        serde_json::from_value(data.claims).map_err(Error::from)
    }
}

impl std::fmt::Debug for Hs256Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hs256Key {{ aud: {:?}, <secret> }}", self.audience)
    }
}
