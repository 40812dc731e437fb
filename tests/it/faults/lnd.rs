//! The Lightning node fails under the gateway: offline (in-process simnet), and over LND's
//! gRPC API (the LND-compatible server): killed and restarted, hung mid-call (calls accepted,
//! never answered), slow (`AddInvoice` latency below and above the gateway's 5 s mint bound),
//! TLS certificate rotated (followed from LND's directory; refused — 503 — from a stale copy
//! until the operator updates it). 503 + `Retry-After` and no challenge while it is down,
//! paid tokens keep working (verification needs no node), the ledger matches what the node
//! received, and recovery needs no restart.

use std::{sync::Arc, time::Duration};

use gate402::client::{ClientRequest, Policy};
use gate402::{
    backend,
    config::Config,
    server::Running,
    store::{self, Store, StoreOptions},
};
use gate402_rails::{simnet::Faults, PayLimits};
use gate402_tests::{eventually, json_body, raw, Harness};

use super::{ledger, Upstream};
use crate::lnd_backend::{self, Lnd};

#[tokio::test]
async fn rail_offline_answers_503_with_retry_after_and_recovers() {
    let h = Harness::start().await;
    let client = h.client("c", Policy::default());
    // Buy a token while the rail is up.
    client
        .send(&ClientRequest::get(h.url("/api/a")))
        .await
        .unwrap();

    h.net.set_faults(
        "seller",
        Faults {
            offline: true,
            ..Faults::default()
        },
    );
    // The health monitor notices within its interval; until then pooled invoices may still
    // be handed out (payable as soon as the node is back).
    let url = h.url("/api/a");
    let (status, headers, body) = eventually(5, "503 while the rail is down", || async {
        let r = raw(&url, &[]).await;
        (r.0 == 503).then_some(r)
    })
    .await;
    assert_eq!(status, 503);
    assert_eq!(headers["retry-after"], "7");
    assert!(
        headers.get("www-authenticate").is_none(),
        "no challenge without an invoice"
    );
    assert_eq!(json_body(&body)["reason"], "unavailable");
    let (ready, _, _) = raw(&h.url("/_gate402/ready"), &[]).await;
    assert_eq!(ready, 503);

    // A paid token needs no rail: verification is stateless.
    let r = client
        .send(&ClientRequest::get(h.url("/api/a")))
        .await
        .unwrap();
    assert_eq!(r.response.status(), 200);
    assert!(r.reused_credential);

    h.net.set_faults("seller", Faults::default());
    let status = eventually(5, "402 once the rail is back", || async {
        let s = raw(&url, &[]).await.0;
        (s != 503).then_some(s)
    })
    .await;
    assert_eq!(status, 402);
    let (ready, _, _) = raw(&h.url("/_gate402/ready"), &[]).await;
    assert_eq!(ready, 200);
}

/// A gateway on the `lnd` backend (node bob of `lnd`, or `lightning` when given) with a
/// SQLite store in `dir`, in front of a counting upstream.
async fn lnd_gateway(
    lnd: &Lnd,
    pool: usize,
    lightning: Option<String>,
    dir: &std::path::Path,
) -> (Running, Arc<dyn Store>, Upstream) {
    let up = Upstream::start().await;
    let addr = up.url.trim_start_matches("http://").parse().unwrap();
    let mut config = lnd_backend::config(addr, &lnd.node_dir("bob"), pool);
    if let Some(section) = lightning {
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nupstream = \"{}\"\nretry_after_secs = 3\n\
             health_interval_ms = 100\n{section}\n[invoice_pool]\nsize = {pool}\n\
             [[route]]\nname = \"api\"\npath_prefix = \"/api/\"\nprice_sat = 10\n",
            up.url
        );
        config = Config::from_toml(&text).unwrap();
        config.validate().unwrap();
    }
    let rail = backend::connect(&config.lightning).await.expect("backend");
    let store = store::open(&StoreOptions::sqlite(dir.join("gate402.sqlite")))
        .await
        .unwrap();
    let gw = gate402_tests::gateway(&config, rail, store.clone()).await;
    (gw, store, up)
}

