//! The store on its own: exactly-once consumption across independent pools, the ledger and its
//! totals, revocations, sessions, the invoice pool, purging and reopening.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use gate402::store::{LedgerFilter, PaymentRecord, PooledInvoice, Revocations};

use super::{both_backends, Backend, TestStore};

both_backends!(
    consume_is_exactly_once_across_pools,
    consume_and_record_records_only_the_winner,
    ledger_is_idempotent_and_totals_add_up,
    revocations_reach_every_pool_within_the_refresh_bound,
    invoice_pool_never_hands_out_an_invoice_twice,
    invoice_pool_batch_claims_never_share_an_invoice,
    expired_rows_are_purged_and_data_survives_reopening,
);

fn payment(route: &str, reference: &str, amount_msat: u64, at: u64) -> PaymentRecord {
    PaymentRecord {
        protocol: "l402".into(),
        rail: "simnet".into(),
        reference: reference.into(),
        token_id: Some(format!("{reference}-token")),
        route: route.into(),
        amount_msat,
        payer: None,
        created_at: at,
        state: gate402::store::PaymentState::Served,
        use_key: None,
    }
}

async fn consume_is_exactly_once_across_pools(backend: Backend) {
    let db = TestStore::new(backend).await;
    let (a, b) = (db.open().await, db.open().await);
    let results = join_all((0..50).map(|i| {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        async move {
            s.consume(b"challenge-1", "l402", u64::MAX >> 2)
                .await
                .unwrap()
        }
    }))
    .await;
    assert_eq!(results.iter().filter(|w| **w).count(), 1, "{results:?}");
    assert!(b.consume(b"challenge-2", "l402", 10).await.unwrap());
    assert!(!a.consume(b"challenge-2", "l402", 10).await.unwrap());
}

async fn consume_and_record_records_only_the_winner(backend: Backend) {
    let db = TestStore::new(backend).await;
    let (a, b) = (db.open().await, db.open().await);
    let rec = payment("api", "ref-1", 10_000, 100);
    let results = join_all((0..20).map(|i| {
        let (s, rec) = (if i % 2 == 0 { &a } else { &b }, &rec);
        async move { s.consume_and_record(b"k", 1 << 40, rec).await.unwrap() }
    }))
    .await;
    assert_eq!(results.iter().filter(|w| **w).count(), 1);
    assert_eq!(a.ledger(&LedgerFilter::default()).await.unwrap(), vec![rec]);
}

async fn ledger_is_idempotent_and_totals_add_up(backend: Backend) {
    let db = TestStore::new(backend).await;
    let s = db.open().await;
    assert!(s
        .record_payment(&payment("api", "r1", 10_000, 100))
        .await
        .unwrap());
    assert!(!s
        .record_payment(&payment("api", "r1", 10_000, 101))
        .await
        .unwrap());
    assert!(s
        .record_payment(&payment("api", "r2", 10_000, 200))
        .await
        .unwrap());
    assert!(s
        .record_payment(&payment("other", "r3", 20_000, 300))
        .await
        .unwrap());
    let all = s.ledger(&LedgerFilter::default()).await.unwrap();
    let refs: Vec<_> = all.iter().map(|p| p.reference.as_str()).collect();
    assert_eq!(refs, ["r3", "r2", "r1"], "newest first, r1 once");
    assert_eq!(all[2].created_at, 100, "the first record wins");
    let f = |route: Option<&str>, since, limit| LedgerFilter {
        route: route.map(Into::into),
        protocol: Some("l402".into()),
        since,
        limit,
        unserved: false,
    };
    assert_eq!(
        s.ledger(&f(Some("api"), None, None)).await.unwrap().len(),
        2
    );
    assert_eq!(s.ledger(&f(None, Some(200), None)).await.unwrap().len(), 2);
    assert_eq!(
        s.ledger(&f(None, None, Some(1))).await.unwrap()[0].reference,
        "r3"
    );
    let totals = s.totals(&LedgerFilter::default()).await.unwrap();
    let t: Vec<_> = totals
        .iter()
        .map(|t| {
            (
                t.route.as_str(),
                t.protocol.as_str(),
                t.payments,
                t.amount_msat,
            )
        })
        .collect();
    assert_eq!(
        t,
        [("api", "l402", 2, 20_000), ("other", "l402", 1, 20_000)]
    );
    let none = LedgerFilter {
        protocol: Some("x402".into()),
        ..LedgerFilter::default()
    };
    assert!(s.totals(&none).await.unwrap().is_empty());
}

