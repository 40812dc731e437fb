//! Persistence: one [`Store`] trait, two backends — embedded SQLite (the zero-setup default)
//! and PostgreSQL (a fleet of gateways behind a load balancer sharing one database).
//!
//! What is stored: the payment ledger, consumed single-use credentials, revoked L402 token
//! ids, payment sessions and the invoice pool. Schema changes are versioned SQL files
//! (`migrations/<backend>/NNNN_*.sql`) applied at start and recorded in `schema_migrations`.
//!
//! Guarantees (see `docs/ARCHITECTURE.md`, "Store"):
//! * **exactly once** — [`Store::consume`] is one `INSERT … ON CONFLICT DO NOTHING` on a
//!   primary key: across any number of replicas exactly one caller gets `true`;
//! * **durable** — every write is committed (SQLite: WAL + `synchronous=FULL`) before the call
//!   returns; the paywall records a payment before the request is forwarded;
//! * **revocation** — [`Revocations`] is an in-memory copy refreshed in the background, so the
//!   hot path never queries the database; staleness is bounded by the refresh interval.
//!
//! Every [`Store`] is also a [`SessionStore`] (MPP session balances, typed columns of the
//! `sessions` table, changed by conditional `UPDATE`s) and a [`SettlementStore`] (payment
//! states — admitted, served, unserved — and the x402 settlement journal). Single-use consumption goes through `paywall::Reservations`, backed by [`Store::consume`]
//! when a store is attached.

pub mod admin;
mod debits;
mod error;
mod journal;
mod lazy;
mod migrate;
mod postgres;
mod prices;
mod refresh;
mod revocations;
mod sessions;
mod settlements;
mod sql;
mod sql_rows;
mod sql_sessions;
mod sqlite;
mod types;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;

pub use error::StoreError;
pub use journal::{StoreJournal, X402Tag};
pub use lazy::LazyStore;
pub use postgres::PgStore;
pub use prices::Prices;
pub use revocations::Revocations;
pub use sessions::{RefundStatus, SessionRecord as MppSessionRecord, SessionStore};
pub use settlements::{PendingRow, SettlementStore};
pub use sqlite::SqliteStore;
pub use types::{LedgerFilter, PaymentRecord, PaymentState, PooledInvoice, Totals};

/// Shorthand for store results.
pub type StoreResult<T> = Result<T, StoreError>;

