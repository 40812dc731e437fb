//! The EVM node (anvil) and the upstream fail under x402 `exact` payments: the node down
//! (before and during a settlement, through a relay that cuts it off), a settlement's block
//! reorganised away (ridden out with `confirmations = 2`: sent again, confirmed, served
//! once), a nonce gap after the node's mempool is flushed (resynchronised; the lost
//! settlement released, not stuck), a settlement left behind by one gateway reconciled by
//! another sharing the store, and upstream failures (nothing settled, served once later).
//! Money moves once per payment, the ledger agrees with the chain, no unpaid 200.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::{routing::get, Router};
use gate402::server;
use gate402::store::{LedgerFilter, PaymentState};
use gate402_protocols::x402::wire::decode_header;
use gate402_tests::chain::{parse_quantity, Chain};
use gate402_tests::relay::Relay;
use gate402_tests::{eventually, json_body, serve, Harness, SECRET};
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use super::{ledger, Mode, Upstream};
use crate::x402_evm::{pay_header, send, start_edited, PRICE};

/// `[evm]` and `[server]` edits: confirmation timeout, extra `[evm]` lines, upstream timeout.
fn edits(confirm_secs: u64, evm_extra: &str) -> impl FnOnce(String) -> String + '_ {
    move |c| {
        c.replace(
            "confirm_timeout_secs = 10\n",
            &format!("confirm_timeout_secs = {confirm_secs}\n{evm_extra}\n"),
        )
        .replace("upstream_timeout_secs = 5", "upstream_timeout_secs = 2")
    }
}

fn tx_of(headers: &HeaderMap) -> String {
    let v: Value = decode_header(headers["payment-response"].as_bytes(), "t").unwrap();
    v["transaction"].as_str().unwrap().to_string()
}

/// The settled x402 rows of the ledger are exactly `txs`, and the payee holds one price each.
async fn ledger_agrees(h: &Harness, chain: &Chain, txs: &[String]) {
    let rows = ledger(&*h.store).await;
    let mut refs: Vec<_> = rows.iter().map(|p| p.reference.clone()).collect();
    let mut want = txs.to_vec();
    refs.sort();
    want.sort();
    assert_eq!(refs, want, "{rows:?}");
    assert_eq!(
        chain.balance(&chain.address(2)).await,
        PRICE * txs.len() as u128
    );
    for tx in txs {
        let r = chain
            .rpc
            .call_ok("eth_getTransactionReceipt", json!([tx]))
            .await;
        assert_eq!(parse_quantity(&r["status"]), Some(1), "{tx} landed");
    }
}

#[tokio::test]
async fn evm_node_down_is_503_and_the_payment_is_served_once_it_is_back() {
    let chain = Chain::start().await;
    let relay = Relay::start(chain.url.trim_start_matches("http://").parse().unwrap()).await;
    // An upstream that cuts the node off while it answers the first paid request: the node
    // goes away between verification and settlement.
    let hits = Arc::new(AtomicUsize::new(0));
    let (h2, r2) = (hits.clone(), relay.clone());
    let app = Router::new().fallback(get(move || {
        let (h, r) = (h2.clone(), r2.clone());
        async move {
            if h.fetch_add(1, Ordering::SeqCst) == 0 {
                r.set_up(false);
            }
            "paid content"
        }
    }));
    let up = format!("http://{}", serve(app).await);
    let rpc = format!("http://{}", relay.addr);
    let (h, _d) = start_edited(&chain, &rpc, &chain.keys[0], &up, edits(10, "")).await;
    let pay = pay_header(&h, &chain, 1, "/evm/a", |_| {}).await;

    // Down during the request: answered upstream, not settled, withheld: 503.
    let (status, headers, body) = send(&h, "/evm/a", &pay).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body:?}");
    assert_eq!(headers["retry-after"], "7");
    assert!(!headers.contains_key("payment-required"));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    // Down before: refused at verification, the upstream is not asked.
    let (status, headers, _) = send(&h, "/evm/a", &pay).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(chain.balance(&chain.address(2)).await, 0);

    relay.set_up(true);
    let (status, headers, body) = send(&h, "/evm/a", &pay).await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    let tx = tx_of(&headers);
    let (status, headers, _) = send(&h, "/evm/a", &pay).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(headers["gate402-reason"], "replayed");
    ledger_agrees(&h, &chain, &[tx]).await;
    chain.stop().await;
}

