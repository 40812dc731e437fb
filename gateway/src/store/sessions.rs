//! [`SessionStore`]: MPP Lightning session balances. Implemented by both SQL stores on the
//! `sessions` table (`sql_sessions.rs`): every step is one conditional statement, so gateways
//! sharing a database share balances and never overdraw one.

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
    /// Idle timeout advertised when the session was opened, seconds (0: none): a session
    /// unused for longer is closed by the gateway and refunded.
    pub idle_timeout_secs: u64,
    /// Who opened it, for the per-payer bound: `node:<payee pubkey hex>` of the return
    /// invoice, else `addr:<client address>`; `None` when unknown.
    #[serde(default)]
    pub payer: Option<String>,
}

impl SessionRecord {
    /// Unspent balance.
    pub fn balance_sats(&self) -> u64 {
        self.deposited_sats.saturating_sub(self.spent_sats)
    }
}

/// Session balances. Every method is one atomic step (one SQL `UPDATE … WHERE`).
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
    /// Open sessions of `payer`.
    async fn open_sessions_of(&self, payer: &str) -> Result<u64, StoreError>;
    /// Close at most `limit` open sessions idle since before `now - idle_timeout` and return
    /// them (as they were). Each session is claimed by exactly one caller, whichever gateway
    /// of a fleet sweeps: its refund is paid once.
    async fn claim_idle(&self, now: u64, limit: u32) -> Result<Vec<SessionRecord>, StoreError>;
}
