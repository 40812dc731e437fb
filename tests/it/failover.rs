//! Buyer failover (issue #16 "L"): simnet fault injection on the buyer's node. A payment that
//! fails without moving money (no route) → the next acceptable offer of the same 402 is paid,
//! 200, exactly one payment moved, budget charged once, the failed attempt reported; with
//! failover off → the error; a payment whose outcome is unknown is tracked first: a late
//! success is used (one payment), still in flight → no second payment, a tracked failure →
//! failover. The x402-EVM failover on anvil is in `failover_evm`.

use std::sync::Arc;
use std::time::Duration;

use gate402::client::{BuyerPolicy, Client, ClientError, ClientRequest, Policy, TokenCache};
use gate402_protocols::ProtocolId;
use gate402_rails::simnet::Faults;
use gate402_rails::RailErrorKind;
use gate402_tests::BUYER_MSAT;

use crate::buyer_cli::start_mixed;

fn client(h: &gate402_tests::Harness, cache: &str, timeout_secs: u64) -> Client {
    let policy = BuyerPolicy {
        prefer: ["l402", "mpp", "x402/lightning"].map(String::from).to_vec(),
        payment_timeout_secs: timeout_secs,
        ..BuyerPolicy::default()
    };
    Client::new(
        Arc::new(h.buyer.clone()),
        TokenCache::new(h.dir.path().join(cache)),
        Policy::default(),
    )
    .with_policy(policy)
}

fn spent_msat(c: &Client) -> (u128, u128) {
    let s = c.budget_status().unwrap();
    let t = s.totals.iter().find(|t| t.unit == "msat").unwrap();
    (t.spent, t.pending)
}

#[tokio::test]
async fn no_route_fails_over_to_the_next_offer_and_pays_once() {
    let h = start_mixed().await;
    let fail_once = Faults {
        fail_next_payments: 1,
        ..Faults::default()
    };
    h.net.set_faults("buyer", fail_once);
    let c = client(&h, "a", 60);
    let paid = c.send(&ClientRequest::get(h.url("/all/a"))).await.unwrap();
    assert_eq!(paid.response.status(), 200);
    let p = paid.payment.as_ref().unwrap();
    assert_eq!(p.protocol, ProtocolId::Mpp, "the next preference");
    assert_eq!(paid.attempts.len(), 1, "{:?}", paid.attempts);
    assert_eq!(paid.attempts[0].protocol, ProtocolId::L402);
    assert_eq!(paid.attempts[0].rail, "lightning");
    assert_eq!(paid.attempts[0].error, "no_route");
    let summary = paid.summary();
    assert_eq!(summary["attempts"][0]["error"], "no_route", "{summary}");
    // Exactly one payment moved; the budget is charged once.
    assert_eq!(h.net.balance_msat("buyer"), Some(BUYER_MSAT - 100_000));
    assert_eq!(spent_msat(&c), (100_000, 0));

    // Failover off: the first failure is the answer, nothing moved, nothing charged.
    h.net.set_faults("buyer", fail_once);
    let c = client(&h, "b", 60).with_failover(false);
    let e = c
        .send(&ClientRequest::get(h.url("/all/b")))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ClientError::Payment(r) if r.kind == RailErrorKind::NoRoute),
        "{e}"
    );
    assert_eq!(h.net.balance_msat("buyer"), Some(BUYER_MSAT - 100_000));
    assert_eq!(spent_msat(&c), (0, 0));
}

/// Payments held in flight for `hold` (an HTLC on a slow route), the buyer's timeout 1 s.
fn held(h: &gate402_tests::Harness, hold: Duration) {
    h.net.set_faults(
        "buyer",
        Faults {
            hold_payments: Some(hold),
            ..Faults::default()
        },
    );
}

#[tokio::test]
async fn a_payment_that_times_out_then_succeeds_late_is_used_not_repeated() {
    let h = start_mixed().await;
    // In flight for 2.5 s: past the client's deadline (1 s timeout + 1 s grace), inside the
    // tracking window (2 x 1 s).
    held(&h, Duration::from_millis(2500));
    let c = client(&h, "late", 1);
    let paid = c
        .send(&ClientRequest::get(h.url("/all/late")))
        .await
        .unwrap();
    assert_eq!(paid.response.status(), 200);
    assert_eq!(paid.payment.as_ref().unwrap().protocol, ProtocolId::L402);
    assert!(paid.attempts.is_empty(), "{:?}", paid.attempts);
    // One payment moved, the budget charged once.
    assert_eq!(h.net.payments_sent("buyer"), 1);
    assert_eq!(h.net.balance_msat("buyer"), Some(BUYER_MSAT - 100_000));
    assert_eq!(spent_msat(&c), (100_000, 0));
}

