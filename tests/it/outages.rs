//! Rail and upstream failures: 503 with Retry-After (never a 402 a client would pay, never a
//! 200 without payment), 502 and 504 for the upstream.

use gate402::client::{ClientRequest, Policy};
use gate402_rails::simnet::Faults;
use gate402_tests::{eventually, json_body, raw, serve, upstream_app, Harness, CONFIG};

#[tokio::test]
async fn rail_offline_answers_503_with_retry_after_and_recovers() {
    let h = Harness::start().await;
    let client = h.client("c", Policy::default());
    // Buy a token while the rail is up.
    client
        .send(&ClientRequest::get(h.url("/api/a")))
        .await
        .unwrap();

    h.net.set_faults(
        "seller",
        Faults {
            offline: true,
            ..Faults::default()
        },
    );
    // The health monitor notices within its interval; until then pooled invoices may still
    // be handed out (payable as soon as the node is back).
    let url = h.url("/api/a");
    let (status, headers, body) = eventually(5, "503 while the rail is down", || async {
        let r = raw(&url, &[]).await;
        (r.0 == 503).then_some(r)
    })
    .await;
    assert_eq!(status, 503);
    assert_eq!(headers["retry-after"], "7");
    assert!(
        headers.get("www-authenticate").is_none(),
        "no challenge without an invoice"
    );
    assert_eq!(json_body(&body)["reason"], "unavailable");
    let (ready, _, _) = raw(&h.url("/_gate402/ready"), &[]).await;
    assert_eq!(ready, 503);

    // A paid token needs no rail: verification is stateless.
    let r = client
        .send(&ClientRequest::get(h.url("/api/a")))
        .await
        .unwrap();
    assert_eq!(r.response.status(), 200);
    assert!(r.reused_credential);

    h.net.set_faults("seller", Faults::default());
    let status = eventually(5, "402 once the rail is back", || async {
        let s = raw(&url, &[]).await.0;
        (s != 503).then_some(s)
    })
    .await;
    assert_eq!(status, 402);
    let (ready, _, _) = raw(&h.url("/_gate402/ready"), &[]).await;
    assert_eq!(ready, 200);
}

#[tokio::test]
async fn upstream_down_is_502_after_payment_check() {
    // A port that was free a moment ago: bind, read, drop.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = free.local_addr().unwrap();
    drop(free);
    let h = Harness::start_with(&CONFIG.replace("{UPSTREAM}", &format!("http://{dead}"))).await;
    let (status, _, _) = raw(&h.url("/api/a"), &[]).await;
    assert_eq!(
        status, 402,
        "the paywall answers before the upstream is tried"
    );
    let client = h.client("c", Policy::default());
    let r = client
        .send(&ClientRequest::get(h.url("/api/a")))
        .await
        .unwrap();
    assert_eq!(r.response.status(), 502);
    assert_eq!(
        json_body(r.response.body())["reason"],
        "upstream_unavailable"
    );
}

#[tokio::test]
async fn upstream_timeout_is_504() {
    let up = serve(upstream_app()).await;
    let h = Harness::start_with(&CONFIG.replace("{UPSTREAM}", &format!("http://{up}"))).await;
    let (status, _, body) = raw(&h.url("/hang/x"), &[]).await;
    assert_eq!(status, 504);
    assert_eq!(json_body(&body)["reason"], "upstream_timeout");
}
