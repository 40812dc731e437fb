//! Row helpers shared by both backends: binding a [`PaymentRecord`](super::PaymentRecord) and
//! reading one back, and 32-byte keys out of `BLOB`/`BYTEA` columns.

/// Define `bind_payment`, `payment_from_row`, `pooled_row` and `hash32` for database `$db`.
macro_rules! impl_sql_rows {
    ($db:ty) => {
        fn bind_payment<'q>(
            q: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>,
            p: &'q PaymentRecord,
        ) -> StoreResult<sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>> {
            Ok(q.bind(p.protocol.as_str())
                .bind(p.rail.as_str())
                .bind(p.reference.as_str())
                .bind(p.token_id.as_deref())
                .bind(p.route.as_str())
                .bind(to_i64(p.amount_msat, "amount_msat")?)
                .bind(p.payer.as_deref())
                .bind(to_i64(p.created_at, "created_at")?)
                .bind(p.state.as_str())
                .bind(p.use_key.as_deref()))
        }

        fn payment_from_row(r: &<$db as sqlx::Database>::Row) -> StoreResult<PaymentRecord> {
            Ok(PaymentRecord {
                protocol: r.try_get("protocol").map_err(classify)?,
                rail: r.try_get("rail").map_err(classify)?,
                reference: r.try_get("reference").map_err(classify)?,
                token_id: r.try_get("token_id").map_err(classify)?,
                route: r.try_get("route").map_err(classify)?,
                amount_msat: to_u64(r.try_get("amount_msat").map_err(classify)?, "amount")?,
                payer: r.try_get("payer").map_err(classify)?,
                created_at: to_u64(r.try_get("created_at").map_err(classify)?, "created_at")?,
                state: $crate::store::PaymentState::parse(r.try_get("state").map_err(classify)?),
                use_key: r.try_get("use_key").map_err(classify)?,
            })
        }

        fn pooled_row(r: &<$db as sqlx::Database>::Row) -> StoreResult<PooledInvoice> {
            Ok(PooledInvoice {
                payment_hash: hash32(r.try_get("payment_hash").map_err(classify)?)?,
                route: r.try_get("route").map_err(classify)?,
                amount_msat: to_u64(r.try_get("amount_msat").map_err(classify)?, "amt")?,
                bolt11: r.try_get("bolt11").map_err(classify)?,
                expires_at: to_u64(r.try_get("expires_at").map_err(classify)?, "exp")?,
            })
        }

        fn hash32(v: Vec<u8>) -> StoreResult<[u8; 32]> {
            <[u8; 32]>::try_from(v.as_slice())
                .map_err(|_| StoreError::Data(format!("expected 32 bytes, got {}", v.len())))
        }
    };
}

pub(crate) use impl_sql_rows;
