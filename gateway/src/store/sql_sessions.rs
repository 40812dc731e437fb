//! [`SessionStore`](super::SessionStore) on the `sessions` table, for both SQL backends.
//!
//! Every change is one conditional statement with `RETURNING`: a deduction is
//! `UPDATE … SET spent = spent + $n WHERE id = $id AND state = 'open' AND deposited - spent >= $n`,
//! so concurrent deductions from any number of gateways never overdraw; close and the idle
//! sweep flip `state` from `open` once (one winner pays the refund). When a conditional
//! statement matches nothing, one read tells why (not found, closed, other route, balance).

/// Columns of an MPP session row, in the order `mpp_session_from_row` reads them.
pub(crate) const COLUMNS: &str =
    "id, route, deposited, spent, state, last_used, idle_timeout, return_invoice, payer";

/// A deduction: `$1` id, `$2` route, `$3` sats, `$4` now (with `RETURNING` [`COLUMNS`]).
pub(crate) const DEBIT: &str = "UPDATE sessions SET spent = spent + $3, last_used = $4, \
    updated_at = $4 WHERE id = $1 AND protocol = 'mpp' AND route = $2 AND state = 'open' \
    AND deposited - spent >= $3";

/// Closed sessions are kept this long (answering `session-closed`), then purged.
pub(crate) const CLOSED_RETENTION_SECS: u64 = 30 * 86_400;

