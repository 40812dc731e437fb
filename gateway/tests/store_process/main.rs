//! The real `gate402 serve` binary with its store: two processes sharing PostgreSQL, and
//! `kill -9` in the middle of a burst of paid requests (SQLite and PostgreSQL; over all three
//! protocols with money moving on a simnet and anvil: `kill9`).

// The anvil harness of the integration tests (`tests/support/chain.rs`), shared as source.
#[path = "../../../tests/support/chain.rs"]
#[allow(dead_code)]
mod chain;
mod kill9;
mod mpp_charge;
mod single_use;
mod soak;
mod support;

use std::{
    collections::HashSet,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use axum::Router;
use support::{get, ledger_refs, mint_token, write_config, Gateway, TestDb};

pub(crate) async fn upstream() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().fallback(|| async { "paid content" });
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_record_a_token_once_and_share_revocations() {
    let db = TestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let store = format!(
        "[store]\nbackend = \"postgres\"\ndatabase_url = \"{}\"\nrevocation_refresh_ms = 500\n",
        db.url
    );
    let config = write_config(dir.path(), upstream().await, &store);
    let a = Gateway::start(&config, &dir.path().join("a.log")).await;
    let b = Gateway::start(&config, &dir.path().join("b.log")).await;
    let (auth, hash) = mint_token();
    let urls = [format!("{}/api/x", a.base), format!("{}/api/x", b.base)];
    let statuses = futures_util::future::join_all((0..50).map(|i| get(&urls[i % 2], &auth))).await;
    assert!(statuses.iter().all(|s| *s == Some(200)), "{statuses:?}");
    assert_eq!(ledger_refs(&config).await, [hash], "one payment");

    let token_id = {
        let out = support::gate402(&["ledger", "--json", "--config", config.to_str().unwrap()])
            .output()
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["payments"][0]["token_id"].as_str().unwrap().to_string()
    };
    let out = support::gate402(&["revoke", "--config", config.to_str().unwrap(), &token_id])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let start = Instant::now();
    for url in &urls {
        while get(url, &auth).await != Some(402) {
            assert!(
                start.elapsed() < Duration::from_millis(2500),
                "revocation too late"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    a.kill9().await;
    b.kill9().await;
}

async fn kill_during_burst(store_toml: &str) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), upstream().await, store_toml);
    let gw = Gateway::start(&config, &dir.path().join("1.log")).await;
    let url = format!("{}/api/x", gw.base);
    let ok = Arc::new(Mutex::new(Vec::new()));
    let presented = Arc::new(Mutex::new(Vec::new()));
    let served = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (url, ok, presented, served) =
                (url.clone(), ok.clone(), presented.clone(), served.clone());
            tokio::spawn(async move {
                for _ in 0..100 {
                    let (auth, hash) = mint_token();
                    presented.lock().unwrap().push((auth.clone(), hash.clone()));
                    match get(&url, &auth).await {
                        Some(200) => {
                            ok.lock().unwrap().push(hash);
                            served.fetch_add(1, Ordering::SeqCst);
                        }
                        Some(other) => panic!("unexpected {other}"),
                        None => return, // the gateway is gone
                    }
                }
            })
        })
        .collect();
    let start = Instant::now();
    while served.load(Ordering::SeqCst) < 40 {
        assert!(start.elapsed() < Duration::from_secs(60), "burst too slow");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    gw.kill9().await;
    for w in workers {
        w.await.unwrap();
    }
    let ok: HashSet<String> = ok.lock().unwrap().iter().cloned().collect();
    assert!(
        ok.len() >= 40 && ok.len() < 800,
        "killed mid-burst: {}",
        ok.len()
    );

    let gw = Gateway::start(&config, &dir.path().join("2.log")).await;
    let ledger: HashSet<String> = ledger_refs(&config).await.into_iter().collect();
    let lost: Vec<_> = ok.difference(&ledger).collect();
    assert!(lost.is_empty(), "payments lost: {lost:?}");
    // Every credential presented (served or cut off) still works after the restart.
    let url = format!("{}/api/x", gw.base);
    let presented = presented.lock().unwrap().clone();
    for (auth, _) in &presented {
        assert_eq!(get(&url, auth).await, Some(200));
    }
    assert_eq!(ledger_refs(&config).await.len(), presented.len());
    gw.kill9().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_burst_loses_no_payment_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/gate402.sqlite");
    kill_during_burst(&format!(
        "[store]\nbackend = \"sqlite\"\npath = \"{}\"\n",
        path.display()
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_burst_loses_no_payment_postgres() {
    let db = TestDb::create().await;
    kill_during_burst(&format!(
        "[store]\nbackend = \"postgres\"\ndatabase_url = \"{}\"\n",
        db.url
    ))
    .await;
}
