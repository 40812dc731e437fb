//! Invoice subscriptions: LND-style add/settle events with add_index / settle_index.

use gate402_rails::simnet::InvoiceEventKind;
use gate402_rails::{InvoiceState, LightningRail};

use super::{invoice, limits, two_nodes};

#[tokio::test]
async fn add_and_settle_events_in_order() {
    let (_net, alice, bob) = two_nodes();
    let mut rx = bob.subscribe_invoices();
    let first = invoice(&bob, 1_000).await;
    let second = invoice(&bob, 2_000).await;
    alice.pay_invoice(&second.bolt11, limits()).await.unwrap();

    let e = rx.try_recv().unwrap();
    assert_eq!((e.kind, e.invoice.add_index), (InvoiceEventKind::Added, 1));
    assert_eq!(e.invoice.payment_hash, first.payment_hash);
    assert_eq!(e.invoice.state, InvoiceState::Open);
    let e = rx.try_recv().unwrap();
    assert_eq!((e.kind, e.invoice.add_index), (InvoiceEventKind::Added, 2));
    let e = rx.try_recv().unwrap();
    assert_eq!(e.kind, InvoiceEventKind::Settled);
    assert_eq!((e.invoice.add_index, e.invoice.settle_index), (2, 1));
    assert_eq!(e.invoice.payment_hash, second.payment_hash);
    assert_eq!(e.invoice.state, InvoiceState::Settled);
    assert_eq!(e.invoice.amt_paid_msat, 2_000);
    assert!(rx.try_recv().is_err());
    // Alice's stream saw nothing: events are per node.
    assert!(alice.subscribe_invoices().try_recv().is_err());
}

#[tokio::test]
async fn resumed_subscription_replays_backlog_then_streams() {
    let (_net, alice, bob) = two_nodes();
    let mut invoices = Vec::new();
    for amount in [1_000, 2_000, 3_000] {
        invoices.push(invoice(&bob, amount).await);
    }
    alice
        .pay_invoice(&invoices[2].bolt11, limits())
        .await
        .unwrap();
    alice
        .pay_invoice(&invoices[0].bolt11, limits())
        .await
        .unwrap();

    let (backlog, mut rx) = bob.subscribe_invoices_since(1, 1);
    let got: Vec<_> = backlog
        .iter()
        .map(|e| (e.kind, e.invoice.add_index, e.invoice.settle_index))
        .collect();
    assert_eq!(
        got,
        vec![
            (InvoiceEventKind::Added, 2, 0),
            (InvoiceEventKind::Added, 3, 1),
            (InvoiceEventKind::Settled, 1, 2),
        ]
    );
    let (none, _) = bob.subscribe_invoices_since(0, 0);
    assert!(none.is_empty());

    alice
        .pay_invoice(&invoices[1].bolt11, limits())
        .await
        .unwrap();
    let e = rx.try_recv().unwrap();
    assert_eq!(
        (e.kind, e.invoice.settle_index),
        (InvoiceEventKind::Settled, 3)
    );
}
