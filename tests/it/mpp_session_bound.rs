//! `[mpp.session] max_open_per_payer`: a payer (the client address here: no return invoice)
//! with that many open sessions gets 429 `too_many_sessions` on the next open, before its
//! deposit proof is consumed: once it closed a session, the same credential opens the new
//! session without a second payment.

use gate402::client::{ClientRequest, Policy};
use gate402_rails::{InvoiceRequest, LightningRail};
use gate402_tests::{json_body, serve, upstream_app, Harness, MPP_CONFIG};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_open_sessions_of_a_payer_the_open_is_429_and_its_credential_stays_valid() {
    let upstream = serve(upstream_app()).await;
    let text = MPP_CONFIG
        .replace("{UPSTREAM}", &format!("http://{upstream}"))
        .replace(
            "deposit_units = 10\n",
            "deposit_units = 10\nmax_open_per_payer = 2\n",
        );
    let h = Harness::start_with(&text).await;
    let client = h.client(
        "s",
        Policy {
            max_cost_msat: 1_000_000,
            ..Policy::default()
        },
    );
    let req = ClientRequest::get(h.url("/api/stream"));
    let (first, r) = client.open_session(&req, None).await.unwrap();
    assert_eq!(r.status(), 200);
    let (_second, r) = client.open_session(&req, None).await.unwrap();
    assert_eq!(r.status(), 200);
    let paid_before = h.seller_msat();
    let (third, r) = client.open_session(&req, None).await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(json_body(r.body())["reason"], "too_many_sessions");
    assert_eq!(
        h.seller_msat(),
        paid_before + 100_000,
        "the third deposit was paid"
    );
    // Still refused while two are open.
    let again = client.session_retry_open(&third, &req, None).await.unwrap();
    assert_eq!(again.status(), 429);
    // Close one (refund 90 sat: one request spent), then the third opens with its credential.
    let refund = h
        .buyer
        .create_invoice(InvoiceRequest {
            amount_msat: 90_000,
            memo: "refund".into(),
            expiry_secs: 3600,
        })
        .await
        .unwrap()
        .bolt11;
    let closed = client
        .session_close(&first, &req, Some(refund))
        .await
        .unwrap();
    assert_eq!(closed.status(), 200, "{:?}", closed.body());
    let opened = client.session_retry_open(&third, &req, None).await.unwrap();
    assert_eq!(opened.status(), 200);
    let used = client.session_send(&third, &req).await.unwrap();
    assert_eq!(used.status(), 200, "the third session is usable");
}
