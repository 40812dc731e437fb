//! MPP Lightning sessions persisted per service and path (a session is bound to one route;
//! the cache's `sessions` table, same 0600
//! SQLite file as the L402 tokens), so a later run reuses an open session as a bearer.
//!
//! A session is stored right after its deposit is paid (before the `open` retry). It is
//! dropped when it has been idle longer than the `idleTimeout` its offer advertised (default
//! 300 s), when the server answers a bearer request with 402 (closed, exhausted or unknown),
//! or when [`super::Client::session_close`] closes it.

use gate402_protocols::mpp::{MppChallenge, MppOffer};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::cache::{io, sql_i64};
use super::{MppSession, TokenCache};

/// Idle timeout assumed when the offer states none, seconds.
const DEFAULT_IDLE_SECS: u64 = 300;

/// The stored form (the preimage is the bearer secret: kept only in the 0600 file).
#[derive(Serialize, Deserialize)]
struct Stored {
    id: String,
    realm: String,
    method: String,
    intent: String,
    request: String,
    expires: Option<String>,
    description: Option<String>,
    digest: Option<String>,
    opaque: Option<String>,
    header: Option<String>,
    session_id: String,
    preimage: String,
    deposited_sats: u64,
    fees_msat: u64,
    idle_secs: u64,
}

fn idle_secs(offer: &MppOffer) -> u64 {
    offer
        .request
        .get("idleTimeout")
        .and_then(|v| {
            v.as_str()
                .and_then(|s| s.parse().ok())
                .or_else(|| v.as_u64())
        })
        .filter(|s: &u64| *s > 0)
        .unwrap_or(DEFAULT_IDLE_SECS)
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    hex::decode(s).ok()?.try_into().ok()
}

impl Stored {
    fn of(s: &MppSession) -> Stored {
        let c = &s.offer.challenge;
        Stored {
            id: c.id.clone(),
            realm: c.realm.clone(),
            method: c.method.clone(),
            intent: c.intent.clone(),
            request: c.request.clone(),
            expires: c.expires.clone(),
            description: c.description.clone(),
            digest: c.digest.clone(),
            opaque: c.opaque.clone(),
            header: c.header.clone(),
            session_id: hex::encode(s.session_id),
            preimage: hex::encode(s.preimage()),
            deposited_sats: s.deposited_sats,
            fees_msat: s.fees_msat,
            idle_secs: idle_secs(&s.offer),
        }
    }

    fn session(self) -> Option<MppSession> {
        let challenge = MppChallenge {
            id: self.id,
            realm: self.realm,
            method: self.method,
            intent: self.intent,
            request: self.request,
            expires: self.expires,
            description: self.description,
            digest: self.digest,
            opaque: self.opaque,
            header: self.header,
        };
        let offer = MppOffer::from_challenge(challenge).ok()?;
        Some(MppSession::restore(
            offer,
            hex32(&self.session_id)?,
            hex32(&self.preimage)?,
            self.deposited_sats,
            self.fees_msat,
        ))
    }
}

impl TokenCache {
    /// Store the open session for service `key`.
    pub fn put_session(&self, key: &str, s: &MppSession, now: u64) -> std::io::Result<()> {
        let conn = self
            .open(true)?
            .ok_or_else(|| std::io::Error::other("cache database missing"))?;
        let text = serde_json::to_string(&Stored::of(s)).map_err(std::io::Error::other)?;
        conn.execute(
            "INSERT INTO sessions (key, state, last_used) VALUES (?1, ?2, ?3) \
             ON CONFLICT (key) DO UPDATE SET state = excluded.state, last_used = excluded.last_used",
            params![key, text, sql_i64(now)],
        )
        .map_err(io)?;
        Ok(())
    }

    /// The session for `key` if not idle past its timeout at `now` (else it is dropped).
    pub fn get_session(&self, key: &str, now: u64) -> Option<MppSession> {
        let conn = self.open(false).ok()??;
        let (text, last): (String, i64) = conn
            .query_row(
                "SELECT state, last_used FROM sessions WHERE key = ?1",
                [key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .ok()??;
        let stored: Option<Stored> = serde_json::from_str(&text).ok();
        let fresh = stored
            .as_ref()
            .is_some_and(|s| u64::try_from(last).unwrap_or(0) + s.idle_secs > now);
        match stored.filter(|_| fresh).and_then(Stored::session) {
            Some(s) => Some(s),
            None => {
                let _ = conn.execute("DELETE FROM sessions WHERE key = ?1", [key]);
                None
            }
        }
    }

    /// Record a successful use (restarts the idle timer).
    pub fn touch_session(&self, key: &str, now: u64) {
        if let Ok(Some(conn)) = self.open(false) {
            let _ = conn.execute(
                "UPDATE sessions SET last_used = ?2 WHERE key = ?1",
                params![key, sql_i64(now)],
            );
        }
    }

    /// Forget the session for `key`.
    pub fn remove_session(&self, key: &str) {
        if let Ok(Some(conn)) = self.open(false) {
            let _ = conn.execute("DELETE FROM sessions WHERE key = ?1", [key]);
        }
    }
}

#[cfg(test)]
#[path = "sessions_tests.rs"]
mod tests;
