//! Group commit of MPP session debits on SQLite.
//!
//! A session's bearer request costs one debit (`UPDATE sessions … RETURNING`), committed
//! before the request is served. On SQLite (`synchronous = FULL`) every commit is an `fsync`,
//! and commits run one at a time: ≈ 3,000 debits per second for the whole gateway however
//! many clients wait (issue I: 0.05× the bare proxy's rate). PostgreSQL shares one WAL flush
//! between concurrent commits by itself; SQLite does not, so this module does it.
//!
//! One committer thread per store, with its own connection to the database file, takes the
//! debits that queued while its previous commit ran (up to [`BATCH`]), applies them in one
//! `BEGIN IMMEDIATE` transaction — each its own conditional statement, in arrival order, so
//! two debits of one session see each other and none overdraws — commits once, and only then
//! answers each caller. A debit is answered after the commit that made it durable, as before;
//! a lone debit does not wait for company. A failed statement or commit rolls the whole batch
//! back and every caller gets the error (503: nothing is served, nothing is debited).
//!
//! Why a thread and rusqlite rather than a task on the sqlx pool: sqlx runs every statement as
//! a round trip to its connection's thread (two thread wake-ups each), and those switches cost
//! more than the statements (a batch of 16 was 18 round trips; a script of literals instead
//! paid SQLite's statement preparation each time, which was worse). Here a batch is one
//! wake-up of the committer, one prepared statement, one commit.
//!
//! The queue is bounded ([`QUEUE`]): callers beyond it wait for room.

use std::{path::Path, time::Duration};

use rusqlite::{named_params, OptionalExtension as _, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::{error::sqlite_transient, MppSessionRecord, StoreError, StoreResult};

/// Most debits in one transaction.
const BATCH: usize = 128;
/// Most debits waiting for the committer.
const QUEUE: usize = 4096;

/// What a debit's statement returned: the session after it, or `None` when its conditions
/// matched nothing (the caller reads why).
pub(crate) type Debited = StoreResult<Option<MppSessionRecord>>;

struct Debit {
    id: String,
    route: String,
    sats: i64,
    now: i64,
    reply: oneshot::Sender<Debited>,
}

/// The queue of one store's committer thread (it ends when the last clone is dropped).
#[derive(Debug, Clone)]
pub(crate) struct Debits {
    tx: mpsc::Sender<Debit>,
}

impl Debits {
    /// Open the committer's connection to the database file at `path` (migrated: the
    /// statement `sql` — `$1` id, `$2` route, `$3` sats, `$4` now, with `RETURNING` the
    /// session's columns — is prepared here) and start its thread. `None` if either fails:
    /// the store then debits statement by statement.
    pub(crate) fn start(path: &Path, busy_timeout: Duration, sql: String) -> Option<Debits> {
        let conn = rusqlite::Connection::open(path).ok()?;
        conn.busy_timeout(busy_timeout).ok()?;
        conn.pragma_update(None, "synchronous", "FULL").ok()?;
        conn.prepare_cached(&sql).ok()?;
        let (tx, rx) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("gate402-debits".into())
            .spawn(move || run(conn, &sql, rx))
            .ok()?;
        Some(Debits { tx })
    }

    /// Debit through the committer. `None` when the committer is gone before it took the
    /// debit: the caller debits directly.
    pub(crate) async fn debit(
        &self,
        id: &str,
        route: &str,
        sats: i64,
        now: i64,
    ) -> Option<Debited> {
        let (reply, answer) = oneshot::channel();
        let debit = Debit {
            id: id.to_owned(),
            route: route.to_owned(),
            sats,
            now,
            reply,
        };
        self.tx.send(debit).await.ok()?;
        // Taken but unanswered: whether it committed is unknown, so it is not retried (that
        // could debit twice); the request gets a 503.
        Some(answer.await.unwrap_or_else(|_| {
            Err(StoreError::Local(
                "the session debit committer stopped".into(),
            ))
        }))
    }
}

fn run(mut conn: rusqlite::Connection, sql: &str, mut rx: mpsc::Receiver<Debit>) {
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(d) => batch.push(d),
                Err(_) => break,
            }
        }
        match commit(&mut conn, sql, &batch) {
            Ok(rows) => {
                for (d, row) in batch.drain(..).zip(rows) {
                    let _ = d.reply.send(row.transpose());
                }
            }
            Err(e) => {
                for d in batch.drain(..) {
                    let _ = d.reply.send(Err(store_error(&e)));
                }
            }
        }
    }
}

/// A session row as read, before its numbers are checked.
type Raw = (
    String,
    String,
    i64,
    i64,
    String,
    i64,
    i64,
    Option<String>,
    Option<String>,
);

/// Apply `batch` in one transaction, in order; one row (or none) per debit.
fn commit(
    conn: &mut rusqlite::Connection,
    sql: &str,
    batch: &[Debit],
) -> rusqlite::Result<Vec<Option<StoreResult<MppSessionRecord>>>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut out = Vec::with_capacity(batch.len());
    {
        let mut stmt = tx.prepare_cached(sql)?;
        for d in batch {
            let params = named_params! {
                "$1": d.id, "$2": d.route, "$3": d.sats, "$4": d.now,
            };
            let raw: Option<Raw> = stmt
                .query_row(params, |r| {
                    Ok((
                        r.get("id")?,
                        r.get("route")?,
                        r.get("deposited")?,
                        r.get("spent")?,
                        r.get("state")?,
                        r.get("last_used")?,
                        r.get("idle_timeout")?,
                        r.get("return_invoice")?,
                        r.get("payer")?,
                    ))
                })
                .optional()?;
            out.push(raw.map(record));
        }
    }
    tx.commit()?;
    Ok(out)
}

