//! JWTs (browser paywall sessions and tickets, admin API tokens): `jsonwebtoken` with HS256
//! on the HMAC-SHA256 the workspace already builds and EdDSA (Ed25519) on `ring`, which
//! rustls already builds.
//!
//! `jsonwebtoken` ≥ 10 leaves its cryptography to a [`CryptoProvider`]: the built-in ones
//! compile either aws-lc (a C build) or the whole RustCrypto signature stack (RSA, P-256,
//! P-384, Ed25519). The gateway needs two algorithms, so it installs a provider with those
//! (HS256: `hmac` 0.12 + `sha2` 0.10, constant-time comparison; EdDSA: `ring`). A key
//! verifies one algorithm only: any other — `none`, RS256, a header lying about the key
//! type — is refused by `decode` before a signature is looked at (the [`Validation`] allows
//! the key's algorithm only) and again by the provider.

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

struct Ed25519Sign(ring::signature::Ed25519KeyPair);

impl Signer<Vec<u8>> for Ed25519Sign {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        Ok(self.0.sign(msg).as_ref().to_vec())
    }
}

impl JwtSigner for Ed25519Sign {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

struct Ed25519Verify(Vec<u8>);

impl Verifier<Vec<u8>> for Ed25519Verify {
    fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> Result<(), signature::Error> {
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &self.0)
            .verify(msg, sig)
            .map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for Ed25519Verify {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

fn signer(alg: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>, Error> {
    match alg {
        Algorithm::HS256 => Ok(Box::new(Hs256::new(key.as_bytes())?)),
        Algorithm::EdDSA => {
            ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(key.as_bytes())
                .map(|k| Box::new(Ed25519Sign(k)) as Box<dyn JwtSigner>)
                .map_err(|_| ErrorKind::InvalidKeyFormat.into())
        }
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    }
}

fn verifier(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    match alg {
        Algorithm::HS256 => Ok(Box::new(Hs256::new(key.try_get_as_bytes()?)?)),
        Algorithm::EdDSA => {
            let raw = key.try_get_as_bytes()?;
            if raw.len() != 32 {
                return Err(ErrorKind::InvalidKeyFormat.into());
            }
            Ok(Box::new(Ed25519Verify(raw.to_vec())))
        }
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

/// A JWT key for one algorithm and audience: verifies compact JWTs, and signs them when it
/// holds the secret (HS256) or the private key (EdDSA).
pub(crate) struct JwtKey {
    alg: Algorithm,
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
    audience: &'static str,
}

impl JwtKey {
    /// An HS256 key for tokens whose `aud` is `audience`.
    pub(crate) fn new(secret: &[u8; 32], audience: &'static str) -> JwtKey {
        match JwtKey::hs256(secret, audience) {
            Ok(k) => k,
            Err(_) => unreachable!("a 32-byte secret is an HMAC key"),
        }
    }

    /// An HS256 key from a secret of any length (callers require enough entropy).
    pub(crate) fn hs256(secret: &[u8], audience: &'static str) -> Result<JwtKey, Error> {
        ensure_provider();
        Ok(JwtKey {
            alg: Algorithm::HS256,
            encoding: Some(EncodingKey::from_secret(secret)?),
            decoding: DecodingKey::from_secret(secret)?,
            audience,
        })
    }

    /// An EdDSA key that only verifies, from a PEM `PUBLIC KEY` (SPKI, Ed25519).
    pub(crate) fn ed25519_public_pem(pem: &str, audience: &'static str) -> Result<JwtKey, String> {
        ensure_provider();
        let der = pem_body(pem, "PUBLIC KEY")?;
        // SPKI of an Ed25519 key: a fixed 12-byte prefix (RFC 8410), then the 32-byte key.
        const PREFIX: [u8; 12] = [48, 42, 48, 5, 6, 3, 43, 101, 112, 3, 33, 0];
        if der.len() != 44 || der[..12] != PREFIX {
            return Err("not an Ed25519 public key (RFC 8410 SPKI)".into());
        }
        Ok(JwtKey {
            alg: Algorithm::EdDSA,
            encoding: None,
            decoding: DecodingKey::from_ed_der(&der[12..]),
            audience,
        })
    }

    /// An EdDSA key that signs (and verifies), from a PEM `PRIVATE KEY` (PKCS#8, Ed25519).
    pub(crate) fn ed25519_private_pem(pem: &str, audience: &'static str) -> Result<JwtKey, String> {
        ensure_provider();
        let der = pem_body(pem, "PRIVATE KEY")?;
        let pair = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
            .map_err(|_| "not an Ed25519 private key (PKCS#8)".to_string())?;
        use ring::signature::KeyPair;
        Ok(JwtKey {
            alg: Algorithm::EdDSA,
            encoding: Some(EncodingKey::from_ed_der(&der)),
            decoding: DecodingKey::from_ed_der(pair.public_key().as_ref()),
            audience,
        })
    }

    /// Sign `claims` (which must carry `aud` = this key's audience and `exp`).
    pub(crate) fn sign<T: Serialize>(&self, claims: &T) -> Result<String, Error> {
        let Some(encoding) = &self.encoding else {
            return Err(ErrorKind::InvalidKeyFormat.into());
        };
        jsonwebtoken::encode(&Header::new(self.alg), claims, encoding)
    }

    /// Verify signature, algorithm (this key's only), `aud` and `exp` (no leeway; `exp`
    /// required) at `now`, and return the claims.
    pub(crate) fn verify<T: DeserializeOwned>(&self, token: &str, now: u64) -> Result<T, Error> {
        let mut v = Validation::new(self.alg);
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

/// The base64 body of the PEM block labelled `label`.
fn pem_body(pem: &str, label: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem
        .find(&begin)
        .ok_or_else(|| format!("no `{begin}` block"))?;
    let rest = &pem[start + begin.len()..];
    let stop = rest.find(&end).ok_or_else(|| format!("no `{end}`"))?;
    let b64: String = rest[..stop].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| format!("bad PEM base64: {e}"))
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "JwtKey {{ alg: {:?}, aud: {:?}, <key> }}",
            self.alg, self.audience
        )
    }
}
