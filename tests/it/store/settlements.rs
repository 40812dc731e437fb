//! Payment states and the x402 settlement journal in the store (migration 0004), across
//! independent pools as separate gateways have them: an unserved payment is taken back by
//! exactly one presentation, served rows are never downgraded, `--unserved` lists what is not
//! known to be served, and a journaled settlement is leased to one owner at a time and
//! resolved into a ledger row or a released single-use key in one step.

use futures_util::future::join_all;
use gate402::store::{LedgerFilter, PaymentRecord, PaymentState, StoreJournal, X402Tag};
use gate402_rails::evm::{
    PendingSettlement, Resolution, Settled, SettlementJournal, SettlementKey,
};

use super::{both_backends, Backend, TestStore};

both_backends!(
    an_unserved_payment_is_taken_back_exactly_once,
    journaled_settlements_are_leased_and_resolved_atomically,
);

fn record(reference: &str, use_key: &[u8], state: PaymentState) -> PaymentRecord {
    PaymentRecord {
        protocol: "mpp".into(),
        rail: "simnet".into(),
        reference: reference.into(),
        token_id: None,
        route: "api".into(),
        amount_msat: 10_000,
        payer: None,
        created_at: 1_000,
        state,
        use_key: Some(use_key.to_vec()),
    }
}

async fn an_unserved_payment_is_taken_back_exactly_once(backend: Backend) {
    let db = TestStore::new(backend).await;
    let (a, b) = (db.open().await, db.open().await);
    assert!(a
        .consume_and_record(
            b"k1",
            u64::MAX >> 2,
            &record("r1", b"k1", PaymentState::Admitted)
        )
        .await
        .unwrap());
    assert!(a
        .record_payment(&record("r2", b"k2", PaymentState::Admitted))
        .await
        .unwrap());
    let unserved = LedgerFilter {
        unserved: true,
        ..LedgerFilter::default()
    };
    assert_eq!(a.ledger(&unserved).await.unwrap().len(), 2);
    // Not claimable while admitted (its request may still be in flight).
    assert!(b.claim_unserved(b"k1").await.unwrap().is_none());
    let refs = [("mpp".to_string(), "r1".to_string())];
    assert_eq!(
        b.mark_payments(&refs, PaymentState::Unserved)
            .await
            .unwrap(),
        1
    );
    let claims = join_all((0..16).map(|i| {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        async move { s.claim_unserved(b"k1").await.unwrap() }
    }))
    .await;
    let won: Vec<_> = claims.into_iter().flatten().collect();
    assert_eq!(won.len(), 1, "exactly one presentation takes it back");
    assert_eq!(won[0].reference, "r1");
    assert_eq!(won[0].state, PaymentState::Admitted);
    // Served is final: a late "unserved" mark does not undo it.
    let both = [
        ("mpp".to_string(), "r1".to_string()),
        ("mpp".to_string(), "r2".to_string()),
    ];
    a.mark_payments(&both, PaymentState::Served).await.unwrap();
    assert_eq!(
        a.mark_payments(&both, PaymentState::Unserved)
            .await
            .unwrap(),
        0
    );
    assert!(a.ledger(&unserved).await.unwrap().is_empty());
    let all = a.ledger(&LedgerFilter::default()).await.unwrap();
    assert!(
        all.iter().all(|p| p.state == PaymentState::Served),
        "{all:?}"
    );
}

fn pending(n: u8, tag: &X402Tag) -> PendingSettlement {
    PendingSettlement {
        key: SettlementKey {
            token: [1; 20],
            from: [2; 20],
            nonce: [n; 32],
        },
        transaction: format!("0x{}", hex::encode([n; 32])),
        raw: vec![0x02, n],
        tx_nonce: u64::from(n),
        valid_before: 2_000_000_000,
        broadcast_at: 1_000 + u64::from(n),
        tag: tag.encode(),
    }
}

async fn journaled_settlements_are_leased_and_resolved_atomically(backend: Backend) {
    let db = TestStore::new(backend).await;
    let (sa, sb) = (db.open().await, db.open().await);
    let (a, b) = (StoreJournal::new(sa.clone()), StoreJournal::new(sb.clone()));
    let tag = |k: &[u8]| X402Tag {
        route: "data".into(),
        amount_msat: 50_000,
        rail: "evm:eip155:31337".into(),
        use_key: hex::encode(k),
    };
    let (s1, s2) = (pending(1, &tag(b"use1")), pending(2, &tag(b"use2")));
    for (s, k) in [(&s1, b"use1"), (&s2, b"use2")] {
        assert!(sa.consume(k, "x402", u64::MAX >> 2).await.unwrap());
        a.begin(s, 5_000).await.unwrap();
    }
    // Leased to its caller: nobody else takes it before the lease ends.
    assert_eq!(b.claim(&s1.key, 4_000, 9_000).await.unwrap(), None);
    assert!(b.claim_due(4_000, 9_000, 10).await.unwrap().is_empty());
    a.abandon(&s1.key).await.unwrap();
    let owners = join_all((0..8).map(|i| {
        let j = if i % 2 == 0 { a.clone() } else { b.clone() };
        let key = s1.key;
        async move { j.claim(&key, 4_000, 9_000).await.unwrap() }
    }))
    .await;
    let owned: Vec<_> = owners.into_iter().flatten().collect();
    assert_eq!(owned, vec![s1.clone()], "one owner at a time");
    // After its lease, s2 is due; claimed by one of two concurrent reconcilers.
    let (d1, d2) = tokio::join!(a.claim_due(6_000, 9_000, 10), b.claim_due(6_000, 9_000, 10));
    let mut due = d1.unwrap();
    due.extend(d2.unwrap());
    assert_eq!(due, vec![s2.clone()]);
    assert_eq!(a.list().await.unwrap().len(), 2);

    // Landed: its ledger row appears unserved (the buyer's retry is served from it) and the
    // journal entry is gone, together.
    let landed = Settled {
        transaction: s1.transaction.clone(),
        payer: "0x0202020202020202020202020202020202020202".into(),
    };
    b.resolve(&s1, &Resolution::Landed(landed)).await.unwrap();
    let rows = sa.ledger(&LedgerFilter::default()).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (
            rows[0].state,
            rows[0].reference.as_str(),
            rows[0].amount_msat
        ),
        (PaymentState::Unserved, s1.transaction.as_str(), 50_000)
    );
    assert_eq!(
        sa.claim_unserved(b"use1").await.unwrap().unwrap().route,
        "data"
    );
    // Released: the single-use key is free again (the payment may be presented again).
    a.resolve(
        &s2,
        &Resolution::Released {
            reason: "transaction_failed",
        },
    )
    .await
    .unwrap();
    assert!(sb.consume(b"use2", "x402", u64::MAX >> 2).await.unwrap());
    assert!(!sb.consume(b"use1", "x402", u64::MAX >> 2).await.unwrap());
    assert!(a.list().await.unwrap().is_empty());
}
