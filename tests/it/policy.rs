//! Buyer policy: refuse to pay above max cost, or an invoice that disagrees with the challenge.

use std::sync::Arc;

use axum::{response::IntoResponse, routing::get, Router};
use gate402::client::{ClientError, ClientRequest, Policy, PolicyError};
use gate402_protocols::{l402::L402, Offer};
use gate402_rails::{InvoiceRequest, LightningRail};
use gate402_tests::{Harness, BUYER_MSAT};

#[tokio::test]
async fn refuses_to_pay_above_max_cost() {
    let h = Harness::start().await;
    let client = h.client(
        "c",
        Policy {
            max_cost_msat: 9_999,
            ..Policy::default()
        },
    );
    let err = client
        .send(&ClientRequest::get(h.url("/api/a")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Policy(PolicyError::OverMaxCost {
                amount_msat: 10_000,
                max_msat: 9_999
            })
        ),
        "{err:?}"
    );
    assert_eq!(
        h.net.balance_msat("buyer"),
        Some(BUYER_MSAT),
        "nothing paid"
    );
}

#[tokio::test]
async fn refuses_an_invoice_that_is_not_bound_to_the_token() {
    let net = gate402_rails::simnet::SimNetwork::new();
    let buyer = net.add_node("buyer", 1_000_000);
    let seller = Arc::new(net.add_node("seller", 0));
    // A hostile server: macaroon bound to invoice A, challenge carries invoice B.
    let mk = |amount_msat| InvoiceRequest {
        amount_msat,
        memo: "x".into(),
        expiry_secs: 600,
    };
    let a = seller.create_invoice(mk(1000)).await.unwrap();
    let b = seller.create_invoice(mk(1000)).await.unwrap();
    let offer = Offer {
        service: "svc".into(),
        price_msat: 1000,
        capabilities: vec![],
        valid_for_secs: None,
        bind_price: false,
    };
    let mac = L402::new(&[1u8; 32])
        .unwrap()
        .mint(&offer, a.payment_hash, 0);
    let challenge = format!(
        "L402 macaroon=\"{}\", invoice=\"{}\"",
        mac.to_base64(),
        b.bolt11
    );
    let app = Router::new().route(
        "/x",
        get(move || {
            let c = challenge.clone();
            async move {
                (
                    http::StatusCode::PAYMENT_REQUIRED,
                    [("www-authenticate", c)],
                )
                    .into_response()
            }
        }),
    );
    let addr = gate402_tests::serve(app).await;
    let dir = tempfile::tempdir().unwrap();
    let client = gate402::client::Client::new(
        Arc::new(buyer),
        gate402::client::TokenCache::new(dir.path()),
        Policy::default(),
    );
    let err = client
        .send(&ClientRequest::get(
            format!("http://{addr}/x").parse().unwrap(),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Policy(PolicyError::InvoiceMismatch(_))),
        "{err:?}"
    );
    assert_eq!(net.balance_msat("buyer"), Some(1_000_000), "nothing paid");
}
