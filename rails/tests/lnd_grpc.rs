//! End-to-end tests of the LND gRPC client ([`LndRail`]) against the LND-compatible simulator
//! server ([`serve_node`]) over real loopback sockets, TLS and macaroons.
//!
//! Synchronisation is by awaiting conditions (subscription status, cached invoice states), each
//! bounded by a generous timeout; nothing sleeps.

#![cfg(feature = "lnd")]

use std::path::Path;
use std::time::Duration;

use gate402_rails::lnd_server::{serve_node, LndServerHandle};
use gate402_rails::simnet::{Faults, SimNetwork};
use gate402_rails::{
    decode_bolt11, InvoiceRequest, InvoiceState, LightningRail, LndConfig, LndRail, PayLimits,
    RailErrorKind,
};
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use tokio::net::TcpListener;

/// Upper bound of every awaited condition (never reached when things work).
const WAIT: Duration = Duration::from_secs(20);

struct Fixture {
    net: SimNetwork,
    alice: LndServerHandle,
    bob: LndServerHandle,
    _dirs: (TempDir, TempDir),
}

async fn serve(net: &SimNetwork, name: &str, dir: &Path) -> LndServerHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve_node(net.node(name).unwrap(), dir, listener)
        .await
        .unwrap()
}

async fn fixture() -> Fixture {
    let net = SimNetwork::new();
    net.add_node("alice", 10_000_000);
    net.add_node("bob", 0);
    let dirs = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let alice = serve(&net, "alice", dirs.0.path()).await;
    let bob = serve(&net, "bob", dirs.1.path()).await;
    Fixture {
        net,
        alice,
        bob,
        _dirs: dirs,
    }
}

fn admin(h: &LndServerHandle) -> LndConfig {
    LndConfig::from_files(h.addr().to_string(), h.cert_path(), h.admin_macaroon_path())
}

fn invoice_only(h: &LndServerHandle) -> LndConfig {
    LndConfig::from_files(
        h.addr().to_string(),
        h.cert_path(),
        h.invoice_macaroon_path(),
    )
}

async fn until_connected(rail: &LndRail, up: bool) {
    let mut w = rail.connection_watch();
    tokio::time::timeout(WAIT, w.wait_for(|c| *c == up))
        .await
        .expect("subscription status change in time")
        .unwrap();
}

fn req(amount_msat: u64) -> InvoiceRequest {
    InvoiceRequest {
        amount_msat,
        memo: "gate402 test".into(),
        expiry_secs: 600,
    }
}

