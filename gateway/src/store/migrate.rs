//! Versioned schema migrations: SQL files per backend, embedded in the binary, applied at start
//! inside one transaction and recorded in `schema_migrations (version, name, applied_at)`.
//! Add a migration by adding `NNNN_name.sql` for **both** backends and listing it below.

/// One migration: version, name, SQL.
pub(crate) type Migration = (i64, &'static str, &'static str);

/// SQLite migrations, in order.
pub(crate) const SQLITE: &[Migration] = &[
    (1, "init", include_str!("migrations/sqlite/0001_init.sql")),
    (
        2,
        "mpp_sessions",
        include_str!("migrations/sqlite/0002_mpp_sessions.sql"),
    ),
    (
        3,
        "token_uses",
        include_str!("migrations/sqlite/0003_token_uses.sql"),
    ),
    (
        4,
        "settlement_states",
        include_str!("migrations/sqlite/0004_settlement_states.sql"),
    ),
    (
        7,
        "sessions_payer",
        include_str!("migrations/sqlite/0007_sessions_payer.sql"),
    ),
    (
        8,
        "route_prices",
        include_str!("migrations/sqlite/0008_route_prices.sql"),
    ),
    (
        9,
        "invoice_pool_clustered",
        include_str!("migrations/sqlite/0009_invoice_pool_clustered.sql"),
    ),
];

/// PostgreSQL migrations, in order.
pub(crate) const POSTGRES: &[Migration] = &[
    (1, "init", include_str!("migrations/postgres/0001_init.sql")),
    (
        2,
        "mpp_sessions",
        include_str!("migrations/postgres/0002_mpp_sessions.sql"),
    ),
    (
        3,
        "token_uses",
        include_str!("migrations/postgres/0003_token_uses.sql"),
    ),
    (
        4,
        "settlement_states",
        include_str!("migrations/postgres/0004_settlement_states.sql"),
    ),
    (
        7,
        "sessions_payer",
        include_str!("migrations/postgres/0007_sessions_payer.sql"),
    ),
    (
        8,
        "route_prices",
        include_str!("migrations/postgres/0008_route_prices.sql"),
    ),
    (
        9,
        "invoice_pool_clustered",
        include_str!("migrations/postgres/0009_invoice_pool_clustered.sql"),
    ),
];

/// Apply every migration in `migrations` not yet recorded in `schema_migrations`, inside the
/// caller's transaction (which holds whatever lock keeps concurrent starts apart).
macro_rules! apply_migrations {
    ($tx:expr, $migrations:expr) => {{
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, \
             name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut *$tx)
        .await
        .map_err(|source| StoreError::Migration { version: 0, source })?;
        let done: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
            .fetch_all(&mut *$tx)
            .await
            .map_err(classify)?;
        for &(version, name, sql) in $migrations {
            if done.contains(&version) {
                continue;
            }
            sqlx::raw_sql(sql)
                .execute(&mut *$tx)
                .await
                .map_err(|source| StoreError::Migration { version, source })?;
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(version)
            .bind(name)
            .bind(to_i64($crate::clock::now_unix(), "now")?)
            .execute(&mut *$tx)
            .await
            .map_err(|source| StoreError::Migration { version, source })?;
            tracing::info!(version, name, "store migration applied");
        }
    }};
}

pub(crate) use apply_migrations;