/// Implement `SessionStore` for a struct with a `pool: sqlx::Pool<$db>` field and a
/// `debits(&self) -> Option<&Debits>` method (the group committer of debits, if any); `$claim`
/// is the backend's idle-claim statement (`$1` now, `$2` limit, `$3` purge time of closed rows).
macro_rules! impl_sql_sessions {
    ($ty:ty, $db:ty, claim = $claim:expr) => {
        fn mpp_session_from_row(
            r: &<$db as sqlx::Database>::Row,
        ) -> StoreResult<$crate::store::MppSessionRecord> {
            let state: String = r.try_get("state").map_err(classify)?;
            Ok($crate::store::MppSessionRecord {
                id: r.try_get("id").map_err(classify)?,
                route: r.try_get("route").map_err(classify)?,
                deposited_sats: to_u64(r.try_get("deposited").map_err(classify)?, "deposited")?,
                spent_sats: to_u64(r.try_get("spent").map_err(classify)?, "spent")?,
                return_invoice: r.try_get("return_invoice").map_err(classify)?,
                closed: state != "open",
                last_used: to_u64(r.try_get("last_used").map_err(classify)?, "last_used")?,
                idle_timeout_secs: to_u64(r.try_get("idle_timeout").map_err(classify)?, "idle")?,
                payer: r.try_get("payer").map_err(classify)?,
            })
        }

        impl $ty {
            /// One row by id.
            async fn mpp_session_row(
                &self,
                id: &str,
            ) -> StoreResult<Option<$crate::store::MppSessionRecord>> {
                let sql = format!(
                    "SELECT {} FROM sessions WHERE id = $1 AND protocol = 'mpp'",
                    $crate::store::sql_sessions::COLUMNS
                );
                let row = sqlx::query(&sql)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(classify)?;
                row.as_ref().map(mpp_session_from_row).transpose()
            }

            /// Why a conditional update on `id` matched nothing.
            async fn mpp_session_refusal(
                &self,
                id: &str,
                route: Option<&str>,
            ) -> StoreResult<gate402_protocols::VerifyError> {
                use gate402_protocols::VerifyError;
                Ok(match self.mpp_session_row(id).await? {
                    None => VerifyError::SessionNotFound,
                    Some(r) if r.closed => VerifyError::SessionClosed,
                    Some(r) if route.is_some_and(|x| x != r.route) => {
                        VerifyError::OfferMismatch("route")
                    }
                    Some(_) => VerifyError::InsufficientBalance,
                })
            }

            /// Run a conditional `UPDATE … RETURNING` on one session.
            async fn mpp_session_step(
                &self,
                sql: &str,
                id: &str,
                route: Option<&str>,
                a: i64,
                b: i64,
            ) -> StoreResult<
                Result<$crate::store::MppSessionRecord, gate402_protocols::VerifyError>,
            > {
                let sql = format!("{sql} RETURNING {}", $crate::store::sql_sessions::COLUMNS);
                let row = sqlx::query(&sql)
                    .bind(id)
                    .bind(route.unwrap_or(""))
                    .bind(a)
                    .bind(b)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(classify)?;
                match row {
                    Some(r) => Ok(Ok(mpp_session_from_row(&r)?)),
                    None => Ok(Err(self.mpp_session_refusal(id, route).await?)),
                }
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::SessionStore for $ty {
            async fn open(&self, r: $crate::store::MppSessionRecord) -> StoreResult<bool> {
                let res = sqlx::query(
                    "INSERT INTO sessions (id, protocol, version, data, expires_at, updated_at, \
                     route, deposited, spent, state, last_used, idle_timeout, return_invoice, \
                     payer) \
                     VALUES ($1, 'mpp', 0, '', $2, $3, $4, $5, $6, 'open', $3, $7, $8, $9) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(r.id.as_str())
                .bind(i64::MAX)
                .bind(to_i64(r.last_used, "last_used")?)
                .bind(r.route.as_str())
                .bind(to_i64(r.deposited_sats, "deposited")?)
                .bind(to_i64(r.spent_sats, "spent")?)
                .bind(to_i64(r.idle_timeout_secs, "idle_timeout")?)
                .bind(r.return_invoice.as_deref())
                .bind(r.payer.as_deref())
                .execute(&self.pool)
                .await
                .map_err(classify)?;
                Ok(res.rows_affected() == 1)
            }

            async fn open_sessions_of(&self, payer: &str) -> StoreResult<u64> {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM sessions WHERE protocol = 'mpp' AND payer = $1 \
                     AND state = 'open'",
                )
                .bind(payer)
                .fetch_one(&self.pool)
                .await
                .map_err(classify)?;
                to_u64(n, "count")
            }

            async fn debit(
                &self,
                id: &str,
                route: &str,
                sats: u64,
                now: u64,
            ) -> StoreResult<Result<$crate::store::MppSessionRecord, gate402_protocols::VerifyError>>
            {
                let (sats, now) = (to_i64(sats, "sats")?, to_i64(now, "now")?);
                // Group commit where the backend has one (SQLite, `store::debits`).
                if let Some(debits) = self.debits() {
                    if let Some(done) = debits.debit(id, route, sats, now).await {
                        return match done? {
                            Some(rec) => Ok(Ok(rec)),
                            None => Ok(Err(self.mpp_session_refusal(id, Some(route)).await?)),
                        };
                    }
                }
                self.mpp_session_step(
                    $crate::store::sql_sessions::DEBIT,
                    id,
                    Some(route),
                    sats,
                    now,
                )
                .await
            }

            async fn credit(
                &self,
                id: &str,
                sats: u64,
                now: u64,
            ) -> StoreResult<Result<$crate::store::MppSessionRecord, gate402_protocols::VerifyError>>
            {
                self.mpp_session_step(
                    "UPDATE sessions SET deposited = deposited + $3, last_used = $4, \
                     updated_at = $4 WHERE id = $1 AND protocol = 'mpp' AND state = 'open' \
                     AND $2 = $2",
                    id,
                    None,
                    to_i64(sats, "sats")?,
                    to_i64(now, "now")?,
                )
                .await
            }

            async fn close(
                &self,
                id: &str,
            ) -> StoreResult<Result<$crate::store::MppSessionRecord, gate402_protocols::VerifyError>>
            {
                let now = $crate::clock::now_unix();
                let purge = now.saturating_add($crate::store::sql_sessions::CLOSED_RETENTION_SECS);
                self.mpp_session_step(
                    "UPDATE sessions SET state = 'closed', updated_at = $3, expires_at = $4 \
                     WHERE id = $1 AND protocol = 'mpp' AND state = 'open' AND $2 = $2",
                    id,
                    None,
                    to_i64(now, "now")?,
                    to_i64(purge, "purge")?,
                )
                .await
            }

            async fn get(&self, id: &str) -> StoreResult<Option<$crate::store::MppSessionRecord>> {
                self.mpp_session_row(id).await
            }

            async fn claim_idle(
                &self,
                now: u64,
                limit: u32,
            ) -> StoreResult<Vec<$crate::store::MppSessionRecord>> {
                let purge = now.saturating_add($crate::store::sql_sessions::CLOSED_RETENTION_SECS);
                let sql = format!("{} RETURNING {}", $claim, $crate::store::sql_sessions::COLUMNS);
                let rows = sqlx::query(&sql)
                    .bind(to_i64(now, "now")?)
                    .bind(i64::from(limit))
                    .bind(to_i64(purge, "purge")?)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(classify)?;
                rows.iter().map(mpp_session_from_row).collect()
            }
        }
    };
}

pub(crate) use impl_sql_sessions;
