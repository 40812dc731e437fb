//! Happy path and LND-style refusals of `pay_invoice` / `create_invoice` / `invoice_state`.

use std::time::Duration;

use gate402_rails::simnet::SimNetwork;
use gate402_rails::{InvoiceRequest, InvoiceState, LightningRail, PayLimits, RailErrorKind};
use sha2::{Digest, Sha256};

use super::{invoice, limits, req, two_nodes, ALICE_START};

#[tokio::test]
async fn invoice_pay_settle_then_already_paid() {
    let (net, alice, bob) = two_nodes();
    let inv = invoice(&bob, 42_000).await;
    assert!(inv.bolt11.starts_with("lnbcrt420n1"), "{}", inv.bolt11);
    assert_eq!(
        bob.invoice_state(&inv.payment_hash).await,
        Ok(InvoiceState::Open)
    );

    let paid = alice.pay_invoice(&inv.bolt11, limits()).await.expect("pay");
    let hash: [u8; 32] = Sha256::digest(paid.preimage).into();
    assert_eq!(hash, inv.payment_hash);
    assert_eq!(paid.payment_hash, inv.payment_hash);
    assert_eq!((paid.amount_msat, paid.fee_msat), (42_000, 0));
    assert_eq!(net.balance_msat("alice"), Some(ALICE_START - 42_000));
    assert_eq!(net.balance_msat("bob"), Some(42_000));
    assert_eq!(
        bob.invoice_state(&inv.payment_hash).await,
        Ok(InvoiceState::Settled)
    );
    let record = bob.lookup_invoice(&inv.payment_hash).unwrap();
    assert_eq!(record.preimage, paid.preimage);
    assert_eq!((record.amt_paid_msat, record.settle_index), (42_000, 1));
    assert!(record.settled_at.is_some());
    assert!(!format!("{record:?}").contains(&hex::encode(paid.preimage)));

    // Same payer again: LND refuses locally; another payer: the payee reports it settled.
    let again = alice.pay_invoice(&inv.bolt11, limits()).await.unwrap_err();
    assert_eq!(again.kind, RailErrorKind::AlreadyPaid);
    let carol = net.add_node("carol", 100_000);
    let other = carol.pay_invoice(&inv.bolt11, limits()).await.unwrap_err();
    assert_eq!(other.kind, RailErrorKind::AlreadyPaid);
    assert_eq!(net.balance_msat("alice"), Some(ALICE_START - 42_000));
    assert_eq!(net.balance_msat("bob"), Some(42_000));
    assert_eq!(net.balance_msat("carol"), Some(100_000));
    assert_eq!(net.settled_invoices("bob"), 1);
    assert_eq!(
        (net.payments_sent("alice"), net.payments_failed("alice")),
        (1, 1)
    );
    assert_eq!(net.payments_count(), 1);
}

#[tokio::test]
async fn insufficient_balance_moves_nothing() {
    let (net, alice, bob) = two_nodes();
    let inv = invoice(&bob, ALICE_START + 1).await;
    let e = alice.pay_invoice(&inv.bolt11, limits()).await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::InsufficientBalance);
    assert_eq!(net.balance_msat("alice"), Some(ALICE_START));
    assert_eq!(net.balance_msat("bob"), Some(0));
    assert_eq!(
        bob.invoice_state(&inv.payment_hash).await,
        Ok(InvoiceState::Open)
    );
    // Exactly the balance is fine.
    let inv = invoice(&bob, ALICE_START).await;
    alice.pay_invoice(&inv.bolt11, limits()).await.unwrap();
    assert_eq!(net.balance_msat("alice"), Some(0));
}

#[tokio::test]
async fn oversized_requests_refused() {
    let (_net, _alice, bob) = two_nodes();
    let long = InvoiceRequest {
        memo: "x".repeat(700),
        ..req(1_000)
    };
    let e = bob.create_invoice(long).await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::InvalidInvoice);
    let e = bob.create_invoice(req(u64::MAX)).await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::InvalidInvoice);
}

#[tokio::test]
async fn expiry_defaults_and_expired_invoices() {
    let (net, alice, bob) = two_nodes();
    let default = bob
        .create_invoice(InvoiceRequest {
            expiry_secs: 0,
            ..req(1_000)
        })
        .await
        .unwrap();
    assert_eq!(default.expires_at - default.created_at, 3600);

    let short = bob
        .create_invoice(InvoiceRequest {
            expiry_secs: 60,
            ..req(1_000)
        })
        .await
        .unwrap();
    net.advance_clock(Duration::from_secs(61));
    let e = alice
        .pay_invoice(&short.bolt11, limits())
        .await
        .unwrap_err();
    assert_eq!(e.kind, RailErrorKind::InvalidInvoice);
    assert!(e.message.contains("expired"), "{}", e.message);
    assert_eq!(
        bob.invoice_state(&short.payment_hash).await,
        Ok(InvoiceState::Canceled)
    );
    assert_eq!(
        bob.invoice_state(&default.payment_hash).await,
        Ok(InvoiceState::Open)
    );
    assert_eq!(net.balance_msat("alice"), Some(ALICE_START));
}

#[tokio::test]
async fn unknown_hash_self_payment_and_cancel() {
    let (net, alice, bob) = two_nodes();
    let e = bob.invoice_state(&[7; 32]).await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::NotFound);

    let own = invoice(&alice, 1_000).await;
    let e = alice.pay_invoice(&own.bolt11, limits()).await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::InvalidInvoice);
    assert!(e.message.contains("self-payments"));

    let inv = invoice(&bob, 1_000).await;
    bob.cancel_invoice(&inv.payment_hash).unwrap();
    assert_eq!(
        bob.invoice_state(&inv.payment_hash).await,
        Ok(InvoiceState::Canceled)
    );
    let e = alice.pay_invoice(&inv.bolt11, limits()).await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::InvalidInvoice);
    assert_eq!(e.message, "incorrect payment details");
    assert_eq!(net.balance_msat("alice"), Some(ALICE_START));
    assert_eq!(
        bob.cancel_invoice(&[9; 32]).unwrap_err().kind,
        RailErrorKind::NotFound
    );
}