/// Buy a token for `u` with alice over gRPC: the `Authorization` value.
async fn buy(lnd: &Lnd, u: &http::Uri) -> String {
    let (s, headers, _) = raw(u, &[]).await;
    assert_eq!(s, 402);
    let challenge = gate402_protocols::l402::parse_challenges(&headers)
        .remove(0)
        .unwrap();
    let paid = lnd
        .alice_wallet()
        .await
        .pay_invoice(&challenge.invoice, PayLimits::default())
        .await
        .unwrap();
    challenge.credential(paid.preimage).authorization()
}

/// `u` answers 503 with `Retry-After: 3` and no challenge, and nothing reaches `up`.
async fn assert_503(u: &http::Uri, up: &Upstream) {
    let before = up.hits();
    let (s, headers, body) = raw(u, &[]).await;
    assert_eq!(s, 503, "{body:?}");
    assert_eq!(headers["retry-after"], "3");
    assert!(
        !headers.contains_key("www-authenticate"),
        "never a challenge to pay"
    );
    assert_eq!(up.hits(), before);
}

/// The ledger holds exactly `n` payments and they add up to what bob received.
async fn ledger_matches(store: &dyn Store, lnd: &Lnd, n: usize) {
    let rows = ledger(store).await;
    assert_eq!(rows.len(), n, "{rows:?}");
    let total: u64 = rows.iter().map(|p| p.amount_msat).sum();
    assert_eq!(Some(total), lnd.net.balance_msat("bob"));
}

#[tokio::test]
async fn lnd_killed_mid_run_is_503_and_recovers_without_restart() {
    let mut lnd = Lnd::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (gw, store, up) = lnd_gateway(&lnd, 4, None, dir.path()).await;
    let u = lnd_backend::url(&gw, "/api/a");
    let token = buy(&lnd, &u).await;
    assert_eq!(raw(&u, &[("authorization", &token)]).await.0, 200);

    lnd.stop_bob().await;
    eventually(10, "503 while LND is down", || async {
        (lnd_backend::status(&u).await == 503).then_some(())
    })
    .await;
    assert_503(&u, &up).await;
    assert_eq!(
        lnd_backend::status(&lnd_backend::url(&gw, "/_gate402/ready")).await,
        503
    );
    // The token bought before needs no LND.
    assert_eq!(raw(&u, &[("authorization", &token)]).await.0, 200);

    lnd.start_bob().await;
    eventually(10, "402 once LND is back", || async {
        (lnd_backend::status(&u).await == 402).then_some(())
    })
    .await;
    let second = buy(&lnd, &u).await;
    assert_eq!(raw(&u, &[("authorization", &second)]).await.0, 200);
    ledger_matches(&*store, &lnd, 2).await;
}

#[tokio::test]
async fn lnd_hung_mid_call_is_503_within_the_mint_bound_and_recovers() {
    let lnd = Lnd::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (gw, store, up) = lnd_gateway(&lnd, 0, None, dir.path()).await;
    let u = lnd_backend::url(&gw, "/api/a");
    let token = buy(&lnd, &u).await;
    assert_eq!(raw(&u, &[("authorization", &token)]).await.0, 200);

    lnd.net.set_faults(
        "bob",
        Faults {
            hang: true,
            ..Faults::default()
        },
    );
    // AddInvoice never answers: the challenge fails after the mint bound (5 s), never hangs
    // the request; the health monitor then answers 503 at once.
    assert_503(&u, &up).await;
    assert_503(&u, &up).await;
    assert_eq!(raw(&u, &[("authorization", &token)]).await.0, 200);

    lnd.net.set_faults("bob", Faults::default());
    eventually(15, "402 once LND answers again", || async {
        (lnd_backend::status(&u).await == 402).then_some(())
    })
    .await;
    let second = buy(&lnd, &u).await;
    assert_eq!(raw(&u, &[("authorization", &second)]).await.0, 200);
    ledger_matches(&*store, &lnd, 2).await;
}

