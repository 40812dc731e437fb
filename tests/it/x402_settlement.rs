//! x402 settlement on the alloy rail: `https://` RPC and facilitator URLs through a TLS relay
//! (trusted through `[evm] ca_file`, refused without it), concurrent settlements from one
//! settler key, and settlements whose receipt came too late (or whose caller went away),
//! reconciled when the buyer retries the same payment.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use gate402_protocols::x402::evm::{self, Authorization};
use gate402_protocols::x402::wire::{decode_header, PaymentPayload};
use gate402_protocols::x402::{EvmPayment, EvmPrice};
use gate402_rails::evm::{
    EvmRail, ExactEvmBackend, HttpOptions, PaymentRef, PendingSettlement, SettlementKey, SettlerKey,
};
use gate402_tests::chain::Chain;
use gate402_tests::tls_relay::TlsRelay;
use gate402_tests::Harness;
use http::StatusCode;
use serde_json::{json, Value};

use super::x402_evm::{counting_upstream, pay_header, send, start, start_edited, PRICE};

/// Add `lines` to the `[evm]` section and set its confirmation timeout.
fn evm_lines(lines: String, confirm_secs: u64) -> impl FnOnce(String) -> String {
    move |c| {
        c.replace(
            "confirm_timeout_secs = 10\n",
            &format!("confirm_timeout_secs = {confirm_secs}\n{lines}\n"),
        )
    }
}

fn receipt_of(headers: &http::HeaderMap) -> Value {
    decode_header(headers["payment-response"].as_bytes(), "t").unwrap()
}

#[tokio::test]
async fn x402_https_rpc_url_trusted_through_ca_file() {
    let chain = Chain::start().await;
    let relay = TlsRelay::start(&chain.url).await;
    let (up, hits) = counting_upstream().await;
    let ca = format!("ca_file = \"{}\"", relay.ca_file.display());
    let edit = evm_lines(ca, 10);
    let (h, _d) = start_edited(&chain, &relay.url, &chain.keys[0], &up, edit).await;
    let pay = pay_header(&h, &chain, 1, "/evm/tls", |_| {}).await;
    let (status, headers, body) = send(&h, "/evm/tls", &pay).await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    assert_eq!(receipt_of(&headers)["success"], true);
    assert_eq!(chain.balance(&chain.address(2)).await, PRICE);
    // The same relay without its CA: the certificate is untrusted → 503, nothing served/paid.
    let (h2, _d2) = start(&chain, &relay.url, &chain.keys[0], &up).await;
    let pay = pay_header(&h2, &chain, 1, "/evm/tls", |_| {}).await;
    let (status, headers, _) = send(&h2, "/evm/tls", &pay).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "7");
    assert!(!headers.contains_key("payment-required"));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(chain.balance(&chain.address(2)).await, PRICE);
    chain.stop().await;
}

#[tokio::test]
async fn x402_https_facilitator_url_trusted_through_ca_file() {
    let chain = Chain::start().await;
    // gate402 #1: the built-in facilitator on the chain, behind a TLS relay.
    let dir = tempfile::tempdir().unwrap();
    let keyfile = dir.path().join("settler.key");
    gate402_tests::write_secret(&keyfile, &chain.keys[0]).unwrap();
    let fac = Harness::start_with(&format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://127.0.0.1:9\"\n\
         [lightning]\nbackend = \"simnet\"\n\
         [evm]\nchain_id = 31337\nrpc_url = \"{}\"\nsettler_key_file = \"{}\"\n\
         [facilitator]\nenabled = true\n",
        chain.url,
        keyfile.display()
    ))
    .await;
    let relay = TlsRelay::start(&format!("http://{}", fac.gateway.addr)).await;
    // gate402 #2: sells through `https://…/_gate402/facilitator`.
    let (up, hits) = counting_upstream().await;
    let fac_url = format!("{}/_gate402/facilitator", relay.url);
    let ca = relay.ca_file.display().to_string();
    let rpc_line = format!("rpc_url = \"{}\"", chain.url);
    let edit = move |c: String| {
        c.replace(
            &rpc_line,
            &format!("facilitator_url = \"{fac_url}\"\nca_file = \"{ca}\""),
        )
    };
    let (h, _d) = start_edited(&chain, &chain.url, &chain.keys[0], &up, edit).await;
    let pay = pay_header(&h, &chain, 1, "/evm/f", |_| {}).await;
    let (status, headers, body) = send(&h, "/evm/f", &pay).await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    let receipt = receipt_of(&headers);
    assert_eq!(receipt["success"], true);
    assert_eq!(receipt["transaction"].as_str().unwrap().len(), 66);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(chain.balance(&chain.address(2)).await, PRICE);
    chain.stop().await;
}

