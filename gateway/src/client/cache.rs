//! Persistent credential cache: one file per service host, written atomically, mode 0600.
//!
//! A token is stored right after the payment succeeds and before the paid retry, so a crash
//! or network failure after paying never loses what was bought.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

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

/// A directory of cached tokens keyed by host (`host[:port]`).
#[derive(Debug, Clone)]
pub struct TokenCache {
    dir: PathBuf,
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

    fn path(&self, key: &str) -> PathBuf {
        let safe: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("{safe}.json"))
    }

    /// The token for `key`, if any and not expired at `now`. Expired or unreadable entries
    /// are dropped.
    pub fn get(&self, key: &str, now: u64) -> Option<CachedToken> {
        let path = self.path(key);
        let text = std::fs::read(&path).ok()?;
        match serde_json::from_slice::<CachedToken>(&text) {
            Ok(t) if t.expires_at.is_none_or(|e| e > now) => Some(t),
            _ => {
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Store (replace) the token for `key`.
    pub fn put(&self, key: &str, token: &CachedToken) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let path = self.path(key);
        let tmp = path.with_extension(format!("json.tmp{}", std::process::id()));
        {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let mut f = opts.open(&tmp)?;
            f.write_all(&serde_json::to_vec_pretty(token).map_err(std::io::Error::other)?)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path)
    }

    /// Forget the token for `key`.
    pub fn remove(&self, key: &str) {
        let _ = std::fs::remove_file(self.path(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(expires_at: Option<u64>) -> CachedToken {
        CachedToken {
            protocol: "l402".into(),
            macaroon: "AgE=".into(),
            preimage: "00".repeat(32),
            payment_hash: "11".repeat(32),
            amount_msat: 1000,
            fee_msat: 0,
            created_at: 1,
            expires_at,
        }
    }

    #[test]
    fn put_get_remove_and_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path().join("tokens"));
        cache.put("127.0.0.1:80", &token(Some(100))).unwrap();
        assert_eq!(cache.get("127.0.0.1:80", 50), Some(token(Some(100))));
        assert_eq!(
            cache.get("127.0.0.1:80", 100),
            None,
            "expired entries are dropped"
        );
        assert_eq!(cache.get("127.0.0.1:80", 0), None, "and deleted");
        cache.put("h", &token(None)).unwrap();
        cache.remove("h");
        assert_eq!(cache.get("h", 0), None);
    }

    #[test]
    fn debug_redacts_the_preimage() {
        let dbg = format!("{:?}", token(None));
        assert!(!dbg.contains(&"00".repeat(32)));
    }
}
