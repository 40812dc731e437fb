//! [`StoreError`]: what went wrong in the store, and whether retrying may help.
//!
//! The paywall maps a retryable store error (database unreachable, pool exhausted, busy) to
//! 503 + `Retry-After` at the edge: never a 402 (a paying client would pay again), never a 200
//! without the durable record.

use thiserror::Error;

/// A store failure. Messages never contain connection strings or secrets.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database cannot be reached right now (I/O, pool timeout, shutdown, lock contention).
    #[error("store unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// A statement failed for a reason retrying will not fix.
    #[error("store query failed: {0}")]
    Query(#[source] sqlx::Error),
    /// A schema migration failed at start.
    #[error("store migration {version} failed: {source}")]
    Migration {
        /// The migration's version.
        version: i64,
        /// The database error.
        #[source]
        source: sqlx::Error,
    },
    /// The store is misconfigured (bad path, missing `database_url`).
    #[error("store config: {0}")]
    Config(String),
    /// A stored value is out of range or malformed.
    #[error("store data: {0}")]
    Data(String),
    /// Local state (a session file, an in-memory guard) failed.
    #[error("local state: {0}")]
    Local(String),
}

impl StoreError {
    /// Whether the same operation may succeed later without anything changing.
    pub fn retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    /// Stable machine-readable code for problem bodies and logs.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Unavailable(_) => "store_unavailable",
            StoreError::Query(_) | StoreError::Migration { .. } => "store_error",
            StoreError::Config(_) => "store_config",
            StoreError::Data(_) => "store_data",
            StoreError::Local(_) => "local_state",
        }
    }
}

/// Sort a driver error into retryable or not.
pub(crate) fn classify(e: sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    let transient = match &e {
        E::Io(_)
        | E::PoolTimedOut
        | E::PoolClosed
        | E::WorkerCrashed
        | E::Tls(_)
        | E::Protocol(_)
        | E::BeginFailed => true,
        E::Database(db) => {
            let sqlite = db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some();
            transient_code(&db.code().unwrap_or_default(), sqlite)
        }
        _ => false,
    };
    if transient {
        StoreError::Unavailable(e)
    } else {
        StoreError::Query(e)
    }
}

/// PostgreSQL SQLSTATEs (connection exception, insufficient resources — disk full —,
/// operator intervention, serialization failure, deadlock) and SQLite primary codes (BUSY,
/// LOCKED, IOERR, FULL, CANTOPEN) that describe a database that may work again shortly.
fn transient_code(code: &str, sqlite: bool) -> bool {
    if sqlite {
        return code.parse::<i64>().is_ok_and(sqlite_transient);
    }
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57P")
        || code == "40001"
        || code == "40P01"
}

/// Whether an SQLite result code (primary or extended) is BUSY, LOCKED, IOERR, FULL or
/// CANTOPEN: a database that may work again shortly.
pub(crate) fn sqlite_transient(code: i64) -> bool {
    matches!(code & 0xff, 5 | 6 | 10 | 13 | 14)
}

/// A `u64` as the signed 64-bit integer both databases store.
pub(crate) fn to_i64(v: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Data(format!("{what} {v} exceeds i64")))
}

/// A stored signed integer back as `u64`.
pub(crate) fn to_u64(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Data(format!("{what} {v} is negative")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_retryability() {
        let e = classify(sqlx::Error::PoolTimedOut);
        assert!(e.retryable());
        assert_eq!(e.code(), "store_unavailable");
        let e = classify(sqlx::Error::RowNotFound);
        assert!(!e.retryable());
        assert!(transient_code("08006", false) && transient_code("57P01", false));
        assert!(transient_code("517", true) && transient_code("5", true));
        assert!(
            transient_code("13", true),
            "disk full: may clear when space is freed"
        );
        assert!(transient_code("53100", false), "PostgreSQL disk_full");
        assert!(!transient_code("23505", false) && !transient_code("2067", true));
    }
}
