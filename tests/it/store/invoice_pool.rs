//! The invoice pool on the store's `invoice_pool` table: pre-minted invoices survive a
//! gateway restart, and gateways sharing a database never hand out one invoice twice.

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use futures_util::future::join_all;
use gate402::{
    config::Config,
    paywall::Paywall,
    server::{self, Running},
    store::{PooledInvoice, Store},
};
use gate402_rails::{
    decode_bolt11,
    simnet::{Faults, SimNetwork, SimNode},
    InvoiceRequest, LightningRail,
};
use gate402_tests::{raw, serve, upstream_app, CONFIG, SECRET};
use tokio::net::TcpListener;

use super::{both_backends, Backend, TestStore};

both_backends!(
    pooled_invoices_survive_a_restart,
    two_gateways_sharing_a_store_never_hand_out_one_invoice_twice,
);

const POOL: usize = 4;

async fn config(db: &TestStore) -> Config {
    let upstream = serve(upstream_app()).await;
    let text = format!(
        "{}\n{}\n[invoice_pool]\nsize = {POOL}\nrefill_concurrency = 2\n",
        CONFIG.replace("{UPSTREAM}", &format!("http://{upstream}")),
        db.toml
    );
    let config = Config::from_toml(&text).unwrap();
    config.validate().unwrap();
    config
}

async fn gateway(
    config: &Config,
    seller: &SimNode,
    store: Arc<dyn Store>,
) -> (Arc<Paywall>, Running) {
    let paywall = server::paywall_with_secret(config, Arc::new(seller.clone()), &SECRET).unwrap();
    let paywall = server::attach_store(paywall, store, config.store.revocation_refresh())
        .await
        .unwrap();
    let paywall = Arc::new(paywall);
    let router = server::router(config, paywall.clone()).unwrap();
    let running = server::spawn(TcpListener::bind("127.0.0.1:0").await.unwrap(), router).unwrap();
    (paywall, running)
}

/// The invoice of a fresh 402 for `/api/…` (route `api`).
async fn challenge_invoice(running: &Running) -> String {
    let url = format!("http://{}/api/x", running.addr).parse().unwrap();
    let (status, headers, _) = raw(&url, &[]).await;
    assert_eq!(status, 402);
    gate402_protocols::l402::parse_challenges(&headers)
        .remove(0)
        .unwrap()
        .invoice
}

