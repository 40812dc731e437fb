//! MPP Lightning sessions through the real gateway: open, 10 paid requests, exhaustion,
//! top-up, close with an exact refund; refunds to an amountless return invoice (simnet and
//! the LND gRPC backend) by close and by the idle sweeper; sessions survive a gateway restart.

use gate402::client::{ClientRequest, Policy};
use gate402::config::Config;
use gate402_protocols::mpp::{problem, MppReceipt};
use gate402_rails::{decode_bolt11, InvoiceRequest, LightningRail};
use gate402_tests::{gateway, json_body, Harness, BUYER_MSAT};

fn policy() -> Policy {
    Policy {
        max_cost_msat: 1_000_000,
        ..Policy::default()
    }
}

/// A buyer invoice for `sats` (0: amountless, what wallets give as the return invoice).
async fn return_invoice(h: &Harness, sats: u64) -> String {
    h.buyer
        .create_invoice(InvoiceRequest {
            amount_msat: sats * 1000,
            memo: "refund".into(),
            expiry_secs: 3600,
        })
        .await
        .unwrap()
        .bolt11
}

#[tokio::test]
async fn open_ten_requests_top_up_close_refunds_to_the_satoshi() {
    let h = Harness::start_mpp().await;
    let client = h.client("s", policy());
    let req = ClientRequest::get(h.url("/api/stream"));
    // Open: 100 sat deposit (10 units of 10 sat); the opening request is served and paid.
    let (mut s, first) = client.open_session(&req, None).await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(s.deposited_sats, 100);
    for i in 1..10 {
        let r = client.session_send(&s, &req).await.unwrap();
        assert_eq!(r.status(), 200, "request {i}");
        let receipt = MppReceipt::parse(r.headers()["payment-receipt"].to_str().unwrap()).unwrap();
        assert_eq!(receipt.extra["spent"], 10 * (i + 1));
    }
    // Balance exhausted after 10 requests: 402 insufficient-balance with fresh challenges.
    let r = client.session_send(&s, &req).await.unwrap();
    assert_eq!(r.status(), 402);
    assert_eq!(
        json_body(r.body())["type"],
        problem::LN_INSUFFICIENT_BALANCE
    );
    assert!(r.headers().contains_key("www-authenticate"));
    // Top-up: 200 {"status":"ok"}, not forwarded upstream.
    let r = client.session_top_up(&mut s, &req).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(json_body(r.body()), serde_json::json!({"status": "ok"}));
    assert_eq!(s.deposited_sats, 200);
    let r = client.session_send(&s, &req).await.unwrap();
    assert_eq!(r.status(), 200);
    // A bearer credential for another route is refused.
    let other = client
        .session_send(&s, &ClientRequest::get(h.url("/other/x")))
        .await
        .unwrap();
    assert_eq!(other.status(), 402);
    // Close: refund = 100 + 100 - 11 * 10 = 90 sat, paid to an invoice for exactly that.
    // Without any return invoice the session stays open (nothing refunded into the void).
    let none = client.session_close(&s, &req, None).await.unwrap();
    assert_eq!(
        json_body(none.body())["type"],
        problem::LN_INVALID_RETURN_INVOICE
    );
    let wrong = client
        .session_close(&s, &req, Some(return_invoice(&h, 89).await))
        .await
        .unwrap();
    assert_eq!(
        json_body(wrong.body())["type"],
        problem::LN_INVALID_RETURN_INVOICE
    );
    let before = h.net.balance_msat("buyer").unwrap();
    let r = client
        .session_close(&s, &req, Some(return_invoice(&h, 90).await))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        json_body(r.body()),
        serde_json::json!({"status": "closed", "refundSats": 90, "refundStatus": "succeeded"})
    );
    assert!(r.headers().contains_key("payment-receipt"));
    assert_eq!(h.net.balance_msat("buyer").unwrap(), before + 90_000);
    // Money is conserved: what the network burned in fees is the buyer's and the seller's.
    let burned = BUYER_MSAT - h.net.total_balance_msat() as u64;
    assert_eq!(h.seller_msat(), 110_000 - (burned - s.fees_msat));
    assert_eq!(
        h.net.balance_msat("buyer").unwrap(),
        BUYER_MSAT - 110_000 - s.fees_msat
    );
    // Closed: nothing more.
    let r = client.session_send(&s, &req).await.unwrap();
    assert_eq!(json_body(r.body())["type"], problem::LN_SESSION_CLOSED);
}

#[tokio::test]
async fn sessions_survive_a_gateway_restart() {
    let h = Harness::start_mpp().await;
    let client = h.client("s", policy());
    let req = ClientRequest::get(h.url("/api/x"));
    let (s, first) = client.open_session(&req, None).await.unwrap();
    assert_eq!(first.status(), 200);
    let addr = h.gateway.addr;
    let Harness {
        gateway: running,
        config,
        seller,
        store,
        dir,
        ..
    } = h;
    running.shutdown().await.unwrap();
    drop(store);
    // A new process: a fresh pool on the same SQLite file.
    let store = gate402::store::open(&gate402::store::StoreOptions::sqlite(
        dir.path().join("gate402.sqlite"),
    ))
    .await
    .unwrap();
    let config: Config = config;
    let again = gateway(&config, std::sync::Arc::new(seller), store).await;
    let req = ClientRequest::get(format!("http://{}/api/x", again.addr).parse().unwrap());
    assert_ne!(again.addr, addr);
    let r = client.session_send(&s, &req).await.unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.body());
    let receipt = MppReceipt::parse(r.headers()["payment-receipt"].to_str().unwrap()).unwrap();
    assert_eq!(receipt.extra["spent"], 20);
    assert_eq!(receipt.extra["balance"], 80);
}

