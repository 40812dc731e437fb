//! The paid path's fast lane (`gateway/src/paywall/fast.rs`): a reused L402 token decided in
//! the layer's `call`, without the full path. Its decisions must be the full path's: served
//! with the credentials stripped, refused once revoked, its body bounded, quotas counted, and
//! anything it cannot decide left to the full path.

use std::sync::Arc;

use bytes::Bytes;
use gate402::{config::Config, server, store, store::StoreOptions};
use gate402_protocols::l402::L402;
use gate402_tests::{json_body, raw, serve, upstream_app, Harness, SECRET};
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use sha2::{Digest, Sha256};

use crate::rejections::{auth, paid_token};

/// `api` as in the harness, `quota` sold for two uses, bodies bounded at 64 bytes.
fn config(upstream: std::net::SocketAddr) -> String {
    format!(
        r#"
        [server]
        listen = "127.0.0.1:0"
        upstream = "http://{upstream}"
        [server.limits]
        max_body_bytes = 64
        [lightning]
        backend = "simnet"
        [[route]]
        name = "api"
        path_prefix = "/api/"
        price_sat = 10
        capabilities = ["read"]
        valid_for_secs = 3600
        [[route]]
        name = "quota"
        path_prefix = "/quota/"
        price_sat = 10
        capabilities = ["read"]
        valid_for_secs = 3600
        uses = 2
        "#
    )
}

/// POST `body` with `authorization` (a declared length: hyper sends `Content-Length`).
async fn post(url: &http::Uri, authorization: &str, body: &[u8]) -> (u16, Bytes) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = http::Request::post(url.clone())
        .header("authorization", authorization)
        .body(Full::new(Bytes::copy_from_slice(body)))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.into_body().collect().await.unwrap().to_bytes())
}

#[tokio::test]
async fn a_reused_token_gets_the_decisions_of_the_full_path() {
    // The harness's network and nodes, and a gateway built here to reach its paywall.
    let upstream = serve(upstream_app()).await;
    let h = Harness::start_with(&config(upstream)).await;
    let config = Config::from_toml(&config(upstream)).unwrap();
    let store = store::open(&StoreOptions::sqlite(h.dir.path().join("fast.sqlite")))
        .await
        .unwrap();
    let paywall =
        server::paywall_with_secret(&config, Arc::new(h.seller.clone()), &SECRET).unwrap();
    let paywall = Arc::new(
        server::attach_store(paywall, store.clone(), config.store.revocation_refresh())
            .await
            .unwrap(),
    );
    let router = server::router(&config, paywall.clone()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gw = server::spawn(listener, router).unwrap();
    let url = |p: &str| -> http::Uri { format!("http://{}{p}", gw.addr).parse().unwrap() };

    let now = gate402::clock::now_unix();
    let (mac, pre) = paid_token(&h, "api", now).await;
    let a = auth(&mac, &pre);
    // First use (full path: verified, recorded), then reuses (the fast lane): the same answer.
    for i in 0..4 {
        let (status, headers, body) = raw(&url("/api/x"), &[("authorization", &a)]).await;
        assert_eq!(status, 200, "use {i}");
        let echo = json_body(&body);
        assert_eq!(echo["authorization"], serde_json::Value::Null, "use {i}");
        // L402 adds no receipt header: nothing to expose to cross-origin pages.
        assert!(!headers.contains_key("access-control-expose-headers"));
    }
    // Another credential header beside the token: the full path decides, and every
    // credential header is stripped before the upstream.
    let (status, _, body) = raw(
        &url("/api/x"),
        &[
            ("authorization", &a),
            ("x-payment", "e30="),
            ("macaroon", "AgE"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let names = json_body(&body)["header_names"].clone();
    for stripped in ["authorization", "x-payment", "macaroon"] {
        assert!(
            !names.as_array().unwrap().iter().any(|n| n == stripped),
            "{stripped} reached the upstream: {names}"
        );
    }
    // A body within the limit goes upstream; one over it is refused before it is read.
    let (status, body) = post(&url("/api/x"), &a, b"small").await;
    assert_eq!(
        (status, json_body(&body)["body"].as_str()),
        (200, Some("small"))
    );
    let (status, body) = post(&url("/api/x"), &a, &[b'x'; 100]).await;
    assert_eq!(
        (status, json_body(&body)["reason"].as_str()),
        (413, Some("body_too_large"))
    );

    // Sold by the use: the quota is counted on every use, cached or not.
    let (qmac, qpre) = paid_token(&h, "quota", now).await;
    let q = auth(&qmac, &qpre);
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            raw(&url("/quota/x"), &[("authorization", &q)])
                .await
                .0
                .as_u16(),
        );
    }
    assert_eq!(statuses, [200, 200, 402]);

    // Revoked: refused at once with a fresh challenge, although verified and cached.
    let hash: [u8; 32] = Sha256::digest(pre).into();
    let token_id = L402::new(&SECRET).unwrap().token_id_for(&hash);
    let revocations = paywall.revocations().unwrap();
    assert!(revocations.revoke(&*store, &token_id).await.unwrap());
    let (status, headers, _) = raw(&url("/api/x"), &[("authorization", &a)]).await;
    assert_eq!(status, 402);
    assert_eq!(headers["gate402-reason"], "revoked");
    assert!(headers.contains_key("www-authenticate"));
}