async fn revocations_reach_every_pool_within_the_refresh_bound(backend: Backend) {
    let db = TestStore::new(backend).await;
    let (a, b) = (db.open().await, db.open().await);
    let set = Revocations::load(&*a).await.unwrap();
    assert!(set.is_empty());
    let refresh = Duration::from_millis(200);
    set.spawn_refresh(a.clone(), refresh);
    let id = [9u8; 32];
    assert!(!a.is_revoked(&id).await.unwrap());
    let start = Instant::now();
    assert!(b.revoke(&id, 1).await.unwrap());
    assert!(!b.revoke(&id, 2).await.unwrap(), "second revoke is a no-op");
    assert!(a.is_revoked(&id).await.unwrap());
    while !set.contains(&id) {
        assert!(start.elapsed() < Duration::from_secs(5), "never refreshed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(start.elapsed() < 2 * refresh + Duration::from_secs(1));
    assert_eq!(a.revoked().await.unwrap(), vec![id]);
    let local = [7u8; 32];
    assert!(set.revoke(&*a, &local).await.unwrap());
    assert!(set.contains(&local), "a local revocation is seen at once");
}

async fn invoice_pool_never_hands_out_an_invoice_twice(backend: Backend) {
    let db = TestStore::new(backend).await;
    let (a, b) = (db.open().await, db.open().await);
    for i in 0..10u8 {
        let inv = PooledInvoice {
            payment_hash: [i; 32],
            route: "api".into(),
            amount_msat: 10_000,
            bolt11: format!("lnbcrt{i}"),
            expires_at: 1000 + u64::from(i),
        };
        assert!(a.pool_add(&inv, 1).await.unwrap());
        assert!(!a.pool_add(&inv, 1).await.unwrap());
    }
    assert_eq!(a.pool_count("api", 1004).await.unwrap(), 5);
    let other = a.pool_take("api", 20_000, 0).await.unwrap();
    assert_eq!(other, None, "amount must match");
    let taken = join_all((0..20).map(|i| {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        async move { s.pool_take("api", 10_000, 500).await.unwrap() }
    }))
    .await;
    let mut hashes: Vec<_> = taken.iter().flatten().map(|p| p.payment_hash[0]).collect();
    hashes.sort_unstable();
    assert_eq!(
        hashes,
        (0..10).collect::<Vec<u8>>(),
        "each invoice exactly once"
    );
    assert_eq!(a.pool_count("api", 0).await.unwrap(), 0);
}

/// `pool_take_many` (the refill workers' batch claim): at most `limit` rows, soonest-expiring
/// first, only the route's amount and still-valid rows, and concurrent batches on two pools
/// never share a row.
async fn invoice_pool_batch_claims_never_share_an_invoice(backend: Backend) {
    let db = TestStore::new(backend).await;
    let (a, b) = (db.open().await, db.open().await);
    for i in 0..40u8 {
        let inv = PooledInvoice {
            payment_hash: [i; 32],
            route: "api".into(),
            amount_msat: if i < 36 { 10_000 } else { 20_000 },
            bolt11: format!("lnbcrt{i}"),
            expires_at: 1000 + u64::from(i),
        };
        assert!(a.pool_add(&inv, 1).await.unwrap());
    }
    // Valid after 1001: rows 2.. of the route's amount; the soonest-expiring first.
    let first = a.pool_take_many("api", 10_000, 1001, 3).await.unwrap();
    let mut got: Vec<u8> = first.iter().map(|p| p.payment_hash[0]).collect();
    got.sort_unstable();
    assert_eq!(got, vec![2, 3, 4]);
    assert!(first
        .iter()
        .all(|p| p.amount_msat == 10_000 && p.route == "api"));
    let batches = join_all((0..8).map(|i| {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        async move { s.pool_take_many("api", 10_000, 0, 7).await.unwrap() }
    }))
    .await;
    assert!(batches.iter().all(|b| b.len() <= 7));
    let mut hashes: Vec<u8> = batches
        .iter()
        .flatten()
        .map(|p| p.payment_hash[0])
        .collect();
    hashes.sort_unstable();
    let mut expected: Vec<u8> = (0..36).filter(|i| ![2, 3, 4].contains(i)).collect();
    expected.sort_unstable();
    assert_eq!(hashes, expected, "each invoice exactly once");
    assert_eq!(
        a.pool_count("api", 0).await.unwrap(),
        4,
        "the other amount stays"
    );
}

async fn expired_rows_are_purged_and_data_survives_reopening(backend: Backend) {
    let db = TestStore::new(backend).await;
    let s = db.open().await;
    assert!(s.consume(b"old", "l402", 100).await.unwrap());
    assert!(s.consume(b"new", "l402", 10_000).await.unwrap());
    s.record_payment(&payment("api", "r1", 1, 1)).await.unwrap();
    assert_eq!(s.purge_expired(5000).await.unwrap(), 1);
    assert!(s.consume(b"old", "l402", 100).await.unwrap(), "purged key");
    drop(s);
    let again = db.open().await; // migrations already applied: a no-op
    assert!(!again.consume(b"new", "l402", 10_000).await.unwrap());
    assert_eq!(
        again.ledger(&LedgerFilter::default()).await.unwrap().len(),
        1
    );
    assert_eq!(
        again.backend(),
        if backend == Backend::Sqlite {
            "sqlite"
        } else {
            "postgres"
        }
    );
}
