//! [`PgStore`]: PostgreSQL for a fleet of gateways sharing one database. Exactly-once comes
//! from primary keys (`INSERT … ON CONFLICT DO NOTHING`: concurrent inserts of one key wait
//! for each other and exactly one wins); the invoice pool is taken with
//! `FOR UPDATE SKIP LOCKED`. Connections are plain TCP (no TLS: loopback or a private network).
//! The pool reconnects by itself after an outage: no restart needed.

use std::time::Duration;

use sqlx::{postgres::PgPoolOptions, PgPool, Row};

use super::{
    admin::impl_sql_admin,
    error::{classify, to_i64, to_u64},
    migrate::{apply_migrations, POSTGRES},
    settlements::impl_sql_settlements,
    sql::impl_sql_store,
    sql_sessions::impl_sql_sessions,
    LedgerFilter, PaymentRecord, PooledInvoice, StoreError, StoreResult, Totals,
};

/// Advisory lock key held while migrating, so replicas starting together migrate once.
const MIGRATION_LOCK: i64 = 0x0067_6174_6534_3032; // "gate402"

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// No group committer of session debits: PostgreSQL shares WAL flushes between
    /// concurrent commits by itself.
    fn debits(&self) -> Option<&super::debits::Debits> {
        None
    }

    /// Connect to `url` with a pool of `max_connections` and migrate. Requests wait at most
    /// `acquire_timeout` for a connection before failing as unavailable (→ 503).
    pub async fn connect(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> StoreResult<PgStore> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout)
            .connect(url)
            .await
            .map_err(classify)?;
        let mut tx = pool.begin().await.map_err(classify)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        apply_migrations!(tx, POSTGRES);
        tx.commit().await.map_err(classify)?;
        Ok(PgStore { pool })
    }

    /// The connections of the invoice pool's rows (the one pool: a PostgreSQL commit is as
    /// cheap for them as for anything else).
    fn rows(&self) -> &PgPool {
        &self.pool
    }

    /// Close the pool (waits for connections in use).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl_sql_store!(
    PgStore,
    sqlx::Postgres,
    "postgres",
    take = "DELETE FROM invoice_pool WHERE payment_hash = (SELECT payment_hash FROM invoice_pool \
            WHERE route = $1 AND amount_msat = $2 AND expires_at > $3 \
            ORDER BY expires_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
            RETURNING payment_hash, route, amount_msat, bolt11, expires_at",
    // A materialised CTE: the LIMIT is applied once (see the sessions' claim below).
    take_many = "WITH picked AS MATERIALIZED (SELECT payment_hash FROM invoice_pool \
            WHERE route = $1 AND amount_msat = $2 AND expires_at > $3 \
            ORDER BY expires_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
            DELETE FROM invoice_pool WHERE payment_hash IN (SELECT payment_hash FROM picked) \
            RETURNING payment_hash, route, amount_msat, bolt11, expires_at"
);

impl_sql_sessions!(
    PgStore,
    sqlx::Postgres,
    // A materialised CTE: the LIMIT is applied once (an `IN (subquery LIMIT n)` may be
    // re-evaluated under concurrent updates and claim more than n rows).
    claim = "WITH picked AS MATERIALIZED (SELECT id FROM sessions WHERE protocol = 'mpp' \
             AND state = 'open' AND idle_timeout > 0 AND last_used + idle_timeout < $1 \
             ORDER BY last_used LIMIT $2 FOR UPDATE SKIP LOCKED) \
             UPDATE sessions SET state = 'closed', updated_at = $1, expires_at = $3 \
             WHERE state = 'open' AND id IN (SELECT id FROM picked)"
);

impl_sql_settlements!(
    PgStore,
    sqlx::Postgres,
    claim_due = "WITH picked AS MATERIALIZED (SELECT key FROM x402_pending WHERE lease_until < $1 \
                 ORDER BY broadcast_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
                 UPDATE x402_pending SET lease_until = $2 WHERE key IN (SELECT key FROM picked)"
);

impl_sql_admin!(PgStore, sqlx::Postgres);
