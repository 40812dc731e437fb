//! [`SessionStore`]: MPP Lightning session balances, and a file-backed implementation.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use gate402_protocols::VerifyError;
use serde::{Deserialize, Serialize};

use super::StoreError;

/// Outcome of the refund attempted on close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefundStatus {
    /// Paid.
    Succeeded,
    /// Attempted once and failed (the session stays closed).
    Failed,
    /// Nothing to refund.
    Skipped,
}

impl RefundStatus {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
            RefundStatus::Skipped => "skipped",
        }
    }
}

/// One session. Amounts in satoshis; `deposited - spent` is the balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Session id: the deposit payment hash, lowercase hex.
    pub id: String,
    /// Route (service) the session pays for.
    pub route: String,
    /// Deposits and top-ups, total.
    pub deposited_sats: u64,
    /// Spent so far.
    pub spent_sats: u64,
    /// Refund invoice registered at open.
    pub return_invoice: Option<String>,
    /// Closed sessions accept nothing.
    pub closed: bool,
    /// Unix seconds of the last use.
    pub last_used: u64,
}

impl SessionRecord {
    /// Unspent balance.
    pub fn balance_sats(&self) -> u64 {
        self.deposited_sats.saturating_sub(self.spent_sats)
    }
}

/// Session balances. Every method is one atomic step (one SQL `UPDATE … WHERE` in issue F).
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Insert a new session; `Ok(false)` if the id exists.
    async fn open(&self, record: SessionRecord) -> Result<bool, StoreError>;
    /// Deduct `sats` from an open session of `route` with enough balance; returns the
    /// updated record.
    async fn debit(
        &self,
        id: &str,
        route: &str,
        sats: u64,
        now: u64,
    ) -> Result<Result<SessionRecord, VerifyError>, StoreError>;
    /// Add `sats` to an open session.
    async fn credit(
        &self,
        id: &str,
        sats: u64,
        now: u64,
    ) -> Result<Result<SessionRecord, VerifyError>, StoreError>;
    /// Mark an open session closed; returns it as it was just before closing.
    async fn close(&self, id: &str) -> Result<Result<SessionRecord, VerifyError>, StoreError>;
    /// Read a session.
    async fn get(&self, id: &str) -> Result<Option<SessionRecord>, StoreError>;
}

/// A [`SessionStore`] kept in memory and, with a path, persisted as one JSON file rewritten
/// atomically (write + rename) on every change, so sessions survive a restart.
#[derive(Debug)]
pub struct FileSessionStore {
    path: Option<PathBuf>,
    sessions: Mutex<HashMap<String, SessionRecord>>,
}

impl FileSessionStore {
    /// A store that forgets everything on restart.
    pub fn in_memory() -> Self {
        FileSessionStore {
            path: None,
            sessions: Mutex::default(),
        }
    }

    /// A store persisted in `dir/mpp-sessions.json` (loaded if present).
    pub fn open_dir(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Local(format!("{}: {e}", dir.display())))?;
        let path = dir.join("mpp-sessions.json");
        let sessions = match std::fs::read(&path) {
            Ok(bytes) => {
                let list: Vec<SessionRecord> = serde_json::from_slice(&bytes)
                    .map_err(|e| StoreError::Local(format!("{}: {e}", path.display())))?;
                list.into_iter().map(|r| (r.id.clone(), r)).collect()
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
            Err(e) => return Err(StoreError::Local(format!("{}: {e}", path.display()))),
        };
        Ok(FileSessionStore {
            path: Some(path),
            sessions: Mutex::new(sessions),
        })
    }

    fn persist(&self, map: &HashMap<String, SessionRecord>) -> Result<(), StoreError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let mut list: Vec<&SessionRecord> = map.values().collect();
        list.sort_by(|a, b| a.id.cmp(&b.id));
        let bytes =
            serde_json::to_vec_pretty(&list).map_err(|e| StoreError::Local(e.to_string()))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, bytes)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| StoreError::Local(format!("{}: {e}", path.display())))
    }

    /// Apply `f` to an open session and persist; the in-memory change is undone if the file
    /// cannot be written.
    fn update(
        &self,
        id: &str,
        f: impl FnOnce(&mut SessionRecord) -> Result<(), VerifyError>,
    ) -> Result<Result<SessionRecord, VerifyError>, StoreError> {
        let mut map = self
            .sessions
            .lock()
            .map_err(|_| StoreError::Local("session store poisoned".into()))?;
        let Some(rec) = map.get_mut(id) else {
            return Ok(Err(VerifyError::SessionNotFound));
        };
        if rec.closed {
            return Ok(Err(VerifyError::SessionClosed));
        }
        let before = rec.clone();
        if let Err(e) = f(rec) {
            return Ok(Err(e));
        }
        let after = rec.clone();
        if let Err(e) = self.persist(&map) {
            map.insert(id.to_owned(), before);
            return Err(e);
        }
        Ok(Ok(after))
    }
}