#[tokio::test]
async fn evm_reorg_of_a_settlement_block_is_ridden_out_and_served_once() {
    let chain = Chain::start().await;
    let up = Upstream::start().await;
    let (h, _d) = start_edited(
        &chain,
        &chain.url,
        &chain.keys[0],
        &up.url,
        edits(30, "confirmations = 2"),
    )
    .await;
    let pay = pay_header(&h, &chain, 1, "/evm/r", |_| {}).await;
    let snapshot = chain.rpc.call_ok("evm_snapshot", json!([])).await;
    let head = parse_quantity(&chain.rpc.call_ok("eth_blockNumber", json!([])).await).unwrap();
    let h = Arc::new(h);
    let task = {
        let (h, pay) = (h.clone(), pay.clone());
        tokio::spawn(async move { send(&h, "/evm/r", &pay).await })
    };
    // The settlement is mined (automine) in block head+1; the gateway waits for one more.
    let block = eventually(20, "the settlement mined", || async {
        let b = chain
            .rpc
            .call_ok(
                "eth_getBlockByNumber",
                json!([format!("0x{:x}", head + 1), false]),
            )
            .await;
        b["transactions"][0].as_str().map(str::to_string)
    })
    .await;
    // That block is reorganised away: the chain goes back to before it.
    assert_eq!(
        chain.rpc.call_ok("evm_revert", json!([snapshot])).await,
        true
    );
    assert_eq!(
        chain.balance(&chain.address(2)).await,
        0,
        "the transfer is undone"
    );
    // The gateway notices and sends the signed transaction again; mined again, then
    // confirmed by one more block.
    eventually(20, "the settlement mined again", || async {
        let r = chain
            .rpc
            .call_ok("eth_getTransactionReceipt", json!([block]))
            .await;
        (!r.is_null()).then_some(())
    })
    .await;
    assert!(!task.is_finished(), "released before its confirmation");
    chain.rpc.call_ok("evm_mine", json!([])).await;
    let (status, headers, body) = task.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body:?}");
    assert_eq!(tx_of(&headers), block, "the same signed transaction");
    assert_eq!(up.hits(), 1);
    ledger_agrees(&h, &chain, &[block]).await;
    chain.stop().await;
}

#[tokio::test]
async fn evm_nonce_gap_after_a_mempool_flush_is_resynchronised_and_nothing_is_lost() {
    let chain = Chain::start().await;
    let up = Upstream::start().await;
    let (h, _d) = start_edited(&chain, &chain.url, &chain.keys[0], &up.url, edits(1, "")).await;
    let first = pay_header(&h, &chain, 1, "/evm/n", |_| {}).await;
    let second = pay_header(&h, &chain, 1, "/evm/n", |_| {}).await;
    // No blocks: the first settlement is sent (nonce n) but not confirmed in 1 s.
    chain.rpc.call_ok("evm_setAutomine", json!([false])).await;
    let (status, _, _) = send(&h, "/evm/n", &first).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    // The node loses its mempool: nonce n is free again, the gateway's counter says n+1.
    chain
        .rpc
        .call_ok("anvil_dropAllTransactions", json!([]))
        .await;
    chain.rpc.call_ok("evm_setAutomine", json!([true])).await;
    // A later settlement would wait behind the gap forever; it resynchronises instead.
    let (status, headers, body) = send(&h, "/evm/n", &second).await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    let tx2 = tx_of(&headers);
    // The lost settlement can never land (its nonce went to the second one): the first
    // payment is released, refused once with its reason, then settled anew.
    let (status, headers, _) = send(&h, "/evm/n", &first).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(headers["gate402-reason"], "settlement_not_found");
    let (status, headers, body) = send(&h, "/evm/n", &first).await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    let tx1 = tx_of(&headers);
    assert_eq!(
        up.hits(),
        3,
        "answered twice for the first payment, once for the second"
    );
    ledger_agrees(&h, &chain, &[tx1, tx2]).await;
    chain.stop().await;
}