/// The gateway's persistent state. Every method is one short transaction; every write is
/// durable when it returns `Ok`.
#[async_trait]
pub trait Store:
    SessionStore + SettlementStore + admin::AdminStore + Send + Sync + std::fmt::Debug + 'static
{
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// Consume a single-use credential: `true` for the first caller ever (across replicas),
    /// `false` if `key` was already consumed. `expires_at` (Unix s) lets old keys be purged.
    async fn consume(&self, key: &[u8], protocol: &str, expires_at: u64) -> StoreResult<bool>;

    /// Undo a [`consume`](Store::consume) whose payment was not taken (x402: the upstream
    /// failed or the rail refused), so the same proof may be presented again; `true` if the
    /// key was consumed.
    async fn release(&self, key: &[u8]) -> StoreResult<bool>;

    /// [`consume`](Store::consume) and [`record_payment`](Store::record_payment) in one
    /// transaction: the payment is recorded if and only if this call consumed the key.
    async fn consume_and_record(
        &self,
        key: &[u8],
        expires_at: u64,
        payment: &PaymentRecord,
    ) -> StoreResult<bool>;

    /// Record a settled payment, idempotently on `(protocol, reference)`; `true` if new.
    async fn record_payment(&self, payment: &PaymentRecord) -> StoreResult<bool>;

    /// Ledger rows matching `filter`, newest first.
    async fn ledger(&self, filter: &LedgerFilter) -> StoreResult<Vec<PaymentRecord>>;

    /// Count and sum per route and protocol of the rows matching `filter` (its `limit` is
    /// ignored), ordered by route then protocol.
    async fn totals(&self, filter: &LedgerFilter) -> StoreResult<Vec<Totals>>;

    /// Revoke an L402 token id; `true` if it was not revoked before.
    async fn revoke(&self, token_id: &[u8; 32], now: u64) -> StoreResult<bool>;

    /// Whether `token_id` is revoked (one query; the paywall uses [`Revocations`] instead).
    async fn is_revoked(&self, token_id: &[u8; 32]) -> StoreResult<bool>;

    /// Every revoked token id (what [`Revocations`] reloads).
    async fn revoked(&self) -> StoreResult<Vec<[u8; 32]>>;

    /// Delete consumed keys, sessions and pooled invoices that expired before `now`; returns
    /// the number of rows removed.
    async fn purge_expired(&self, now: u64) -> StoreResult<u64>;

    /// Add a pre-minted invoice to the pool; `false` if its payment hash is already there.
    async fn pool_add(&self, invoice: &PooledInvoice, now: u64) -> StoreResult<bool>;

    /// Atomically take (remove and return) one pooled invoice for `route` and `amount_msat`
    /// that is still valid at `valid_until` (Unix s); the soonest-expiring first. Two replicas
    /// never take the same invoice.
    async fn pool_take(
        &self,
        route: &str,
        amount_msat: u64,
        valid_until: u64,
    ) -> StoreResult<Option<PooledInvoice>>;

    /// Like [`Store::pool_take`], up to `limit` invoices in one transaction (what the pool's
    /// refill workers claim for the memory front: one commit per batch instead of one per
    /// invoice).
    async fn pool_take_many(
        &self,
        route: &str,
        amount_msat: u64,
        valid_until: u64,
        limit: u32,
    ) -> StoreResult<Vec<PooledInvoice>>;

    /// Number of pooled invoices for `route` still valid at `valid_until`.
    async fn pool_count(&self, route: &str, valid_until: u64) -> StoreResult<u64>;

    /// Count one use of a token sold for `max` uses (`token_uses` table), atomically across
    /// every gateway sharing the store: `true` if this use is within the quota (then counted),
    /// `false` once `max` uses were counted. The row is kept until `expires_at`.
    async fn use_quota(&self, token_id: &[u8; 32], max: u64, expires_at: u64) -> StoreResult<bool>;
}

/// How to open a store (built from the `[store]` config section).
#[derive(Clone, PartialEq, Eq)]
pub enum StoreOptions {
    /// An SQLite file (created with its directory if missing).
    Sqlite {
        /// Database file.
        path: std::path::PathBuf,
        /// How long a statement waits for SQLite's lock (`busy_timeout`) or the pool for a
        /// connection before the store is "unavailable" (503).
        busy_timeout: Duration,
    },
    /// A PostgreSQL database.
    Postgres {
        /// `postgres://user[:password]@host[:port]/db` (secret: never logged).
        url: String,
        /// Pool size.
        max_connections: u32,
        /// How long a request waits for a connection before the store is "unavailable".
        acquire_timeout: Duration,
    },
}

/// Default SQLite `busy_timeout`.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl StoreOptions {
    /// An SQLite file with the default [`SQLITE_BUSY_TIMEOUT`].
    pub fn sqlite(path: impl Into<std::path::PathBuf>) -> StoreOptions {
        StoreOptions::Sqlite {
            path: path.into(),
            busy_timeout: SQLITE_BUSY_TIMEOUT,
        }
    }
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreOptions::Sqlite { path, busy_timeout } => f
                .debug_struct("Sqlite")
                .field("path", path)
                .field("busy_timeout", busy_timeout)
                .finish(),
            StoreOptions::Postgres {
                max_connections, ..
            } => f
                .debug_struct("Postgres")
                .field("url", &"<redacted>")
                .field("max_connections", max_connections)
                .finish(),
        }
    }
}

/// Open the store and apply pending migrations.
pub async fn open(options: &StoreOptions) -> StoreResult<Arc<dyn Store>> {
    Ok(match options {
        StoreOptions::Sqlite { path, busy_timeout } => {
            Arc::new(SqliteStore::open_with(path, *busy_timeout).await?)
        }
        StoreOptions::Postgres {
            url,
            max_connections,
            acquire_timeout,
        } => Arc::new(PgStore::connect(url, *max_connections, *acquire_timeout).await?),
    })
}
