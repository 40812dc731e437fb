//! MPP: the `Payment` HTTP authentication scheme (draft-ryan-httpauth-payment) with the
//! Lightning `charge` and `session` methods (draft-lightning-charge-00, -session-00).
//!
//! Wire formats (see `specs/mpp.md`):
//!
//! * challenge: `WWW-Authenticate: Payment id="<b64url HMAC>", realm=…, method="lightning",
//!   intent="charge"|"session", request="<b64url(JCS JSON)>", expires="<RFC 3339>"`; the id is
//!   `HMAC-SHA256(secret, realm|method|intent|request|expires|digest|opaque)` ([`id`]), so
//!   verifying needs no challenge store;
//! * credential: `Authorization: Payment <b64url(JSON {challenge, payload, source?})>`
//!   ([`credential`]);
//! * receipt: `Payment-Receipt: <b64url(JSON)>` ([`receipt`]); errors are RFC 9457 bodies with
//!   the paymentauth problem types ([`problem`]).
//!
//! Challenges answering a request with a body carry `digest` ([`digest`]), bound by the id.
//! We emit no `opaque`: the route is already pinned inside the HMAC-bound `request`
//! (`externalId`) and every challenge has its own invoice, so there is nothing left for it to
//! carry; and Alby's `fetchWithMpp` does not echo it, so a challenge depending on it would have
//! to be recomputed server-side for no gain. An `opaque` sent by others is bound and echoed.
//!
//! All base64 here is base64url **without padding** (unlike L402's standard base64). Like
//! [`crate::l402`], nothing here does I/O or reads a clock; single-use consumption is the
//! caller's, through [`Verified::single_use_key`](crate::Verified::single_use_key).

pub mod accept;
pub mod b64url;
pub mod challenge;
pub mod charge;
pub mod client;
pub mod credential;
pub mod digest;
pub mod id;
pub mod jcs;
pub mod problem;
mod protocol;
pub mod receipt;
pub mod session;
pub mod time;
mod wire;

pub use challenge::MppChallenge;
pub use client::MppOffer;
pub use credential::MppCredential;
pub use digest::BodyDigest;
pub use receipt::MppReceipt;
pub use session::SessionStep;

use serde_json::Value;

use crate::{ChallengeError, CredentialError, ParseError, VerifyError};

/// The auth-scheme name.
pub const SCHEME: &str = "Payment";
/// The Lightning method name.
pub const METHOD: &str = "lightning";
/// The one-shot intent.
pub const CHARGE: &str = "charge";
/// The prepaid-session intent.
pub const SESSION: &str = "session";
/// Shortest accepted HMAC secret, bytes (as mppx and `mpp`).
pub const MIN_SECRET_LEN: usize = 32;
/// Default challenge lifetime, seconds (the SDKs' 5 minutes).
pub const DEFAULT_TTL_SECS: u64 = 300;

/// The MPP protocol (server and client side) for one realm.
#[derive(Clone)]
pub struct Mpp {
    key: id::IdKey,
    realm: String,
    ttl_secs: u64,
    description: Option<String>,
    deposit_units: u64,
    idle_timeout_secs: u64,
}

impl std::fmt::Debug for Mpp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mpp")
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

impl Mpp {
    /// MPP for `realm` with an HMAC secret of at least [`MIN_SECRET_LEN`] bytes.
    pub fn new(secret: &[u8], realm: &str) -> Result<Mpp, ChallengeError> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(ChallengeError::InvalidOffer(
                "MPP secret must be at least 32 bytes",
            ));
        }
        if realm.is_empty()
            || realm
                .chars()
                .any(|c| c.is_control() || c == '"' || c == '\\')
        {
            return Err(ChallengeError::InvalidOffer(
                "MPP realm must be non-empty plain text",
            ));
        }
        Ok(Mpp {
            key: id::IdKey::new(secret),
            realm: realm.into(),
            ttl_secs: DEFAULT_TTL_SECS,
            description: None,
            deposit_units: 20,
            idle_timeout_secs: 300,
        })
    }

    /// Challenge lifetime (capped by each invoice's expiry).
    pub fn with_ttl(mut self, secs: u64) -> Mpp {
        self.ttl_secs = secs;
        self
    }

    /// `description` auth-param sent with every challenge (display only).
    pub fn with_description(mut self, description: Option<String>) -> Mpp {
        self.description = description;
        self
    }

    /// Session terms: deposit = `units` × price; idle timeout advertised, seconds.
    pub fn with_session_terms(mut self, units: u64, idle_timeout_secs: u64) -> Mpp {
        self.deposit_units = units.max(1);
        self.idle_timeout_secs = idle_timeout_secs;
        self
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Advertised session idle timeout, seconds.
    pub fn idle_timeout_secs(&self) -> u64 {
        self.idle_timeout_secs
    }

    fn expires_at(&self, now: u64, invoice_expires_at: u64) -> u64 {
        now.saturating_add(self.ttl_secs).min(invoice_expires_at)
    }

    /// Checks shared by every HMAC-bound credential: method, intent, realm, id, `expires`,
    /// body digest. Returns the id bytes, the decoded request and the expiry.
    fn check_bound(
        &self,
        echo: &MppChallenge,
        intent: &str,
        now: u64,
        body: Option<&BodyDigest>,
    ) -> Result<([u8; 32], Value, u64), CredentialError> {
        let (id, bytes, expires_at) = self.check_bound_raw(echo, intent, now, body)?;
        let v: Value =
            serde_json::from_slice(&bytes).map_err(|_| ParseError::Syntax("invalid JSON"))?;
        Ok((id, v, expires_at))
    }

    /// [`check_bound`](Self::check_bound) returning the request's JSON bytes undecoded.
    ///
    /// `body` is the digest of the request's body (`None`: no body). An echoed `digest` must
    /// name that body; a credential echoing none (Alby's `fetchWithMpp` echoes only six
    /// fields) is checked against the digest we would have issued for this body, so a body
    /// is bound either way and a challenge issued without one never pays for a body.
    fn check_bound_raw(
        &self,
        echo: &MppChallenge,
        intent: &str,
        now: u64,
        body: Option<&BodyDigest>,
    ) -> Result<([u8; 32], Vec<u8>, u64), CredentialError> {
        if echo.method != METHOD || echo.intent != intent {
            return Err(VerifyError::MethodUnsupported("method or intent").into());
        }
        if echo.realm != self.realm {
            return Err(VerifyError::UnknownChallenge("realm").into());
        }
        let recomputed;
        let digest = match (echo.digest.as_deref(), body) {
            (Some(d), Some(b)) if b.matches(d) => Some(d),
            (Some(_), _) => {
                return Err(
                    VerifyError::UnknownChallenge("digest does not match the request body").into(),
                )
            }
            (None, Some(b)) => {
                recomputed = b.header_value();
                Some(recomputed.as_str())
            }
            (None, None) => None,
        };
        let fields = id::BoundFields {
            digest,
            ..echo.bound()
        };
        let id = self
            .key
            .verify(&echo.id, &fields)
            .ok_or(VerifyError::UnknownChallenge(
                "id does not bind the echoed challenge",
            ))?;
        let expires = echo
            .expires
            .as_deref()
            .ok_or(VerifyError::UnknownChallenge("missing expires"))?;
        let expires_at = time::parse_rfc3339(expires).ok_or(ParseError::Syntax("expires"))?;
        if now > expires_at {
            return Err(VerifyError::Expired.into());
        }
        let bytes = b64url::decode(&echo.request).ok_or(ParseError::Base64("request"))?;
        Ok((id, bytes, expires_at))
    }
}