#[tokio::test]
async fn invoice_paid_over_grpc_settles_via_subscription() {
    let f = fixture().await;
    assert_eq!(
        std::fs::read_to_string(f.bob.dir().join("rpc.addr"))
            .unwrap()
            .trim(),
        f.bob.addr().to_string()
    );
    let bob = LndRail::connect(invoice_only(&f.bob)).await.unwrap();
    let alice = LndRail::connect(admin(&f.alice)).await.unwrap();
    assert_eq!(bob.rail_id(), "lnd");
    let info = bob.info().await.unwrap();
    assert_eq!(info.alias, "bob");
    assert_eq!(info.pubkey, f.net.node("bob").unwrap().pubkey_hex());
    assert_eq!(info.network, "regtest");
    bob.ping().await.unwrap();
    until_connected(&bob, true).await;

    let inv = bob.create_invoice(req(21_000)).await.unwrap();
    assert_eq!(inv.amount_msat, 21_000);
    assert!(inv.expires_at >= inv.created_at + 600);
    assert_eq!(
        bob.cached_state(&inv.payment_hash),
        Some(InvoiceState::Open)
    );
    assert_eq!(
        bob.invoice_state(&inv.payment_hash).await.unwrap(),
        InvoiceState::Open
    );
    let remote = alice.decode_pay_req(&inv.bolt11).await.unwrap();
    assert_eq!(remote.num_msat, 21_000);
    assert_eq!(remote.payment_hash, hex::encode(inv.payment_hash));

    let paid = alice
        .pay_invoice(&inv.bolt11, PayLimits::default())
        .await
        .unwrap();
    assert_eq!(paid.payment_hash, inv.payment_hash);
    assert_eq!(
        <[u8; 32]>::from(Sha256::digest(paid.preimage)),
        inv.payment_hash
    );
    assert_eq!(paid.amount_msat, 21_000);

    let settled = bob
        .wait_for_state(&inv.payment_hash, WAIT, |s| s == InvoiceState::Settled)
        .await;
    assert_eq!(settled, Some(InvoiceState::Settled));
    let single = bob.watch_invoice(&inv.payment_hash, WAIT).await.unwrap();
    assert_eq!(single, InvoiceState::Settled);

    // A fresh client has nothing cached: LookupInvoice answers, and the answer is cached.
    let cold = LndRail::connect(invoice_only(&f.bob)).await.unwrap();
    assert_eq!(cold.cached_state(&inv.payment_hash), None);
    let state = cold.invoice_state(&inv.payment_hash).await.unwrap();
    assert_eq!(state, InvoiceState::Settled);
    assert_eq!(
        cold.cached_state(&inv.payment_hash),
        Some(InvoiceState::Settled)
    );

    let tracked = alice.track_final(&inv.payment_hash, WAIT).await.unwrap();
    assert_eq!(tracked.preimage, paid.preimage);
    let again = alice.pay_invoice(&inv.bolt11, PayLimits::default()).await;
    assert_eq!(again.unwrap_err().kind, RailErrorKind::AlreadyPaid);
    assert_eq!(
        alice.channel_balance_msat().await.unwrap(),
        10_000_000 - 21_000
    );
    let unknown = bob.invoice_state(&[9; 32]).await.unwrap_err();
    assert_eq!(unknown.kind, RailErrorKind::NotFound);
    assert!(
        unknown.message.contains("unable to locate invoice"),
        "{unknown}"
    );
}

#[tokio::test]
async fn payment_failures_and_faults_are_classified() {
    let f = fixture().await;
    let bob = LndRail::connect(admin(&f.bob)).await.unwrap();
    let alice = LndRail::connect(admin(&f.alice)).await.unwrap();

    let big = bob.create_invoice(req(50_000_000)).await.unwrap();
    let e = alice
        .pay_invoice(&big.bolt11, PayLimits::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind, RailErrorKind::InsufficientBalance, "{e}");

    let inv = bob.create_invoice(req(1_000)).await.unwrap();
    f.net.set_faults("alice", Faults::no_route());
    let e = alice
        .pay_invoice(&inv.bolt11, PayLimits::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind, RailErrorKind::NoRoute, "{e}");
    f.net.set_faults("alice", Faults::default());

    let e = alice
        .pay_invoice("lnbcrt1garbage", PayLimits::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind, RailErrorKind::InvalidInvoice, "{e}");

    f.net.set_faults("bob", Faults::offline());
    let e = bob.create_invoice(req(1_000)).await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::Unavailable, "{e}");
    f.net.set_faults("bob", Faults::default());
    bob.create_invoice(req(1_000)).await.unwrap();
}

#[tokio::test]
async fn an_amountless_invoice_is_paid_over_grpc_with_amt_msat() {
    let f = fixture().await;
    let bob = LndRail::connect(admin(&f.bob)).await.unwrap();
    let alice = LndRail::connect(admin(&f.alice)).await.unwrap();
    let inv = bob.create_invoice(req(0)).await.unwrap();
    assert_eq!(decode_bolt11(&inv.bolt11).unwrap().amount_msat, None);
    let e = alice
        .pay_invoice(&inv.bolt11, PayLimits::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind, RailErrorKind::InvalidInvoice, "{e}");
    let fixed = bob.create_invoice(req(2_000)).await.unwrap();
    let e = alice
        .pay_amountless_invoice(&fixed.bolt11, 2_000, PayLimits::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind, RailErrorKind::InvalidInvoice, "{e}");

    let paid = alice
        .pay_amountless_invoice(&inv.bolt11, 3_000, PayLimits::default())
        .await
        .unwrap();
    assert_eq!(paid.payment_hash, inv.payment_hash);
    let hash: [u8; 32] = Sha256::digest(paid.preimage).into();
    assert_eq!(hash, inv.payment_hash);
    assert_eq!(f.net.balance_msat("alice"), Some(10_000_000 - 3_000));
    assert_eq!(f.net.balance_msat("bob"), Some(3_000));
    let record = f
        .net
        .node("bob")
        .unwrap()
        .lookup_invoice(&inv.payment_hash)
        .unwrap();
    assert_eq!(record.amt_paid_msat, 3_000);
}

