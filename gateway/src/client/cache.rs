//! Persistent credential cache and spend ledger: one SQLite file (`cache.sqlite`, mode 0600)
//! in the cache directory.
//!
//! A token is stored right after the payment succeeds and before the paid retry, so a crash
//! or network failure after paying never loses what was bought. The spend ledger (`ledger`
//! table) is written by [`super::budget`]. The API is synchronous (the client calls it between
//! awaits; each call is one short transaction).

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde::{Deserialize, Serialize};

/// Name of the database file inside the cache directory.
pub const CACHE_FILE: &str = "cache.sqlite";

/// Seconds per spend-ledger day (UTC days since the Unix epoch).
pub(super) const DAY: u64 = 86_400;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tokens (
    key TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    expires_at INTEGER
);
CREATE TABLE IF NOT EXISTS ledger (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    domain TEXT NOT NULL,
    unit TEXT NOT NULL,
    day INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    fee INTEGER NOT NULL,
    state TEXT NOT NULL,
    protocol TEXT NOT NULL,
    reference TEXT,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    last_used INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_unit_day ON ledger (unit, day, domain);
";

/// A cached L402 token (macaroon + preimage) for one host.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedToken {
    /// Protocol id (`l402`).
    pub protocol: String,
    /// Standard base64 macaroon as issued.
    pub macaroon: String,
    /// Hex preimage (secret).
    pub preimage: String,
    /// Hex payment hash.
    pub payment_hash: String,
    /// Amount paid, millisatoshis.
    pub amount_msat: u64,
    /// Routing fee paid, millisatoshis.
    pub fee_msat: u64,
    /// Unix seconds when bought.
    pub created_at: u64,
    /// Unix seconds after which the token is useless (from its caveats), if known.
    #[serde(default)]
    pub expires_at: Option<u64>,
}

impl std::fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedToken")
            .field("protocol", &self.protocol)
            .field("payment_hash", &self.payment_hash)
            .field("amount_msat", &self.amount_msat)
            .finish_non_exhaustive()
    }
}

/// Cached tokens keyed by host (`host[:port]`), and what was spent per domain and day.
#[derive(Debug, Clone)]
pub struct TokenCache {
    dir: PathBuf,
}

pub(super) fn io(e: rusqlite::Error) -> std::io::Error {
    std::io::Error::other(e)
}

pub(super) fn sql_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl TokenCache {
    /// Cache under `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        TokenCache { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The SQLite file.
    pub fn db_path(&self) -> PathBuf {
        self.dir.join(CACHE_FILE)
    }

    /// Open the database; `create` makes the directory and a 0600 file first.
    pub(super) fn open(&self, create: bool) -> std::io::Result<Option<Connection>> {
        let path = self.db_path();
        if !path.exists() {
            if !create {
                return Ok(None);
            }
            std::fs::create_dir_all(&self.dir)?;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(false);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            opts.open(&path)?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(io)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(io)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(io)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(io)?;
        conn.execute_batch(SCHEMA).map_err(io)?;
        Ok(Some(conn))
    }

    /// The token for `key`, if any and not expired at `now`. Expired or unreadable entries
    /// are dropped.
    pub fn get(&self, key: &str, now: u64) -> Option<CachedToken> {
        let conn = self.open(false).ok()??;
        let text: String = conn
            .query_row("SELECT token FROM tokens WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .ok()??;
        match serde_json::from_str::<CachedToken>(&text) {
            Ok(t) if t.expires_at.is_none_or(|e| e > now) => Some(t),
            _ => {
                let _ = conn.execute("DELETE FROM tokens WHERE key = ?1", [key]);
                None
            }
        }
    }

    /// Store (replace) the token for `key` (durable before it returns).
    pub fn put(&self, key: &str, token: &CachedToken) -> std::io::Result<()> {
        let Some(conn) = self.open(true)? else {
            return Err(std::io::Error::other("cache database missing"));
        };
        let text = serde_json::to_string(token).map_err(std::io::Error::other)?;
        conn.execute(
            "INSERT INTO tokens (key, token, expires_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (key) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at",
            params![key, text, token.expires_at.map(sql_i64)],
        )
        .map_err(io)?;
        Ok(())
    }

    /// Forget the token for `key` (its spend stays in the ledger).
    pub fn remove(&self, key: &str) {
        if let Ok(Some(conn)) = self.open(false) {
            let _ = conn.execute("DELETE FROM tokens WHERE key = ?1", [key]);
        }
    }
}

#[cfg(test)]
mod tests;
