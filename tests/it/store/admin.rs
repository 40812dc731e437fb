//! The admin API's store half on both backends: run-time prices with their floor (one
//! statement, concurrent setters from two pools), ledger pages (keyset paging, `since`,
//! `until`, route, protocol) and revenue per UTC day.

use futures_util::future::join_all;
use gate402::store::{admin::LedgerQuery, PaymentRecord, PaymentState};

use super::{both_backends, Backend, TestStore};

both_backends!(
    run_time_prices_keep_a_floor_for_outstanding_challenges,
    ledger_pages_and_daily_totals,
);

async fn run_time_prices_keep_a_floor_for_outstanding_challenges(backend: Backend) {
    let db = TestStore::new(backend).await;
    let (a, b) = (db.open().await, db.open().await);
    assert!(a.route_prices().await.unwrap().is_empty());
    // A raise from the configured 10 sat: the old price is the floor for 600 s.
    let r = a
        .set_route_price("api", 10_000, 20_000, 600, 1_000)
        .await
        .unwrap();
    assert_eq!(
        (r.price_msat, r.floor_msat, r.floor_until),
        (20_000, 10_000, 1_600)
    );
    // Another raise inside the window (from the other pool): the lowest floor and the later end.
    let r = b
        .set_route_price("api", 10_000, 30_000, 600, 1_100)
        .await
        .unwrap();
    assert_eq!(
        (r.price_msat, r.floor_msat, r.floor_until),
        (30_000, 10_000, 1_700)
    );
    // After the window: the floor is the price just replaced.
    let r = a
        .set_route_price("api", 10_000, 40_000, 600, 5_000)
        .await
        .unwrap();
    assert_eq!(
        (r.price_msat, r.floor_msat, r.floor_until),
        (40_000, 30_000, 5_600)
    );
    // A cut: nothing outstanding is cheaper than the new price.
    let r = a
        .set_route_price("api", 10_000, 5_000, 600, 9_000)
        .await
        .unwrap();
    assert_eq!(r.floor_at(9_001), None);
    assert_eq!(b.route_prices().await.unwrap(), vec![r]);
    // Twenty concurrent setters over two pools: every call succeeds, one row remains.
    let sets = join_all((0..20u64).map(|i| {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        async move {
            s.set_route_price("other", 1_000, 1_000 + i, 60, 10_000)
                .await
        }
    }))
    .await;
    assert!(sets.iter().all(Result::is_ok), "{sets:?}");
    let rows = a.route_prices().await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[1].floor_msat, 1_000,
        "no price below the configured one was set"
    );
}

fn payment(route: &str, protocol: &str, n: u64, at: u64) -> PaymentRecord {
    PaymentRecord {
        protocol: protocol.into(),
        rail: "simnet".into(),
        reference: format!("ref-{n}"),
        token_id: None,
        route: route.into(),
        amount_msat: 1_000 * n,
        payer: None,
        created_at: at,
        state: PaymentState::Served,
        use_key: None,
    }
}

async fn ledger_pages_and_daily_totals(backend: Backend) {
    let db = TestStore::new(backend).await;
    let s = db.open().await;
    const DAY: u64 = 86_400;
    let day0 = 20_000 * DAY; // 2024-10-04
    for n in 1..=10u64 {
        let (route, protocol) = if n % 2 == 0 {
            ("api", "l402")
        } else {
            ("api", "mpp")
        };
        let at = day0 + (n / 4) * DAY + n; // days 0, 0, 0, 1, 1, 1, 1, 2, 2, 2
        assert!(s
            .record_payment(&payment(route, protocol, n, at))
            .await
            .unwrap());
    }
    let q = |limit| LedgerQuery {
        limit,
        ..LedgerQuery::default()
    };
    let mut seen = Vec::new();
    let mut query = q(4);
    loop {
        let page = s.ledger_page(&query).await.unwrap();
        assert!(page.windows(2).all(|w| w[0].id > w[1].id), "newest first");
        seen.extend(page.iter().map(|e| e.payment.reference.clone()));
        if page.len() < 4 {
            break;
        }
        query.before_id = page.last().map(|e| e.id);
    }
    let want: Vec<String> = (1..=10).rev().map(|n| format!("ref-{n}")).collect();
    assert_eq!(seen, want, "every row once, in order, over three pages");
    let window = LedgerQuery {
        since: Some(day0 + DAY),
        until: Some(day0 + 2 * DAY),
        protocol: Some("l402".into()),
        ..q(100)
    };
    let refs: Vec<_> = s
        .ledger_page(&window)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.payment.reference)
        .collect();
    assert_eq!(refs, vec!["ref-6", "ref-4"]);
    let days = s.daily_totals(&q(0)).await.unwrap();
    let got: Vec<_> = days
        .iter()
        .map(|d| {
            (
                d.day.as_str(),
                d.protocol.as_str(),
                d.payments,
                d.amount_msat,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("2024-10-04", "l402", 1, 2_000),
            ("2024-10-04", "mpp", 2, 4_000),
            ("2024-10-05", "l402", 2, 10_000),
            ("2024-10-05", "mpp", 2, 12_000),
            ("2024-10-06", "l402", 2, 18_000),
            ("2024-10-06", "mpp", 1, 9_000),
        ]
    );
}
