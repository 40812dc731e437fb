//! The SQL shared by both backends. Statements use `$N` placeholders, which PostgreSQL and
//! sqlx's SQLite driver both accept, so one macro implements [`Store`](super::Store) for each
//! backend's pool type; only the invoice-pool `take` differs (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL).

/// Ledger columns, in the order [`payment_from_row`] reads them.
pub(crate) const PAYMENT_COLUMNS: &str =
    "protocol, rail, reference, token_id, route, amount_msat, payer, created_at, state, use_key";

/// Insert a payment unless `(protocol, reference)` is already in the ledger.
pub(crate) const INSERT_PAYMENT: &str = "INSERT INTO payments (protocol, rail, reference, \
     token_id, route, amount_msat, payer, created_at, state, use_key) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (protocol, reference) DO NOTHING";

/// Consume a key: one row inserted = first use.
pub(crate) const DELETE_CONSUMED: &str = "DELETE FROM consumed WHERE key = $1";

pub(crate) const INSERT_CONSUMED: &str = "INSERT INTO consumed (key, protocol, expires_at, \
     consumed_at) VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING";

/// `WHERE` clause shared by the ledger and the totals (binds `$1` route, `$2` protocol,
/// `$3` since, `$4` unserved only: 0 or 1).
pub(crate) const LEDGER_WHERE: &str = "WHERE (CAST($1 AS TEXT) IS NULL OR route = $1) \
     AND (CAST($2 AS TEXT) IS NULL OR protocol = $2) \
     AND (CAST($3 AS BIGINT) IS NULL OR created_at >= $3) \
     AND (CAST($4 AS BIGINT) = 0 OR state <> 'served')";

