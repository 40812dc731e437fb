//! PostgreSQL fails under a running gateway. Down (a relay that cuts it off): paid requests
//! that need it answer 503 with `Retry-After` (never 200 without the record, never a 402),
//! tokens already recorded keep working, and everything recovers without a restart — also
//! for a gateway that starts while it is down. Slow (the relay delays every packet): paid
//! requests are served, later, and recorded once. Disk full is simulated on SQLite
//! (`faults::sqlite`); PostgreSQL's `53100 disk_full` is classified the same way (503).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use gate402::{
    client::{ClientRequest, Policy},
    config::Config,
    server,
    store::{self, LedgerFilter, StoreOptions},
};
use gate402_rails::LightningRail;
use gate402_tests::{
    gateway, json_body, pg::TestDb, raw, relay::Relay, serve, upstream_app, CONFIG,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_is_503_with_retry_after_and_recovers_without_restart() {
    let db = TestDb::create().await;
    let pg: std::net::SocketAddr = "127.0.0.1:5432".parse().unwrap();
    let relay = Relay::start(pg).await;
    let via_relay = db.url.replace("127.0.0.1:5432", &relay.addr.to_string());
    assert_ne!(
        via_relay, db.url,
        "GATE402_TEST_PG_URL must use 127.0.0.1:5432"
    );
    let upstream = serve(upstream_app()).await;
    let text = format!(
        "{}\n[store]\nbackend = \"postgres\"\ndatabase_url = \"{via_relay}\"\nacquire_timeout_ms = 500\n",
        CONFIG.replace("{UPSTREAM}", &format!("http://{upstream}"))
    );
    let config = Config::from_toml(&text).unwrap();
    config.validate().unwrap();
    let net = gate402_rails::simnet::SimNetwork::new();
    let buyer = net.add_node("buyer", gate402_tests::BUYER_MSAT);
    let seller = net.add_node("seller", 0);
    let store = server::open_store(&config).await.unwrap();
    let gw = gateway(&config, Arc::new(seller), store).await;
    let url = |p: &str| -> http::Uri { format!("http://{}{p}", gw.addr).parse().unwrap() };

    let dir = tempfile::tempdir().unwrap();
    let client = gate402::client::Client::new(
        Arc::new(buyer.clone()),
        gate402::client::TokenCache::new(dir.path()),
        Policy::default(),
    );
    let first = client
        .send(&ClientRequest::get(url("/api/a")))
        .await
        .unwrap();
    assert_eq!(first.response.status(), 200);
    // Pay for a second token on another route, not yet presented.
    let (_, headers, _) = raw(&url("/other/b"), &[]).await;
    let challenge = gate402_protocols::l402::parse_challenges(&headers)
        .remove(0)
        .unwrap();
    let paid = buyer
        .pay_invoice(&challenge.invoice, gate402_rails::PayLimits::default())
        .await
        .unwrap();
    let auth = challenge.credential(paid.preimage).authorization();

    relay.set_up(false);
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

    relay.set_up(true);
    let start = Instant::now();
    loop {
        let (status, _, _) = raw(&url("/other/b"), &[("authorization", &auth)]).await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 503);
        assert!(start.elapsed() < Duration::from_secs(10), "no recovery");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let direct = store::open(&StoreOptions::Postgres {
        url: db.url.clone(),
        max_connections: 2,
        acquire_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap();
    let ledger = direct.ledger(&LedgerFilter::default()).await.unwrap();
    let refs: Vec<_> = ledger.iter().map(|p| p.reference.clone()).collect();
    assert_eq!(
        refs,
        [
            hex::encode(paid.payment_hash),
            first.payment.unwrap().payment_hash
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_starts_while_postgres_is_unreachable_and_recovers_without_restart() {
    let db = TestDb::create().await;
    let relay = Relay::start("127.0.0.1:5432".parse().unwrap()).await;
    relay.set_up(false);
    let via_relay = db.url.replace("127.0.0.1:5432", &relay.addr.to_string());
    let upstream = serve(upstream_app()).await;
    let text = format!(
        "{}\n[store]\nbackend = \"postgres\"\ndatabase_url = \"{via_relay}\"\nacquire_timeout_ms = 500\n",
        CONFIG.replace("{UPSTREAM}", &format!("http://{upstream}"))
    );
    let config = Config::from_toml(&text).unwrap();
    config.validate().unwrap();
    let net = gate402_rails::simnet::SimNetwork::new();
    let buyer = net.add_node("buyer", gate402_tests::BUYER_MSAT);
    let seller = net.add_node("seller", 0);
    let paywall =
        server::paywall_with_secret(&config, Arc::new(seller), &gate402_tests::SECRET).unwrap();
    // The database is down at start: the gateway starts anyway.
    let (paywall, store) =
        server::attach_store_or_retry(paywall, &config, Duration::from_millis(100))
            .await
            .unwrap();
    assert_eq!(store.backend(), "postgres");
    let router = server::router(&config, Arc::new(paywall)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gw = server::spawn(listener, router).unwrap();
    let url = |p: &str| -> http::Uri { format!("http://{}{p}", gw.addr).parse().unwrap() };
    let (status, _, _) = raw(&url("/free/x"), &[]).await;
    assert_eq!(status, 200, "free paths are served");
    let (status, headers, _) = raw(&url("/api/a"), &[]).await;
    assert_eq!(status, 402);
    let challenge = gate402_protocols::l402::parse_challenges(&headers)
        .remove(0)
        .unwrap();
    let paid = buyer
        .pay_invoice(&challenge.invoice, gate402_rails::PayLimits::default())
        .await
        .unwrap();
    let auth = challenge.credential(paid.preimage).authorization();
    let (status, headers, body) = raw(&url("/api/a"), &[("authorization", &auth)]).await;
    assert_eq!(status, 503, "{body:?}");
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(json_body(&body)["reason"], "store_unavailable");
    assert!(!headers.contains_key("www-authenticate"));
    relay.set_up(true);
    let start = Instant::now();
    loop {
        let (status, _, _) = raw(&url("/api/a"), &[("authorization", &auth)]).await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 503);
        assert!(start.elapsed() < Duration::from_secs(15), "no recovery");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ledger = store.ledger(&LedgerFilter::default()).await.unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].reference, hex::encode(paid.payment_hash));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_slow_is_served_later_and_recorded_once() {
    let db = TestDb::create().await;
    let relay = Relay::start("127.0.0.1:5432".parse().unwrap()).await;
    let via_relay = db.url.replace("127.0.0.1:5432", &relay.addr.to_string());
    let upstream = serve(upstream_app()).await;
    let text = format!(
        "{}\n[store]\nbackend = \"postgres\"\ndatabase_url = \"{via_relay}\"\nacquire_timeout_ms = 2000\n",
        CONFIG.replace("{UPSTREAM}", &format!("http://{upstream}"))
    );
    let config = Config::from_toml(&text).unwrap();
    config.validate().unwrap();
    let net = gate402_rails::simnet::SimNetwork::new();
    let buyer = net.add_node("buyer", gate402_tests::BUYER_MSAT);
    let seller = net.add_node("seller", 0);
    let store = server::open_store(&config).await.unwrap();
    let gw = gateway(&config, Arc::new(seller), store.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let client = gate402::client::Client::new(
        Arc::new(buyer),
        gate402::client::TokenCache::new(dir.path()),
        Policy::default(),
    );
    relay.set_delay(Duration::from_millis(150));
    let url: http::Uri = format!("http://{}/api/a", gw.addr).parse().unwrap();
    let paid = client.send(&ClientRequest::get(url.clone())).await.unwrap();
    assert_eq!(paid.response.status(), 200);
    // Concurrent reuses of the token while it stays slow: all served.
    let requests: Vec<_> = (0..8).map(|_| ClientRequest::get(url.clone())).collect();
    let statuses = futures_util::future::join_all(requests.iter().map(|r| client.send(r))).await;
    assert!(statuses
        .iter()
        .all(|r| r.as_ref().unwrap().response.status() == 200));
    relay.set_delay(Duration::ZERO);
    let ledger = store.ledger(&LedgerFilter::default()).await.unwrap();
    assert_eq!(ledger.len(), 1, "recorded once");
    assert_eq!(ledger[0].reference, paid.payment.unwrap().payment_hash);
}