fn record(r: Raw) -> StoreResult<MppSessionRecord> {
    let n =
        |v: i64, what: &str| u64::try_from(v).map_err(|_| StoreError::Data(format!("{what} {v}")));
    Ok(MppSessionRecord {
        id: r.0,
        route: r.1,
        deposited_sats: n(r.2, "deposited")?,
        spent_sats: n(r.3, "spent")?,
        closed: r.4 != "open",
        last_used: n(r.5, "last_used")?,
        idle_timeout_secs: n(r.6, "idle_timeout")?,
        return_invoice: r.7,
        payer: r.8,
    })
}

/// A failed batch's error for one of its callers: retryable when the database is busy,
/// locked, full or failing I/O (the codes `store::error::classify` treats so).
fn store_error(e: &rusqlite::Error) -> StoreError {
    let transient = match e {
        rusqlite::Error::SqliteFailure(f, _) => sqlite_transient(i64::from(f.extended_code)),
        _ => false,
    };
    let cause = sqlx::Error::Protocol(format!("session debits not committed: {e}"));
    if transient {
        StoreError::Unavailable(cause)
    } else {
        StoreError::Query(cause)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use gate402_protocols::VerifyError;

    use crate::store::{sqlite::SqliteStore, SessionStore};

    use super::*;

    fn session(id: &str, deposited: u64) -> MppSessionRecord {
        MppSessionRecord {
            id: id.into(),
            route: "api".into(),
            deposited_sats: deposited,
            spent_sats: 0,
            return_invoice: None,
            closed: false,
            last_used: 1,
            idle_timeout_secs: 0,
            payer: None,
        }
    }

    /// Debits arriving together share transactions, and each still decides as if alone:
    /// per session exactly deposit / price succeed, the rest are refused with the reason a
    /// lone debit gets (balance, closed, unknown, other route).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn debits_committed_together_decide_as_if_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("d.db")).await.unwrap());
        assert!(store.debits().is_some(), "the committer runs");
        for (id, deposit) in [("a", 50), ("b", 30), ("c", 100)] {
            assert!(store.open(session(id, deposit)).await.unwrap());
        }
        assert!(SessionStore::close(&*store, "c").await.unwrap().is_ok());
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let s = store.clone();
                let (id, route) = match i % 5 {
                    0 | 1 => ("a", "api"),
                    2 => ("b", "api"),
                    3 => (["c", "zz"][i / 5 % 2], "api"),
                    _ => ("a", "other"),
                };
                tokio::spawn(async move { (id, route, s.debit(id, route, 10, 2).await.unwrap()) })
            })
            .collect();
        let mut ok = std::collections::HashMap::new();
        for t in tasks {
            let (id, route, result) = t.await.unwrap();
            match (id, route, result) {
                (_, _, Ok(rec)) => *ok.entry(rec.id).or_insert(0) += 1,
                ("a" | "b", "api", Err(e)) => assert_eq!(e, VerifyError::InsufficientBalance),
                ("a", "other", Err(e)) => assert_eq!(e, VerifyError::OfferMismatch("route")),
                ("c", _, Err(e)) => assert_eq!(e, VerifyError::SessionClosed),
                ("zz", _, Err(e)) => assert_eq!(e, VerifyError::SessionNotFound),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(ok.get("a"), Some(&5));
        assert_eq!(ok.get("b"), Some(&3));
        assert_eq!(ok.len(), 2, "{ok:?}");
        let a = store.get("a").await.unwrap().unwrap();
        assert_eq!((a.spent_sats, a.balance_sats()), (50, 0));
        let b = store.get("b").await.unwrap().unwrap();
        assert_eq!((b.spent_sats, b.balance_sats()), (30, 0));
    }

    /// Ids and routes are bound, never SQL: a quote or a control character in them is data.
    #[tokio::test]
    async fn names_with_quotes_and_control_characters_are_data() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("q.db")).await.unwrap();
        for route in ["o'neil'; DROP TABLE sessions; --", "tab\there"] {
            let rec = MppSessionRecord {
                route: route.into(),
                ..session(route, 20)
            };
            assert!(store.open(rec).await.unwrap());
            for _ in 0..2 {
                let r = store.debit(route, route, 10, 2).await.unwrap().unwrap();
                assert_eq!(r.route, route);
            }
            assert_eq!(
                store.debit(route, route, 10, 2).await.unwrap(),
                Err(VerifyError::InsufficientBalance)
            );
        }
    }

    /// A database locked by someone else (a backup, an admin's `BEGIN EXCLUSIVE`) makes the
    /// debit a retryable failure (503), with nothing debited; once free, it goes through.
    #[tokio::test]
    async fn a_locked_database_is_a_retryable_failure_and_debits_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.db");
        let store = SqliteStore::open_with(&path, Duration::from_millis(100))
            .await
            .unwrap();
        assert!(store.open(session("s", 20)).await.unwrap());
        let lock = rusqlite::Connection::open(&path).unwrap();
        lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let err = store.debit("s", "api", 10, 2).await.unwrap_err();
        assert!(err.retryable(), "{err}");
        lock.execute_batch("ROLLBACK").unwrap();
        let rec = store.debit("s", "api", 10, 2).await.unwrap().unwrap();
        assert_eq!(rec.spent_sats, 10, "the failed debit took nothing");
    }
}
