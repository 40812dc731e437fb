//! The SQLite file becomes unusable under a running gateway: another connection (an admin, a
//! backup tool, a second process) holds an exclusive lock longer than `busy_timeout`
//! (`[store] acquire_timeout_ms`). Root-proof, unlike `chmod`. Paid requests that must write
//! answer 503 with `Retry-After` (never a 402, never a 200 without its ledger row), tokens
//! already recorded keep working, and the gateway recovers without a restart once the lock is
//! released. A gateway that starts while the file is locked starts anyway and recovers too.
//! Slow: a lock held for less than `busy_timeout` only delays the paid request. Disk full:
//! the database on a 2 MiB tmpfs that another file fills up — `SQLITE_FULL` answers 503 like
//! an outage, and freeing the space brings it back without a restart.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use gate402::{
    client::{ClientRequest, Policy},
    config::Config,
    server,
    store::LedgerFilter,
};
use gate402_rails::{simnet::SimNode, LightningRail, PayLimits};
use gate402_tests::{json_body, raw, serve, upstream_app, CONFIG};
use sqlx::{Connection, SqliteConnection};

/// A connection holding `BEGIN EXCLUSIVE` on `path` until [`Lock::release`].
struct Lock(SqliteConnection);

impl Lock {
    async fn take(path: &std::path::Path) -> Lock {
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let mut conn = SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql("PRAGMA journal_mode = WAL; BEGIN EXCLUSIVE")
            .execute(&mut conn)
            .await
            .unwrap();
        Lock(conn)
    }

    async fn release(mut self) {
        sqlx::raw_sql("ROLLBACK")
            .execute(&mut self.0)
            .await
            .unwrap();
        self.0.close().await.unwrap();
    }
}

fn config(dir: &std::path::Path, upstream: std::net::SocketAddr) -> Config {
    let text = format!(
        "{}\n[store]\nbackend = \"sqlite\"\npath = \"{}\"\nacquire_timeout_ms = 300\n",
        CONFIG.replace("{UPSTREAM}", &format!("http://{upstream}")),
        dir.join("gate402.sqlite").display()
    );
    let config = Config::from_toml(&text).unwrap();
    config.validate().unwrap();
    config
}

/// A paid, never presented L402 credential for `path` on the gateway at `base`.
async fn paid_credential(buyer: &SimNode, base: &str, path: &str) -> (String, [u8; 32]) {
    let (status, headers, _) = raw(&format!("{base}{path}").parse().unwrap(), &[]).await;
    assert_eq!(status, 402);
    let challenge = gate402_protocols::l402::parse_challenges(&headers)
        .remove(0)
        .unwrap();
    let paid = buyer
        .pay_invoice(&challenge.invoice, PayLimits::default())
        .await
        .unwrap();
    (
        challenge.credential(paid.preimage).authorization(),
        paid.payment_hash,
    )
}

