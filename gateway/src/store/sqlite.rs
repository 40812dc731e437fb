//! [`SqliteStore`]: the embedded default. One file (WAL journal, `synchronous = FULL`: a
//! committed write survives `kill -9` and power loss), created with its directory on first
//! start. Writers serialise on SQLite's lock; `busy_timeout` makes them wait instead of fail.
//!
//! The invoice pool's rows (pre-minted invoices no client has seen, and their claims) go
//! through a second, small connection pool on the same file with `synchronous = NORMAL`: in
//! WAL mode a commit there survives `kill -9` but not a power loss, and costs no `fsync`
//! (an unpaid 402 claimed a batch of invoices, each minted invoice was one insert: the
//! `fsync`s were a quarter of the 402 path's CPU, issue I). What a power loss can undo there
//! is harmless: a reserve row that was never handed out is forgotten (an unused invoice
//! expires in LND), and a claim that is undone hands its invoice out again — a second client
//! paying an invoice that was already paid is refused by LND, and a preimage only ever opens
//! the tokens of the payment hash its payer paid. Payments, uses and sessions stay `FULL`;
//! session debits are group-committed (`store::debits`).

use std::{path::Path, time::Duration};

use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    Row, SqlitePool,
};

use super::{
    admin::impl_sql_admin,
    debits::Debits,
    error::{classify, to_i64, to_u64},
    migrate::{apply_migrations, SQLITE},
    settlements::impl_sql_settlements,
    sql::impl_sql_store,
    sql_sessions::{impl_sql_sessions, COLUMNS, DEBIT},
    LedgerFilter, PaymentRecord, PooledInvoice, StoreError, StoreResult, Totals,
};

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The invoice pool's connections (`synchronous = NORMAL`; see the module doc).
    rows: SqlitePool,
    /// Group commit of session debits (`None` for an in-memory database, or when the
    /// committer's own connection cannot open the file: debits then go one by one).
    debits: Option<Debits>,
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
        let in_memory = options.get_filename() == Path::new(":memory:");
        let file = options.get_filename().to_path_buf();
        let rows_options = options.clone().synchronous(SqliteSynchronous::Normal);
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
        // A private in-memory database is per connection: its rows must share the pool.
        let rows = if in_memory {
            pool.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(2)
                .acquire_timeout(busy_timeout)
                .connect_with(rows_options)
                .await
                .map_err(classify)?
        };
        // A private in-memory database has no file for the committer to open.
        let debits = (!in_memory)
            .then(|| {
                let debit = format!("{DEBIT} RETURNING {COLUMNS}");
                Debits::start(&file, busy_timeout, debit)
            })
            .flatten();
        Ok(SqliteStore { pool, rows, debits })
    }

    /// The group committer of session debits.
    pub(crate) fn debits(&self) -> Option<&Debits> {
        self.debits.as_ref()
    }

    /// The connections of the invoice pool's rows.
    fn rows(&self) -> &SqlitePool {
        &self.rows
    }

    /// Close the pools (waits for connections in use).
    pub async fn close(&self) {
        self.rows.close().await;
        self.pool.close().await;
    }
}

impl_sql_store!(
    SqliteStore,
    sqlx::Sqlite,
    "sqlite",
    // The reserve is keyed in claim order (migration 9): a claim deletes by that key.
    take = "DELETE FROM invoice_pool WHERE route = $1 AND amount_msat = $2 \
            AND (expires_at, payment_hash) IN (SELECT expires_at, payment_hash \
            FROM invoice_pool WHERE route = $1 AND amount_msat = $2 AND expires_at > $3 \
            ORDER BY expires_at LIMIT 1) \
            RETURNING payment_hash, route, amount_msat, bolt11, expires_at",
    // SQLite runs one writer at a time: the subquery's LIMIT holds.
    take_many = "DELETE FROM invoice_pool WHERE route = $1 AND amount_msat = $2 \
            AND (expires_at, payment_hash) IN (SELECT expires_at, payment_hash \
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{migrate::SQLITE, Store};

    /// Payments and uses commit with `synchronous = FULL`; the invoice pool's rows with
    /// `NORMAL`, on the same file (a row added there is seen, and purged, by the other pool).
    #[tokio::test]
    async fn the_invoice_pool_rows_skip_the_fsync_and_nothing_else_does() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("g.db")).await.unwrap();
        let sync = |pool: &SqlitePool| {
            let pool = pool.clone();
            async move {
                let n: i64 = sqlx::query_scalar("PRAGMA synchronous")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                n
            }
        };
        // 2 = FULL, 1 = NORMAL.
        assert_eq!(sync(&store.pool).await, 2);
        assert_eq!(sync(&store.rows).await, 1);
        let row = PooledInvoice {
            payment_hash: [7; 32],
            route: "r".into(),
            amount_msat: 1000,
            bolt11: "lnbcrt1".into(),
            expires_at: 100,
        };
        assert!(store.pool_add(&row, 1).await.unwrap());
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM invoice_pool")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(n, 1);
        assert_eq!(store.purge_expired(101).await.unwrap(), 1);
        assert_eq!(store.pool_count("r", 0).await.unwrap(), 0);
    }

    /// A version-8 database (reserve keyed by `payment_hash`) keeps its reserve through
    /// migration 9: the rows come back in claim order from the clustered table, and one
    /// invoice is still admitted once.
    #[tokio::test]
    async fn migration_9_keeps_the_reserve_and_clusters_it_in_claim_order() {
        use sqlx::Connection;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v8.db");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        sqlx::raw_sql(
            "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, \
             name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        for (version, name, sql) in SQLITE.iter().filter(|m| m.0 <= 8) {
            sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
            sqlx::query("INSERT INTO schema_migrations VALUES ($1, $2, 0)")
                .bind(version)
                .bind(name)
                .execute(&mut conn)
                .await
                .unwrap();
        }
        // Hashes in the opposite order of expiry: the old key's order is not the claim order.
        for (i, hash) in [(0u64, 9u8), (1, 5), (2, 1)] {
            sqlx::query(
                "INSERT INTO invoice_pool (payment_hash, route, amount_msat, bolt11, \
                 expires_at, created_at) VALUES ($1, 'r', 1000, 'lnbcrt1', $2, 0)",
            )
            .bind(&[hash; 32][..])
            .bind(1000 + i as i64)
            .execute(&mut conn)
            .await
            .unwrap();
        }
        conn.close().await.unwrap();

        let store = SqliteStore::open(&path).await.unwrap();
        let table: String = sqlx::query_scalar(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'invoice_pool'",
        )
        .fetch_one(&store.pool)
        .await
        .unwrap();
        assert!(table.contains("WITHOUT ROWID"), "{table}");
        assert_eq!(store.pool_count("r", 0).await.unwrap(), 3);
        let again = PooledInvoice {
            payment_hash: [5; 32],
            route: "r".into(),
            amount_msat: 1000,
            bolt11: "lnbcrt1".into(),
            expires_at: 1001,
        };
        assert!(!store.pool_add(&again, 1).await.unwrap(), "admitted twice");
        let taken = store.pool_take_many("r", 1000, 1000, 2).await.unwrap();
        let hashes: Vec<u8> = taken.iter().map(|p| p.payment_hash[0]).collect();
        assert_eq!(
            hashes,
            [5, 1],
            "soonest-expiring first, the expired one skipped"
        );
        let last = store.pool_take("r", 1000, 0).await.unwrap().unwrap();
        assert_eq!(last.payment_hash, [9; 32]);
        assert!(store.pool_take("r", 1000, 0).await.unwrap().is_none());
    }
}
