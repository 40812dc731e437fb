//! Several LND nodes behind one gateway (`[[lightning.node]]`, issue #16 item 2): two
//! LND-compatible simulator servers, one stopped mid-run and brought back.
//!
//! While `bob` is down: every unpaid request still gets a 402 (minted on `carol`), a paid L402
//! token for a `bob` invoice still works (no node needed), an x402 Lightning payment to `bob`
//! answers 503 + `Retry-After` (its state lives on `bob`), never 200 and never a refusal.
//! Once `bob` is back it mints again and the held payment is honoured.

use std::{net::SocketAddr, path::Path};

use gate402::{backend, config::Config, server::Running, store};
use gate402_protocols::{l402, x402};
use gate402_rails::{
    decode_bolt11,
    lnd_server::{serve_node, LndServerHandle},
    simnet::{SimNetwork, SimNode},
    LightningRail,
};
use gate402_tests::{eventually, raw, serve, upstream_app};
use http::{HeaderMap, StatusCode, Uri};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::roundtrip::challenge_invoice;

struct Nodes {
    net: SimNetwork,
    alice: SimNode,
    dir: tempfile::TempDir,
    bob: Option<LndServerHandle>,
    bob_addr: SocketAddr,
    _carol: LndServerHandle,
}

impl Nodes {
    async fn start() -> Nodes {
        let net = SimNetwork::new();
        let alice = net.add_node("alice", 5_000_000);
        let dir = tempfile::tempdir().unwrap();
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let bob_addr = l.local_addr().unwrap();
        let bob = net.add_node("bob", 0);
        let bob = serve_node(bob, &dir.path().join("bob"), l).await.unwrap();
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let carol = net.add_node("carol", 0);
        let carol = serve_node(carol, &dir.path().join("carol"), l)
            .await
            .unwrap();
        Nodes {
            net,
            alice,
            dir,
            bob: Some(bob),
            bob_addr,
            _carol: carol,
        }
    }

    async fn stop_bob(&mut self) {
        self.bob.take().unwrap().shutdown().await.unwrap();
    }

    async fn start_bob(&mut self) {
        let l = TcpListener::bind(self.bob_addr).await.unwrap();
        let node = self.net.node("bob").unwrap();
        let dir = self.dir.path().join("bob");
        self.bob = Some(serve_node(node, &dir, l).await.unwrap());
    }

    /// Name of the node that minted `bolt11`.
    fn payee(&self, bolt11: &str) -> &'static str {
        let payee = decode_bolt11(bolt11).unwrap().payee_pubkey;
        ["bob", "carol"]
            .into_iter()
            .find(|n| self.net.node(n).unwrap().pubkey() == payee)
            .expect("minted on bob or carol")
    }
}

fn config(upstream: SocketAddr, dir: &Path) -> Config {
    let node = |n: &str| {
        format!(
            "[[lightning.node]]\nname = \"{n}\"\ndir = \"{}\"\n",
            dir.join(n).display()
        )
    };
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://{upstream}\"\n\
         retry_after_secs = 3\nhealth_interval_ms = 100\n\
         [lightning]\nbackend = \"lnd\"\n{}{}\
         [invoice_pool]\nsize = 0\n\
         [[route]]\nname = \"api\"\npath_prefix = \"/api/\"\nprice_sat = 10\n\
         [[route]]\nname = \"ln\"\npath_prefix = \"/ln/\"\nprice_sat = 21\n\
         protocols = [\"x402\"]\nx402 = {{ lightning = true }}\n",
        node("bob"),
        node("carol"),
    );
    let c = Config::from_toml(&text).unwrap();
    c.validate().unwrap();
    c
}

async fn gateway(config: &Config, dir: &Path) -> Running {
    let rail = backend::connect(&config.lightning).await.expect("starts");
    let opts = store::StoreOptions::sqlite(dir.join("gate402.sqlite"));
    let store = store::open(&opts).await.unwrap();
    gate402_tests::gateway(config, rail, store).await
}

fn url(gw: &Running, path: &str) -> Uri {
    format!("http://{}{path}", gw.addr).parse().unwrap()
}

/// One unpaid request to `/api/`: it must be a 402; returns its headers and invoice.
async fn unpaid(gw: &Running) -> (HeaderMap, String) {
    let (s, h, b) = raw(&url(gw, "/api/x"), &[]).await;
    assert_eq!(s, StatusCode::PAYMENT_REQUIRED, "{b:?}");
    let inv = challenge_invoice(&h);
    (h, inv)
}

