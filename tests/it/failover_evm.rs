//! Buyer failover across rails (issue #16 "L"): the buyer's Lightning payment fails with no
//! route, so the client pays the same 402's x402 EVM offer on anvil: 200, exactly one payment
//! moved (the token transfer; no Lightning payment), the budget charged once (EVM unit only),
//! the failed Lightning attempt reported.

use std::sync::Arc;

use gate402::client::{BuyerPolicy, Client, ClientRequest, EvmWallet, Policy, TokenCache};
use gate402_protocols::ProtocolId;
use gate402_rails::simnet::Faults;
use gate402_tests::{chain::Chain, BUYER_MSAT};

use crate::x402_evm::{counting_upstream, start, PRICE};

#[tokio::test]
async fn no_route_on_lightning_fails_over_to_x402_evm() {
    let chain = Chain::start().await;
    let (up, hits) = counting_upstream().await;
    let (h, _d) = start(&chain, &chain.url, &chain.keys[0], &up).await;
    let payee = chain.address(2);
    h.net.set_faults(
        "buyer",
        Faults {
            no_route: true,
            ..Faults::default()
        },
    );
    let policy = BuyerPolicy {
        prefer: ["l402", "x402/lightning", "x402/evm"]
            .map(String::from)
            .to_vec(),
        ..BuyerPolicy::default()
    };
    let client = Client::new(
        Arc::new(h.buyer.clone()),
        TokenCache::new(h.dir.path().join("c")),
        Policy::default(),
    )
    .with_policy(policy)
    .with_evm_wallet(EvmWallet::from_hex(&chain.keys[1], PRICE).unwrap());
    let paid = client
        .send(&ClientRequest::get(h.url("/evm/a")))
        .await
        .unwrap();
    assert_eq!(paid.response.status(), 200);
    let p = paid.payment.as_ref().unwrap();
    assert_eq!(
        (p.protocol, p.rail.as_str()),
        (ProtocolId::X402, "evm:eip155:31337")
    );
    let tried: Vec<_> = paid
        .attempts
        .iter()
        .map(|a| (a.protocol.as_str(), a.rail.as_str(), a.error.as_str()))
        .collect();
    assert_eq!(
        tried,
        vec![
            ("l402", "lightning", "no_route"),
            ("x402", "lightning", "no_route")
        ],
        "both Lightning offers failed before the EVM one"
    );
    assert_eq!(paid.summary()["attempts"].as_array().unwrap().len(), 2);
    // Exactly one payment moved: the token transfer. No Lightning payment, one upstream hit.
    assert_eq!(chain.balance(&payee).await, PRICE);
    assert_eq!(h.net.balance_msat("buyer"), Some(BUYER_MSAT));
    assert_eq!(h.net.payments_sent("buyer"), 0);
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    // The budget: nothing in msat, the price once in the EVM asset.
    let status = client.budget_status().unwrap();
    for t in &status.totals {
        if t.unit == "msat" {
            assert_eq!((t.spent, t.pending), (0, 0), "{t:?}");
        } else {
            assert_eq!((t.spent, t.pending), (PRICE, 0), "{t:?}");
        }
    }
    chain.stop().await;
}