#[tokio::test]
async fn lnd_slow_is_served_slowly_and_503_past_the_mint_bound() {
    let lnd = Lnd::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (gw, store, up) = lnd_gateway(&lnd, 0, None, dir.path()).await;
    let u = lnd_backend::url(&gw, "/api/a");
    let slow = |ms| Faults {
        add_invoice_delay: Some(Duration::from_millis(ms)),
        ..Faults::default()
    };
    lnd.net.set_faults("bob", slow(300));
    let token = buy(&lnd, &u).await; // a 402 that took 300 ms, paid
    assert_eq!(raw(&u, &[("authorization", &token)]).await.0, 200);
    lnd.net.set_faults("bob", slow(7_000));
    assert_503(&u, &up).await;
    lnd.net.set_faults("bob", Faults::default());
    eventually(15, "402 once LND is fast again", || async {
        (lnd_backend::status(&u).await == 402).then_some(())
    })
    .await;
    ledger_matches(&*store, &lnd, 1).await;
}

/// Restart bob with a new TLS key and certificate (LND regenerating `tls.cert`).
async fn rotate_bob(lnd: &mut Lnd) -> Vec<u8> {
    let old = std::fs::read(lnd.node_dir("bob").join("tls.cert")).unwrap();
    lnd.stop_bob().await;
    for f in ["tls.cert", "tls.key"] {
        std::fs::remove_file(lnd.node_dir("bob").join(f)).unwrap();
    }
    lnd.start_bob().await;
    let new = std::fs::read(lnd.node_dir("bob").join("tls.cert")).unwrap();
    assert_ne!(old, new, "a new certificate");
    new
}

#[tokio::test]
async fn lnd_tls_certificate_rotated_is_followed_from_its_file_without_restart() {
    let mut lnd = Lnd::start().await;
    let dir = tempfile::tempdir().unwrap();
    // Gateway 1 reads LND's directory; gateway 2 a copy of the certificate made at setup.
    let copy = dir.path().join("bob-tls.cert");
    std::fs::copy(lnd.node_dir("bob").join("tls.cert"), &copy).unwrap();
    let section =
        format!(
        "[lightning]\nbackend = \"lnd\"\naddress = \"{}\"\ntls_cert = \"{}\"\nmacaroon = \"{}\"\n",
        std::fs::read_to_string(lnd.node_dir("bob").join("rpc.addr")).unwrap().trim(),
        copy.display(),
        lnd.node_dir("bob").join("invoice.macaroon").display()
    );
    let d1 = tempfile::tempdir().unwrap();
    let (gw1, store1, _up1) = lnd_gateway(&lnd, 0, None, d1.path()).await;
    let (gw2, _store2, up2) = lnd_gateway(&lnd, 0, Some(section), dir.path()).await;
    let (u1, u2) = (
        lnd_backend::url(&gw1, "/api/a"),
        lnd_backend::url(&gw2, "/api/a"),
    );
    assert_eq!(lnd_backend::status(&u1).await, 402);
    assert_eq!(lnd_backend::status(&u2).await, 402);

    let new = rotate_bob(&mut lnd).await;
    // Gateway 1 re-reads the file LND rewrote: challenges and payments continue.
    eventually(15, "gateway 1 mints again", || async {
        (lnd_backend::status(&u1).await == 402).then_some(())
    })
    .await;
    let token = buy(&lnd, &u1).await;
    assert_eq!(raw(&u1, &[("authorization", &token)]).await.0, 200);
    // Gateway 2's file still holds the old certificate: the node is refused, 503.
    eventually(15, "gateway 2 refuses the node", || async {
        (lnd_backend::status(&u2).await == 503).then_some(())
    })
    .await;
    assert_503(&u2, &up2).await;
    // The operator copies the new certificate: it recovers without a restart.
    std::fs::write(&copy, &new).unwrap();
    eventually(15, "gateway 2 mints again", || async {
        (lnd_backend::status(&u2).await == 402).then_some(())
    })
    .await;
    ledger_matches(&*store1, &lnd, 1).await;
}
