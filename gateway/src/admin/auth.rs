//! Admin API authentication: JWTs (`Authorization: Bearer <jwt>`) signed with HS256 (secret
//! from `$GATE402_ADMIN_SECRET`) or EdDSA (Ed25519 public key file), `aud = gate402-admin`,
//! `exp` required, a `role` of `read` or `admin`. Missing or bad tokens answer 401, a `read`
//! token on an `admin` endpoint 403. Tokens are never logged.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{config::AdminConfig, jwt::JwtKey};

/// The `aud` of admin tokens (a paywall session JWT is refused here, and vice versa).
pub const AUDIENCE: &str = "gate402-admin";

/// Shortest HS256 secret accepted, bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read routes, ledger, stats and status.
    Read,
    /// Also set prices, revoke tokens and reload the config.
    Admin,
}

impl Role {
    /// Parse `read` / `admin`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "read" => Some(Role::Read),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The claims of an admin token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Always [`AUDIENCE`].
    pub aud: String,
    /// Who it was issued to (free text).
    pub sub: String,
    /// What it may do.
    pub role: Role,
    /// Issued at, Unix s.
    pub iat: u64,
    /// Expires at, Unix s.
    pub exp: u64,
    /// Random token id (for audit logs).
    pub jti: String,
}

/// Why a request was not authorised.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization: Bearer` header.
    #[error("missing bearer token")]
    Missing,
    /// Bad signature, algorithm, audience or shape.
    #[error("invalid token")]
    Invalid,
    /// Past its `exp`.
    #[error("token expired")]
    Expired,
    /// A `read` token on an `admin` endpoint.
    #[error("this needs the admin role")]
    Forbidden,
}

/// The admin API's token key.
#[derive(Debug)]
pub struct AdminAuth {
    key: JwtKey,
}

