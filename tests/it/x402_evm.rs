//! x402 `exact` on a real anvil chain through the gateway: pay, settle, receipt; replay (twice
//! and 20 concurrent copies → served once); refusals with reasons; RPC down → 503; a failed
//! settlement withholds the upstream response.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::{routing::get, Router};
use gate402_protocols::x402::evm::{self, Authorization};
use gate402_protocols::x402::wire::decode_header;
use gate402_protocols::x402::{EvmPayment, X402};
use gate402_protocols::{ClientChallenge, PaymentProof, PaymentProtocol};
use gate402_tests::chain::Chain;
use gate402_tests::{json_body, raw, serve, Harness};
use http::{HeaderMap, StatusCode};
use serde_json::Value;

/// Gateway config for an x402 EVM route; placeholders filled by [`start`].
pub const X402_CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
upstream = "{UPSTREAM}"
upstream_timeout_secs = 5
retry_after_secs = 7

[lightning]
backend = "simnet"

[evm]
chain_id = 31337
rpc_url = "{RPC}"
settler_key_file = "{KEYFILE}"
rpc_timeout_secs = 5
confirm_timeout_secs = 10

[[route]]
name = "evm"
path_prefix = "/evm/"
price_sat = 10
protocols = ["l402", "x402"]
x402 = { network = "eip155:31337", asset = "{TOKEN}", pay_to = "{PAYEE}", amount = "10000", lightning = true }
"#;

/// The price of `/evm/` in token units.
pub const PRICE: u128 = 10_000;

/// An upstream that counts its hits.
pub async fn counting_upstream() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app = Router::new().fallback(get(move || {
        let h = h.clone();
        async move {
            h.fetch_add(1, Ordering::SeqCst);
            "paid content"
        }
    }));
    (format!("http://{}", serve(app).await), hits)
}

/// Start a gateway on `chain` settling with `settler_key` (hex) and RPC `rpc`.
pub async fn start(
    chain: &Chain,
    rpc: &str,
    settler_key: &str,
    upstream: &str,
) -> (Harness, tempfile::TempDir) {
    start_edited(chain, rpc, settler_key, upstream, |c| c).await
}

/// [`start`] with the config text passed through `edit` first.
pub async fn start_edited(
    chain: &Chain,
    rpc: &str,
    settler_key: &str,
    upstream: &str,
    edit: impl FnOnce(String) -> String,
) -> (Harness, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let keyfile = dir.path().join("settler.key");
    gate402_tests::write_secret(&keyfile, settler_key).unwrap();
    let cfg = X402_CONFIG
        .replace("{UPSTREAM}", upstream)
        .replace("{RPC}", rpc)
        .replace("{KEYFILE}", keyfile.to_str().unwrap())
        .replace("{TOKEN}", &evm::checksum(&chain.token))
        .replace("{PAYEE}", &evm::checksum(&chain.address(2)));
    (Harness::start_with(&edit(cfg)).await, dir)
}

/// Get a 402 for `path`, sign its EVM entry with dev account `signer` after `edit`.
pub async fn pay_header(
    h: &Harness,
    chain: &Chain,
    signer: usize,
    path: &str,
    edit: impl Fn(&mut Authorization),
) -> HeaderMap {
    let (status, headers, body) = raw(&h.url(path), &[]).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    assert!(
        headers.contains_key("www-authenticate"),
        "L402 offered alongside"
    );
    let proto = X402::new([]);
    let ch = proto
        .parse_challenges(&headers, &body)
        .into_iter()
        .map(Result::unwrap)
        .find(|c| matches!(c, ClientChallenge::X402(x) if !x.is_lightning()))
        .expect("an EVM entry");
    let ClientChallenge::X402(c) = &ch else {
        unreachable!()
    };
    let key = chain.key(signer);
    let nonce: [u8; 32] = rand::random();
    let (mut auth, domain) = c
        .authorization(evm::address_of_key(&key), nonce, gate402::clock::now_unix())
        .unwrap();
    edit(&mut auth);
    let sig = evm::sign(&key, &auth.digest(&domain.separator()));
    let proof = PaymentProof::Evm(EvmPayment {
        authorization: auth,
        signature: sig.to_vec(),
    });
    let (k, v) = proto.credential_header(&ch, &proof).unwrap();
    let mut out = HeaderMap::new();
    out.insert(k, v);
    out
}

