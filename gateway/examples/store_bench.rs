//! Bounded loopback benchmark of `Store::consume` (the exactly-once step of a single-use
//! credential) on SQLite and PostgreSQL, and of the in-memory revocation check on the L402
//! hot path.
//!
//! ```sh
//! cargo run --release -p gate402 --example store_bench
//! ```
//!
//! PostgreSQL: `GATE402_TEST_PG_URL` or `postgres://postgres@127.0.0.1:5432/postgres`; a
//! scratch database is created and dropped. Fixed request counts: it stops by itself.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use gate402::store::{self, Revocations, Store, StoreOptions};
use sqlx::{Connection, PgConnection};

const SEQUENTIAL: usize = 2000;
const CONCURRENT_TASKS: usize = 8;
const PER_TASK: usize = 500;

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

async fn run(name: &str, store: Arc<dyn Store>) {
    let mut samples = Vec::with_capacity(SEQUENTIAL);
    for i in 0..SEQUENTIAL {
        let key = format!("seq-{i}");
        let t = Instant::now();
        assert!(store
            .consume(key.as_bytes(), "bench", u64::MAX >> 2)
            .await
            .unwrap());
        samples.push(t.elapsed());
    }
    samples.sort_unstable();
    let start = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENT_TASKS)
        .map(|t| {
            let s = store.clone();
            tokio::spawn(async move {
                for i in 0..PER_TASK {
                    let key = format!("con-{t}-{i}");
                    s.consume(key.as_bytes(), "bench", u64::MAX >> 2)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let rate = (CONCURRENT_TASKS * PER_TASK) as f64 / start.elapsed().as_secs_f64();
    println!(
        "{name:<9} consume() sequential n={SEQUENTIAL}: p50 {:.0} µs, p99 {:.0} µs | \
         {CONCURRENT_TASKS} tasks: {rate:.0} consumes/s",
        pct(&samples, 0.5),
        pct(&samples, 0.99)
    );
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = store::open(&StoreOptions::sqlite(dir.path().join("bench.sqlite")))
        .await
        .unwrap();
    run("sqlite", sqlite).await;

    let admin = std::env::var("GATE402_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("gate402_bench_{}", std::process::id());
    let mut conn = PgConnection::connect(&admin).await.unwrap();
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    let pg = store::open(&StoreOptions::Postgres {
        url: format!("{base}/{name}"),
        max_connections: 8,
        acquire_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap();
    run("postgres", pg.clone()).await;

    let set = Revocations::load(&*pg).await.unwrap();
    for i in 0..1000u32 {
        let mut id = [0u8; 32];
        id[..4].copy_from_slice(&i.to_le_bytes());
        set.revoke(&*pg, &id).await.unwrap();
    }
    let probe = [0xffu8; 32];
    let n = 1_000_000;
    let t = Instant::now();
    let mut hits = 0;
    for _ in 0..n {
        hits += usize::from(set.contains(std::hint::black_box(&probe)));
    }
    println!(
        "revocation check (1000 revoked ids, miss): {:.0} ns ({hits} hits)",
        t.elapsed().as_secs_f64() * 1e9 / n as f64
    );
    drop(pg);
    drop(set);
    let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await;
}
