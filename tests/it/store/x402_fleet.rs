//! x402's Lightning variant across two gateways sharing one database: nothing is settled
//! on-chain, so the shared reservation is the only thing between one paid invoice and two
//! served requests. 20 concurrent copies split across both gateways → exactly one 200.

use std::sync::Arc;

use futures_util::future::join_all;
use gate402::{config::Config, server};
use gate402_protocols::x402::wire::{decode_header, encode_header};
use gate402_rails::{simnet::SimNetwork, LightningRail, PayLimits};
use gate402_tests::{raw, serve, upstream_app, SECRET};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use super::{both_backends, Backend, TestStore};
use crate::x402_lightning::LN_CONFIG;

both_backends!(an_x402_lightning_payment_is_served_once_across_two_gateways);

async fn an_x402_lightning_payment_is_served_once_across_two_gateways(backend: Backend) {
    let db = TestStore::new(backend).await;
    let upstream = serve(upstream_app()).await;
    let text = LN_CONFIG.replace("{UPSTREAM}", &format!("http://{upstream}"));
    let config = Config::from_toml(&format!("{text}\n{}", db.toml)).unwrap();
    config.validate().unwrap();
    let net = SimNetwork::new();
    let buyer = net.add_node("buyer", 1_000_000);
    let seller = net.add_node("seller", 0);
    let mut gateways = Vec::new();
    for _ in 0..2 {
        let paywall =
            server::paywall_with_secret(&config, Arc::new(seller.clone()), &SECRET).unwrap();
        let refresh = config.store.revocation_refresh();
        let paywall = server::attach_store(paywall, db.open().await, refresh)
            .await
            .unwrap();
        let router = server::router(&config, Arc::new(paywall)).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        gateways.push(server::spawn(listener, router).unwrap());
    }
    let url = |i: usize| -> http::Uri {
        format!("http://{}/ln/x", gateways[i % 2].addr)
            .parse()
            .unwrap()
    };

    // The offer from gateway 0, paid once.
    let (_, headers, _) = raw(&url(0), &[]).await;
    let pr: Value = decode_header(headers["payment-required"].as_bytes(), "t").unwrap();
    let entry = pr["accepts"][0].clone();
    let invoice = entry["extra"]["invoice"].as_str().unwrap().to_string();
    buyer
        .pay_invoice(&invoice, PayLimits::default())
        .await
        .unwrap();
    let proof = encode_header(&json!({"x402Version": 2, "scheme": entry["scheme"],
        "network": entry["network"], "payload": {"invoice": invoice}, "accepted": entry}));

    let statuses = join_all((0..20).map(|i| {
        let (u, p) = (url(i), proof.clone());
        async move { raw(&u, &[("payment-signature", &p)]).await.0.as_u16() }
    }))
    .await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 402),
        "{statuses:?}"
    );
    // And once more, later, on either gateway: refused.
    for i in 0..2 {
        assert_eq!(raw(&url(i), &[("payment-signature", &proof)]).await.0, 402);
    }
}
