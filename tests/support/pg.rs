//! PostgreSQL for tests: the server on 127.0.0.1:5432 (trust auth; override with
//! `GATE402_TEST_PG_URL`), one fresh database per test so tests run in parallel.

use sqlx::{Connection, PgConnection};

/// Admin URL of the test server.
pub fn admin_url() -> String {
    std::env::var("GATE402_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database created for one test and dropped (with its connections) when this is dropped.
#[derive(Debug)]
pub struct TestDb {
    /// Database name (`gate402_test_<random>`).
    pub name: String,
    /// URL of the database.
    pub url: String,
}

impl TestDb {
    /// Create a fresh database. Panics (the test fails, never skips) if PostgreSQL is absent.
    pub async fn create() -> TestDb {
        let admin = admin_url();
        let name = format!("gate402_test_{}", hex::encode(rand::random::<[u8; 8]>()));
        let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!("PostgreSQL must run at {admin} (tests/run-all.sh starts it): {e}")
        });
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        let _ = conn.close().await;
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        TestDb {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime: do the async work on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async move {
                let mut conn = PgConnection::connect(&admin_url()).await.ok()?;
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .ok()
            })
        })
        .join();
    }
}