#[async_trait]
impl SessionStore for FileSessionStore {
    async fn open(&self, record: SessionRecord) -> Result<bool, StoreError> {
        let mut map = self
            .sessions
            .lock()
            .map_err(|_| StoreError::Local("session store poisoned".into()))?;
        if map.contains_key(&record.id) {
            return Ok(false);
        }
        let id = record.id.clone();
        map.insert(id.clone(), record);
        if let Err(e) = self.persist(&map) {
            map.remove(&id);
            return Err(e);
        }
        Ok(true)
    }

    async fn debit(
        &self,
        id: &str,
        route: &str,
        sats: u64,
        now: u64,
    ) -> Result<Result<SessionRecord, VerifyError>, StoreError> {
        self.update(id, |r| {
            if r.route != route {
                return Err(VerifyError::OfferMismatch("route"));
            }
            if r.balance_sats() < sats {
                return Err(VerifyError::InsufficientBalance);
            }
            r.spent_sats += sats;
            r.last_used = now;
            Ok(())
        })
    }

    async fn credit(
        &self,
        id: &str,
        sats: u64,
        now: u64,
    ) -> Result<Result<SessionRecord, VerifyError>, StoreError> {
        self.update(id, |r| {
            r.deposited_sats = r.deposited_sats.saturating_add(sats);
            r.last_used = now;
            Ok(())
        })
    }

    async fn close(&self, id: &str) -> Result<Result<SessionRecord, VerifyError>, StoreError> {
        let mut before = None;
        let res = self.update(id, |r| {
            before = Some(r.clone());
            r.closed = true;
            Ok(())
        })?;
        Ok(res.map(|_| before.unwrap_or_else(|| unreachable_record(id))))
    }

    async fn get(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let map = self
            .sessions
            .lock()
            .map_err(|_| StoreError::Local("session store poisoned".into()))?;
        Ok(map.get(id).cloned())
    }
}

#[cold]
fn unreachable_record(id: &str) -> SessionRecord {
    SessionRecord {
        id: id.into(),
        route: String::new(),
        deposited_sats: 0,
        spent_sats: 0,
        return_invoice: None,
        closed: true,
        last_used: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str) -> SessionRecord {
        SessionRecord {
            id: id.into(),
            route: "api".into(),
            deposited_sats: 100,
            spent_sats: 0,
            return_invoice: None,
            closed: false,
            last_used: 0,
        }
    }

    #[tokio::test]
    async fn persists_across_reopen_and_enforces_rules() {
        let dir = tempfile::tempdir().unwrap();
        let s = FileSessionStore::open_dir(dir.path()).unwrap();
        assert!(s.open(rec("a")).await.unwrap());
        assert!(!s.open(rec("a")).await.unwrap());
        assert_eq!(
            s.debit("a", "api", 60, 1)
                .await
                .unwrap()
                .unwrap()
                .balance_sats(),
            40
        );
        assert_eq!(
            s.debit("a", "api", 60, 1).await.unwrap(),
            Err(VerifyError::InsufficientBalance)
        );
        assert_eq!(
            s.debit("a", "other", 1, 1).await.unwrap(),
            Err(VerifyError::OfferMismatch("route"))
        );
        assert_eq!(
            s.credit("a", 30, 2).await.unwrap().unwrap().balance_sats(),
            70
        );
        drop(s);
        let s = FileSessionStore::open_dir(dir.path()).unwrap();
        assert_eq!(s.get("a").await.unwrap().unwrap().balance_sats(), 70);
        assert_eq!(s.close("a").await.unwrap().unwrap().balance_sats(), 70);
        assert_eq!(
            s.debit("a", "api", 1, 3).await.unwrap(),
            Err(VerifyError::SessionClosed)
        );
        assert_eq!(s.close("a").await.unwrap(), Err(VerifyError::SessionClosed));
        assert_eq!(
            s.debit("zz", "api", 1, 3).await.unwrap(),
            Err(VerifyError::SessionNotFound)
        );
    }
}