/// A paid L402 `Authorization` for a challenge minted on `node`.
async fn l402_paid_on(n: &Nodes, gw: &Running, node: &str) -> String {
    for _ in 0..10 {
        let (h, inv) = unpaid(gw).await;
        if n.payee(&inv) == node {
            let c = l402::parse_challenges(&h).remove(0).unwrap();
            let paid = n.alice.pay_invoice(&inv, Default::default()).await.unwrap();
            return c.credential(paid.preimage).authorization();
        }
    }
    panic!("no L402 invoice minted on {node} in 10 requests");
}

/// An x402 Lightning payment header (v2, Alby's format: the invoice is the payload) for a
/// challenge minted on `node`, and its invoice (not paid yet).
async fn x402_on(n: &Nodes, gw: &Running, node: &str) -> (&'static str, String, String) {
    for _ in 0..10 {
        let (s, h, _) = raw(&url(gw, "/ln/x"), &[]).await;
        assert_eq!(s, StatusCode::PAYMENT_REQUIRED);
        let required: Value =
            x402::wire::decode_header(h["payment-required"].as_bytes(), "test").unwrap();
        let accepted = required["accepts"][0].clone();
        let inv = accepted["extra"]["invoice"].as_str().unwrap().to_owned();
        if n.payee(&inv) == node {
            let body = json!({
                "x402Version": 2,
                "scheme": accepted["scheme"],
                "network": accepted["network"],
                "payload": { "invoice": inv },
                "accepted": accepted,
            });
            return ("payment-signature", x402::wire::encode_header(&body), inv);
        }
    }
    panic!("no x402 invoice minted on {node} in 10 requests");
}

/// [`x402_on`], paid by alice.
async fn x402_paid_on(n: &Nodes, gw: &Running, node: &str) -> (&'static str, String) {
    let (name, header, inv) = x402_on(n, gw, node).await;
    n.alice.pay_invoice(&inv, Default::default()).await.unwrap();
    (name, header)
}

async fn ready_body(gw: &Running) -> (StatusCode, String) {
    let (s, _, b) = raw(&url(gw, "/_gate402/ready"), &[]).await;
    (s, String::from_utf8_lossy(&b).into_owned())
}

