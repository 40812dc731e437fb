//! The paid round trip through the real proxy: 402 → pay over simnet → 200 → reuse.

use gate402::client::{ClientRequest, Policy};
use gate402_rails::{decode_bolt11, LightningRail};
use gate402_tests::{json_body, matrix, raw, Harness, BUYER_MSAT};

/// The `invoice="…"` of the first L402 challenge line.
pub fn challenge_invoice(headers: &http::HeaderMap) -> String {
    let line = headers
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("L402 "))
        .expect("an L402 challenge");
    assert!(
        line.starts_with("L402 macaroon=\""),
        "macaroon= comes first: {line}"
    );
    let inv = line.split("invoice=\"").nth(1).expect("invoice param");
    inv.trim_end_matches('"').to_string()
}

#[tokio::test]
async fn unpaid_gets_402_with_l402_challenge_and_valid_bolt11() {
    let h = Harness::start().await;
    let (status, headers, body) = raw(&h.url("/api/data"), &[]).await;
    assert_eq!(status, 402);
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(json_body(&body)["reason"], "payment_required");
    let invoice = decode_bolt11(&challenge_invoice(&headers)).expect("valid BOLT11");
    assert_eq!(invoice.amount_msat, Some(10_000));
    let seller = h.seller.info().await.unwrap();
    assert_eq!(hex::encode(invoice.payee_pubkey), seller.pubkey);
    assert!(!invoice.is_expired(gate402::clock::now_unix()));
}

#[tokio::test]
async fn client_pays_then_reuses_the_token_without_paying() {
    matrix::cell(
        "roundtrip::client_pays_then_reuses_the_token_without_paying",
        async {
            let h = Harness::start().await;
            let url = h.url("/api/data?x=1");
            let client = h.client("buyer-cache", Policy::default());

            let first = client.send(&ClientRequest::get(url.clone())).await.unwrap();
            assert_eq!(first.response.status(), 200);
            let payment = first.payment.expect("paid");
            assert_eq!(payment.amount_msat, 10_000);
            let echoed = json_body(first.response.body());
            assert_eq!(echoed["path"], "/api/data");
            assert!(
                echoed["authorization"].is_null(),
                "credential is not forwarded upstream"
            );
            assert_eq!(echoed["x_forwarded_for"], "127.0.0.1");
            assert_eq!(h.seller_msat(), 10_000);
            assert_eq!(h.net.balance_msat("buyer").unwrap(), BUYER_MSAT - 10_000);

            let second = client.send(&ClientRequest::get(url.clone())).await.unwrap();
            assert_eq!(second.response.status(), 200);
            assert!(second.payment.is_none() && second.reused_credential);

            // Another client (another process) sharing the cache directory reuses it too, on
            // another path of the same service.
            let other = h.client("buyer-cache", Policy::default());
            let third = other
                .send(&ClientRequest::get(h.url("/api/more")))
                .await
                .unwrap();
            assert_eq!(third.response.status(), 200);
            assert!(third.payment.is_none());
            assert_eq!(h.seller_msat(), 10_000, "exactly one payment in all");
        },
    )
    .await;
}

#[tokio::test]
async fn free_and_unmatched_routes_pass_through_without_challenge() {
    let h = Harness::start().await;
    for path in ["/free/x", "/public"] {
        let (status, headers, body) = raw(&h.url(path), &[]).await;
        assert_eq!(status, 200, "{path}");
        assert!(headers.get("www-authenticate").is_none());
        assert_eq!(json_body(&body)["path"], path);
    }
    let (status, _, _) = raw(&h.url("/_gate402/health"), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(h.seller_msat(), 0);
}

#[tokio::test]
async fn a_token_is_scoped_to_its_service() {
    let h = Harness::start().await;
    let client = h.client("c", Policy::default());
    client
        .send(&ClientRequest::get(h.url("/api/a")))
        .await
        .unwrap();
    // `/other/` is another service at 20 sat: the api token is refused, a new one is bought.
    let r = client
        .send(&ClientRequest::get(h.url("/other/a")))
        .await
        .unwrap();
    assert_eq!(r.response.status(), 200);
    assert_eq!(r.payment.unwrap().amount_msat, 20_000);
    assert_eq!(h.seller_msat(), 30_000);
}
