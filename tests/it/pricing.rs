//! Dynamic pricing (issue K item 3): a route priced per request by an Aperture `pricesrpc`
//! gRPC pricer or an HTTP JSON pricer. `/report?size=big` costs 50 sat and `size=small` 5 sat;
//! the price is bound into the challenges and required of the credential; a pricer that is
//! down, slow, or answers 0, a negative price or garbage gives 503 + `Retry-After`, never a
//! free request.

use std::time::Duration;

use gate402::client::{ClientRequest, Policy};
use gate402_protocols::mpp::client::parse_challenges as mpp_challenges;
use gate402_rails::{LightningRail, PayLimits};
use gate402_tests::pricer::{closed_url, serve_grpc, serve_http, Mode, Pricing};
use gate402_tests::transport::pay_l402;
use gate402_tests::{json_body, raw, serve, upstream_app, Harness};
use serde_json::{Map, Value};

const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
upstream = "{UPSTREAM}"
retry_after_secs = 7

[mpp]
realm = "gate402.test"

[lightning]
backend = "simnet"

[[route]]
name = "report"
path_prefix = "/report"
protocols = ["l402", "mpp"]
valid_for_secs = 3600

[route.pricer]
{KIND} = "{URL}"
timeout_ms = 400
cache_ttl_secs = 60
"#;

async fn harness(kind: &str, url: &str) -> Harness {
    let upstream = serve(upstream_app()).await;
    let text = CONFIG
        .replace("{UPSTREAM}", &format!("http://{upstream}"))
        .replace("{KIND}", kind)
        .replace("{URL}", url);
    Harness::start_with(&text).await
}

async fn pricer(kind: &str, p: &std::sync::Arc<Pricing>) -> String {
    match kind {
        "grpc" => serve_grpc(p.clone()).await,
        _ => serve_http(p.clone()).await,
    }
}

/// The MPP charge amount (sat) of a 402's challenges.
fn mpp_amount(headers: &http::HeaderMap) -> String {
    let offer = mpp_challenges(headers).pop().unwrap().unwrap();
    offer.request["amount"].as_str().unwrap().to_owned()
}