#[tokio::test]
async fn macaroons_are_enforced() {
    let f = fixture().await;
    let alice_invoice = LndRail::connect(invoice_only(&f.alice)).await.unwrap();
    let bob = LndRail::connect(admin(&f.bob)).await.unwrap();
    let inv = bob.create_invoice(req(1_000)).await.unwrap();

    let e = alice_invoice
        .pay_invoice(&inv.bolt11, PayLimits::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind, RailErrorKind::PermissionDenied, "{e}");
    let e = alice_invoice.channel_balance_msat().await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::PermissionDenied, "{e}");
    let e = alice_invoice
        .track_final(&inv.payment_hash, WAIT)
        .await
        .unwrap_err();
    assert_eq!(e.kind, RailErrorKind::PermissionDenied, "{e}");
    assert_eq!(f.net.balance_msat("alice"), Some(10_000_000));

    // Bob's server with Alice's (validly signed, but by another root key) macaroon.
    let mut foreign = admin(&f.bob);
    foreign.macaroon = gate402_rails::MacaroonSource::Path(f.alice.admin_macaroon_path());
    let stranger = LndRail::connect(foreign).await.unwrap();
    let e = stranger.ping().await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::PermissionDenied, "{e}");
    let e = stranger.info().await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::PermissionDenied, "{e}");
    assert!(e.message.contains("signature mismatch"), "{e}");
    let e = stranger.create_invoice(req(1_000)).await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::PermissionDenied, "{e}");
}

#[tokio::test]
async fn certificate_is_pinned_and_bad_files_are_named() {
    let f = fixture().await;
    let mut wrong = admin(&f.bob);
    wrong.tls_cert = gate402_rails::CertSource::Path(f.alice.cert_path());
    let e = LndRail::connect(wrong.clone()).await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::Certificate, "{e}");
    assert!(!e.retryable());
    let alice_cert = f.alice.cert_path().display().to_string();
    assert!(e.message.contains(&alice_cert), "{e}");
    let lazy = LndRail::connect_lazy(wrong).await.unwrap();
    let e = lazy.info().await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::Certificate, "{e}");

    // The same certificate given inline (hex of the PEM) works.
    let mut inline = admin(&f.bob);
    let pem = std::fs::read(f.bob.cert_path()).unwrap();
    inline.tls_cert = gate402_rails::CertSource::Inline(hex::encode(pem));
    LndRail::connect(inline)
        .await
        .unwrap()
        .info()
        .await
        .unwrap();

    let mut missing = admin(&f.bob);
    let path = f.bob.dir().join("no-such-dir").join("tls.cert");
    missing.tls_cert = gate402_rails::CertSource::Path(path.clone());
    let e = LndRail::connect(missing).await.unwrap_err();
    assert!(e.message.contains(&path.display().to_string()), "{e}");

    let garbage = f.bob.dir().join("garbage.macaroon");
    std::fs::write(&garbage, b"definitely not a macaroon").unwrap();
    let mut bad_mac = admin(&f.bob);
    bad_mac.macaroon = gate402_rails::MacaroonSource::Path(garbage.clone());
    let e = LndRail::connect(bad_mac).await.unwrap_err();
    assert!(e.message.contains(&garbage.display().to_string()), "{e}");
}

