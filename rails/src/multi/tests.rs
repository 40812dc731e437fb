//! `MultiNode` over simnet nodes with injected faults.

use std::sync::Arc;
use std::time::Duration;

use super::{MultiNode, MultiOptions};
use crate::simnet::{Faults, SimNetwork, SimNode};
use crate::{decode_bolt11, InvoiceRequest, InvoiceState, LightningRail, RailErrorKind};

fn req() -> InvoiceRequest {
    InvoiceRequest {
        amount_msat: 10_000,
        memo: "multi".into(),
        expiry_secs: 600,
    }
}

struct Net {
    net: SimNetwork,
    alice: SimNode,
    bob: SimNode,
    carol: SimNode,
}

fn net() -> Net {
    let net = SimNetwork::new();
    Net {
        alice: net.add_node("alice", 1_000_000),
        bob: net.add_node("bob", 0),
        carol: net.add_node("carol", 500_000),
        net,
    }
}

fn opts() -> MultiOptions {
    MultiOptions {
        call_timeout: Duration::from_millis(300),
        probe_timeout: Duration::from_millis(200),
        retry_after: Duration::from_secs(3600),
    }
}

fn multi(n: &Net) -> MultiNode {
    let nodes: Vec<(String, Arc<dyn LightningRail>)> = vec![
        ("bob".into(), Arc::new(n.bob.clone())),
        ("carol".into(), Arc::new(n.carol.clone())),
    ];
    MultiNode::new(nodes, opts())
}

/// Who minted each of `count` new invoices: "bob" or "carol".
async fn mint(m: &MultiNode, n: &Net, count: usize) -> Vec<&'static str> {
    let mut out = Vec::new();
    for _ in 0..count {
        let inv = m.create_invoice(req()).await.unwrap();
        let payee = decode_bolt11(&inv.bolt11).unwrap().payee_pubkey;
        out.push(if payee == n.bob.pubkey() {
            "bob"
        } else {
            assert_eq!(payee, n.carol.pubkey());
            "carol"
        });
    }
    out
}

#[tokio::test]
async fn mints_round_robin_skips_a_down_node_and_uses_it_again_once_ready() {
    let n = net();
    let m = multi(&n);
    assert_eq!(mint(&m, &n, 4).await, ["bob", "carol", "bob", "carol"]);
    n.net.set_faults("bob", Faults::offline());
    assert_eq!(mint(&m, &n, 4).await, ["carol"; 4]);
    let st = m.status();
    assert!(!st[0].up && st[0].last_error.is_some(), "{st:?}");
    assert!(st[1].up);
    // Back, but skipped by mints until a probe (ready) or its back-off says so.
    n.net.set_faults("bob", Faults::default());
    assert_eq!(mint(&m, &n, 2).await, ["carol"; 2]);
    m.ready().await.unwrap();
    assert!(m.status()[0].up);
    assert!(mint(&m, &n, 2).await.contains(&"bob"));
    assert_eq!(m.nodes().len(), 2);
}

#[tokio::test]
async fn a_hung_node_fails_over_within_the_call_timeout() {
    let n = net();
    let m = multi(&n);
    n.net.set_faults(
        "bob",
        Faults {
            hang: true,
            ..Faults::default()
        },
    );
    let t = std::time::Instant::now();
    assert_eq!(mint(&m, &n, 2).await, ["carol"; 2]);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert!(!m.status()[0].up);
    n.net.set_faults("bob", Faults::default());
}

#[tokio::test]
async fn all_nodes_down_is_unavailable_and_not_ready() {
    let n = net();
    let m = multi(&n);
    n.net.set_faults("bob", Faults::offline());
    n.net.set_faults("carol", Faults::offline());
    let e = m.create_invoice(req()).await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::Unavailable, "{e}");
    let e = m.ready().await.unwrap_err();
    assert!(
        e.message.contains("bob") && e.message.contains("carol"),
        "{e}"
    );
    n.net.set_faults("carol", Faults::default());
    m.ready().await.unwrap();
    assert_eq!(mint(&m, &n, 1).await, ["carol"]);
}

#[tokio::test]
async fn invoice_state_is_asked_of_the_minting_node_and_never_guessed() {
    let n = net();
    let m = multi(&n);
    let inv = m.create_invoice(req()).await.unwrap();
    assert_eq!(m.owner_of(&inv.payment_hash), Some("bob"));
    n.alice
        .pay_invoice(&inv.bolt11, Default::default())
        .await
        .unwrap();
    n.net.set_faults("bob", Faults::offline());
    let e = m.invoice_state(&inv.payment_hash).await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::Unavailable, "{e}");
    assert!(e.message.contains("bob"), "{e}");
    n.net.set_faults("bob", Faults::default());
    let s = m.invoice_state(&inv.payment_hash).await.unwrap();
    assert_eq!(s, InvoiceState::Settled);
}

#[tokio::test]
async fn an_unknown_hash_is_asked_of_every_node() {
    let n = net();
    // Minted on carol by "another process": this MultiNode has no owner record.
    let inv = n.carol.create_invoice(req()).await.unwrap();
    n.alice
        .pay_invoice(&inv.bolt11, Default::default())
        .await
        .unwrap();
    let m = multi(&n);
    assert_eq!(m.owner_of(&inv.payment_hash), None);
    let s = m.invoice_state(&inv.payment_hash).await.unwrap();
    assert_eq!(s, InvoiceState::Settled);
    assert_eq!(m.owner_of(&inv.payment_hash), Some("carol"));

    // Not found needs every node's answer; with one silent it is an outage, not a refusal.
    let unknown = [9u8; 32];
    let e = m.invoice_state(&unknown).await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::NotFound, "{e}");
    n.net.set_faults("carol", Faults::offline());
    let e = m.invoice_state(&unknown).await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::Unavailable, "{e}");
    assert!(e.message.contains("carol"), "{e}");
}

#[tokio::test]
async fn refunds_are_paid_by_a_node_that_can_pay() {
    let n = net();
    let m = multi(&n);
    // bob has no balance: nothing moves there, carol pays.
    let inv = n.alice.create_invoice(req()).await.unwrap();
    let before = n.net.balance_msat("carol").unwrap();
    let paid = m
        .pay_invoice(&inv.bolt11, Default::default())
        .await
        .unwrap();
    assert_eq!(paid.payment_hash, inv.payment_hash);
    assert!(n.net.balance_msat("carol").unwrap() < before);
    assert_eq!(n.net.balance_msat("bob"), Some(0));
}
