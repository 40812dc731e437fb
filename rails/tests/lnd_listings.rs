//! The simulator's read-only listings (issue #16 "L" item 4) through the LND client:
//! `WalletBalance`, `ListChannels`, `ListInvoices`, `ListPayments`, `EstimateRouteFee`, each
//! allowed to a baked read-only macaroon and refused (LND's "permission denied") without the
//! `read` permission it needs.

use gate402_rails::lnd::permissions::BakeRole;
use gate402_rails::lnd::proto::lnrpc::{self, payment::PaymentStatus, PaymentFailureReason};
use gate402_rails::lnd::proto::routerrpc::RouteFeeRequest;
use gate402_rails::lnd_server::{serve_node, LndServerHandle};
use gate402_rails::simnet::{Faults, SimNetwork};
use gate402_rails::{InvoiceRequest, LightningRail, LndConfig, LndRail, RailErrorKind};
use tempfile::TempDir;
use tokio::net::TcpListener;

async fn serve(net: &SimNetwork, name: &str, dir: &TempDir) -> LndServerHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve_node(net.node(name).unwrap(), dir.path(), listener)
        .await
        .unwrap()
}

fn cfg(h: &LndServerHandle, macaroon: std::path::PathBuf) -> LndConfig {
    LndConfig::from_files(h.addr().to_string(), h.cert_path(), macaroon)
}

fn req(sat: u64) -> InvoiceRequest {
    InvoiceRequest {
        amount_msat: sat * 1000,
        memo: format!("{sat} sat"),
        expiry_secs: 600,
    }
}

#[tokio::test]
async fn read_only_listings_page_like_lnd_and_need_their_permissions() {
    let net = SimNetwork::new();
    net.add_node("alice", 10_000_000);
    net.add_node("bob", 0);
    net.add_node("carol", 0);
    let dirs = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let alice = serve(&net, "alice", &dirs.0).await;
    let bob = serve(&net, "bob", &dirs.1).await;
    let alice_admin = LndRail::connect(cfg(&alice, alice.admin_macaroon_path()))
        .await
        .unwrap();
    let bob_admin = LndRail::connect(cfg(&bob, bob.admin_macaroon_path()))
        .await
        .unwrap();
    let ro = alice_admin
        .bake_macaroon(&BakeRole::ReadOnly.perms())
        .await
        .unwrap();
    let mut ro_cfg = cfg(&alice, alice.admin_macaroon_path());
    ro_cfg.macaroon = gate402_rails::MacaroonSource::Inline(hex::encode(&ro));
    let alice_ro = LndRail::connect(ro_cfg).await.unwrap();

    for sat in 1..=3 {
        alice_admin.create_invoice(req(sat)).await.unwrap();
    }
    let mut paid = Vec::new();
    for sat in [4, 5] {
        let inv = bob_admin.create_invoice(req(sat)).await.unwrap();
        paid.push(
            alice_admin
                .pay_invoice(&inv.bolt11, Default::default())
                .await
                .unwrap(),
        );
    }

    let w = alice_ro.wallet_balance().await.unwrap();
    assert_eq!((w.total_balance, w.confirmed_balance), (0, 0), "no chain");

    let all = alice_ro.list_channels(Default::default()).await.unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    let local: i64 = all.iter().map(|c| c.local_balance).sum();
    assert!(local <= 9_991 && local > 9_900, "{all:?}");
    net.set_faults("carol", Faults::offline());
    let active = lnrpc::ListChannelsRequest {
        active_only: true,
        ..Default::default()
    };
    let active = alice_ro.list_channels(active).await.unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(
        active[0].remote_pubkey,
        bob_admin.info().await.unwrap().pubkey
    );

    let page = |offset, reversed| lnrpc::ListInvoiceRequest {
        index_offset: offset,
        num_max_invoices: 2,
        reversed,
        ..Default::default()
    };
    let first = alice_ro.list_invoices(page(0, false)).await.unwrap();
    let memos: Vec<_> = first.invoices.iter().map(|i| i.memo.as_str()).collect();
    assert_eq!(memos, ["1 sat", "2 sat"]);
    assert_eq!((first.first_index_offset, first.last_index_offset), (1, 2));
    let next = alice_ro.list_invoices(page(2, false)).await.unwrap();
    assert_eq!(next.invoices.len(), 1);
    assert_eq!(next.invoices[0].value_msat, 3_000);
    let newest = alice_ro.list_invoices(page(0, true)).await.unwrap();
    assert_eq!(
        (newest.first_index_offset, newest.last_index_offset),
        (2, 3)
    );

    let pays = alice_ro
        .list_payments(lnrpc::ListPaymentsRequest {
            count_total_payments: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(pays.total_num_payments, 2);
    assert_eq!(pays.payments.len(), 2);
    for (p, done) in pays.payments.iter().zip(&paid) {
        assert!(p.status() == PaymentStatus::Succeeded, "{}", p.status);
        assert_eq!(p.payment_hash, hex::encode(done.payment_hash));
        // LND returns the preimage here: the client keeps it, tools must drop it.
        assert_eq!(p.payment_preimage, hex::encode(done.preimage));
    }

    let inv = bob_admin.create_invoice(req(6)).await.unwrap();
    let fee = alice_ro
        .estimate_route_fee(RouteFeeRequest {
            payment_request: inv.bolt11.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(fee.failure_reason() == PaymentFailureReason::FailureReasonNone);
    assert!(fee.time_lock_delay > 0);
    let carol = net.node("carol").unwrap().pubkey().to_vec();
    let fee = alice_ro
        .estimate_route_fee(RouteFeeRequest {
            dest: carol,
            amt_sat: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(fee.failure_reason() == PaymentFailureReason::FailureReasonNoRoute);
    let e = alice_ro
        .estimate_route_fee(RouteFeeRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind, RailErrorKind::InvalidInvoice, "{e}");

    // invoice.macaroon has invoices:read but neither onchain:read nor offchain:read.
    let bob_inv = LndRail::connect(cfg(&bob, bob.invoice_macaroon_path()))
        .await
        .unwrap();
    assert_eq!(
        bob_inv
            .list_invoices(page(0, false))
            .await
            .unwrap()
            .invoices
            .len(),
        2
    );
    for e in [
        bob_inv.wallet_balance().await.unwrap_err(),
        bob_inv.list_payments(Default::default()).await.unwrap_err(),
        bob_inv.list_channels(Default::default()).await.unwrap_err(),
        bob_inv
            .estimate_route_fee(RouteFeeRequest::default())
            .await
            .unwrap_err(),
    ] {
        assert_eq!(e.kind, RailErrorKind::PermissionDenied, "{e}");
        assert!(e.message.contains("permission denied"), "{e}");
    }
}
