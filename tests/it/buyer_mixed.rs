//! Mixed endpoints in one run with one buyer: a gate402 route offering L402, MPP and x402 →
//! the preferred protocol is paid (two preference orders); the `@x402/express` reference
//! server (x402 only) on anvil → paid with the EVM wallet; an MPP-only route → paid via
//! Lightning.

use gate402::client::{BuyerPolicy, Client, ClientRequest, EvmWallet, Policy, TokenCache};
use gate402_protocols::ProtocolId;
use gate402_tests::chain::Chain;
use gate402_tests::{matrix, peers, BUYER_MSAT};

use crate::buyer_cli::start_mixed;

fn policy(prefer: &[&str]) -> BuyerPolicy {
    BuyerPolicy {
        prefer: prefer.iter().map(|s| s.to_string()).collect(),
        ..BuyerPolicy::default()
    }
}

#[tokio::test]
async fn one_buyer_pays_mixed_endpoints_by_policy() {
    matrix::cell(
        "buyer_mixed::one_buyer_pays_mixed_endpoints_by_policy",
        async {
            let h = start_mixed().await;
            let chain = Chain::start().await;
            let fac = peers::reference_facilitator(&chain).await;
            let express = peers::x402_express(&chain, fac.url.clone()).await;
            let buyer = |prefer: &[&str], cache: &str| {
                Client::new(
                    std::sync::Arc::new(h.buyer.clone()),
                    TokenCache::new(h.dir.path().join(cache)),
                    Policy::default(),
                )
                .with_policy(policy(prefer))
                .with_evm_wallet(EvmWallet::from_hex(&chain.keys[1], 10_000).unwrap())
            };

            // gate402 offering all three: the first preference that is payable wins.
            let all = ClientRequest::get(h.url("/all/a"));
            let a = buyer(&["l402", "mpp", "x402"], "a")
                .send(&all)
                .await
                .unwrap();
            assert_eq!(a.response.status(), 200);
            assert_eq!(a.payment.unwrap().protocol, ProtocolId::L402);
            let b = buyer(&["x402/evm", "mpp", "l402"], "b")
                .send(&all)
                .await
                .unwrap();
            let paid = b.payment.unwrap();
            assert_eq!(
                (paid.protocol, paid.rail.as_str()),
                (ProtocolId::Mpp, "lightning"),
                "no EVM offer here: the next preference"
            );
            assert_eq!(h.net.balance_msat("buyer"), Some(BUYER_MSAT - 200_000));

            // The reference express server (x402 EVM only): paid with the EVM wallet.
            let client = buyer(&["l402", "mpp", "x402/lightning", "x402/evm"], "c");
            let weather = ClientRequest::get(format!("{}/weather", express.url).parse().unwrap());
            let r = client.send(&weather).await.unwrap();
            assert_eq!(r.response.status(), 200);
            let paid = r.payment.clone().unwrap();
            assert_eq!(paid.protocol, ProtocolId::X402);
            assert_eq!(paid.rail, "evm:eip155:31337");
            assert_eq!(paid.amount.value, 10_000);
            assert_eq!(r.summary()["receipt"]["success"], true);
            assert_eq!(chain.balance(&chain.address(2)).await, 10_000);
            assert_eq!(h.net.balance_msat("buyer"), Some(BUYER_MSAT - 200_000));

            // MPP only: paid via Lightning.
            let r = client
                .send(&ClientRequest::get(h.url("/mpp/a")))
                .await
                .unwrap();
            assert_eq!(r.response.status(), 200);
            let paid = r.payment.unwrap();
            assert_eq!(
                (paid.protocol, paid.amount_msat),
                (ProtocolId::Mpp, 100_000)
            );
            assert!(paid.receipt.unwrap()["reference"].is_string());
            assert_eq!(h.net.balance_msat("buyer"), Some(BUYER_MSAT - 300_000));

            // Spend of the run, per unit: msat and the EVM asset.
            let status = client.budget_status().unwrap();
            let units: Vec<_> = status.totals.iter().map(|t| t.unit.as_str()).collect();
            assert_eq!(units.len(), 2, "{units:?}");
            chain.stop().await;
        },
    )
    .await;
}