#[tokio::test]
async fn an_outcome_unknown_payment_is_not_followed_by_another() {
    let h = start_mixed().await;
    // Still in flight after the deadline and the tracking window: the outcome stays unknown.
    held(&h, Duration::from_secs(30));
    let c = client(&h, "c", 1);
    let e = c
        .send(&ClientRequest::get(h.url("/all/c")))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ClientError::Payment(r) if r.kind == RailErrorKind::Timeout
            && r.message.contains("still in flight")),
        "{e}"
    );
    // No second offer was paid: nothing settled yet, the one payment still held.
    assert_eq!(h.net.payments_sent("buyer"), 0);
    assert_eq!(h.net.balance_msat("buyer"), Some(BUYER_MSAT));
    // The uncertain attempt stays reserved (pending, with its fee allowance), not released.
    assert_eq!(spent_msat(&c), (0, 100_000 + 10_000));
}

#[tokio::test]
async fn a_timeout_tracked_to_failure_fails_over() {
    let h = start_mixed().await;
    // Slower than the 1 s timeout: the node gives up (LND `FAILURE_REASON_TIMEOUT`, nothing
    // moved); the client's tracking sees FAILED and moves on — every offer here times out,
    // so the last one's tracked failure is the answer, and nothing moved at all.
    h.net.set_faults(
        "buyer",
        Faults {
            pay_delay: Some(Duration::from_secs(3)),
            ..Faults::default()
        },
    );
    let c = client(&h, "t", 1);
    let e = c
        .send(&ClientRequest::get(h.url("/all/t")))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ClientError::TrackedFailure(r) if r.kind == RailErrorKind::Timeout),
        "{e}"
    );
    assert_eq!(h.net.payments_sent("buyer"), 0);
    assert_eq!(h.net.balance_msat("buyer"), Some(BUYER_MSAT));
    assert_eq!(spent_msat(&c), (0, 0), "every reservation released");
}

/// The MCP tool reports every attempt: on success (`attempts` of the result) and when every
/// offer fails (`attempts` of the error result, `paid: false`).
#[tokio::test]
async fn fetch_paid_url_reports_every_attempt() {
    use gate402::mcp::server::ToolSet;
    let h = start_mixed().await;
    let tools = gate402::mcp::BuyerTools::new(client(&h, "m", 60), 4096);
    let fail = |n| Faults {
        fail_next_payments: n,
        ..Faults::default()
    };
    h.net.set_faults("buyer", fail(1));
    let url = h.url("/all/m1").to_string();
    let ok = tools
        .call("fetch_paid_url", serde_json::json!({ "url": url }))
        .await
        .unwrap();
    assert!(!ok.is_error, "{}", ok.value);
    assert_eq!(ok.value["status"], 200);
    assert_eq!(ok.value["attempts"][0]["protocol"], "l402", "{}", ok.value);
    assert_eq!(ok.value["attempts"][0]["error"], "no_route");

    // Every offer fails (l402, mpp, x402/lightning): two fail-overs, then the last error.
    h.net.set_faults("buyer", fail(3));
    let url = h.url("/all/m2").to_string();
    let bad = tools
        .call("fetch_paid_url", serde_json::json!({ "url": url }))
        .await
        .unwrap();
    assert!(bad.is_error, "{}", bad.value);
    assert_eq!(bad.value["error"], "payment_failed", "{}", bad.value);
    assert_eq!(bad.value["paid"], false, "{}", bad.value);
    let tried = bad.value["attempts"].as_array().unwrap();
    assert_eq!(tried.len(), 2, "{}", bad.value);
    assert_eq!(tried[0]["protocol"], "l402");
    assert_eq!(tried[1]["protocol"], "mpp");
    assert_eq!(h.net.balance_msat("buyer"), Some(BUYER_MSAT - 100_000));
}
