//! [`SettlementStore`]: what became of paid requests, and the x402 settlement journal.
//!
//! * Payment states (`payments.state`, migration 0004): a payment is recorded `admitted`
//!   before its request goes upstream, marked `served` once the response was delivered, or
//!   `unserved` when the upstream failed; an unserved single-use payment is served again
//!   when its buyer presents it again ([`claim_unserved`](SettlementStore::claim_unserved):
//!   one conditional `UPDATE`, one winner across a fleet). Rows a crash leaves `admitted`
//!   are listed by `gate402 ledger --unserved` as refundable.
//! * The `x402_pending` table backs the rail's
//!   [`SettlementJournal`](gate402_rails::evm::SettlementJournal) (`store/journal.rs`):
//!   settlements written before their transaction is sent, leased to the waiting request,
//!   reconciled by any gateway once the lease is over. Resolving one writes its ledger row
//!   or releases its single-use key **in the same transaction** as it leaves the journal.

use async_trait::async_trait;

use super::{PaymentRecord, PaymentState, StoreResult};

/// One row of the x402 settlement journal (the rail's `PendingSettlement`, stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRow {
    /// `token ‖ from ‖ nonce` of the authorization.
    pub key: Vec<u8>,
    /// Transaction hash, `0x`-hex.
    pub transaction: String,
    /// Signed transaction bytes.
    pub raw: Vec<u8>,
    /// Settler nonce used.
    pub tx_nonce: u64,
    /// The authorization's `validBefore`.
    pub valid_before: u64,
    /// When it was signed.
    pub broadcast_at: u64,
    /// Held by a waiting request until then (Unix s; 0: nobody).
    pub lease_until: u64,
    /// The paywall's context (JSON).
    pub tag: String,
}

/// Payment states and the x402 settlement journal; every [`Store`](super::Store) is one.
#[async_trait]
pub trait SettlementStore: Send + Sync {
    /// Set `state` on the payments `(protocol, reference)` in one transaction, except rows
    /// already served; returns the rows changed.
    async fn mark_payments(
        &self,
        refs: &[(String, String)],
        state: PaymentState,
    ) -> StoreResult<u64>;

    /// Take an unserved payment of single-use key `use_key` back to admitted (its buyer
    /// presented it again): the row, for exactly one caller; `None` otherwise.
    async fn claim_unserved(&self, use_key: &[u8]) -> StoreResult<Option<PaymentRecord>>;

    /// Record a settled payment and drop its journal entry `pending_key`, in one
    /// transaction; `true` if the row is new.
    async fn record_settled(
        &self,
        payment: &PaymentRecord,
        pending_key: &[u8],
    ) -> StoreResult<bool>;

    /// Journal a settlement leased until `row.lease_until`.
    async fn pending_begin(&self, row: &PendingRow) -> StoreResult<()>;

    /// End the lease on `key`.
    async fn pending_abandon(&self, key: &[u8]) -> StoreResult<()>;

    /// Lease `key` until `lease_until` if its lease ended before `now`.
    async fn pending_claim(
        &self,
        key: &[u8],
        now: u64,
        lease_until: u64,
    ) -> StoreResult<Option<PendingRow>>;

    /// Lease up to `limit` entries whose lease ended before `now`, oldest first.
    async fn pending_claim_due(
        &self,
        now: u64,
        lease_until: u64,
        limit: u32,
    ) -> StoreResult<Vec<PendingRow>>;

    /// Drop `key` from the journal and, in the same transaction, record `payment` (landed)
    /// or delete the consumed single-use key `release` (released).
    async fn pending_resolve(
        &self,
        key: &[u8],
        payment: Option<&PaymentRecord>,
        release: Option<&[u8]>,
    ) -> StoreResult<()>;

    /// Every journal entry.
    async fn pending_list(&self) -> StoreResult<Vec<PendingRow>>;
}

/// Columns of a journal row, in the order `pending_from_row` reads them.
pub(crate) const PENDING_COLUMNS: &str =
    "key, tx_hash, raw, tx_nonce, valid_before, broadcast_at, lease_until, tag";

