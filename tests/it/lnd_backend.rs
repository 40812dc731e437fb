//! The gateway on the `lnd` backend: LND's gRPC API over TLS with macaroons, served by the
//! LND-compatible simulator. Outages, restarts, the invoice pool, startup errors.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use gate402::{
    backend,
    config::{Config, LndSection},
    paywall::Paywall,
    server::{self, Running},
};
use gate402_rails::{
    lnd::{LndConfig, LndRail},
    lnd_server::{serve_node, LndServerHandle},
    simnet::{Faults, SimNetwork},
    LightningRail,
};
use gate402_tests::{eventually, raw, serve, upstream_app, SECRET};
use tokio::net::TcpListener;

use crate::roundtrip::challenge_invoice;

pub(crate) struct Lnd {
    pub(crate) net: SimNetwork,
    dir: tempfile::TempDir,
    bob: Option<LndServerHandle>,
    bob_addr: SocketAddr,
    _alice: LndServerHandle,
}

impl Lnd {
    pub(crate) async fn start() -> Lnd {
        let net = SimNetwork::new();
        let alice = net.add_node("alice", 5_000_000);
        let bob = net.add_node("bob", 0);
        let dir = tempfile::tempdir().unwrap();
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let alice = serve_node(alice, &dir.path().join("alice"), l)
            .await
            .unwrap();
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let bob_addr = l.local_addr().unwrap();
        let bob = serve_node(bob, &dir.path().join("bob"), l).await.unwrap();
        Lnd {
            net,
            dir,
            bob: Some(bob),
            bob_addr,
            _alice: alice,
        }
    }

    pub(crate) fn node_dir(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) async fn stop_bob(&mut self) {
        self.bob.take().unwrap().shutdown().await.unwrap();
    }

    pub(crate) async fn start_bob(&mut self) {
        let l = TcpListener::bind(self.bob_addr).await.unwrap();
        let node = self.net.node("bob").unwrap();
        self.bob = Some(serve_node(node, &self.node_dir("bob"), l).await.unwrap());
    }

    pub(crate) async fn alice_wallet(&self) -> Arc<dyn LightningRail> {
        let d = self.node_dir("alice");
        let cfg = LndConfig::from_files(
            std::fs::read_to_string(d.join("rpc.addr")).unwrap().trim(),
            d.join("tls.cert"),
            d.join("admin.macaroon"),
        );
        Arc::new(LndRail::connect(cfg).await.unwrap())
    }
}

pub(crate) fn config(upstream: SocketAddr, bob: &std::path::Path, pool: usize) -> Config {
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://{upstream}\"\nretry_after_secs = 3\nhealth_interval_ms = 100\n\
         [lightning]\nbackend = \"lnd\"\ndir = \"{}\"\n\
         [invoice_pool]\nsize = {pool}\nrefill_concurrency = 4\n\
         [[route]]\nname = \"api\"\npath_prefix = \"/api/\"\nprice_sat = 10\n",
        bob.display()
    );
    let c = Config::from_toml(&text).unwrap();
    c.validate().unwrap();
    c
}

pub(crate) async fn gateway(config: &Config) -> (Arc<Paywall>, Running) {
    let rail = backend::connect(&config.lightning)
        .await
        .expect("backend starts");
    let paywall = Arc::new(server::paywall_with_secret(config, rail, &SECRET).unwrap());
    let router = server::router(config, paywall.clone()).unwrap();
    let running = server::spawn(TcpListener::bind("127.0.0.1:0").await.unwrap(), router).unwrap();
    (paywall, running)
}

pub(crate) fn url(running: &Running, path: &str) -> http::Uri {
    format!("http://{}{path}", running.addr).parse().unwrap()
}

pub(crate) async fn status(u: &http::Uri) -> u16 {
    raw(u, &[]).await.0.as_u16()
}

#[tokio::test]
async fn lnd_unreachable_at_start_then_comes_up() {
    let mut lnd = Lnd::start().await;
    lnd.stop_bob().await;
    let up = serve(upstream_app()).await;
    let cfg = config(up, &lnd.node_dir("bob"), 2);
    let (_pw, gw) = gateway(&cfg).await; // starts anyway
    let u = url(&gw, "/api/x");
    assert_eq!(status(&url(&gw, "/_gate402/ready")).await, 503);
    let (s, headers, _) = raw(&u, &[]).await;
    assert_eq!(s, 503);
    assert_eq!(headers["retry-after"], "3");
    lnd.start_bob().await;
    eventually(10, "402 once LND is up", || async {
        (status(&u).await == 402).then_some(())
    })
    .await;
    assert_eq!(status(&url(&gw, "/_gate402/ready")).await, 200);
}