pub async fn send(
    h: &Harness,
    path: &str,
    pay: &HeaderMap,
) -> (StatusCode, HeaderMap, bytes::Bytes) {
    let hv: Vec<(&str, &str)> = pay
        .iter()
        .map(|(k, v)| (k.as_str(), v.to_str().unwrap()))
        .collect();
    raw(&h.url(path), &hv).await
}

#[tokio::test]
async fn x402_evm_pays_settles_once_and_refuses_replay() {
    let chain = Chain::start().await;
    let (up, hits) = counting_upstream().await;
    let (h, _d) = start(&chain, &chain.url, &chain.keys[0], &up).await;
    let payee = chain.address(2);
    let pay = pay_header(&h, &chain, 1, "/evm/a", |_| {}).await;
    let (status, headers, body) = send(&h, "/evm/a", &pay).await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    assert_eq!(&body[..], b"paid content");
    let receipt: Value = decode_header(headers["payment-response"].as_bytes(), "t").unwrap();
    assert_eq!(receipt["success"], true);
    assert_eq!(receipt["network"], "eip155:31337");
    assert_eq!(receipt["payer"], evm::checksum(&chain.address(1)));
    assert_eq!(receipt["transaction"].as_str().unwrap().len(), 66);
    assert_eq!(chain.balance(&payee).await, PRICE);
    // The same PAYMENT-SIGNATURE again: refused before the upstream, nothing settled.
    let (status, headers, _) = send(&h, "/evm/a", &pay).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(headers["gate402-reason"], "replayed");
    assert!(
        headers.contains_key("payment-required"),
        "a fresh challenge"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(chain.balance(&payee).await, PRICE);
    chain.stop().await;
}

#[tokio::test]
async fn x402_twenty_concurrent_copies_are_served_once() {
    let chain = Chain::start().await;
    let (up, hits) = counting_upstream().await;
    let (h, _d) = start(&chain, &chain.url, &chain.keys[0], &up).await;
    let pay = pay_header(&h, &chain, 1, "/evm/c", |_| {}).await;
    let h = Arc::new(h);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (h, pay) = (h.clone(), pay.clone());
            tokio::spawn(async move { send(&h, "/evm/c", &pay).await.0 })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        let s = t.await.unwrap();
        assert!(
            s == StatusCode::OK || s == StatusCode::PAYMENT_REQUIRED,
            "{s}"
        );
        ok += usize::from(s == StatusCode::OK);
    }
    assert_eq!(ok, 1);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(chain.balance(&chain.address(2)).await, PRICE);
    chain.stop().await;
}