#[tokio::test]
async fn restart_on_same_dir_and_port_keeps_credentials_and_resumes_subscription() {
    let f = fixture().await;
    let bob = LndRail::connect(invoice_only(&f.bob)).await.unwrap();
    let alice = LndRail::connect(admin(&f.alice)).await.unwrap();
    until_connected(&bob, true).await;
    let (addr, dir) = (f.bob.addr(), f.bob.dir().to_path_buf());
    let cert_before = std::fs::read(f.bob.cert_path()).unwrap();
    let mac_before = std::fs::read(f.bob.invoice_macaroon_path()).unwrap();

    f.bob.shutdown().await.unwrap();
    until_connected(&bob, false).await;
    let e = bob.create_invoice(req(1_000)).await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::Unavailable, "{e}");

    let listener = TcpListener::bind(addr).await.unwrap();
    let bob_srv = serve_node(f.net.node("bob").unwrap(), &dir, listener)
        .await
        .unwrap();
    assert_eq!(std::fs::read(bob_srv.cert_path()).unwrap(), cert_before);
    assert_eq!(
        std::fs::read(bob_srv.invoice_macaroon_path()).unwrap(),
        mac_before
    );

    // The same client (same pinned cert, same macaroon) works again.
    let inv = bob.create_invoice(req(2_000)).await.unwrap();
    until_connected(&bob, true).await;
    alice
        .pay_invoice(&inv.bolt11, PayLimits::default())
        .await
        .unwrap();
    let settled = bob
        .wait_for_state(&inv.payment_hash, WAIT, |s| s == InvoiceState::Settled)
        .await;
    assert_eq!(settled, Some(InvoiceState::Settled));
    bob_srv.shutdown().await.unwrap();
    f.alice.shutdown().await.unwrap();
}

/// LND client crates that leave `TCP_NODELAY` off pay ≈ 44 ms per unary call on loopback
/// (Nagle + delayed ACK); with it a call takes well under a millisecond.
#[tokio::test]
async fn unary_calls_do_not_pay_the_nagle_delay() {
    let f = fixture().await;
    let bob = LndRail::connect(admin(&f.bob)).await.unwrap();
    let inv = bob.create_invoice(req(1_000)).await.unwrap();
    let calls = 20;
    let start = std::time::Instant::now();
    for _ in 0..calls {
        bob.lookup_invoice(&inv.payment_hash).await.unwrap();
    }
    let per_call = start.elapsed() / calls;
    assert!(
        per_call < Duration::from_millis(20),
        "{per_call:?} per call"
    );
}