impl AdminAuth {
    /// An HS256 key from `secret` (at least [`MIN_SECRET_BYTES`]).
    pub fn hs256(secret: &[u8]) -> Result<AdminAuth, String> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "the admin secret must be at least {MIN_SECRET_BYTES} bytes"
            ));
        }
        JwtKey::hs256(secret, AUDIENCE)
            .map(|key| AdminAuth { key })
            .map_err(|e| e.to_string())
    }

    /// An EdDSA key that verifies only, from a PEM public key file.
    pub fn ed25519_public_file(path: &Path) -> Result<AdminAuth, String> {
        let pem = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        JwtKey::ed25519_public_pem(&pem, AUDIENCE)
            .map(|key| AdminAuth { key })
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// An EdDSA key that signs, from a PEM private key file (`gate402 admin token --key`).
    pub fn ed25519_private_file(path: &Path) -> Result<AdminAuth, String> {
        let pem = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        JwtKey::ed25519_private_pem(&pem, AUDIENCE)
            .map(|key| AdminAuth { key })
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The key `[admin]` configures: the public key file, else the secret in `secret_env`;
    /// `Ok(None)` when neither is set (the API then answers 503).
    pub fn from_config(cfg: &AdminConfig) -> Result<Option<AdminAuth>, String> {
        if let Some(path) = &cfg.public_key_file {
            return AdminAuth::ed25519_public_file(path).map(Some);
        }
        match std::env::var(&cfg.secret_env) {
            Ok(v) => AdminAuth::hs256(v.trim().as_bytes())
                .map(Some)
                .map_err(|e| format!("${}: {e}", cfg.secret_env)),
            Err(_) => Ok(None),
        }
    }

    /// Mint a token for `role` valid `ttl_secs` from `now`.
    pub fn mint(&self, sub: &str, role: Role, ttl_secs: u64, now: u64) -> Result<String, String> {
        let mut jti = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut jti);
        let claims = Claims {
            aud: AUDIENCE.into(),
            sub: sub.into(),
            role,
            iat: now,
            exp: now.saturating_add(ttl_secs),
            jti: hex::encode(jti),
        };
        self.key.sign(&claims).map_err(|e| e.to_string())
    }

    /// Check the request's `Authorization` header for a token of at least `need` at `now`.
    pub fn authorize(
        &self,
        headers: &http::HeaderMap,
        need: Role,
        now: u64,
    ) -> Result<Claims, AuthError> {
        let token = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .ok_or(AuthError::Missing)?;
        if token.len() > 4096 {
            return Err(AuthError::Invalid);
        }
        let claims: Claims = self.key.verify(token, now).map_err(|e| {
            if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::ExpiredSignature) {
                AuthError::Expired
            } else {
                AuthError::Invalid
            }
        })?;
        if claims.role < need {
            return Err(AuthError::Forbidden);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(t: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::AUTHORIZATION,
            format!("Bearer {t}").parse().unwrap(),
        );
        h
    }

    #[test]
    fn roles_expiry_and_keys() {
        let auth = AdminAuth::hs256(&[7u8; 32]).unwrap();
        let read = auth.mint("t", Role::Read, 60, 1_000).unwrap();
        let admin = auth.mint("t", Role::Admin, 60, 1_000).unwrap();
        assert_eq!(
            auth.authorize(&bearer(&read), Role::Read, 1_010)
                .unwrap()
                .role,
            Role::Read
        );
        assert_eq!(
            auth.authorize(&bearer(&read), Role::Admin, 1_010)
                .unwrap_err(),
            AuthError::Forbidden
        );
        assert!(auth.authorize(&bearer(&admin), Role::Admin, 1_010).is_ok());
        assert_eq!(
            auth.authorize(&bearer(&admin), Role::Read, 1_060)
                .unwrap_err(),
            AuthError::Expired
        );
        assert_eq!(
            auth.authorize(&http::HeaderMap::new(), Role::Read, 1_010)
                .unwrap_err(),
            AuthError::Missing
        );
        let other = AdminAuth::hs256(&[8u8; 32]).unwrap();
        assert_eq!(
            other
                .authorize(&bearer(&read), Role::Read, 1_010)
                .unwrap_err(),
            AuthError::Invalid
        );
        assert!(AdminAuth::hs256(&[1u8; 31]).is_err());
    }

    #[test]
    fn a_paywall_session_jwt_is_not_an_admin_token() {
        let paywall = JwtKey::new(&[7u8; 32], "gate402-paywall");
        let t = paywall
            .sign(&serde_json::json!({"aud": "gate402-paywall", "exp": 2_000, "role": "admin"}))
            .unwrap();
        let auth = AdminAuth::hs256(&[7u8; 32]).unwrap();
        assert_eq!(
            auth.authorize(&bearer(&t), Role::Read, 1_000).unwrap_err(),
            AuthError::Invalid
        );
    }

    #[test]
    fn ed25519_tokens() {
        use ring::signature::KeyPair;
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let b64 = |d: &[u8]| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(d)
        };
        let mut spki = vec![48, 42, 48, 5, 6, 3, 43, 101, 112, 3, 33, 0];
        spki.extend_from_slice(pair.public_key().as_ref());
        let private = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            b64(pkcs8.as_ref())
        );
        let public = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            b64(&spki)
        );
        let signer = AdminAuth {
            key: JwtKey::ed25519_private_pem(&private, AUDIENCE).unwrap(),
        };
        let verifier = AdminAuth {
            key: JwtKey::ed25519_public_pem(&public, AUDIENCE).unwrap(),
        };
        let t = signer.mint("ops", Role::Admin, 60, 1_000).unwrap();
        assert_eq!(
            verifier
                .authorize(&bearer(&t), Role::Admin, 1_001)
                .unwrap()
                .sub,
            "ops"
        );
        assert!(
            verifier.mint("x", Role::Read, 60, 1_000).is_err(),
            "a public key cannot sign"
        );
        // An HS256 token made with the public key's bytes as secret (alg confusion) fails.
        let forged = JwtKey::hs256(public.as_bytes(), AUDIENCE)
            .unwrap()
            .sign(&serde_json::json!({"aud": AUDIENCE, "sub": "x", "role": "admin", "iat": 1, "exp": 2_000, "jti": "x"}))
            .unwrap();
        assert_eq!(
            verifier
                .authorize(&bearer(&forged), Role::Read, 1_001)
                .unwrap_err(),
            AuthError::Invalid
        );
    }
}