/// Present `auth` until it is served (≤ 10 s), asserting 503 meanwhile.
async fn until_served(url: &http::Uri, auth: &str) {
    let start = Instant::now();
    loop {
        let (status, _, _) = raw(url, &[("authorization", auth)]).await;
        if status == 200 {
            return;
        }
        assert_eq!(status, 503);
        assert!(start.elapsed() < Duration::from_secs(10), "no recovery");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_locked_exclusively_is_503_with_retry_after_and_recovers_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), serve(upstream_app()).await);
    let net = gate402_rails::simnet::SimNetwork::new();
    let buyer = net.add_node("buyer", gate402_tests::BUYER_MSAT);
    let seller = net.add_node("seller", 0);
    let store = server::open_store(&config).await.unwrap();
    let gw = gate402_tests::gateway(&config, Arc::new(seller), store.clone()).await;
    let base = format!("http://{}", gw.addr);
    let url = |p: &str| -> http::Uri { format!("{base}{p}").parse().unwrap() };

    let cache = tempfile::tempdir().unwrap();
    let client = gate402::client::Client::new(
        Arc::new(buyer.clone()),
        gate402::client::TokenCache::new(cache.path()),
        Policy::default(),
    );
    let first = client
        .send(&ClientRequest::get(url("/api/a")))
        .await
        .unwrap();
    assert_eq!(first.response.status(), 200);
    let (auth, hash) = paid_credential(&buyer, &base, "/other/b").await;

    let lock = Lock::take(&dir.path().join("gate402.sqlite")).await;
    let (status, headers, body) = raw(&url("/other/b"), &[("authorization", &auth)]).await;
    assert_eq!(status, 503, "{body:?}");
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(json_body(&body)["reason"], "store_unavailable");
    assert!(
        !headers.contains_key("www-authenticate"),
        "never a 402 to pay again"
    );
    let reuse = client
        .send(&ClientRequest::get(url("/api/a")))
        .await
        .unwrap();
    assert_eq!(
        reuse.response.status(),
        200,
        "a recorded token needs no database"
    );

    lock.release().await;
    until_served(&url("/other/b"), &auth).await;
    let ledger = store.ledger(&LedgerFilter::default()).await.unwrap();
    let refs: Vec<_> = ledger.iter().map(|p| p.reference.clone()).collect();
    assert_eq!(
        refs,
        [hex::encode(hash), first.payment.unwrap().payment_hash],
        "each served payment recorded once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_starts_while_the_sqlite_file_is_locked_and_recovers_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), serve(upstream_app()).await);
    let lock = Lock::take(&dir.path().join("gate402.sqlite")).await;
    let net = gate402_rails::simnet::SimNetwork::new();
    let buyer = net.add_node("buyer", gate402_tests::BUYER_MSAT);
    let seller = net.add_node("seller", 0);
    let paywall =
        server::paywall_with_secret(&config, Arc::new(seller), &gate402_tests::SECRET).unwrap();
    let (paywall, store) =
        server::attach_store_or_retry(paywall, &config, Duration::from_millis(100))
            .await
            .unwrap();
    assert_eq!(store.backend(), "sqlite");
    let router = server::router(&config, Arc::new(paywall)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gw = server::spawn(listener, router).unwrap();
    let base = format!("http://{}", gw.addr);
    let url: http::Uri = format!("{base}/api/a").parse().unwrap();
    let (auth, hash) = paid_credential(&buyer, &base, "/api/a").await;
    let (status, headers, body) = raw(&url, &[("authorization", &auth)]).await;
    assert_eq!(status, 503, "{body:?}");
    assert_eq!(json_body(&body)["reason"], "store_unavailable");
    assert!(!headers.contains_key("www-authenticate"));

    lock.release().await;
    until_served(&url, &auth).await;
    let ledger = store.ledger(&LedgerFilter::default()).await.unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].reference, hex::encode(hash));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_slow_lock_only_delays_a_paid_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), serve(upstream_app()).await);
    config.store.acquire_timeout_ms = 5_000;
    let net = gate402_rails::simnet::SimNetwork::new();
    let buyer = net.add_node("buyer", gate402_tests::BUYER_MSAT);
    let seller = net.add_node("seller", 0);
    let store = server::open_store(&config).await.unwrap();
    let gw = gate402_tests::gateway(&config, Arc::new(seller), store.clone()).await;
    let base = format!("http://{}", gw.addr);
    let (auth, hash) = paid_credential(&buyer, &base, "/api/a").await;
    let lock = Lock::take(&dir.path().join("gate402.sqlite")).await;
    let url: http::Uri = format!("{base}/api/a").parse().unwrap();
    let started = Instant::now();
    let request = tokio::spawn(async move { raw(&url, &[("authorization", &auth)]).await.0 });
    // The request is held by the lock for longer than the other tests' 300 ms busy_timeout
    // (here 5 s): it waits, it is not refused.
    while started.elapsed() < Duration::from_millis(600) {
        assert!(!request.is_finished(), "answered while the file was locked");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    lock.release().await;
    assert_eq!(request.await.unwrap(), 200);
    let ledger = store.ledger(&LedgerFilter::default()).await.unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].reference, hex::encode(hash));
}

/// A 2 MiB tmpfs mounted on a fresh directory (root, as the tests and CI run), unmounted on
/// drop: a disk that really fills up (`ENOSPC`).
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount() -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("mount(8)");
        assert!(
            out.status.success(),
            "cannot mount a tmpfs (the suite runs as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk { dir }
    }

    /// Fill the disk with a junk file until it is full.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let junk = self.dir.path().join("junk");
        let mut f = std::fs::File::create(&junk).unwrap();
        let block = vec![0u8; 64 << 10];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
        junk
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazy: detached now even while the store's pool still holds the file open.
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_disk_full_is_503_and_recovers_when_space_is_freed() {
    let disk = SmallDisk::mount();
    let config = config(disk.dir.path(), serve(upstream_app()).await);
    let net = gate402_rails::simnet::SimNetwork::new();
    let buyer = net.add_node("buyer", gate402_tests::BUYER_MSAT);
    let seller = net.add_node("seller", 0);
    let store = server::open_store(&config).await.unwrap();
    let gw = gate402_tests::gateway(&config, Arc::new(seller), store.clone()).await;
    let base = format!("http://{}", gw.addr);
    let url = |p: &str| -> http::Uri { format!("{base}{p}").parse().unwrap() };
    let (first, first_hash) = paid_credential(&buyer, &base, "/api/a").await;
    assert_eq!(
        raw(&url("/api/a"), &[("authorization", &first)]).await.0,
        200
    );

    // The disk fills up (another process's files): the next write has no room.
    let (auth, hash) = paid_credential(&buyer, &base, "/other/b").await;
    let junk = disk.fill();
    let (status, headers, body) = raw(&url("/other/b"), &[("authorization", &auth)]).await;
    assert_eq!(status, 503, "{body:?}");
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(json_body(&body)["reason"], "store_unavailable");
    assert!(
        !headers.contains_key("www-authenticate"),
        "never a 402 to pay again"
    );
    // A recorded token needs no write.
    assert_eq!(
        raw(&url("/api/a"), &[("authorization", &first)]).await.0,
        200
    );

    // Space is freed: the same credential is served, without a restart.
    std::fs::remove_file(junk).unwrap();
    until_served(&url("/other/b"), &auth).await;
    let ledger = store.ledger(&LedgerFilter::default()).await.unwrap();
    let refs: Vec<_> = ledger.iter().map(|p| p.reference.clone()).collect();
    assert_eq!(refs, [hex::encode(hash), hex::encode(first_hash)]);
    drop(gw);
}
