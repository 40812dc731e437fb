//! MPP wire rules through the real gateway: challenges bound to the request body (`digest`),
//! oversized bodies (413), and the 400 answers of the problem table (unsupported method or
//! intent, several `Payment` credentials).

use axum::body::Bytes;
use gate402_protocols::mpp::{
    client::parse_challenges, problem, BodyDigest, MppCredential, MppOffer,
};
use gate402_rails::{LightningRail as _, PayLimits};
use gate402_tests::{json_body, raw, Harness};
use http::{HeaderMap, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client as HyperClient, rt::TokioExecutor};
use serde_json::{Map, Value};

async fn post(url: &Uri, headers: &[(&str, &str)], body: &[u8]) -> (StatusCode, HeaderMap, Bytes) {
    let client = HyperClient::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = http::Request::builder().method("POST").uri(url.clone());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = client
        .request(req.body(Full::new(Bytes::copy_from_slice(body))).unwrap())
        .await
        .unwrap();
    let (parts, body) = resp.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

fn charge(headers: &HeaderMap) -> MppOffer {
    parse_challenges(headers)
        .into_iter()
        .map(Result::unwrap)
        .find(MppOffer::is_lightning_charge)
        .unwrap()
}

async fn pay(h: &Harness, offer: &MppOffer) -> String {
    let paid = h
        .buyer
        .pay_invoice(offer.invoice.as_deref().unwrap(), PayLimits::default())
        .await
        .unwrap();
    let mut p = Map::new();
    p.insert("preimage".into(), Value::String(hex::encode(paid.preimage)));
    MppCredential::new(&offer.challenge, p).to_header_value()
}

#[tokio::test]
async fn a_challenge_for_a_body_pays_for_that_body_only() {
    let h = Harness::start_mpp().await;
    let body = br#"{"query":"paid"}"#;
    let (status, headers, _) = post(&h.url("/api/q"), &[], body).await;
    assert_eq!(status, 402);
    let offers: Vec<_> = parse_challenges(&headers)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let digest = BodyDigest::of(body).header_value();
    assert!(
        offers
            .iter()
            .all(|o| o.challenge.digest.as_deref() == Some(digest.as_str())),
        "every MPP challenge carries the body digest"
    );
    let offer = charge(&headers);
    let auth = pay(&h, &offer).await;
    // Another body with the same credential: refused with a fresh challenge for that body.
    let (status, headers, b) = post(&h.url("/api/q"), &[("authorization", &auth)], b"{}").await;
    assert_eq!(status, 402, "{b:?}");
    assert_eq!(json_body(&b)["reason"], "unknown_challenge");
    assert_eq!(
        charge(&headers).challenge.digest,
        Some(BodyDigest::of(b"{}").header_value())
    );
    // No body: refused too.
    let (status, _, _) = raw(&h.url("/api/q"), &[("authorization", &auth)]).await;
    assert_eq!(status, 402);
    // The body it was issued for: served, body forwarded intact.
    let (status, _, b) = post(&h.url("/api/q"), &[("authorization", &auth)], body).await;
    assert_eq!(status, 200, "{b:?}");
    assert_eq!(json_body(&b)["body"], r#"{"query":"paid"}"#);
    // A body-less challenge does not pay for a request with a body.
    let (_, headers, _) = raw(&h.url("/api/r"), &[]).await;
    let bare = charge(&headers);
    assert_eq!(bare.challenge.digest, None);
    let auth = pay(&h, &bare).await;
    let (status, _, _) = post(&h.url("/api/r"), &[("authorization", &auth)], body).await;
    assert_eq!(status, 402);
    let (status, _, _) = raw(&h.url("/api/r"), &[("authorization", &auth)]).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn bodies_over_the_limit_answer_413_before_anything_is_minted() {
    let h = Harness::start_mpp().await;
    let limit = h.config.mpp.max_body_bytes;
    let big = vec![b'x'; limit + 1];
    let (status, headers, body) = post(&h.url("/api/big"), &[], &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json_body(&body)["reason"], "body_too_large");
    assert!(!headers.contains_key("www-authenticate"));
    // At the limit: an ordinary 402.
    let (status, _, _) = post(&h.url("/api/big"), &[], &big[..limit]).await;
    assert_eq!(status, 402);
    // Free routes are not buffered or limited.
    let (status, _, _) = post(&h.url("/free/x"), &[], &big).await;
    assert_ne!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn unsupported_method_or_intent_and_several_credentials_answer_400() {
    let h = Harness::start_mpp().await;
    let (_, headers, _) = raw(&h.url("/api/x"), &[]).await;
    let offer = charge(&headers);
    let auth = pay(&h, &offer).await;
    let mut p = Map::new();
    p.insert("preimage".into(), Value::String("00".repeat(32)));
    for (method, intent) in [("tempo", "charge"), ("lightning", "subscription")] {
        let mut c = offer.challenge.clone();
        c.method = method.into();
        c.intent = intent.into();
        let v = MppCredential::new(&c, p.clone()).to_header_value();
        let (status, headers, body) = raw(&h.url("/api/x"), &[("authorization", &v)]).await;
        assert_eq!(status, 400, "{method}/{intent}");
        let body = json_body(&body);
        assert_eq!(body["type"], problem::METHOD_UNSUPPORTED);
        assert_eq!(body["reason"], "method_unsupported");
        assert!(
            !headers.contains_key("www-authenticate"),
            "no challenge on 400"
        );
    }
    // Two Payment credentials (here: the paid one twice, in two headers): 400 bad-request,
    // and the credential is not consumed.
    let (status, headers, body) = raw(
        &h.url("/api/x"),
        &[("authorization", &auth), ("payment-authorization", &auth)],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(json_body(&body)["type"], problem::BAD_REQUEST);
    assert!(!headers.contains_key("www-authenticate"));
    let (status, _, _) = raw(&h.url("/api/x"), &[("authorization", &auth)]).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_challenge_for_another_route_is_invalid_challenge() {
    let h = Harness::start_mpp().await;
    let (_, headers, _) = raw(&h.url("/api/x"), &[]).await;
    let offer = charge(&headers);
    let auth = pay(&h, &offer).await;
    let (status, headers, body) = raw(&h.url("/other/x"), &[("authorization", &auth)]).await;
    assert_eq!(status, 402);
    assert_eq!(json_body(&body)["type"], problem::INVALID_CHALLENGE);
    assert!(headers.contains_key("www-authenticate"));
}
