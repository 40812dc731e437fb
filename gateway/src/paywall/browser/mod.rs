//! The browser paywall (issue G item 4): a person who opens a paid URL gets a page to pay,
//! then a session cookie.
//!
//! * A credential-less request to a priced route whose `Accept` names `text/html` gets the
//!   same 402 as an agent — every challenge header unchanged — with an HTML body
//!   ([`page`]): what is sold, its price, a QR code of the L402 challenge's invoice, the
//!   invoice with a copy button and a `lightning:` link.
//! * The page long-polls `GET /_gate402/paywall/<ticket>` ([`endpoint`]): the ticket
//!   ([`ticket`]) is signed by the gateway and names the invoice's payment hash, so only
//!   invoices this gateway issued are watched, through shared, bounded watchers ([`watch`]).
//! * Once settled, that answer sets the session cookie ([`cookie`]): an HS256 JWT whose
//!   `jti` is the L402 token id of the payment hash (revocable with `gate402 revoke`),
//!   bound to the route, `Path` = the route's prefix, expiring with the route's
//!   `valid_for_secs` (or `[server.paywall] session_secs`). The page reloads itself.
//! * The paywall accepts the cookie like an L402 token (no I/O but the in-memory revocation
//!   set), records the payment once in the ledger with protocol `browser`, and a bad,
//!   expired, revoked or foreign cookie gets the 402 (and the page) again.
//!
//! Keys: `HMAC(master, "gate402/paywall/session-key")` and
//! `HMAC(master, "gate402/paywall/ticket-key")`, beside L402's `gate402/l402/…` labels.

pub mod cookie;
pub mod endpoint;
use crate::jwt;
pub mod page;
pub mod ticket;
pub mod watch;

use std::{sync::Arc, time::Duration};

use gate402_protocols::l402::L402;
use gate402_rails::LightningRail;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::Sha256;

pub use cookie::{Session, COOKIE_NAME};
pub use watch::PayState;

/// Domain label of the session-cookie key.
const SESSION_KEY_LABEL: &[u8] = b"gate402/paywall/session-key";
/// Domain label of the ticket key.
const TICKET_KEY_LABEL: &[u8] = b"gate402/paywall/ticket-key";

/// Why a cookie or ticket is refused.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// Bad signature, algorithm, audience or encoding.
    #[error("invalid token: {0}")]
    Jwt(#[from] jsonwebtoken::errors::Error),
    /// Well signed, but its claims do not hold together.
    #[error("malformed claims")]
    Malformed,
    /// Issued for another route.
    #[error("issued for another route")]
    OtherRoute,
}

impl BrowserError {
    /// Whether the token expired (and was otherwise valid).
    pub fn is_expired(&self) -> bool {
        matches!(self, BrowserError::Jwt(e)
            if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::ExpiredSignature))
    }
}

/// `[server.paywall]` settings the paywall needs.
#[derive(Debug, Clone)]
pub struct BrowserSettings {
    /// Cookie lifetime on routes without `valid_for_secs`, seconds.
    pub session_secs: u64,
    /// How long one settlement request waits before answering `pending`.
    pub wait: Duration,
    /// How often a watched invoice is looked up.
    pub poll_interval: Duration,
    /// Payment hashes watched at once, at most.
    pub max_watched: usize,
    /// Settlement requests waiting at once, at most.
    pub max_waiters: usize,
    /// Mark cookies `Secure` (the listener serves TLS).
    pub secure: bool,
}

impl Default for BrowserSettings {
    fn default() -> Self {
        BrowserSettings {
            session_secs: 86_400,
            wait: Duration::from_secs(25),
            poll_interval: Duration::from_secs(1),
            max_watched: 256,
            max_waiters: 1024,
            secure: false,
        }
    }
}

/// The browser paywall's keys, settings and watchers.
pub struct Browser {
    l402: L402,
    session_key: jwt::JwtKey,
    ticket_key: jwt::JwtKey,
    pub(crate) settings: BrowserSettings,
    watchers: Arc<watch::Watchers>,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn derive(master: &[u8], label: &[u8]) -> [u8; 32] {
    let mut mac = match Hmac::<Sha256>::new_from_slice(master) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(label);
    mac.finalize().into_bytes().into()
}

impl Browser {
    /// From the L402 master secret (≥ 32 bytes), watching invoices on `rail`.
    pub fn new(
        master_secret: &[u8],
        rail: Arc<dyn LightningRail>,
        settings: BrowserSettings,
    ) -> Result<Browser, gate402_protocols::ChallengeError> {
        let l402 = L402::new(master_secret)?;
        let watchers = watch::Watchers::new(
            rail,
            settings.max_watched,
            settings.max_waiters,
            settings.poll_interval,
        );
        Ok(Browser {
            l402,
            session_key: jwt::JwtKey::new(
                &derive(master_secret, SESSION_KEY_LABEL),
                cookie::AUDIENCE,
            ),
            ticket_key: jwt::JwtKey::new(
                &derive(master_secret, TICKET_KEY_LABEL),
                ticket::AUDIENCE,
            ),
            settings,
            watchers: Arc::new(watchers),
        })
    }

    /// The token id of a payment hash (the L402 token id: one revocation covers both).
    pub fn token_id(&self, payment_hash: &[u8; 32]) -> [u8; 32] {
        self.l402.token_id_for(payment_hash)
    }

    /// Payment hashes watched now.
    pub fn watched(&self) -> usize {
        self.watchers.watched()
    }

    /// Cookie lifetime for a route valid `valid_for_secs` (else the configured default).
    pub fn lifetime(&self, valid_for_secs: Option<u64>) -> u64 {
        valid_for_secs.unwrap_or(self.settings.session_secs)
    }
}

/// Whether a request is a browser navigation: its `Accept` names `text/html` (or
/// `application/xhtml+xml`) with a non-zero quality. `*/*` alone is not enough (agents and
/// `curl` send it).
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|range| {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            if media != "text/html" && media != "application/xhtml+xml" {
                return false;
            }
            !parts.any(|p| {
                let p = p.trim().to_ascii_lowercase().replace(' ', "");
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            })
        })
}

#[cfg(test)]
mod tests;