/// Issue #16 "L": macaroons baked with `BakeMacaroon` carry LND's permissions; a read-only
/// one can read but neither pay nor mint (LND's "permission denied").
#[tokio::test]
async fn baked_read_only_macaroon_cannot_pay_or_mint() {
    use gate402_rails::lnd::permissions::{config_perms, macaroon_perms, perms, BakeRole};
    let f = fixture().await;
    let alice_admin = LndRail::connect(admin(&f.alice)).await.unwrap();
    let admin_perms = config_perms(&admin(&f.alice)).unwrap();
    assert!(gate402_rails::lnd::permissions::is_admin(&admin_perms));

    let ro = alice_admin
        .bake_macaroon(&BakeRole::ReadOnly.perms())
        .await
        .unwrap();
    assert_eq!(macaroon_perms(&ro).unwrap(), BakeRole::ReadOnly.perms());
    let mut cfg = admin(&f.alice);
    cfg.macaroon = gate402_rails::MacaroonSource::Inline(hex::encode(&ro));
    let alice_ro = LndRail::connect(cfg).await.unwrap();
    assert_eq!(alice_ro.channel_balance_msat().await.unwrap(), 10_000_000);
    alice_ro.info().await.unwrap();

    let bob = LndRail::connect(admin(&f.bob)).await.unwrap();
    let inv = bob.create_invoice(req(1_000)).await.unwrap();
    let e = alice_ro
        .pay_invoice(&inv.bolt11, PayLimits::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind, RailErrorKind::PermissionDenied, "{e}");
    assert!(e.message.contains("permission denied"), "{e}");
    let e = alice_ro.create_invoice(req(1_000)).await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::PermissionDenied, "{e}");
    let e = alice_ro
        .bake_macaroon(&BakeRole::Pay.perms())
        .await
        .unwrap_err();
    assert_eq!(e.kind, RailErrorKind::PermissionDenied, "{e}");
    assert_eq!(f.net.balance_msat("alice"), Some(10_000_000));

    // CheckMacaroonPermissions answers for any macaroon of this node.
    let inv_mac = std::fs::read(f.alice.invoice_macaroon_path()).unwrap();
    let write = perms(&[("invoices", "write")]);
    let pay = perms(&[("offchain", "write")]);
    assert!(alice_admin
        .check_macaroon_permissions(&inv_mac, &write)
        .await
        .unwrap());
    assert!(!alice_admin
        .check_macaroon_permissions(&inv_mac, &pay)
        .await
        .unwrap());
    assert!(!alice_admin
        .check_macaroon_permissions(&ro, &pay)
        .await
        .unwrap());
    // The invoice macaroon may not ask (no `macaroon:read`).
    let alice_inv = LndRail::connect(invoice_only(&f.alice)).await.unwrap();
    let e = alice_inv
        .check_macaroon_permissions(&ro, &pay)
        .await
        .unwrap_err();
    assert_eq!(e.kind, RailErrorKind::PermissionDenied, "{e}");
}

/// `TrackPaymentV2` through [`LightningRail::track_payment`]: a hash never paid is `Failed`
/// (not initiated), a held payment is `InFlight` while held and `Succeeded` with its preimage
/// once it settles — what the buyer uses after a payment timed out (issue #16).
#[tokio::test]
async fn tracking_a_payment_in_flight_until_it_settles() {
    use gate402_rails::PaymentStatus;
    let f = fixture().await;
    let alice = LndRail::connect(admin(&f.alice)).await.unwrap();
    let bob = LndRail::connect(admin(&f.bob)).await.unwrap();
    let inv = bob
        .create_invoice(InvoiceRequest {
            amount_msat: 5_000,
            memo: "held".into(),
            expiry_secs: 600,
        })
        .await
        .unwrap();
    let never = alice
        .track_payment(&[9u8; 32], Duration::from_millis(200))
        .await
        .unwrap();
    assert!(
        matches!(&never, PaymentStatus::Failed(e) if e.kind == RailErrorKind::NotFound),
        "{never:?}"
    );
    f.net.set_faults(
        "alice",
        Faults {
            hold_payments: Some(Duration::from_millis(1500)),
            ..Faults::default()
        },
    );
    let payer = {
        let alice = LndRail::connect(admin(&f.alice)).await.unwrap();
        let bolt11 = inv.bolt11.clone();
        tokio::spawn(async move { alice.pay_invoice(&bolt11, PayLimits::default()).await })
    };
    // Until the node has initiated it, the payment is unknown; then in flight while held.
    let deadline = tokio::time::Instant::now() + WAIT;
    let first = loop {
        let s = alice
            .track_payment(&inv.payment_hash, Duration::from_millis(100))
            .await
            .unwrap();
        if !matches!(&s, PaymentStatus::Failed(e) if e.kind == RailErrorKind::NotFound) {
            break s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "payment never initiated"
        );
    };
    assert!(matches!(first, PaymentStatus::InFlight), "{first:?}");
    let done = alice.track_payment(&inv.payment_hash, WAIT).await.unwrap();
    let PaymentStatus::Succeeded(p) = done else {
        panic!("{done:?}")
    };
    assert_eq!(
        <[u8; 32]>::from(Sha256::digest(p.preimage)),
        inv.payment_hash
    );
    assert_eq!(payer.await.unwrap().unwrap().preimage, p.preimage);
    assert_eq!(f.net.payments_sent("alice"), 1);
}
