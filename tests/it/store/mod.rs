//! Store tests, each run against SQLite and PostgreSQL (`both_backends!`): the store alone
//! ([`suite`], [`settlements`]), through real gateways sharing one database ([`fleet`]),
//! and unpaid traffic writing nothing ([`unpaid`]). Database outages are in `faults`.

mod admin;
mod fleet;
mod invoice_pool;
mod mpp_sessions;
mod settlements;
mod suite;
mod unpaid;
mod x402_fleet;

use std::sync::Arc;

use gate402::store::{self, Store, StoreOptions};
use gate402_tests::pg::TestDb;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A temporary SQLite file.
    Sqlite,
    /// A fresh database on the test PostgreSQL.
    Postgres,
}

/// One test's database; [`TestStore::open`] gives independent pools on it, as separate
/// gateway processes would have.
pub struct TestStore {
    /// How to open it.
    pub options: StoreOptions,
    /// The `[store]` TOML section designating it.
    pub toml: String,
    _dir: tempfile::TempDir,
    _pg: Option<TestDb>,
}

impl TestStore {
    /// A fresh, empty database on `backend`.
    pub async fn new(backend: Backend) -> TestStore {
        let dir = tempfile::tempdir().unwrap();
        match backend {
            Backend::Sqlite => {
                let path = dir.path().join("gate402.sqlite");
                TestStore {
                    toml: format!(
                        "[store]\nbackend = \"sqlite\"\npath = \"{}\"\nrevocation_refresh_ms = 500\n",
                        path.display()
                    ),
                    options: StoreOptions::sqlite(path),
                    _dir: dir,
                    _pg: None,
                }
            }
            Backend::Postgres => {
                let db = TestDb::create().await;
                TestStore {
                    toml: format!(
                        "[store]\nbackend = \"postgres\"\ndatabase_url = \"{}\"\nrevocation_refresh_ms = 500\n",
                        db.url
                    ),
                    options: StoreOptions::Postgres {
                        url: db.url.clone(),
                        max_connections: 8,
                        acquire_timeout: std::time::Duration::from_secs(5),
                    },
                    _dir: dir,
                    _pg: Some(db),
                }
            }
        }
    }

    /// A new, independent connection pool on the database.
    pub async fn open(&self) -> Arc<dyn Store> {
        store::open(&self.options).await.unwrap()
    }
}

/// `both_backends!(a, b)`: a `#[tokio::test]` per backend for each `async fn a(Backend)`.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::super::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::super::Backend::Postgres).await
                }
            )*
        }
    };
}
pub(crate) use both_backends;