#[tokio::test]
async fn an_idle_session_is_closed_and_refunded_once_by_the_sweeper() {
    let h = Harness::start_mpp().await;
    let client = h.client("s", policy());
    let req = ClientRequest::get(h.url("/api/idle"));
    // Deposit 100 sat, the opening request costs 10: the refund will be 90, paid to the
    // amountless return invoice given at open.
    let refund_to = return_invoice(&h, 0).await;
    let refund_hash = decode_bolt11(&refund_to).unwrap().payment_hash;
    let (s, first) = client.open_session(&req, Some(refund_to)).await.unwrap();
    assert_eq!(first.status(), 200);
    let opened_at = gate402::clock::now_unix();
    let idle = h.config.mpp.session.idle_timeout_secs;
    // A second gateway of the fleet (same store) runs the sweeper, with an injected clock.
    let sweeper = gate402::server::paywall_with_secret(
        &h.config,
        std::sync::Arc::new(h.seller.clone()),
        &gate402_tests::SECRET,
    )
    .unwrap();
    let sweeper =
        gate402::server::attach_store(sweeper, h.store.clone(), std::time::Duration::from_secs(60))
            .await
            .unwrap();
    assert_eq!(sweeper.sweep_idle_sessions(opened_at, 10).await.unwrap(), 0);
    let before = h.net.balance_msat("buyer").unwrap();
    let later = opened_at + idle + 2;
    let (a, b) = tokio::join!(
        sweeper.sweep_idle_sessions(later, 10),
        sweeper.sweep_idle_sessions(later, 10)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 1, "closed by one sweep");
    assert_eq!(
        h.net.balance_msat("buyer").unwrap(),
        before + 90_000,
        "refunded once"
    );
    let paid = h.buyer.lookup_invoice(&refund_hash).unwrap();
    assert_eq!(paid.amt_paid_msat, 90_000);
    let r = client.session_send(&s, &req).await.unwrap();
    assert_eq!(json_body(r.body())["type"], problem::LN_SESSION_CLOSED);
    assert_eq!(
        sweeper.sweep_idle_sessions(later + 1000, 10).await.unwrap(),
        0
    );
}

/// Open with an amountless return invoice on `h`'s gateway `base`, spend one more unit, close
/// without an invoice: the 80 sat balance goes to the open-time invoice.
async fn refund_to_amountless_invoice(h: &Harness, base: &str) {
    let client = h.client("s", policy());
    let req = ClientRequest::get(format!("{base}/api/a").parse().unwrap());
    // An invoice for more than the deposit could never be paid: refused before the deposit
    // is consumed.
    let (_, r) = client
        .open_session(&req, Some(return_invoice(h, 101).await))
        .await
        .unwrap();
    assert_eq!(r.status(), 402);
    assert_eq!(
        json_body(r.body())["type"],
        problem::LN_INVALID_RETURN_INVOICE
    );
    let refund_to = return_invoice(h, 0).await;
    let refund_hash = decode_bolt11(&refund_to).unwrap().payment_hash;
    let (s, first) = client.open_session(&req, Some(refund_to)).await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(client.session_send(&s, &req).await.unwrap().status(), 200);
    let before = h.net.balance_msat("buyer").unwrap();
    let r = client.session_close(&s, &req, None).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        json_body(r.body()),
        serde_json::json!({"status": "closed", "refundSats": 80, "refundStatus": "succeeded"})
    );
    assert_eq!(h.net.balance_msat("buyer").unwrap(), before + 80_000);
    let paid = h.buyer.lookup_invoice(&refund_hash).unwrap();
    assert_eq!(paid.amt_paid_msat, 80_000);
}

#[tokio::test]
async fn a_close_refunds_to_the_amountless_return_invoice_given_at_open() {
    let h = Harness::start_mpp().await;
    let base = format!("http://{}", h.gateway.addr);
    refund_to_amountless_invoice(&h, &base).await;
}

#[tokio::test]
async fn a_close_refunds_to_an_amountless_invoice_over_the_lnd_grpc_backend() {
    use gate402_rails::{lnd::LndConfig, lnd::LndRail, lnd_server::serve_node};
    let h = Harness::start_mpp().await;
    // The seller node served as LND over gRPC; the gateway pays the refund with
    // SendPaymentV2 + amt_msat (admin macaroon: refunds need offchain:write).
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let lnd = serve_node(h.seller.clone(), dir.path(), listener)
        .await
        .unwrap();
    let rail = LndRail::connect(LndConfig::from_files(
        lnd.addr().to_string(),
        lnd.cert_path(),
        lnd.admin_macaroon_path(),
    ))
    .await
    .unwrap();
    let over_grpc = gateway(&h.config, std::sync::Arc::new(rail), h.store.clone()).await;
    refund_to_amountless_invoice(&h, &format!("http://{}", over_grpc.addr)).await;
}
