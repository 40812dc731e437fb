//! Unit tests of budget reservations (across threads with their own connections, as across
//! processes).

use super::*;

fn policy(total_sat: Option<u64>, domain_sat: Option<u64>) -> BuyerPolicy {
    let mut p = BuyerPolicy::default();
    p.budget.daily_total_sat = total_sat;
    p.budget.daily_per_domain_sat = domain_sat;
    p
}

fn charge<'a>(domain: &'a str, amount: u128) -> Charge<'a> {
    Charge {
        domain,
        unit: "msat",
        amount,
        protocol: "l402",
    }
}

const NOW: u64 = 86_400 * 100 + 5;

#[test]
fn reserve_settle_release_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let cache = TokenCache::new(dir.path());
    let p = policy(Some(250), Some(200));
    let a = cache.reserve(&charge("a", 110_000), &p, NOW).unwrap();
    cache.settle(a, 100_000, 1_000, "h1").unwrap();
    assert_eq!(cache.spent("msat", Some("a"), NOW).unwrap(), (101_000, 0));
    // Per domain: 101 + 110 > 200.
    let err = cache.reserve(&charge("a", 110_000), &p, NOW).unwrap_err();
    assert!(
        matches!(&err, ClientError::Policy(PolicyError::BudgetExceeded { scope, .. }) if scope == "domain a"),
        "{err:?}"
    );
    let b = cache.reserve(&charge("b", 110_000), &p, NOW).unwrap();
    // Total: 101 + 110 (pending) + 40 > 250.
    let err = cache.reserve(&charge("c", 40_000), &p, NOW).unwrap_err();
    assert!(
        matches!(&err, ClientError::Policy(PolicyError::BudgetExceeded { scope, pending: 110_000, .. }) if scope == "total"),
        "{err:?}"
    );
    cache.release(b).unwrap();
    let c = cache.reserve(&charge("c", 40_000), &p, NOW).unwrap();
    cache.mark_unknown(c).unwrap();
    assert_eq!(cache.spent("msat", None, NOW).unwrap(), (101_000, 40_000));
    assert_eq!(
        cache.spent("msat", None, NOW + 86_400).unwrap(),
        (0, 0),
        "a new UTC day"
    );
    let s = cache.budget_status(&p, NOW).unwrap();
    assert_eq!(s.day, "1970-04-11");
    assert_eq!(s.domains.len(), 2);
    assert_eq!(s.totals[0].limit, Some(250_000));
    assert_eq!(cache.reset_spend(Some("a")).unwrap(), 1);
    assert_eq!(cache.spent("msat", None, NOW).unwrap(), (0, 40_000));
    assert_eq!(cache.reset_spend(None).unwrap(), 1);
}

#[test]
fn concurrent_reservations_never_overspend() {
    let dir = tempfile::tempdir().unwrap();
    let p = policy(Some(150), None);
    TokenCache::new(dir.path()).reset_spend(None).unwrap();
    let wins: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (dir, p) = (dir.path(), &p);
                s.spawn(move || {
                    let cache = TokenCache::new(dir);
                    cache.reserve(&charge("a", 100_000), p, NOW).is_ok() as usize
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(wins, 1);
}
