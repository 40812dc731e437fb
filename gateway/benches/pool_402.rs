//! Bounded loopback benchmark: latency of unpaid requests (402 issuance) through the whole
//! gateway on the `lnd` backend, with 50 ms injected `AddInvoice` latency: pool warm in memory
//! only, pool warm with its durable reserve on an SQLite store (refill claims and inserts
//! running meanwhile), and pool off.
//!
//! Run: `cargo bench -p gate402 --bench pool_402` (a few seconds; loopback only; fixed counts).

use std::{sync::Arc, time::Instant};

use gate402::{backend, config::Config, server};
use gate402_rails::{
    lnd_server::serve_node,
    simnet::{Faults, SimNetwork},
};
use http_body_util::Empty;
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use tokio::net::TcpListener;

const DELAY_MS: u64 = 50;

async fn run(pool_size: usize, requests: usize, with_store: bool) -> Vec<f64> {
    let net = SimNetwork::new();
    let bob = net.add_node("bob", 0);
    net.set_faults(
        "bob",
        Faults {
            add_invoice_delay: Some(std::time::Duration::from_millis(DELAY_MS)),
            ..Faults::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let lnd = serve_node(
        bob,
        dir.path(),
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
    .await
    .unwrap();
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://127.0.0.1:9\"\n\
         [lightning]\nbackend = \"lnd\"\ndir = \"{}\"\n\
         [invoice_pool]\nsize = {pool_size}\nrefill_concurrency = 8\n\
         [[route]]\nname = \"api\"\npath_prefix = \"/\"\nprice_sat = 10\n",
        dir.path().display()
    );
    let config = Config::from_toml(&text).unwrap();
    config.validate().unwrap();
    let rail = backend::connect(&config.lightning).await.unwrap();
    let paywall = server::paywall_with_secret(&config, rail, &[9u8; 32]).unwrap();
    let db = tempfile::tempdir().unwrap();
    let paywall = if with_store {
        let store = gate402::store::open(&gate402::store::StoreOptions::sqlite(
            db.path().join("bench.sqlite"),
        ))
        .await
        .unwrap();
        server::attach_store(paywall, store, std::time::Duration::from_secs(1))
            .await
            .unwrap()
    } else {
        paywall
    };
    let paywall = Arc::new(paywall);
    let router = server::router(&config, paywall.clone()).unwrap();
    let gw = server::spawn(TcpListener::bind("127.0.0.1:0").await.unwrap(), router).unwrap();
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    while paywall.pool().stock("api") < pool_size.min(requests) && Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await; // waiting for refill, not a test
    }
    // With a store, also wait for the durable reserve: during the run each take is then
    // refilled by a claim from it (DELETE … RETURNING) and the reserve by mint + INSERT.
    if let Some(store) = paywall.store() {
        while store.pool_count("api", 0).await.unwrap() < pool_size as u64
            && Instant::now() < deadline
        {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await; // not a test
        }
    }
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<bytes::Bytes>>();
    let uri: http::Uri = format!("http://{}/x", gw.addr).parse().unwrap();
    let mut samples = Vec::with_capacity(requests);
    for _ in 0..requests {
        let t = Instant::now();
        let resp = client.get(uri.clone()).await.unwrap();
        assert_eq!(resp.status(), 402);
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let stats = paywall.pool().stats();
    eprintln!("  pool size {pool_size}: {stats:?}");
    gw.shutdown().await.unwrap();
    lnd.shutdown().await.unwrap();
    samples.sort_by(f64::total_cmp);
    samples
}

fn pct(s: &[f64], p: f64) -> f64 {
    s[((s.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for (pool, n, store) in [(400usize, 300usize, false), (400, 300, true), (0, 30, false)] {
            let s = run(pool, n, store).await;
            let kind = if store { "memory + sqlite reserve" } else { "memory only" };
            println!(
                "402 issuance, AddInvoice +{DELAY_MS} ms, pool {:>3} ({kind}): n={n} p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
                pool,
                pct(&s, 0.5),
                pct(&s, 0.9),
                pct(&s, 0.99),
                s[s.len() - 1]
            );
        }
    });
}