#[tokio::test]
async fn x402_concurrent_settlements_from_one_settler_key() {
    let chain = Chain::start().await;
    let (up, hits) = counting_upstream().await;
    let (h, _d) = start(&chain, &chain.url, &chain.keys[0], &up).await;
    let n = 12;
    let mut pays = Vec::new();
    for _ in 0..n {
        pays.push(pay_header(&h, &chain, 1, "/evm/par", |_| {}).await);
    }
    let h = Arc::new(h);
    let tasks: Vec<_> = pays
        .into_iter()
        .map(|pay| {
            let h = h.clone();
            tokio::spawn(async move { send(&h, "/evm/par", &pay).await })
        })
        .collect();
    let mut txs = std::collections::HashSet::new();
    for t in tasks {
        let (status, headers, body) = t.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body:?}");
        txs.insert(
            receipt_of(&headers)["transaction"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(txs.len(), n, "one transaction each");
    assert_eq!(hits.load(Ordering::SeqCst), n);
    assert_eq!(chain.balance(&chain.address(2)).await, PRICE * n as u128);
    chain.stop().await;
}

#[tokio::test]
async fn x402_unconfirmed_settlement_is_served_once_on_retry() {
    let chain = Chain::start().await;
    let (up, hits) = counting_upstream().await;
    let edit = evm_lines(String::new(), 1);
    let (h, _d) = start_edited(&chain, &chain.url, &chain.keys[0], &up, edit).await;
    let pay = pay_header(&h, &chain, 1, "/evm/p", |_| {}).await;
    // Blocks stop: the settlement is broadcast but gets no receipt within 1 s.
    chain.rpc.call_ok("evm_setAutomine", json!([false])).await;
    let (status, headers, _) = send(&h, "/evm/p", &pay).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "7");
    assert!(!headers.contains_key("payment-required"));
    assert_eq!(hits.load(Ordering::SeqCst), 1, "answered, but withheld");
    // A retry while it is still unconfirmed: 503 again, the upstream is not asked.
    let (status, _, _) = send(&h, "/evm/p", &pay).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(chain.balance(&chain.address(2)).await, 0);
    // It lands; the retry is served with the original transaction, exactly once.
    chain.rpc.call_ok("evm_mine", json!([])).await;
    let (status, headers, body) = send(&h, "/evm/p", &pay).await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    assert_eq!(&body[..], b"paid content");
    let receipt = receipt_of(&headers);
    assert_eq!(receipt["success"], true);
    assert_eq!(receipt["transaction"].as_str().unwrap().len(), 66);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    let (status, headers, _) = send(&h, "/evm/p", &pay).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(headers["gate402-reason"], "replayed");
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert_eq!(chain.balance(&chain.address(2)).await, PRICE);
    chain.stop().await;
}

/// A payment signed by dev account #1 for `price`.
fn signed(chain: &Chain, price: &EvmPrice) -> EvmPayment {
    let now = gate402::clock::now_unix();
    let authorization = Authorization {
        from: chain.address(1),
        to: price.pay_to,
        value: price.amount,
        valid_after: now - 5,
        valid_before: now + 600,
        nonce: rand::random(),
    };
    let signature = evm::sign(
        &chain.key(1),
        &authorization.digest(&price.domain().separator()),
    );
    EvmPayment {
        authorization,
        signature: signature.to_vec(),
    }
}

#[tokio::test]
async fn x402_settlement_dropped_while_waiting_is_kept_and_reconciled() {
    let chain = Chain::start().await;
    let settler = SettlerKey::from_hex(&chain.keys[0]).unwrap();
    let http = HttpOptions::new(Duration::from_secs(5));
    let rail = Arc::new(
        EvmRail::new(
            &chain.url,
            31337,
            Some(settler),
            &http,
            Duration::from_secs(60),
        )
        .unwrap(),
    );
    let price = EvmPrice {
        chain_id: 31337,
        asset: chain.token,
        pay_to: chain.address(2),
        amount: PRICE,
        max_timeout_secs: 600,
        name: "USD Coin".into(),
        version: "2".into(),
    };
    let payment = signed(&chain, &price);
    let payload: PaymentPayload =
        serde_json::from_value(json!({"x402Version": 2, "payload": payment.to_payload()})).unwrap();
    chain.rpc.call_ok("evm_setAutomine", json!([false])).await;
    let task = {
        let (rail, price, payment, payload) = (
            rail.clone(),
            price.clone(),
            payment.clone(),
            payload.clone(),
        );
        tokio::spawn(async move {
            let r = PaymentRef {
                price: &price,
                payment: &payment,
                payload: &payload,
            };
            rail.settle(r).await
        })
    };
    // Wait (bounded) until the node holds the settlement in its pool, then drop the waiting
    // caller (the rail records it only when its caller stops waiting).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        assert!(tokio::time::Instant::now() < deadline, "never broadcast");
        let status = chain.rpc.call_ok("txpool_status", json!([])).await;
        if status["pending"].as_str().is_some_and(|n| n != "0x0")
            || status["pending"].as_u64().is_some_and(|n| n > 0)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    let kept = rail.journal().list().await.unwrap();
    assert_eq!(kept.len(), 1, "the broadcast settlement is not forgotten");
    let r = PaymentRef {
        price: &price,
        payment: &payment,
        payload: &payload,
    };
    // Its lease ends as the dropped caller's guard runs; then a retry owns it.
    let still = loop {
        assert!(tokio::time::Instant::now() < deadline, "lease never ended");
        match rail.reconcile(r).await {
            Ok(None) => tokio::time::sleep(Duration::from_millis(5)).await,
            Ok(Some(s)) => panic!("landed without a block: {s:?}"),
            Err(e) => break e,
        }
    };
    assert_eq!(still.reason, "settlement_pending");
    chain.rpc.call_ok("evm_mine", json!([])).await;
    let settled = rail.reconcile(r).await.unwrap().expect("landed");
    assert_eq!(settled.transaction, kept[0].transaction);
    rail.forget(r).await;
    assert!(rail.journal().list().await.unwrap().is_empty());
    assert_eq!(rail.reconcile(r).await.unwrap(), None, "served once");
    assert_eq!(chain.balance(&chain.address(2)).await, PRICE);
    // A recorded transaction the node never saw, whose nonce slot another transaction has
    // taken since, can never land: released (refused, the payment may be presented again),
    // not kept at 503 forever.
    let other = signed(&chain, &price);
    let unknown = PendingSettlement {
        key: SettlementKey {
            token: chain.token,
            from: other.authorization.from,
            nonce: other.authorization.nonce,
        },
        transaction: format!("0x{}", "ab".repeat(32)),
        raw: Vec::new(),
        tx_nonce: 0,
        valid_before: other.authorization.valid_before,
        broadcast_at: 0,
        tag: String::new(),
    };
    rail.journal().begin(&unknown, 0).await.unwrap();
    let r = PaymentRef {
        price: &price,
        payment: &other,
        payload: &payload,
    };
    let e = rail.reconcile(r).await.unwrap_err();
    assert_eq!(e.reason, "settlement_not_found");
    assert!(!e.retryable());
    assert!(rail.journal().list().await.unwrap().is_empty());
    chain.stop().await;
}
