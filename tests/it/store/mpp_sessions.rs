//! MPP session balances in the store (`SessionStore` on the `sessions` table), on both
//! backends: concurrent deductions from two independent pools never overdraw, the session
//! rules (route, closed, unknown), the idle claim hands each session to one sweeper, and
//! sessions survive reopening the database.

use futures_util::future::join_all;
use gate402::store::{MppSessionRecord, SessionStore, Store};
use gate402_protocols::VerifyError;
use std::sync::Arc;

use super::{both_backends, Backend, TestStore};

both_backends!(
    concurrent_deductions_never_overdraw,
    session_rules_and_reopen,
    idle_sessions_are_claimed_once,
);

fn rec(id: &str, deposited: u64, last_used: u64, idle: u64) -> MppSessionRecord {
    MppSessionRecord {
        id: id.into(),
        route: "api".into(),
        deposited_sats: deposited,
        spent_sats: 0,
        return_invoice: Some("lnbcrt1refund".into()),
        closed: false,
        last_used,
        idle_timeout_secs: idle,
        payer: None,
    }
}

fn sessions(s: &Arc<dyn Store>) -> Arc<dyn SessionStore> {
    s.clone()
}

async fn concurrent_deductions_never_overdraw(backend: Backend) {
    let db = TestStore::new(backend).await;
    let (a, b) = (sessions(&db.open().await), sessions(&db.open().await));
    assert!(a.open(rec("s1", 200, 1, 300)).await.unwrap());
    // 60 deductions of 10 sat from two "gateways" at once on a 200 sat deposit.
    let results = join_all((0..60).map(|i| {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        async move { s.debit("s1", "api", 10, 2).await.unwrap() }
    }))
    .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 20, "exactly deposit / price deductions succeed");
    assert!(results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .all(|e| *e == VerifyError::InsufficientBalance));
    let s = b.get("s1").await.unwrap().unwrap();
    assert_eq!((s.spent_sats, s.balance_sats()), (200, 0));
}

async fn session_rules_and_reopen(backend: Backend) {
    let db = TestStore::new(backend).await;
    let s = sessions(&db.open().await);
    assert!(s.open(rec("a", 100, 1, 300)).await.unwrap());
    assert!(
        !s.open(rec("a", 100, 1, 300)).await.unwrap(),
        "ids are unique"
    );
    let r = s.debit("a", "api", 60, 5).await.unwrap().unwrap();
    assert_eq!((r.balance_sats(), r.last_used), (40, 5));
    assert_eq!(
        s.debit("a", "api", 60, 6).await.unwrap(),
        Err(VerifyError::InsufficientBalance)
    );
    assert_eq!(
        s.debit("a", "other", 1, 6).await.unwrap(),
        Err(VerifyError::OfferMismatch("route"))
    );
    assert_eq!(
        s.credit("a", 30, 7).await.unwrap().unwrap().balance_sats(),
        70
    );
    assert_eq!(
        s.debit("zz", "api", 1, 7).await.unwrap(),
        Err(VerifyError::SessionNotFound)
    );
    drop(s);
    // Another pool (a restarted gateway) sees the same balance.
    let s = sessions(&db.open().await);
    let got = s.get("a").await.unwrap().unwrap();
    assert_eq!(
        (
            got.balance_sats(),
            got.return_invoice.as_deref(),
            got.idle_timeout_secs
        ),
        (70, Some("lnbcrt1refund"), 300)
    );
    let closed = join_all([s.close("a"), s.close("a")]).await;
    let winners: Vec<_> = closed.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        winners.iter().filter(|r| r.is_ok()).count(),
        1,
        "closed once"
    );
    assert!(winners
        .iter()
        .any(|r| r.as_ref().is_ok_and(|r| r.closed && r.balance_sats() == 70)));
    assert_eq!(
        s.debit("a", "api", 1, 8).await.unwrap(),
        Err(VerifyError::SessionClosed)
    );
    assert_eq!(
        s.credit("a", 1, 8).await.unwrap(),
        Err(VerifyError::SessionClosed)
    );
}

async fn idle_sessions_are_claimed_once(backend: Backend) {
    let db = TestStore::new(backend).await;
    let (a, b) = (sessions(&db.open().await), sessions(&db.open().await));
    // idle timeout 100 s; last used at 1000 (ids i0..i9), one busy, one without timeout.
    for i in 0..10 {
        assert!(a.open(rec(&format!("i{i}"), 50, 1000, 100)).await.unwrap());
    }
    assert!(a.open(rec("busy", 50, 1000, 100)).await.unwrap());
    assert!(a.debit("busy", "api", 10, 1050).await.unwrap().is_ok());
    assert!(a.open(rec("forever", 50, 0, 0)).await.unwrap());
    assert!(
        a.claim_idle(1100, 100).await.unwrap().is_empty(),
        "not idle yet"
    );
    // Two sweepers at once, 4 sessions per tick each: every idle session claimed exactly once.
    let mut claimed = Vec::new();
    loop {
        let (x, y) = tokio::join!(a.claim_idle(1101, 4), b.claim_idle(1101, 4));
        let (x, y) = (x.unwrap(), y.unwrap());
        assert!(x.len() <= 4 && y.len() <= 4, "bounded work per tick");
        if x.is_empty() && y.is_empty() {
            break;
        }
        claimed.extend(x.into_iter().chain(y).map(|r| {
            assert!(r.closed);
            assert_eq!(r.balance_sats(), 50);
            r.id
        }));
    }
    claimed.sort();
    let want: Vec<String> = (0..10).map(|i| format!("i{i}")).collect();
    assert_eq!(claimed, want);
    assert_eq!(
        a.debit("i3", "api", 1, 1102).await.unwrap(),
        Err(VerifyError::SessionClosed)
    );
    assert!(!b.get("busy").await.unwrap().unwrap().closed);
    assert!(!b.get("forever").await.unwrap().unwrap().closed);
}
