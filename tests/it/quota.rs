//! `uses = N` on a route: an L402 token is sold for N requests. The buyer client, refused
//! with `quota_spent` after its N uses, pays once more and goes on.

use gate402::client::{ClientRequest, Policy};
use gate402_tests::{json_body, raw, serve, upstream_app, Harness, CONFIG};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_sold_for_two_uses_is_refused_on_the_third_and_the_client_pays_again() {
    let upstream = serve(upstream_app()).await;
    let text = CONFIG
        .replace("{UPSTREAM}", &format!("http://{upstream}"))
        .replace(
            "valid_for_secs = 3600\n",
            "valid_for_secs = 3600\nuses = 2\n",
        );
    let h = Harness::start_with(&text).await;
    let client = h.client("c", Policy::default());
    let mut reused = Vec::new();
    for _ in 0..4 {
        let r = client
            .send(&ClientRequest::get(h.url("/api/a")))
            .await
            .unwrap();
        assert_eq!(r.response.status(), 200);
        reused.push(r.reused_credential);
    }
    // Paid, reused, then the quota is spent: paid again, reused.
    assert_eq!(reused, [false, true, false, true]);
    assert_eq!(h.seller_msat(), 20_000, "two purchases of 10 sat");
    let ledger = h
        .store
        .ledger(&gate402::store::LedgerFilter::default())
        .await
        .unwrap();
    assert_eq!(ledger.len(), 2);
    // Without a credential, still the ordinary 402.
    let (status, _, body) = raw(&h.url("/api/a"), &[]).await;
    assert_eq!(status, 402);
    assert_ne!(json_body(&body)["reason"], "quota_spent");
}

#[test]
fn uses_zero_is_refused() {
    let text = CONFIG.replace("{UPSTREAM}", "http://127.0.0.1:1").replace(
        "valid_for_secs = 3600\n",
        "valid_for_secs = 3600\nuses = 0\n",
    );
    let config = gate402::config::Config::from_toml(&text).unwrap();
    let e = config.validate().unwrap_err().to_string();
    assert!(e.contains("uses"), "{e}");
}
