//! MPP sessions cached per service: with `mpp/session` preferred, the first run opens a
//! session (pays the deposit), later runs — new client instances on the same cache — reuse
//! it as a bearer without paying; when its balance is spent the server answers 402, the
//! cached session is dropped and a new one is opened.

use gate402::client::{BuyerPolicy, ClientRequest, Policy};
use gate402_protocols::ProtocolId;
use gate402_tests::{Harness, BUYER_MSAT};

fn policy() -> BuyerPolicy {
    BuyerPolicy {
        prefer: vec!["mpp/session".into(), "mpp".into()],
        ..BuyerPolicy::default()
    }
}

#[tokio::test]
async fn a_cached_mpp_session_is_reused_across_runs_and_reopened_when_spent() {
    let h = Harness::start_mpp().await;
    let req = ClientRequest::get(h.url("/api/stream"));
    let run = || h.client("s", Policy::default()).with_policy(policy());
    // Run 1: the 402 offers a session (asked for in Accept-Payment); 100 sat deposit.
    let first = run().send(&req).await.unwrap();
    assert_eq!(first.response.status(), 200);
    let paid = first.payment.unwrap();
    assert_eq!(
        (paid.protocol, paid.amount_msat),
        (ProtocolId::Mpp, 100_000)
    );
    assert_eq!(h.net.balance_msat("buyer"), Some(BUYER_MSAT - 100_000));
    // Runs 2..10: the session pays (9 more units of 10 sat); nothing moves on Lightning.
    for i in 2..=10 {
        let r = run().send(&req).await.unwrap();
        assert_eq!(r.response.status(), 200, "run {i}");
        assert!(r.reused_credential && r.payment.is_none(), "run {i}");
    }
    assert_eq!(h.net.balance_msat("buyer"), Some(BUYER_MSAT - 100_000));
    // Run 11: the balance is spent → 402 → dropped, a new session is opened and paid.
    let r = run().send(&req).await.unwrap();
    assert_eq!(r.response.status(), 200);
    assert!(!r.reused_credential);
    assert_eq!(r.payment.unwrap().amount_msat, 100_000);
    assert_eq!(h.net.balance_msat("buyer"), Some(BUYER_MSAT - 200_000));
    // The spend ledger has both deposits.
    let s = run().budget_status().unwrap();
    assert_eq!(s.totals[0].spent, 200_000);
    // Without `mpp/session` the same route is paid per request (a charge).
    let charge = h.client("c", Policy::default()).send(&req).await.unwrap();
    assert_eq!(charge.payment.unwrap().amount_msat, 10_000);
}