#[tokio::test]
async fn one_node_stopped_mid_run_402s_keep_flowing_and_no_payment_is_lost() {
    let mut n = Nodes::start().await;
    let up = serve(upstream_app()).await;
    let cfg = config(up, n.dir.path());
    let gw = gateway(&cfg, n.dir.path()).await;

    // Both up: invoices come from both nodes.
    let mut minted = std::collections::HashSet::new();
    for _ in 0..6 {
        minted.insert(n.payee(&unpaid(&gw).await.1));
    }
    assert_eq!(minted.len(), 2, "{minted:?}");
    let l402_bob = l402_paid_on(&n, &gw, "bob").await;
    let (x_name, x402_bob_seen) = x402_paid_on(&n, &gw, "bob").await;
    let (_, x402_carol) = x402_paid_on(&n, &gw, "carol").await;
    let (_, x402_unpaid, _) = x402_on(&n, &gw, "carol").await;
    let (_, x402_bob, bob_invoice) = x402_on(&n, &gw, "bob").await;
    // Wait until the gateway has seen the first bob payment settle (its invoice stream).
    eventually(10, "the settlement seen", || async {
        let (s, _, _) = raw(&url(&gw, "/ln/y"), &[(x_name, &x402_bob_seen)]).await;
        (s == StatusCode::OK).then_some(())
    })
    .await;

    // bob's gRPC server stops; the network still routes to it, so alice pays its invoice
    // while the gateway cannot ask bob about it.
    n.stop_bob().await;
    n.alice
        .pay_invoice(&bob_invoice, Default::default())
        .await
        .unwrap();
    let mut slowest = std::time::Duration::ZERO;
    for i in 0..12 {
        let t = std::time::Instant::now();
        let (_, inv) = unpaid(&gw).await;
        slowest = slowest.max(t.elapsed());
        assert_eq!(n.payee(&inv), "carol", "request {i} while bob is down");
    }
    // A refused connection fails over at once (a hung node would take `call_timeout`, 2 s).
    eprintln!("slowest 402 while bob is down: {slowest:?}");
    assert!(slowest < std::time::Duration::from_secs(2), "{slowest:?}");
    let (s, body) = ready_body(&gw).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(
        body.contains("node bob: down") && body.contains("node carol: up"),
        "{body}"
    );
    // Paid L402: the preimage is the proof, no node needed.
    let (s, _, _) = raw(&url(&gw, "/api/x"), &[("authorization", &l402_bob)]).await;
    assert_eq!(s, StatusCode::OK);
    // x402 Lightning paid to bob while it is unreachable: its state is on bob → 503 +
    // Retry-After, never 200 and never a refusal.
    for _ in 0..3 {
        let (s, h, _) = raw(&url(&gw, "/ln/x"), &[(x_name, &x402_bob)]).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(h["retry-after"], "3");
    }
    let (s, _, _) = raw(&url(&gw, "/ln/x"), &[(x_name, &x402_carol)]).await;
    assert_eq!(s, StatusCode::OK);
    // No free access: a made-up L402, an unpaid x402 header, a spent one are refused.
    let (s, _, _) = raw(&url(&gw, "/api/x"), &[("authorization", "L402 bogus:00")]).await;
    assert_ne!(s, StatusCode::OK);
    let (s, _, _) = raw(&url(&gw, "/ln/x"), &[(x_name, &x402_unpaid)]).await;
    assert_eq!(s, StatusCode::PAYMENT_REQUIRED);
    let (s, _, _) = raw(&url(&gw, "/ln/x"), &[(x_name, &x402_bob_seen)]).await;
    assert_eq!(s, StatusCode::PAYMENT_REQUIRED);

    n.start_bob().await;
    eventually(10, "bob back in /_gate402/ready", || async {
        ready_body(&gw)
            .await
            .1
            .contains("node bob: up")
            .then_some(())
    })
    .await;
    eventually(10, "an invoice minted on bob again", || async {
        (n.payee(&unpaid(&gw).await.1) == "bob").then_some(())
    })
    .await;
    // The payment held while bob was down is honoured once, then spent.
    let (s, _, _) = raw(&url(&gw, "/ln/x"), &[(x_name, &x402_bob)]).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = raw(&url(&gw, "/ln/x"), &[(x_name, &x402_bob)]).await;
    assert_eq!(s, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(n.net.settled_invoices("bob"), 3);
    assert_eq!(n.net.balance_msat("bob"), Some(52_000));
}

#[tokio::test]
async fn a_restarted_gateway_asks_every_node_for_an_invoice_it_did_not_mint() {
    let mut n = Nodes::start().await;
    let up = serve(upstream_app()).await;
    let cfg = config(up, n.dir.path());
    let gw = gateway(&cfg, n.dir.path()).await;
    let (x_name, paid_on_bob) = x402_paid_on(&n, &gw, "bob").await;
    gw.shutdown().await.unwrap();

    // A new process: no payment hash → node records. With bob down, carol's "not found" is
    // not an answer: 503, not a refusal of a settled payment.
    n.stop_bob().await;
    let gw = gateway(&cfg, n.dir.path()).await;
    let (s, h, _) = raw(&url(&gw, "/ln/x"), &[(x_name, &paid_on_bob)]).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(h["retry-after"], "3");
    n.start_bob().await;
    let ok = eventually(10, "the payment honoured once bob is back", || async {
        let (s, _, _) = raw(&url(&gw, "/ln/x"), &[(x_name, &paid_on_bob)]).await;
        (s != StatusCode::SERVICE_UNAVAILABLE).then_some(s)
    })
    .await;
    assert_eq!(ok, StatusCode::OK);
    assert_eq!(n.net.settled_invoices("bob"), 1);
}

#[tokio::test]
async fn a_hung_node_costs_at_most_one_call_timeout_then_is_skipped() {
    let n = Nodes::start().await;
    let up = serve(upstream_app()).await;
    let cfg = config(up, n.dir.path());
    let gw = gateway(&cfg, n.dir.path()).await;
    let hang = gate402_rails::simnet::Faults {
        hang: true,
        ..Default::default()
    };
    n.net.set_faults("bob", hang);
    let mut times = Vec::new();
    for i in 0..10 {
        let t = std::time::Instant::now();
        let (_, inv) = unpaid(&gw).await;
        times.push(t.elapsed());
        assert_eq!(n.payee(&inv), "carol", "request {i} while bob hangs");
    }
    eprintln!("402 latencies while bob hangs: {times:?}");
    let limit = std::time::Duration::from_millis(2_500);
    assert!(times.iter().all(|t| *t < limit), "{times:?}");
    let slow = times.iter().filter(|t| t.as_millis() > 500).count();
    assert!(slow <= 1, "only the first mint may wait for bob: {times:?}");
    n.net.set_faults("bob", Default::default());
    eventually(10, "an invoice minted on bob again", || async {
        (n.payee(&unpaid(&gw).await.1) == "bob").then_some(())
    })
    .await;
}
