//! [`SqliteStore`]: the embedded default. One file (WAL journal, `synchronous = FULL`: a
//! committed write survives `kill -9` and power loss), created with its directory on first
//! start. Writers serialise on SQLite's lock; `busy_timeout` makes them wait instead of fail.

use std::{path::Path, time::Duration};

use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    Row, SqlitePool,
};

use super::{
    admin::impl_sql_admin,
    error::{classify, to_i64, to_u64},
    migrate::{apply_migrations, SQLITE},
    settlements::impl_sql_settlements,
    sql::impl_sql_store,
    sql_sessions::impl_sql_sessions,
    LedgerFilter, PaymentRecord, PooledInvoice, StoreError, StoreResult, Totals,
};

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Open (creating if needed) the database file at `path` and migrate it.
    pub async fn open(path: &Path) -> StoreResult<SqliteStore> {
        SqliteStore::open_with(path, super::SQLITE_BUSY_TIMEOUT).await
    }

    /// [`open`](Self::open) with `busy_timeout`: how long a statement waits for a lock held
    /// by another connection (another process, a backup, an admin's `BEGIN EXCLUSIVE`) and
    /// the pool for a free connection; after that the call is `Unavailable` (503).
    pub async fn open_with(path: &Path, busy_timeout: Duration) -> StoreResult<SqliteStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", dir.display())))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(busy_timeout);
        SqliteStore::open_with_options(options, busy_timeout).await
    }

    /// Open with connection `options` as given (an application embedding the gateway that
    /// sets its own pragmas, e.g. `max_page_count` as a size quota: a full database answers
    /// 503 like a locked one). `busy_timeout` bounds the wait for a pooled connection.
    pub async fn open_with_options(
        options: SqliteConnectOptions,
        busy_timeout: Duration,
    ) -> StoreResult<SqliteStore> {
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(busy_timeout)
            .connect_with(options)
            .await
            .map_err(classify)?;
        // IMMEDIATE: take the write lock first, so two processes starting together cannot
        // both decide to apply the same migration.
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(classify)?;
        apply_migrations!(tx, SQLITE);
        tx.commit().await.map_err(classify)?;
        Ok(SqliteStore { pool })
    }

    /// Close the pool (waits for connections in use).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl_sql_store!(
    SqliteStore,
    sqlx::Sqlite,
    "sqlite",
    take = "DELETE FROM invoice_pool WHERE payment_hash = (SELECT payment_hash FROM invoice_pool \
            WHERE route = $1 AND amount_msat = $2 AND expires_at > $3 \
            ORDER BY expires_at LIMIT 1) \
            RETURNING payment_hash, route, amount_msat, bolt11, expires_at",
    // SQLite runs one writer at a time: the subquery's LIMIT holds.
    take_many = "DELETE FROM invoice_pool WHERE payment_hash IN (SELECT payment_hash \
            FROM invoice_pool WHERE route = $1 AND amount_msat = $2 AND expires_at > $3 \
            ORDER BY expires_at LIMIT $4) \
            RETURNING payment_hash, route, amount_msat, bolt11, expires_at"
);

impl_sql_sessions!(
    SqliteStore,
    sqlx::Sqlite,
    claim = "UPDATE sessions SET state = 'closed', updated_at = $1, expires_at = $3 \
             WHERE state = 'open' AND id IN (SELECT id FROM sessions WHERE protocol = 'mpp' \
             AND state = 'open' AND idle_timeout > 0 AND last_used + idle_timeout < $1 \
             ORDER BY last_used LIMIT $2)"
);

impl_sql_settlements!(
    SqliteStore,
    sqlx::Sqlite,
    claim_due = "UPDATE x402_pending SET lease_until = $2 WHERE lease_until < $1 AND key IN \
                 (SELECT key FROM x402_pending WHERE lease_until < $1 ORDER BY broadcast_at \
                 LIMIT $3)"
);

impl_sql_admin!(SqliteStore, sqlx::Sqlite);