/// Implement [`SettlementStore`] for a struct with a `pool: sqlx::Pool<$db>` field;
/// `$claim_due` is the backend's due-claim statement (`$1` now, `$2` lease, `$3` limit).
macro_rules! impl_sql_settlements {
    ($ty:ty, $db:ty, claim_due = $claim_due:expr) => {
        fn pending_from_row(
            r: &<$db as sqlx::Database>::Row,
        ) -> StoreResult<$crate::store::PendingRow> {
            Ok($crate::store::PendingRow {
                key: r.try_get("key").map_err(classify)?,
                transaction: r.try_get("tx_hash").map_err(classify)?,
                raw: r.try_get("raw").map_err(classify)?,
                tx_nonce: to_u64(r.try_get("tx_nonce").map_err(classify)?, "tx_nonce")?,
                valid_before: to_u64(r.try_get("valid_before").map_err(classify)?, "vb")?,
                broadcast_at: to_u64(r.try_get("broadcast_at").map_err(classify)?, "at")?,
                lease_until: to_u64(r.try_get("lease_until").map_err(classify)?, "lease")?,
                tag: r.try_get("tag").map_err(classify)?,
            })
        }

        #[async_trait::async_trait]
        impl $crate::store::SettlementStore for $ty {
            async fn mark_payments(
                &self,
                refs: &[(String, String)],
                state: $crate::store::PaymentState,
            ) -> StoreResult<u64> {
                let mut tx = self.pool.begin().await.map_err(classify)?;
                let mut n = 0;
                for (protocol, reference) in refs {
                    let r = sqlx::query(
                        "UPDATE payments SET state = $3 WHERE protocol = $1 \
                         AND reference = $2 AND state <> 'served'",
                    )
                    .bind(protocol.as_str())
                    .bind(reference.as_str())
                    .bind(state.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                    n += r.rows_affected();
                }
                tx.commit().await.map_err(classify)?;
                Ok(n)
            }

            async fn claim_unserved(&self, use_key: &[u8]) -> StoreResult<Option<PaymentRecord>> {
                let sql = format!(
                    "UPDATE payments SET state = 'admitted' WHERE use_key = $1 \
                     AND state = 'unserved' RETURNING {}",
                    $crate::store::sql::PAYMENT_COLUMNS
                );
                let row = sqlx::query(&sql)
                    .bind(use_key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(classify)?;
                row.as_ref().map(payment_from_row).transpose()
            }

            async fn record_settled(
                &self,
                p: &PaymentRecord,
                pending_key: &[u8],
            ) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await.map_err(classify)?;
                let r = bind_payment(sqlx::query($crate::store::sql::INSERT_PAYMENT), p)?
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                sqlx::query("DELETE FROM x402_pending WHERE key = $1")
                    .bind(pending_key)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                tx.commit().await.map_err(classify)?;
                Ok(r.rows_affected() == 1)
            }

            async fn pending_begin(&self, row: &$crate::store::PendingRow) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO x402_pending (key, tx_hash, raw, tx_nonce, valid_before, \
                     broadcast_at, lease_until, tag) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (key) DO UPDATE SET tx_hash = $2, raw = $3, \
                     tx_nonce = $4, valid_before = $5, broadcast_at = $6, lease_until = $7, \
                     tag = $8",
                )
                .bind(row.key.as_slice())
                .bind(row.transaction.as_str())
                .bind(row.raw.as_slice())
                .bind(to_i64(row.tx_nonce, "tx_nonce")?)
                .bind(to_i64(row.valid_before, "valid_before")?)
                .bind(to_i64(row.broadcast_at, "broadcast_at")?)
                .bind(to_i64(row.lease_until, "lease_until")?)
                .bind(row.tag.as_str())
                .execute(&self.pool)
                .await
                .map_err(classify)?;
                Ok(())
            }

            async fn pending_abandon(&self, key: &[u8]) -> StoreResult<()> {
                sqlx::query("UPDATE x402_pending SET lease_until = 0 WHERE key = $1")
                    .bind(key)
                    .execute(&self.pool)
                    .await
                    .map_err(classify)?;
                Ok(())
            }

            async fn pending_claim(
                &self,
                key: &[u8],
                now: u64,
                lease_until: u64,
            ) -> StoreResult<Option<$crate::store::PendingRow>> {
                let sql = format!(
                    "UPDATE x402_pending SET lease_until = $3 WHERE key = $1 \
                     AND lease_until < $2 RETURNING {}",
                    $crate::store::settlements::PENDING_COLUMNS
                );
                let row = sqlx::query(&sql)
                    .bind(key)
                    .bind(to_i64(now, "now")?)
                    .bind(to_i64(lease_until, "lease_until")?)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(classify)?;
                row.as_ref().map(pending_from_row).transpose()
            }

            async fn pending_claim_due(
                &self,
                now: u64,
                lease_until: u64,
                limit: u32,
            ) -> StoreResult<Vec<$crate::store::PendingRow>> {
                let sql = format!(
                    "{} RETURNING {}",
                    $claim_due,
                    $crate::store::settlements::PENDING_COLUMNS
                );
                let rows = sqlx::query(&sql)
                    .bind(to_i64(now, "now")?)
                    .bind(to_i64(lease_until, "lease_until")?)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(classify)?;
                rows.iter().map(pending_from_row).collect()
            }

            async fn pending_resolve(
                &self,
                key: &[u8],
                payment: Option<&PaymentRecord>,
                release: Option<&[u8]>,
            ) -> StoreResult<()> {
                let mut tx = self.pool.begin().await.map_err(classify)?;
                if let Some(p) = payment {
                    bind_payment(sqlx::query($crate::store::sql::INSERT_PAYMENT), p)?
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?;
                }
                if let Some(k) = release {
                    sqlx::query($crate::store::sql::DELETE_CONSUMED)
                        .bind(k)
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?;
                }
                sqlx::query("DELETE FROM x402_pending WHERE key = $1")
                    .bind(key)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                tx.commit().await.map_err(classify)?;
                Ok(())
            }

            async fn pending_list(&self) -> StoreResult<Vec<$crate::store::PendingRow>> {
                let sql = format!(
                    "SELECT {} FROM x402_pending ORDER BY broadcast_at",
                    $crate::store::settlements::PENDING_COLUMNS
                );
                let rows = sqlx::query(&sql)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(classify)?;
                rows.iter().map(pending_from_row).collect()
            }
        }
    };
}

pub(crate) use impl_sql_settlements;
