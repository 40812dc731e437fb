//! The paid session cookie: an HS256 JWT bound to a route and a payment hash.
//!
//! Claims: `aud` (`gate402/paywall/session`), `jti` = the L402 token id of the payment hash
//! (so `gate402 revoke <token id>` refuses the cookie like the macaroon sold with the same
//! invoice), `sub` = the payment hash, `route` = the route's name, `iat`, `exp`. Checking one
//! is an HMAC and a few comparisons: no I/O besides the in-memory revocation set, checked by
//! the settle step like every token id.

use http::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

use super::{Browser, BrowserError};

/// Name of the session cookie.
pub const COOKIE_NAME: &str = "gate402_paid";

/// `aud` of session cookies (tickets have their own audience and key).
pub(crate) const AUDIENCE: &str = "gate402/paywall/session";

/// Cookies of that name looked at per request, at most (nested route prefixes can make a
/// browser send several).
const MAX_COOKIES: usize = 4;

/// The JWT claims of a session cookie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// Audience, [`AUDIENCE`].
    pub aud: String,
    /// Token id (hex): the L402 token id of the payment hash.
    pub jti: String,
    /// Payment hash (hex).
    pub sub: String,
    /// Route name.
    pub route: String,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Expiry, Unix seconds.
    pub exp: u64,
}

/// A verified session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// Token id (revocable with `gate402 revoke`).
    pub token_id: [u8; 32],
    /// The payment hash paid for it.
    pub payment_hash: [u8; 32],
    /// When it stops working, Unix seconds.
    pub expires_at: u64,
}

impl Browser {
    /// Mint the cookie value for `route` paid by `payment_hash`, valid `lifetime` seconds.
    pub fn mint_session(
        &self,
        route: &str,
        payment_hash: &[u8; 32],
        lifetime: u64,
        now: u64,
    ) -> Result<String, BrowserError> {
        let claims = SessionClaims {
            aud: AUDIENCE.into(),
            jti: hex::encode(self.token_id(payment_hash)),
            sub: hex::encode(payment_hash),
            route: route.into(),
            iat: now,
            exp: now.saturating_add(lifetime),
        };
        Ok(self.session_key.sign(&claims)?)
    }

    /// Verify a cookie value for `route` at `now`: signature (HS256 only), audience, expiry,
    /// route, and that its token id is the one of its payment hash.
    pub fn verify_session(
        &self,
        token: &str,
        route: &str,
        now: u64,
    ) -> Result<Session, BrowserError> {
        let c: SessionClaims = self.session_key.verify(token, now)?;
        if c.route != route {
            return Err(BrowserError::OtherRoute);
        }
        let payment_hash = parse_hash(&c.sub).ok_or(BrowserError::Malformed)?;
        let token_id = parse_hash(&c.jti).ok_or(BrowserError::Malformed)?;
        if token_id != self.token_id(&payment_hash) {
            return Err(BrowserError::Malformed);
        }
        Ok(Session {
            token_id,
            payment_hash,
            expires_at: c.exp,
        })
    }
}

/// 32 bytes from 64 hex digits.
pub(crate) fn parse_hash(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    hex::decode(s).ok()?.try_into().ok()
}

/// The `Set-Cookie` value: HttpOnly, SameSite=Lax, `Path` = the route's prefix, `Max-Age`,
/// and `Secure` when the page was served over TLS.
pub fn set_cookie(token: &str, path: &str, max_age: u64, secure: bool) -> Option<HeaderValue> {
    let path_ok = path.starts_with('/')
        && path
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b';' && b != b',');
    let path = if path_ok { path } else { "/" };
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={token}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    ))
    .ok()
}

/// The values of the session cookies a request carries (at most a few).
pub fn session_cookies(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name.trim() == COOKIE_NAME).then(|| value.trim().trim_matches('"'))
        })
        .take(MAX_COOKIES)
        .collect()
}