#[tokio::test]
async fn x402_refusals_carry_reasons_and_never_reach_upstream() {
    let chain = Chain::start().await;
    let (up, hits) = counting_upstream().await;
    let (h, _d) = start(&chain, &chain.url, &chain.keys[0], &up).await;
    let future = gate402::clock::now_unix() + 3600;
    type Edit = Box<dyn Fn(&mut Authorization)>;
    let cases: Vec<(&str, usize, Edit)> = vec![
        ("amount_mismatch", 1, Box::new(|a| a.value = PRICE - 1)),
        ("pay_to_mismatch", 1, Box::new(|a| a.to = [7; 20])),
        ("expired", 1, Box::new(|a| a.valid_before = 1_000)),
        (
            "not_yet_valid",
            1,
            Box::new(move |a| a.valid_after = future),
        ),
        // Signed by #1 but claiming to be from another address.
        ("invalid_signature", 1, Box::new(|a| a.from = [2; 20])),
        // Account #3 holds no tokens: the chain simulation refuses it.
        ("insufficient_funds", 3, Box::new(|_| {})),
    ];
    for (reason, signer, edit) in cases {
        let pay = pay_header(&h, &chain, signer, "/evm/r", edit).await;
        let (status, headers, body) = send(&h, "/evm/r", &pay).await;
        assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{reason}");
        assert_eq!(headers["gate402-reason"], reason);
        assert_eq!(json_body(&body)["reason"], reason);
    }
    for bad in ["!!!", "eyJ4NDAyVmVyc2lvbiI6Mn0="] {
        let (status, headers, _) = raw(&h.url("/evm/r"), &[("payment-signature", bad)]).await;
        assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
        let r = headers["gate402-reason"].to_str().unwrap();
        assert!(["invalid_base64", "invalid_json"].contains(&r), "{r}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    assert_eq!(chain.balance(&chain.address(2)).await, 0);
    chain.stop().await;
}

#[tokio::test]
async fn x402_rpc_down_is_503_never_200() {
    let chain = Chain::start().await;
    let (up, hits) = counting_upstream().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (h, _d) = start(&chain, &dead, &chain.keys[0], &up).await;
    let pay = pay_header(&h, &chain, 1, "/evm/d", |_| {}).await;
    let (status, headers, _) = send(&h, "/evm/d", &pay).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "7");
    assert!(
        !headers.contains_key("payment-required"),
        "no challenge to pay again"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    chain.stop().await;
}

#[tokio::test]
async fn x402_failed_settlement_withholds_the_upstream_response() {
    let chain = Chain::start().await;
    let (up, hits) = counting_upstream().await;
    // A settler with no ETH for gas: verification passes, the settlement transaction cannot.
    let broke = format!("0x{}", hex::encode([0x42u8; 32]));
    let (h, _d) = start(&chain, &chain.url, &broke, &up).await;
    let pay = pay_header(&h, &chain, 1, "/evm/s", |_| {}).await;
    let (status, headers, body) = send(&h, "/evm/s", &pay).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(&body[..], b"{}", "upstream body withheld");
    let receipt: Value = decode_header(headers["payment-response"].as_bytes(), "t").unwrap();
    assert_eq!(receipt["success"], false);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(chain.balance(&chain.address(2)).await, 0);
    chain.stop().await;
}

#[tokio::test]
async fn x402_v1_body_challenge_and_x_payment() {
    let chain = Chain::start().await;
    let (up, hits) = counting_upstream().await;
    let (h, _d) = start(&chain, &chain.url, &chain.keys[0], &up).await;
    let (status, _, body) = raw(&h.url("/evm/v1"), &[]).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    let v = json_body(&body);
    assert_eq!(v["x402Version"], 1);
    assert_eq!(v["accepts"][0]["maxAmountRequired"], "10000");
    assert_eq!(v["accepts"][0]["network"], "eip155:31337");
    // A v1 client reads only the body.
    let proto = X402::new([]);
    let ch = proto
        .parse_challenges(&HeaderMap::new(), &body)
        .remove(0)
        .unwrap();
    let ClientChallenge::X402(c) = &ch else {
        unreachable!()
    };
    assert_eq!(c.version, 1);
    let key = chain.key(1);
    let (auth, domain) = c
        .authorization(
            evm::address_of_key(&key),
            rand::random(),
            gate402::clock::now_unix(),
        )
        .unwrap();
    let sig = evm::sign(&key, &auth.digest(&domain.separator()));
    let proof = PaymentProof::Evm(EvmPayment {
        authorization: auth,
        signature: sig.to_vec(),
    });
    let (k, val) = proto.credential_header(&ch, &proof).unwrap();
    assert_eq!(k.as_str(), "x-payment");
    let (status, headers, _) =
        raw(&h.url("/evm/v1"), &[("x-payment", val.to_str().unwrap())]).await;
    assert_eq!(status, StatusCode::OK);
    let receipt: Value = decode_header(headers["x-payment-response"].as_bytes(), "t").unwrap();
    assert_eq!(receipt["success"], true);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(chain.balance(&chain.address(2)).await, PRICE);
    chain.stop().await;
}

/// Regression: fees must not spiral across many settlements (a 2× `eth_gasPrice` policy made
/// anvil's oracle grow until the settler could not pay gas after ~30 transactions).
#[tokio::test]
async fn x402_many_sequential_settlements() {
    let chain = Chain::start().await;
    let (up, hits) = counting_upstream().await;
    let (h, _d) = start(&chain, &chain.url, &chain.keys[0], &up).await;
    let n = 60;
    for _ in 0..n {
        let pay = pay_header(&h, &chain, 1, "/evm/many", |_| {}).await;
        let (status, _, body) = send(&h, "/evm/many", &pay).await;
        assert_eq!(status, StatusCode::OK, "{body:?}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), n);
    assert_eq!(chain.balance(&chain.address(2)).await, PRICE * n as u128);
    chain.stop().await;
}