async fn priced_challenges_and_bound_credentials(kind: &str) {
    let p = Pricing::new();
    let h = harness(kind, &pricer(kind, &p).await).await;
    let small = h.url("/report?size=small");
    let big = h.url("/report?size=big");

    // The challenges carry the request's price.
    let (status, headers, _) = raw(&big, &[]).await;
    assert_eq!(status, 402);
    assert_eq!(mpp_amount(&headers), "50");
    let (status, small_402, _) = raw(&small, &[]).await;
    assert_eq!(status, 402);
    assert_eq!(mpp_amount(&small_402), "5");
    // What the pricer was told: Aperture's path and request text, without credentials.
    assert_eq!(*p.last_path.lock().unwrap(), "/report");
    let text = p.last_text.lock().unwrap().clone();
    assert!(
        text.starts_with("GET /report?size=small HTTP/1.1\r\n"),
        "{text:?}"
    );
    assert!(text.contains("\r\nHost: 127.0.0.1:"), "{text:?}");

    // An L402 token bought for `small` (5 sat) serves `small` and is refused on `big`.
    let cred = pay_l402(&small_402, &h.buyer).await;
    assert_eq!(h.seller_msat(), 5_000, "the small invoice is 5 sat");
    let auth = cred.authorization();
    let (status, _, _) = raw(&small, &[("authorization", &auth)]).await;
    assert_eq!(status, 200);
    let (status, headers, body) = raw(&big, &[("authorization", &auth)]).await;
    assert_eq!(status, 402);
    assert_eq!(json_body(&body)["reason"], "price_not_covered", "{body:?}");
    assert_eq!(
        mpp_amount(&headers),
        "50",
        "a fresh challenge at the big price"
    );

    // An MPP charge paid for `small` is refused on `big`, served on `small`.
    let offer = mpp_challenges(&small_402).pop().unwrap().unwrap();
    let paid = h
        .buyer
        .pay_invoice(offer.invoice.as_deref().unwrap(), PayLimits::default())
        .await
        .unwrap();
    let mut payload = Map::new();
    payload.insert("preimage".into(), Value::String(hex::encode(paid.preimage)));
    let mpp =
        gate402_protocols::mpp::MppCredential::new(&offer.challenge, payload).to_header_value();
    let (status, _, body) = raw(&big, &[("authorization", &mpp)]).await;
    assert_eq!(status, 402);
    assert_eq!(json_body(&body)["reason"], "offer_mismatch", "{body:?}");
    let (status, _, _) = raw(&small, &[("authorization", &mpp)]).await;
    assert_eq!(status, 200);

    // The buyer client pays the big price and is served.
    let client = h.client("c", Policy::default());
    let r = client.send(&ClientRequest::get(big.clone())).await.unwrap();
    assert_eq!(r.response.status(), 200);
    assert_eq!(h.seller_msat(), 5_000 + 5_000 + 50_000);
    let ledger = h
        .store
        .ledger(&gate402::store::LedgerFilter::default())
        .await
        .unwrap();
    let mut prices: Vec<u64> = ledger.iter().map(|e| e.amount_msat).collect();
    prices.sort_unstable();
    assert_eq!(
        prices,
        [5_000, 5_000, 50_000],
        "the ledger records the dynamic prices"
    );

    // Prices are cached per key: two more unpaid `big` requests ask the pricer no more.
    let calls = p.calls();
    raw(&big, &[]).await;
    raw(&big, &[]).await;
    assert_eq!(p.calls(), calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_pricer_prices_challenges_and_binds_them() {
    priced_challenges_and_bound_credentials("grpc").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_pricer_prices_challenges_and_binds_them() {
    priced_challenges_and_bound_credentials("http").await;
}

/// 503 with `Retry-After` and the pricer's reason; nothing minted, nothing served.
async fn assert_unavailable(h: &Harness, reason: &str) {
    let (status, headers, body) = tokio::time::timeout(
        Duration::from_secs(10),
        raw(&h.url("/report?size=big"), &[]),
    )
    .await
    .expect("answered");
    assert_eq!(status, 503, "{reason}: {body:?}");
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(json_body(&body)["reason"], reason);
    assert!(
        headers.get("www-authenticate").is_none(),
        "no challenge at no price"
    );
}

async fn failures_answer_503(kind: &str) {
    let p = Pricing::new();
    let h = harness(kind, &pricer(kind, &p).await).await;
    // Distinct queries so that no cached price answers.
    let mut n = 0;
    let mut check = |mode: Mode, reason: &'static str| {
        p.set(mode);
        n += 1;
        let url = h.url(&format!("/report?size=big&n={n}"));
        let h = &h;
        async move {
            let (status, headers, body) =
                tokio::time::timeout(Duration::from_secs(10), raw(&url, &[]))
                    .await
                    .expect("answered within the test's bound");
            assert_eq!(status, 503, "{mode:?}: {body:?}");
            assert_eq!(headers["retry-after"], "7");
            assert_eq!(json_body(&body)["reason"], reason, "{mode:?}");
            assert!(headers.get("www-authenticate").is_none());
            let _ = h;
        }
    };
    check(Mode::Fixed(0), "pricer_invalid_price").await;
    check(Mode::Fixed(-5), "pricer_invalid_price").await;
    let garbage = if kind == "grpc" {
        "pricer_unavailable"
    } else {
        "pricer_invalid_price"
    };
    check(Mode::Garbage, garbage).await;
    check(Mode::Hang, "pricer_timeout").await;
    // A paid credential is not served free while the pricer cannot price it either.
    p.set(Mode::Table);
    let (_, small_402, _) = raw(&h.url("/report?size=small&x=1"), &[]).await;
    let cred = pay_l402(&small_402, &h.buyer).await;
    p.set(Mode::Fixed(0));
    let (status, _, _) = raw(
        &h.url("/report?size=small&x=2"),
        &[("authorization", &cred.authorization())],
    )
    .await;
    assert_eq!(status, 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_pricer_failures_answer_503_never_free() {
    failures_answer_503("grpc").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_pricer_failures_answer_503_never_free() {
    failures_answer_503("http").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pricer_that_is_down_answers_503() {
    for kind in ["grpc", "http"] {
        let h = harness(kind, &closed_url(kind).await).await;
        assert_unavailable(&h, "pricer_unavailable").await;
    }
}

#[test]
fn pricer_config_is_validated() {
    let base = CONFIG
        .replace("{UPSTREAM}", "http://127.0.0.1:1")
        .replace("{KIND}", "grpc")
        .replace("{URL}", "http://127.0.0.1:2");
    let check = |text: &str| {
        gate402::config::Config::from_toml(text)
            .and_then(|c| c.validate())
            .map_err(|e| e.to_string())
    };
    assert_eq!(check(&base), Ok(()));
    let cases = [
        (
            base.replace(
                "valid_for_secs = 3600",
                "valid_for_secs = 3600\nprice_sat = 5",
            ),
            "pricer",
        ),
        (
            base.replace(
                "timeout_ms = 400",
                "timeout_ms = 400\nhttp = \"http://h/p\"",
            ),
            "not both",
        ),
        (base.replace("http://127.0.0.1:2", "ftp://x"), "grpc"),
        (
            base.replace("timeout_ms = 400", "timeout_ms = 0"),
            "timeout_ms",
        ),
        (
            base.replace(
                "cache_ttl_secs = 60",
                "cache_ttl_secs = 60\nvary = [\"bad header\"]",
            ),
            "vary",
        ),
        (
            base.replace("cache_ttl_secs = 60", "cache_ttl_secs = 60\nfree = true"),
            "unknown field",
        ),
    ];
    for (text, want) in cases {
        let e = check(&text).unwrap_err();
        assert!(e.contains(want), "{want}: {e}");
    }
}