/// Implement `Store` for a struct with a `pool: sqlx::Pool<$db>` field.
macro_rules! impl_sql_store {
    ($ty:ty, $db:ty, $backend:literal, take = $take:expr, take_many = $take_many:expr) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $ty {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn consume(
                &self,
                key: &[u8],
                protocol: &str,
                expires_at: u64,
            ) -> StoreResult<bool> {
                let r = sqlx::query($crate::store::sql::INSERT_CONSUMED)
                    .bind(key)
                    .bind(protocol)
                    .bind(to_i64(expires_at, "expires_at")?)
                    .bind(to_i64($crate::clock::now_unix(), "now")?)
                    .execute(&self.pool)
                    .await
                    .map_err(classify)?;
                Ok(r.rows_affected() == 1)
            }

            async fn release(&self, key: &[u8]) -> StoreResult<bool> {
                let r = sqlx::query($crate::store::sql::DELETE_CONSUMED)
                    .bind(key)
                    .execute(&self.pool)
                    .await
                    .map_err(classify)?;
                Ok(r.rows_affected() == 1)
            }

            async fn consume_and_record(
                &self,
                key: &[u8],
                expires_at: u64,
                p: &PaymentRecord,
            ) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await.map_err(classify)?;
                let r = sqlx::query($crate::store::sql::INSERT_CONSUMED)
                    .bind(key)
                    .bind(p.protocol.as_str())
                    .bind(to_i64(expires_at, "expires_at")?)
                    .bind(to_i64(p.created_at, "created_at")?)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                if r.rows_affected() != 1 {
                    tx.rollback().await.map_err(classify)?;
                    return Ok(false);
                }
                bind_payment(sqlx::query($crate::store::sql::INSERT_PAYMENT), p)?
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                tx.commit().await.map_err(classify)?;
                Ok(true)
            }

            async fn record_payment(&self, p: &PaymentRecord) -> StoreResult<bool> {
                let r = bind_payment(sqlx::query($crate::store::sql::INSERT_PAYMENT), p)?
                    .execute(&self.pool)
                    .await
                    .map_err(classify)?;
                Ok(r.rows_affected() == 1)
            }

            async fn ledger(&self, f: &LedgerFilter) -> StoreResult<Vec<PaymentRecord>> {
                let sql = format!(
                    "SELECT {} FROM payments {} ORDER BY id DESC LIMIT $5",
                    $crate::store::sql::PAYMENT_COLUMNS,
                    $crate::store::sql::LEDGER_WHERE
                );
                let since = f.since.map(|s| to_i64(s, "since")).transpose()?;
                let limit = f.limit.map_or(i64::MAX, i64::from);
                let rows = sqlx::query(&sql)
                    .bind(f.route.as_deref())
                    .bind(f.protocol.as_deref())
                    .bind(since)
                    .bind(i64::from(f.unserved))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(classify)?;
                rows.iter().map(payment_from_row).collect()
            }

            async fn totals(&self, f: &LedgerFilter) -> StoreResult<Vec<Totals>> {
                let sql = format!(
                    "SELECT route, protocol, COUNT(*) AS n, CAST(SUM(amount_msat) AS BIGINT) \
                     AS total FROM payments {} GROUP BY route, protocol ORDER BY route, protocol",
                    $crate::store::sql::LEDGER_WHERE
                );
                let since = f.since.map(|s| to_i64(s, "since")).transpose()?;
                let rows = sqlx::query(&sql)
                    .bind(f.route.as_deref())
                    .bind(f.protocol.as_deref())
                    .bind(since)
                    .bind(i64::from(f.unserved))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(classify)?;
                rows.iter()
                    .map(|r| {
                        Ok(Totals {
                            route: r.try_get("route").map_err(classify)?,
                            protocol: r.try_get("protocol").map_err(classify)?,
                            payments: to_u64(r.try_get("n").map_err(classify)?, "count")?,
                            amount_msat: to_u64(r.try_get("total").map_err(classify)?, "sum")?,
                        })
                    })
                    .collect()
            }

            async fn revoke(&self, token_id: &[u8; 32], now: u64) -> StoreResult<bool> {
                let r = sqlx::query(
                    "INSERT INTO revocations (token_id, revoked_at) VALUES ($1, $2) \
                     ON CONFLICT (token_id) DO NOTHING",
                )
                .bind(&token_id[..])
                .bind(to_i64(now, "now")?)
                .execute(&self.pool)
                .await
                .map_err(classify)?;
                Ok(r.rows_affected() == 1)
            }

            async fn is_revoked(&self, token_id: &[u8; 32]) -> StoreResult<bool> {
                let row = sqlx::query("SELECT 1 FROM revocations WHERE token_id = $1")
                    .bind(&token_id[..])
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(classify)?;
                Ok(row.is_some())
            }

            async fn revoked(&self) -> StoreResult<Vec<[u8; 32]>> {
                let rows = sqlx::query("SELECT token_id FROM revocations")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(classify)?;
                rows.iter()
                    .map(|r| hash32(r.try_get("token_id").map_err(classify)?))
                    .collect()
            }

            async fn purge_expired(&self, now: u64) -> StoreResult<u64> {
                let now = to_i64(now, "now")?;
                let mut n = 0;
                for table in ["consumed", "sessions", "invoice_pool", "token_uses"] {
                    let sql = format!("DELETE FROM {table} WHERE expires_at < $1");
                    let r = sqlx::query(&sql)
                        .bind(now)
                        .execute(&self.pool)
                        .await
                        .map_err(classify)?;
                    n += r.rows_affected();
                }
                Ok(n)
            }

            async fn pool_add(&self, inv: &PooledInvoice, now: u64) -> StoreResult<bool> {
                let r = sqlx::query(
                    "INSERT INTO invoice_pool (payment_hash, route, amount_msat, bolt11, \
                     expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(&inv.payment_hash[..])
                .bind(inv.route.as_str())
                .bind(to_i64(inv.amount_msat, "amount_msat")?)
                .bind(inv.bolt11.as_str())
                .bind(to_i64(inv.expires_at, "expires_at")?)
                .bind(to_i64(now, "now")?)
                .execute(self.rows())
                .await
                .map_err(classify)?;
                Ok(r.rows_affected() == 1)
            }

            async fn pool_take(
                &self,
                route: &str,
                amount_msat: u64,
                valid_until: u64,
            ) -> StoreResult<Option<PooledInvoice>> {
                let row = sqlx::query($take)
                    .bind(route)
                    .bind(to_i64(amount_msat, "amount_msat")?)
                    .bind(to_i64(valid_until, "valid_until")?)
                    .fetch_optional(self.rows())
                    .await
                    .map_err(classify)?;
                row.map(|r| pooled_row(&r)).transpose()
            }

            async fn pool_take_many(
                &self,
                route: &str,
                amount_msat: u64,
                valid_until: u64,
                limit: u32,
            ) -> StoreResult<Vec<PooledInvoice>> {
                let rows = sqlx::query($take_many)
                    .bind(route)
                    .bind(to_i64(amount_msat, "amount_msat")?)
                    .bind(to_i64(valid_until, "valid_until")?)
                    .bind(i64::from(limit))
                    .fetch_all(self.rows())
                    .await
                    .map_err(classify)?;
                rows.iter().map(|r| pooled_row(r)).collect()
            }

            async fn use_quota(
                &self,
                token_id: &[u8; 32],
                max: u64,
                expires_at: u64,
            ) -> StoreResult<bool> {
                // One statement: the first use inserts 1, later ones add 1 only while below
                // `max`; a row comes back only when this use was counted.
                let row = sqlx::query(
                    "INSERT INTO token_uses (token_id, uses, expires_at) VALUES ($1, 1, $3) \
                     ON CONFLICT (token_id) DO UPDATE SET uses = token_uses.uses + 1 \
                     WHERE token_uses.uses < $2 RETURNING uses",
                )
                .bind(&token_id[..])
                .bind(to_i64(max, "max")?)
                .bind(to_i64(expires_at, "expires_at")?)
                .fetch_optional(&self.pool)
                .await
                .map_err(classify)?;
                Ok(row.is_some() && max > 0)
            }

            async fn pool_count(&self, route: &str, valid_until: u64) -> StoreResult<u64> {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM invoice_pool WHERE route = $1 AND expires_at > $2",
                )
                .bind(route)
                .bind(to_i64(valid_until, "valid_until")?)
                .fetch_one(self.rows())
                .await
                .map_err(classify)?;
                to_u64(n, "count")
            }
        }

        $crate::store::sql_rows::impl_sql_rows!($db);
    };
}

pub(crate) use impl_sql_store;