#[tokio::test]
async fn a_settlement_left_behind_is_reconciled_by_another_gateway_and_served_once() {
    let chain = Chain::start().await;
    let up = Upstream::start().await;
    let (h, _d) = start_edited(&chain, &chain.url, &chain.keys[0], &up.url, edits(1, "")).await;
    let pay = pay_header(&h, &chain, 1, "/evm/f", |_| {}).await;
    chain.rpc.call_ok("evm_setAutomine", json!([false])).await;
    let (status, _, _) = send(&h, "/evm/f", &pay).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    chain.rpc.call_ok("evm_mine", json!([])).await;
    chain.rpc.call_ok("evm_setAutomine", json!([true])).await;

    // A second gateway on the same store (a fleet member, or the first one restarted).
    let paywall =
        server::paywall_with_secret(&h.config, Arc::new(h.seller.clone()), &SECRET).unwrap();
    let refresh = h.config.store.revocation_refresh();
    let paywall = Arc::new(
        server::attach_store(paywall, h.store.clone(), refresh)
            .await
            .unwrap(),
    );
    let router = server::router(&h.config, paywall.clone()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = server::spawn(listener, router).unwrap();
    // Its reconciler finds the settlement landed, without the buyer: an unserved row.
    let done = eventually(20, "the settlement reconciled", || async {
        let r = paywall.reconcile_x402(10).await.unwrap();
        (r.landed == 1).then_some(r)
    })
    .await;
    assert_eq!(done.released, 0);
    let unserved = LedgerFilter {
        unserved: true,
        ..LedgerFilter::default()
    };
    let rows = h.store.ledger(&unserved).await.unwrap();
    assert_eq!(rows.len(), 1, "listed as paid and unserved: {rows:?}");
    assert_eq!(rows[0].state, PaymentState::Unserved);
    assert_eq!(chain.balance(&chain.address(2)).await, PRICE);
    // The buyer's retry reaches the other gateway: served from that row, once.
    let url: http::Uri = format!("http://{}/evm/f", other.addr).parse().unwrap();
    let hv: Vec<(&str, &str)> = pay
        .iter()
        .map(|(k, v)| (k.as_str(), v.to_str().unwrap()))
        .collect();
    let (status, headers, body) = gate402_tests::raw(&url, &hv).await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    assert_eq!(tx_of(&headers), rows[0].reference);
    let (status, _, _) = gate402_tests::raw(&url, &hv).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    super::until_state(&*h.store, &rows[0].reference, PaymentState::Served).await;
    ledger_agrees(&h, &chain, &[rows[0].reference.clone()]).await;
    assert_eq!(up.hits(), 2, "withheld once, served once");
    chain.stop().await;
}

#[tokio::test]
async fn x402_upstream_failures_settle_nothing_and_the_payment_is_served_once_later() {
    let chain = Chain::start().await;
    let up = Upstream::start().await;
    let (h, _d) = start_edited(
        &chain,
        &chain.url,
        &chain.keys[0],
        &up.url,
        edits(10, "max_response_bytes = 4096"),
    )
    .await;
    let pay = pay_header(&h, &chain, 1, "/evm/u", |_| {}).await;
    // (mode, status, reason, Retry-After): a response too large stays too large.
    let cases = [
        (Mode::Fail, 500, None, false),
        (Mode::Reset, 502, Some("upstream_unavailable"), true),
        (Mode::Big, 502, Some("upstream_response_too_large"), false),
        (Mode::Hang, 504, Some("upstream_timeout"), true),
    ];
    for (mode, status, reason, retry) in cases {
        up.set(mode);
        let (s, headers, body) = send(&h, "/evm/u", &pay).await;
        assert_eq!(s.as_u16(), status, "{mode:?}: {body:?}");
        assert!(
            !headers.contains_key("payment-response"),
            "{mode:?}: nothing settled"
        );
        assert_eq!(headers.contains_key("retry-after"), retry, "{mode:?}");
        if let Some(reason) = reason {
            assert_eq!(json_body(&body)["reason"], reason);
        }
        assert_eq!(chain.balance(&chain.address(2)).await, 0, "{mode:?}");
    }
    assert!(ledger(&*h.store).await.is_empty());
    up.set(Mode::Ok);
    let (s, headers, body) = send(&h, "/evm/u", &pay).await;
    assert_eq!(s, StatusCode::OK, "{body:?}");
    assert_eq!(&body[..], b"paid content");
    let tx = tx_of(&headers);
    super::until_state(&*h.store, &tx, PaymentState::Served).await;
    ledger_agrees(&h, &chain, &[tx]).await;
    assert_eq!(up.hits(), 5);
    chain.stop().await;
}
