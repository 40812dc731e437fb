//! The upstream fails under a paid request — down, hung, reset mid-body, 5xx: the buyer gets
//! 502/504 with `Retry-After` (or the upstream's own 5xx), the payment is recorded
//! `unserved`, and the same credential is served once when the upstream is back (an MPP
//! charge is single-use: taken back exactly once; an L402 token simply works again). Unpaid
//! requests never reach the upstream. x402 EVM (nothing settled on a failure) is in `evm`.

use gate402::client::{ClientRequest, Policy};
use gate402::store::PaymentState;
use gate402_protocols::mpp::{client::parse_challenges, MppCredential};
use gate402_rails::{LightningRail, PayLimits};
use gate402_tests::{json_body, raw, serve, upstream_app, Harness, CONFIG};
use http::Uri;
use serde_json::{Map, Value};

use super::{fetch, ledger, until_state, Mode, Upstream};

#[tokio::test]
async fn upstream_down_is_502_with_retry_after_after_the_payment_check() {
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
    assert_eq!(r.response.headers()["retry-after"], "7");
    assert_eq!(
        json_body(r.response.body())["reason"],
        "upstream_unavailable"
    );
    let hash = r.payment.unwrap().payment_hash;
    until_state(&*h.store, &hash, PaymentState::Unserved).await;
}

#[tokio::test]
async fn upstream_timeout_is_504_with_retry_after() {
    let up = serve(upstream_app()).await;
    let h = Harness::start_with(&CONFIG.replace("{UPSTREAM}", &format!("http://{up}"))).await;
    let (status, headers, body) = raw(&h.url("/hang/x"), &[]).await;
    assert_eq!(status, 504);
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(json_body(&body)["reason"], "upstream_timeout");
}

const CONFIG_LM: &str = r#"
[server]
listen = "127.0.0.1:0"
upstream = "{UPSTREAM}"
upstream_timeout_secs = 1
retry_after_secs = 7

[mpp]
realm = "gate402.test"

[lightning]
backend = "simnet"

[[route]]
name = "l"
path_prefix = "/l/"
price_sat = 10

[[route]]
name = "m"
path_prefix = "/m/"
price_sat = 12
protocols = ["mpp"]
"#;

/// Pay the L402 challenge of `url`: the `Authorization` value and the payment hash (hex).
async fn buy_l402(h: &Harness, url: &Uri) -> (String, String) {
    let (status, headers, _) = raw(url, &[]).await;
    assert_eq!(status, 402);
    let challenge = gate402_protocols::l402::parse_challenges(&headers)
        .remove(0)
        .unwrap();
    let paid = h
        .buyer
        .pay_invoice(&challenge.invoice, PayLimits::default())
        .await
        .unwrap();
    (
        challenge.credential(paid.preimage).authorization(),
        hex::encode(paid.payment_hash),
    )
}

/// Pay the MPP charge challenge of `url`.
async fn buy_mpp(h: &Harness, url: &Uri) -> (String, String) {
    let (status, headers, _) = raw(url, &[]).await;
    assert_eq!(status, 402);
    let offer = parse_challenges(&headers).pop().unwrap().unwrap();
    assert!(offer.is_lightning_charge());
    let paid = h
        .buyer
        .pay_invoice(offer.invoice.as_deref().unwrap(), PayLimits::default())
        .await
        .unwrap();
    let mut payload = Map::new();
    payload.insert("preimage".into(), Value::String(hex::encode(paid.preimage)));
    (
        MppCredential::new(&offer.challenge, payload).to_header_value(),
        hex::encode(paid.payment_hash),
    )
}

#[tokio::test]
async fn a_paid_credential_outlives_every_upstream_failure_and_is_served_once() {
    let up = Upstream::start().await;
    let h = Harness::start_with(&CONFIG_LM.replace("{UPSTREAM}", &up.url)).await;
    let (l_url, m_url) = (h.url("/l/x"), h.url("/m/x"));
    let (l_auth, l_hash) = buy_l402(&h, &l_url).await;
    let (m_auth, m_hash) = buy_mpp(&h, &m_url).await;
    let moved = h.seller_msat();
    assert_eq!(moved, 22_000);

    let failures = [
        (Mode::Fail, 500, None),
        (Mode::Hang, 504, Some("upstream_timeout")),
        (Mode::Reset, 200, None), // the head went out; the body breaks off
    ];
    for (mode, status, reason) in failures {
        up.set(mode);
        let before = up.hits();
        // Unpaid requests are answered by the paywall, whatever the upstream does.
        assert_eq!(raw(&m_url, &[]).await.0, 402);
        assert_eq!(up.hits(), before, "an unpaid request reached the upstream");
        for (url, auth, hash) in [(&l_url, &l_auth, &l_hash), (&m_url, &m_auth, &m_hash)] {
            let (s, headers, body) = fetch(url, &[("authorization", auth)]).await;
            assert_eq!(s, status, "{mode:?}: {body:?}");
            if let Some(reason) = reason {
                assert_eq!(headers["retry-after"], "7");
                assert_eq!(json_body(body.as_ref().unwrap())["reason"], reason);
            }
            if mode == Mode::Reset {
                assert!(body.is_none(), "the body broke off");
            }
            until_state(&*h.store, hash, PaymentState::Unserved).await;
        }
        assert_eq!(up.hits(), before + 2);
    }

    up.set(Mode::Ok);
    for (url, auth, hash) in [(&l_url, &l_auth, &l_hash), (&m_url, &m_auth, &m_hash)] {
        let (s, _, body) = raw(url, &[("authorization", auth)]).await;
        assert_eq!(s, 200, "{body:?}");
        assert_eq!(&body[..], b"paid content");
        until_state(&*h.store, hash, PaymentState::Served).await;
    }
    // The MPP charge was served once: presented again it is a replay.
    let (s, headers, _) = raw(&m_url, &[("authorization", &m_auth)]).await;
    assert_eq!(s, 402);
    assert_eq!(headers["gate402-reason"], "replayed");
    // The token is reusable, as ever.
    assert_eq!(raw(&l_url, &[("authorization", &l_auth)]).await.0, 200);
    // The ledger agrees with the money moved: two payments, both served.
    let rows = ledger(&*h.store).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows.iter().map(|p| p.amount_msat).sum::<u64>(), moved);
    assert!(rows.iter().all(|p| p.state == PaymentState::Served));
    assert_eq!(h.seller_msat(), moved, "nothing charged twice");
}
