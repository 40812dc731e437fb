//! Bounded loopback throughput of paid x402 requests on one anvil chain, same run:
//! gate402 (gateway + EVM rail) vs the reference stack (`@x402/express` 2.27.0 + the
//! `@x402/core` facilitator). Each stack is driven by the same clients, sequentially:
//! the reference `@x402/fetch` client (Node) and gate402's Rust client. Every request is a
//! full 402 → sign → verify → upstream → settle (transaction + receipt) → 200.
//!
//! Run: `cargo run --release -p gate402-tests --example x402_throughput -- 200 [POLL_MS]`
//! (needs `npm ci --prefix tests/interop`). `POLL_MS` sets the reference facilitator's viem
//! receipt polling interval (default: viem's own, 4 s for a chain without a block time).
//! Prints a markdown table.

use std::sync::Arc;
use std::time::Instant;

use gate402::client::{Client, ClientRequest, EvmWallet, Policy, TokenCache};
use gate402_protocols::x402::evm;
use gate402_rails::simnet::SimNetwork;
use gate402_tests::chain::{node_json, Chain, NodePeer};
use gate402_tests::{serve, Harness};

const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
upstream = "{UPSTREAM}"
[lightning]
backend = "simnet"
[evm]
chain_id = 31337
rpc_url = "{RPC}"
settler_key_file = "{KEYFILE}"
[[route]]
name = "weather"
path_prefix = "/weather"
price_sat = 10
protocols = ["x402"]
x402 = { network = "eip155:31337", asset = "{TOKEN}", pay_to = "{PAYEE}", amount = "10000" }
"#;

fn summary(name: &str, client: &str, n: usize, total_s: f64, mut ms: Vec<f64>) -> String {
    ms.sort_by(|a, b| a.total_cmp(b));
    let p = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
    format!(
        "| {name} | {client} | {n} | {:.1} | {:.1} | {:.1} | {:.1} |",
        n as f64 / total_s,
        p(0.5),
        p(0.9),
        p(1.0)
    )
}

async fn node_client(url: &str, chain: &Chain, n: usize) -> (f64, Vec<f64>) {
    let out = node_json(
        "fetch_client.mjs",
        &[
            ("X402_URL", url.to_string()),
            ("X402_BUYER_KEY", chain.keys[1].clone()),
            ("X402_RPC_URL", chain.url.clone()),
            ("X402_COUNT", n.to_string()),
        ],
    )
    .await;
    assert_eq!(out["status"], 200, "{out}");
    let ms: Vec<f64> = out["ms"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_f64())
        .collect();
    assert_eq!(ms.len(), n, "{out}");
    // The request loop only (node's start-up excluded): requests are sequential.
    (ms.iter().sum::<f64>() / 1000.0, ms)
}

async fn rust_client(url: &str, chain: &Chain, n: usize, dir: &std::path::Path) -> (f64, Vec<f64>) {
    let wallet = EvmWallet::from_hex(&chain.keys[1], 10_000).unwrap();
    let net = SimNetwork::new();
    let client = Client::new(
        Arc::new(net.add_node("b", 0)),
        TokenCache::new(dir),
        Policy::default(),
    )
    .with_evm_wallet(wallet);
    let req = ClientRequest::get(url.parse().unwrap());
    let mut ms = Vec::with_capacity(n);
    let t0 = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        let r = client.send(&req).await.unwrap();
        assert_eq!(r.response.status(), 200);
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    (t0.elapsed().as_secs_f64(), ms)
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    assert!((1..=2000).contains(&n), "request count must be 1..=2000");
    let chain = Chain::start().await;
    let dir = tempfile::tempdir().unwrap();
    let keyfile = dir.path().join("settler.key");
    gate402_tests::write_secret(&keyfile, &chain.keys[0]).unwrap();
    let up = serve(axum::Router::new().fallback(|| async { "{\"weather\":\"sunny\"}" })).await;
    let cfg = CONFIG
        .replace("{UPSTREAM}", &format!("http://{up}"))
        .replace("{RPC}", &chain.url)
        .replace("{KEYFILE}", keyfile.to_str().unwrap())
        .replace("{TOKEN}", &evm::checksum(&chain.token))
        .replace("{PAYEE}", &evm::checksum(&chain.address(2)));
    let gw = Harness::start_with(&cfg).await;
    let fac = NodePeer::start(
        "facilitator.mjs",
        &[
            ("X402_FAC_KEY", chain.keys[3].clone()),
            ("X402_RPC_URL", chain.url.clone()),
        ],
    )
    .await;
    let express = NodePeer::start(
        "express_server.mjs",
        &[
            ("X402_FACILITATOR_URL", fac.url.clone()),
            ("X402_TOKEN", evm::checksum(&chain.token)),
            ("X402_PAYEE", evm::checksum(&chain.address(2))),
        ],
    )
    .await;
    let gw_url = gw.url("/weather").to_string();
    let ex_url = format!("{}/weather", express.url);
    // Warm both stacks (connection pools, JIT) with a few paid requests.
    node_client(&gw_url, &chain, 3).await;
    node_client(&ex_url, &chain, 3).await;

    println!("| server | client | paid requests | req/s | p50 ms | p90 ms | max ms |");
    println!("|---|---|---|---|---|---|---|");
    let (t, ms) = node_client(&gw_url, &chain, n).await;
    println!("{}", summary("gate402", "@x402/fetch", n, t, ms));
    let (t, ms) = node_client(&ex_url, &chain, n).await;
    println!(
        "{}",
        summary(
            "@x402/express + @x402/core facilitator",
            "@x402/fetch",
            n,
            t,
            ms
        )
    );
    let (t, ms) = rust_client(&gw_url, &chain, n, &dir.path().join("c1")).await;
    println!("{}", summary("gate402", "gate402 client", n, t, ms));
    let (t, ms) = rust_client(&ex_url, &chain, n, &dir.path().join("c2")).await;
    println!(
        "{}",
        summary(
            "@x402/express + @x402/core facilitator",
            "gate402 client",
            n,
            t,
            ms
        )
    );
    let paid = chain.balance(&chain.address(2)).await;
    assert_eq!(
        paid,
        10_000 * (4 * n as u128 + 6),
        "every paid request settled exactly once"
    );
    chain.stop().await;
}
