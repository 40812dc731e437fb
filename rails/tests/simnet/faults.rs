//! Injected faults: outages, missing routes, failing payments and latency (paused time).

use std::time::Duration;

use gate402_rails::simnet::Faults;
use gate402_rails::{InvoiceState, LightningRail, PayLimits, RailErrorKind};
use tokio::time::Instant;

use super::{invoice, limits, req, two_nodes, ALICE_START};

#[tokio::test]
async fn offline_payer_is_unavailable_offline_payee_unroutable() {
    let (net, alice, bob) = two_nodes();
    let inv = invoice(&bob, 1_000).await;

    assert!(net.set_faults("alice", Faults::offline()));
    let e = alice.pay_invoice(&inv.bolt11, limits()).await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::Unavailable);
    assert!(e.retryable());
    assert_eq!(
        alice.info().await.unwrap_err().kind,
        RailErrorKind::Unavailable
    );
    let e = alice.create_invoice(req(1)).await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::Unavailable);
    let e = alice.invoice_state(&inv.payment_hash).await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::Unavailable);
    net.set_faults("alice", Faults::default());

    net.set_faults("bob", Faults::offline());
    let e = alice.pay_invoice(&inv.bolt11, limits()).await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::NoRoute);
    assert_eq!(net.balance_msat("alice"), Some(ALICE_START));
    net.set_faults("bob", Faults::default());

    alice.pay_invoice(&inv.bolt11, limits()).await.unwrap();
    assert_eq!(net.balance_msat("bob"), Some(1_000));
}

#[tokio::test]
async fn no_route_on_either_side() {
    let (net, alice, bob) = two_nodes();
    let inv = invoice(&bob, 1_000).await;
    for name in ["alice", "bob"] {
        net.set_faults(name, Faults::no_route());
        assert_eq!(net.faults(name), Faults::no_route());
        let e = alice.pay_invoice(&inv.bolt11, limits()).await.unwrap_err();
        assert_eq!(e.kind, RailErrorKind::NoRoute, "{name}");
        assert!(!e.retryable());
        net.set_faults(name, Faults::default());
    }
    assert_eq!(net.balance_msat("alice"), Some(ALICE_START));
    assert_eq!(
        bob.invoice_state(&inv.payment_hash).await,
        Ok(InvoiceState::Open)
    );
}

#[tokio::test]
async fn fail_next_payments_counts_down() {
    let (net, alice, bob) = two_nodes();
    let inv = invoice(&bob, 1_000).await;
    net.set_faults(
        "alice",
        Faults {
            fail_next_payments: 2,
            ..Faults::default()
        },
    );
    for _ in 0..2 {
        let e = alice.pay_invoice(&inv.bolt11, limits()).await.unwrap_err();
        assert_eq!(e.kind, RailErrorKind::NoRoute);
    }
    assert_eq!(net.faults("alice").fail_next_payments, 0);
    alice.pay_invoice(&inv.bolt11, limits()).await.unwrap();
    assert_eq!(net.payments_failed("alice"), 2);
}

fn slow(delay_secs: u64) -> Faults {
    Faults {
        pay_delay: Some(Duration::from_secs(delay_secs)),
        ..Faults::default()
    }
}

#[tokio::test(start_paused = true)]
async fn delay_beyond_timeout_times_out_and_moves_nothing() {
    let (net, alice, bob) = two_nodes();
    let inv = invoice(&bob, 1_000).await;
    net.set_faults("alice", slow(20));
    net.set_faults("bob", slow(15));
    let limits = PayLimits {
        timeout: Duration::from_secs(30),
        ..limits()
    };
    let start = Instant::now();
    let e = alice.pay_invoice(&inv.bolt11, limits).await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::Timeout);
    assert!(e.retryable());
    assert_eq!(start.elapsed(), Duration::from_secs(30));
    assert_eq!(net.balance_msat("alice"), Some(ALICE_START));
    assert_eq!(net.balance_msat("bob"), Some(0));
    assert_eq!(
        bob.invoice_state(&inv.payment_hash).await,
        Ok(InvoiceState::Open)
    );

    // Within the timeout the payment just takes longer.
    net.set_faults("bob", Faults::default());
    let start = Instant::now();
    alice.pay_invoice(&inv.bolt11, limits).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(20));
    assert_eq!(net.balance_msat("bob"), Some(1_000));
}

#[tokio::test(start_paused = true)]
async fn payee_going_offline_mid_flight_fails_cleanly() {
    let (net, alice, bob) = two_nodes();
    let inv = invoice(&bob, 1_000).await;
    net.set_faults("alice", slow(10));
    let outage = async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        net.set_faults("bob", Faults::offline());
    };
    let (paid, ()) = tokio::join!(alice.pay_invoice(&inv.bolt11, limits()), outage);
    assert_eq!(paid.unwrap_err().kind, RailErrorKind::NoRoute);
    assert_eq!(net.balance_msat("alice"), Some(ALICE_START));
    assert_eq!(net.settled_invoices("bob"), 0);
}

#[tokio::test(start_paused = true)]
async fn slow_add_invoice() {
    let (net, _alice, bob) = two_nodes();
    net.set_faults(
        "bob",
        Faults {
            add_invoice_delay: Some(Duration::from_millis(250)),
            ..Faults::default()
        },
    );
    let start = Instant::now();
    invoice(&bob, 1_000).await;
    assert_eq!(start.elapsed(), Duration::from_millis(250));
    assert_eq!(net.invoices_count("bob"), 1);
}