/// Wait (≤ 120 s) until `cond` holds; on timeout the failure shows `state()`.
async fn until(
    what: &str,
    mut cond: impl AsyncFnMut() -> bool,
    mut state: impl AsyncFnMut() -> String,
) {
    let start = Instant::now();
    while !cond().await {
        // Generous: the whole suite shares 2 cores and one PostgreSQL while this polls.
        if start.elapsed() > Duration::from_secs(120) {
            panic!("{what}: {}", state().await);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every invoice of the `api` reserve (drained: claims them all).
async fn drain_reserve(store: &dyn Store) -> HashSet<String> {
    let mut out = HashSet::new();
    while let Some(p) = store.pool_take("api", 10_000, 0).await.unwrap() {
        out.insert(p.bolt11);
    }
    out
}

/// AddInvoice on `seller` now takes 30 s: whatever a gateway hands out comes from a pool.
fn slow_minting(net: &SimNetwork) {
    net.set_faults(
        "seller",
        Faults {
            add_invoice_delay: Some(Duration::from_secs(30)),
            ..Faults::default()
        },
    );
}

async fn pooled_invoices_survive_a_restart(backend: Backend) {
    let db = TestStore::new(backend).await;
    let config = config(&db).await;
    let net = SimNetwork::new();
    let seller = net.add_node("seller", 0);
    let store = db.open().await;
    let (paywall, running) = gateway(&config, &seller, store.clone()).await;
    // Front full, reserve full, and the workers' count of it (the reserve gauge) says so.
    until(
        "pool filled",
        async || {
            paywall.pool().stock("api") == POOL
                && store.pool_count("api", 0).await.unwrap() == POOL as u64
                && paywall.pool().reserve("api") == Some(POOL)
        },
        async || {
            format!(
                "front {} reserve {:?} counted {:?} stats {:?}",
                paywall.pool().stock("api"),
                store.pool_count("api", 0).await,
                paywall.pool().reserve("api"),
                paywall.pool().stats()
            )
        },
    )
    .await;
    running.shutdown().await.unwrap();
    drop(paywall); // the process is gone: its memory front with it
    let reserved = {
        let peek = db.open().await;
        let all = drain_reserve(&*peek).await;
        for bolt11 in &all {
            let d = decode_bolt11(bolt11).unwrap();
            let row = PooledInvoice {
                payment_hash: d.payment_hash,
                route: "api".into(),
                amount_msat: 10_000,
                bolt11: bolt11.clone(),
                expires_at: d.expires_at,
            };
            assert!(peek.pool_add(&row, 0).await.unwrap(), "put back");
        }
        all
    };
    assert_eq!(reserved.len(), POOL);

    // The next process mints nothing in time: its 402s come from the reserve kept on disk.
    slow_minting(&net);
    let (paywall, running) = gateway(&config, &seller, db.open().await).await;
    let mut served = HashSet::new();
    for _ in 0..POOL {
        let inv = challenge_invoice(&running).await;
        assert!(
            reserved.contains(&inv),
            "from the reserve kept across the restart"
        );
        assert!(served.insert(inv), "each invoice once");
    }
    let stats = paywall.pool().stats();
    assert_eq!(stats.misses, 0, "{stats:?}");
    assert_eq!(stats.claimed, POOL as u64, "{stats:?}");
    running.shutdown().await.unwrap();
}

async fn two_gateways_sharing_a_store_never_hand_out_one_invoice_twice(backend: Backend) {
    // 20 challenges plus both fronts refilled to POOL afterwards: the reserve must hold them
    // all, or a challenge falls back to (slow) minting and the test depends on timing.
    const RESERVED: usize = 20 + 2 * POOL + 4;
    let db = TestStore::new(backend).await;
    let config = config(&db).await;
    let net = SimNetwork::new();
    let seller = net.add_node("seller", 0);
    // A shared reserve, minted before minting becomes slow.
    let store = db.open().await;
    let mut reserved = HashSet::new();
    for _ in 0..RESERVED {
        let inv = seller
            .create_invoice(InvoiceRequest {
                amount_msat: 10_000,
                memo: "gate402 api".into(),
                expiry_secs: 3600,
            })
            .await
            .unwrap();
        let row = PooledInvoice {
            payment_hash: inv.payment_hash,
            route: "api".into(),
            amount_msat: inv.amount_msat,
            bolt11: inv.bolt11.clone(),
            expires_at: inv.expires_at,
        };
        assert!(store.pool_add(&row, 0).await.unwrap());
        reserved.insert(inv.bolt11);
    }
    slow_minting(&net);
    let (pa, a) = gateway(&config, &seller, db.open().await).await;
    let (pb, b) = gateway(&config, &seller, db.open().await).await;
    // Both claim into their fronts while 2 × 10 challenges are asked of them concurrently.
    let invoices = join_all((0..20).map(|i| {
        let gw = if i % 2 == 0 { &a } else { &b };
        challenge_invoice(gw)
    }))
    .await;
    let distinct: HashSet<_> = invoices.iter().cloned().collect();
    assert_eq!(
        distinct.len(),
        invoices.len(),
        "an invoice handed out twice"
    );
    assert!(distinct.is_subset(&reserved), "all from the shared reserve");
    // The rest sits in exactly one place: a front or the table (claims in flight settle).
    until(
        "every invoice accounted for",
        async || {
            let table = store.pool_count("api", 0).await.unwrap() as usize;
            table + pa.pool().stock("api") + pb.pool().stock("api") == RESERVED - invoices.len()
        },
        async || {
            format!(
                "table {:?} fronts {} {} stats {:?} {:?}",
                store.pool_count("api", 0).await,
                pa.pool().stock("api"),
                pb.pool().stock("api"),
                pa.pool().stats(),
                pb.pool().stats()
            )
        },
    )
    .await;
    let left = drain_reserve(&*store).await;
    assert!(left.is_disjoint(&distinct));
    assert!(left.is_subset(&reserved));
    let (sa, sb) = (pa.pool().stats(), pb.pool().stats());
    assert_eq!((sa.misses, sb.misses), (0, 0), "{sa:?} {sb:?}");
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}