#[tokio::test]
async fn payee_without_the_invoice_reports_incorrect_details() {
    // Node keys derive from names: "bob" on another network signs with the same key, so
    // alice's network routes to its own bob, who has never seen that invoice.
    let (net, alice, _bob) = two_nodes();
    let elsewhere = SimNetwork::new().add_node("bob", 0);
    let foreign = invoice(&elsewhere, 5_000).await;
    let e = alice
        .pay_invoice(&foreign.bolt11, limits())
        .await
        .unwrap_err();
    assert_eq!(e.kind, RailErrorKind::InvalidInvoice);
    assert_eq!(e.message, "incorrect payment details");
    assert_eq!(net.balance_msat("alice"), Some(ALICE_START));

    // A payee that does not exist on this network: no route.
    let stranger = SimNetwork::new().add_node("zed", 0);
    let inv = invoice(&stranger, 5_000).await;
    let e = alice.pay_invoice(&inv.bolt11, limits()).await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::NoRoute);
}

#[tokio::test]
async fn routing_fee_respects_fee_limit() {
    let (net, alice, bob) = two_nodes();
    net.set_routing_fee_msat(10);
    let inv = invoice(&bob, 1_000).await;
    let tight = PayLimits {
        max_fee_msat: 9,
        ..limits()
    };
    let e = alice.pay_invoice(&inv.bolt11, tight).await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::FeeLimitExceeded);
    assert_eq!(net.balance_msat("alice"), Some(ALICE_START));
    let ok = PayLimits {
        max_fee_msat: 10,
        ..limits()
    };
    let paid = alice.pay_invoice(&inv.bolt11, ok).await.unwrap();
    assert_eq!(paid.fee_msat, 10);
    assert_eq!(net.balance_msat("alice"), Some(ALICE_START - 1_010));
    assert_eq!(net.balance_msat("bob"), Some(1_000));
}

#[tokio::test]
async fn info_and_node_registry() {
    let (net, alice, _bob) = two_nodes();
    let info = alice.info().await.unwrap();
    assert_eq!(info.alias, "alice");
    assert_eq!(info.pubkey, alice.pubkey_hex());
    assert_eq!(info.network, "regtest");
    assert!(info.synced);
    assert_eq!(alice.rail_id(), "simnet");
    assert_eq!(
        net.node_names(),
        vec!["alice".to_string(), "bob".to_string()]
    );
    assert_eq!(net.node("alice").unwrap().pubkey(), alice.pubkey());
    assert!(net.node("nobody").is_none());
    assert_eq!(net.balance_msat("nobody"), None);
    // Re-adding keeps the existing node and balance.
    let again = net.add_node("alice", 5);
    assert_eq!(again.pubkey(), alice.pubkey());
    assert_eq!(net.balance_msat("alice"), Some(ALICE_START));
    assert_ne!(alice.pubkey(), net.node("bob").unwrap().pubkey());
}

#[tokio::test]
async fn an_amountless_invoice_is_paid_for_the_amount_the_payer_chooses() {
    let (net, alice, bob) = two_nodes();
    let inv = invoice(&bob, 0).await;
    assert!(
        inv.bolt11.starts_with("lnbcrt1"),
        "no amount: {}",
        inv.bolt11
    );
    assert_eq!(
        gate402_rails::decode_bolt11(&inv.bolt11)
            .unwrap()
            .amount_msat,
        None
    );

    // LND's rules: an amountless invoice needs an amount, one with an amount refuses another.
    let e = alice.pay_invoice(&inv.bolt11, limits()).await.unwrap_err();
    assert_eq!(e.kind, RailErrorKind::InvalidInvoice);
    assert!(e.message.contains("amount must be specified"), "{e}");
    let e = alice
        .pay_amountless_invoice(&inv.bolt11, 0, limits())
        .await
        .unwrap_err();
    assert_eq!(e.kind, RailErrorKind::InvalidInvoice);
    let fixed = invoice(&bob, 1_000).await;
    let e = alice
        .pay_amountless_invoice(&fixed.bolt11, 1_000, limits())
        .await
        .unwrap_err();
    assert_eq!(e.kind, RailErrorKind::InvalidInvoice);
    assert!(e.message.contains("must not be specified"), "{e}");
    assert_eq!(net.balance_msat("alice"), Some(ALICE_START));

    let paid = alice
        .pay_amountless_invoice(&inv.bolt11, 7_000, limits())
        .await
        .unwrap();
    assert_eq!(paid.payment_hash, inv.payment_hash);
    assert_eq!(paid.amount_msat, 7_000);
    assert_eq!(net.balance_msat("alice"), Some(ALICE_START - 7_000));
    assert_eq!(net.balance_msat("bob"), Some(7_000));
    let record = bob.lookup_invoice(&inv.payment_hash).unwrap();
    assert_eq!(record.state, InvoiceState::Settled);
    assert_eq!(record.amt_paid_msat, 7_000);
    let e = alice
        .pay_amountless_invoice(&inv.bolt11, 7_000, limits())
        .await
        .unwrap_err();
    assert_eq!(e.kind, RailErrorKind::AlreadyPaid);
}
