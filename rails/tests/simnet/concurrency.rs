//! Concurrent payers: check-and-settle is atomic, money is conserved, balances never overdraw.

use gate402_rails::simnet::SimNetwork;
use gate402_rails::{LightningRail, RailErrorKind};

use super::{invoice, limits};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_payers_one_invoice_exactly_one_wins() {
    let net = SimNetwork::new();
    let bob = net.add_node("bob", 0);
    let payers: Vec<_> = (0..20)
        .map(|i| net.add_node(&format!("payer-{i}"), 10_000))
        .collect();
    let total = net.total_balance_msat();
    let inv = invoice(&bob, 7_000).await;

    let tasks: Vec<_> = payers
        .into_iter()
        .map(|p| {
            let bolt11 = inv.bolt11.clone();
            tokio::spawn(async move { p.pay_invoice(&bolt11, limits()).await })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(p) => {
                wins += 1;
                assert_eq!(p.payment_hash, inv.payment_hash);
            }
            Err(e) => assert_eq!(e.kind, RailErrorKind::AlreadyPaid, "{e}"),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(net.balance_msat("bob"), Some(7_000));
    assert_eq!(net.settled_invoices("bob"), 1);
    assert_eq!(net.payments_count(), 1);
    assert_eq!(net.total_balance_msat(), total);
    let drained = (0..20)
        .filter(|i| net.balance_msat(&format!("payer-{i}")) == Some(3_000))
        .count();
    assert_eq!(drained, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_payer_many_invoices_never_overdraws() {
    let net = SimNetwork::new();
    let alice = net.add_node("alice", 5_000);
    let bob = net.add_node("bob", 0);
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let bolt11 = invoice(&bob, 1_000).await.bolt11;
        let alice = alice.clone();
        tasks.push(tokio::spawn(async move {
            alice.pay_invoice(&bolt11, limits()).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(_) => ok += 1,
            Err(e) => assert_eq!(e.kind, RailErrorKind::InsufficientBalance),
        }
    }
    assert_eq!(ok, 5);
    assert_eq!(net.balance_msat("alice"), Some(0));
    assert_eq!(net.balance_msat("bob"), Some(5_000));
    assert_eq!(net.settled_invoices("bob"), 5);
}