#[tokio::test]
async fn payment_settled_while_the_gateway_was_down_is_honoured_after_restart() {
    let lnd = Lnd::start().await;
    let up = serve(upstream_app()).await;
    let cfg = config(up, &lnd.node_dir("bob"), 0);
    let (pw, gw) = gateway(&cfg).await;
    let (s, headers, _) = raw(&url(&gw, "/api/x"), &[]).await;
    assert_eq!(s, 402);
    let challenge = gate402_protocols::l402::parse_challenges(&headers)
        .remove(0)
        .unwrap();
    gw.shutdown().await.unwrap();
    drop(pw);

    let paid = lnd
        .alice_wallet()
        .await
        .pay_invoice(&challenge_invoice(&headers), Default::default())
        .await
        .unwrap();
    let auth = challenge.credential(paid.preimage).authorization();

    let (_pw, gw) = gateway(&cfg).await;
    let (s, _, _) = raw(&url(&gw, "/api/x"), &[("authorization", &auth)]).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn pool_hides_addinvoice_latency_and_never_reuses_an_invoice() {
    let lnd = Lnd::start().await;
    lnd.net.set_faults(
        "bob",
        Faults {
            add_invoice_delay: Some(Duration::from_millis(50)),
            ..Faults::default()
        },
    );
    let up = serve(upstream_app()).await;
    let cfg = config(up, &lnd.node_dir("bob"), 32);
    let (pw, gw) = gateway(&cfg).await;
    eventually(20, "a full stock", || async {
        (pw.pool().stock("api") == 32).then_some(())
    })
    .await;

    let before = pw.pool().stats();
    let u = url(&gw, "/api/x");
    for _ in 0..20 {
        assert_eq!(status(&u).await, 402);
    }
    let after = pw.pool().stats();
    assert_eq!(
        (after.hits - before.hits, after.misses - before.misses),
        (20, 0),
        "{after:?}"
    );

    // 64 concurrent unpaid requests (more than the stock): every invoice is distinct.
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let u = u.clone();
        tasks.push(tokio::spawn(async move {
            challenge_invoice(&raw(&u, &[]).await.1)
        }));
    }
    let mut invoices = Vec::new();
    for t in tasks {
        invoices.push(t.await.unwrap());
    }
    let unique: std::collections::HashSet<_> = invoices.iter().collect();
    assert_eq!(unique.len(), 64, "an invoice was handed to two challenges");
}

#[tokio::test]
async fn bad_certificate_or_macaroon_is_a_startup_error_naming_the_file() {
    let lnd = Lnd::start().await;
    let bob = lnd.node_dir("bob");
    let alice = lnd.node_dir("alice");
    let addr = lnd.bob_addr.to_string();
    let section = |cert: PathBuf, mac: PathBuf| LndSection {
        address: Some(addr.clone()),
        tls_cert: Some(cert),
        macaroon: Some(mac),
        ..LndSection::default()
    };
    let cases = [
        (
            section(alice.join("tls.cert"), bob.join("invoice.macaroon")),
            alice.join("tls.cert"),
        ),
        (
            section(bob.join("tls.cert"), alice.join("admin.macaroon")),
            alice.join("admin.macaroon"),
        ),
        (
            section(bob.join("missing.cert"), bob.join("invoice.macaroon")),
            bob.join("missing.cert"),
        ),
    ];
    for (s, file) in cases {
        let e = match backend::connect(&gate402::config::LightningConfig::Lnd(s)).await {
            Err(e) => e,
            Ok(_) => panic!("{} should be refused", file.display()),
        };
        assert!(e.contains(&file.display().to_string()), "{e}");
    }
    let garbage = bob.join("garbage.macaroon");
    std::fs::write(&garbage, "not a macaroon").unwrap();
    let e = match backend::connect(&gate402::config::LightningConfig::Lnd(section(
        bob.join("tls.cert"),
        garbage.clone(),
    )))
    .await
    {
        Err(e) => e,
        Ok(_) => panic!("garbage macaroon accepted"),
    };
    assert!(e.contains(&garbage.display().to_string()), "{e}");
}
