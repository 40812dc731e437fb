//! x402 interop with the reference SDK (npm `@x402/*` 2.27.0) on anvil (a cell of the
//! generated interop matrix).

use std::sync::atomic::Ordering;

use gate402_protocols::x402::evm;
use gate402_tests::chain::{node_json, Chain};
use gate402_tests::matrix;

use super::x402_evm::{counting_upstream, start, PRICE};

#[tokio::test]
async fn reference_fetch_client_pays_gate402() {
    matrix::cell("x402_interop::reference_fetch_client_pays_gate402", async {
        let chain = Chain::start().await;
        let (up, hits) = counting_upstream().await;
        let (h, _d) = start(&chain, &chain.url, &chain.keys[0], &up).await;
        let out = node_json(
            "fetch_client.mjs",
            &[
                ("X402_URL", h.url("/evm/ref").to_string()),
                ("X402_BUYER_KEY", chain.keys[1].clone()),
                ("X402_RPC_URL", chain.url.clone()),
            ],
        )
        .await;
        assert_eq!(out["status"], 200, "{out}");
        assert_eq!(out["body"], "paid content");
        let receipt = &out["paymentResponse"];
        assert_eq!(receipt["success"], true, "{out}");
        assert_eq!(receipt["network"], "eip155:31337");
        assert_eq!(receipt["payer"], evm::checksum(&chain.address(1)));
        assert_eq!(receipt["transaction"].as_str().unwrap().len(), 66);
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        assert_eq!(chain.balance(&chain.address(2)).await, PRICE);
        chain.stop().await;
    })
    .await;
}
