//! Hostile 402s from a small test server, paid with the simnet wallet: garbage headers, an
//! invoice whose amount differs from the offer (MPP and x402 Lightning), an absurd amount, an
//! expired invoice, a challenge for another host (x402 `resource`, MPP realm). Each is a
//! typed refusal (exit code 3 from `gate402 get`) and the wallet balance is unchanged.

use std::sync::Arc;

use axum::{response::IntoResponse, routing::get, Router};
use gate402::cli::Exit;
use gate402::client::{Client, ClientError, ClientRequest, Policy, PolicyError, TokenCache};
use gate402_protocols::{l402::L402, mpp, x402::wire::encode_header, Offer};
use gate402_rails::{simnet::SimNetwork, InvoiceRequest, LightningRail};
use serde_json::json;

use crate::buyer_cli::{get_cli, LndWallet};

const BUYER: u64 = 5_000_000;

/// A server answering every request with 402 and `headers`.
async fn hostile(headers: Vec<(&'static str, String)>) -> String {
    let app = Router::new().route(
        "/x",
        get(move || {
            let h = headers.clone();
            async move {
                let mut resp = http::StatusCode::PAYMENT_REQUIRED.into_response();
                for (k, v) in h {
                    resp.headers_mut().append(k, v.parse().unwrap());
                }
                resp
            }
        }),
    );
    format!("http://{}/x", gate402_tests::serve(app).await)
}

struct World {
    net: SimNetwork,
    seller: gate402_rails::simnet::SimNode,
    dir: tempfile::TempDir,
    client: Client,
}

impl World {
    fn new() -> World {
        let net = SimNetwork::new();
        let buyer = net.add_node("buyer", BUYER);
        let seller = net.add_node("seller", 0);
        let dir = tempfile::tempdir().unwrap();
        let client = Client::new(
            Arc::new(buyer),
            TokenCache::new(dir.path().join("c")),
            Policy::default(),
        );
        World {
            net,
            seller,
            dir,
            client,
        }
    }

    async fn invoice(&self, amount_msat: u64, expiry_secs: u64) -> gate402_rails::Invoice {
        self.seller
            .create_invoice(InvoiceRequest {
                amount_msat,
                memo: "hostile".into(),
                expiry_secs,
            })
            .await
            .unwrap()
    }

    async fn refused(&self, url: &str) -> ClientError {
        let err = self
            .client
            .send(&ClientRequest::get(url.parse().unwrap()))
            .await
            .unwrap_err();
        assert_eq!(
            self.net.balance_msat("buyer"),
            Some(BUYER),
            "nothing paid: {err}"
        );
        err
    }
}

/// A signed regtest invoice for `amount_msat` issued an hour ago, valid 60 s.
fn expired_invoice(amount_msat: u64) -> (String, [u8; 32]) {
    use bitcoin::hashes::{sha256, Hash};
    use lightning_invoice::{Currency, InvoiceBuilder, PaymentSecret};
    let key = bitcoin::secp256k1::SecretKey::from_slice(&[9u8; 32]).unwrap();
    let hash = [4u8; 32];
    let secp = bitcoin::secp256k1::Secp256k1::new();
    let inv = InvoiceBuilder::new(Currency::Regtest)
        .description("old".into())
        .payment_hash(sha256::Hash::from_byte_array(hash))
        .payment_secret(PaymentSecret([1u8; 32]))
        .duration_since_epoch(std::time::Duration::from_secs(
            gate402::clock::now_unix() - 3600,
        ))
        .min_final_cltv_expiry_delta(18)
        .amount_milli_satoshis(amount_msat)
        .expiry_time(std::time::Duration::from_secs(60))
        .build_signed(|msg| secp.sign_ecdsa_recoverable(msg, &key))
        .unwrap();
    (inv.to_string(), hash)
}

/// An MPP Lightning charge challenge stating `amount_sats` for `bolt11`.
fn mpp_challenge(realm: &str, amount_sats: u64, bolt11: &str, hash: [u8; 32]) -> String {
    mpp_challenge_expiring(
        realm,
        amount_sats,
        bolt11,
        hash,
        gate402::clock::now_unix() + 300,
    )
}

/// [`mpp_challenge`] with its `expires` at `expires` (Unix s).
fn mpp_challenge_expiring(
    realm: &str,
    amount_sats: u64,
    bolt11: &str,
    hash: [u8; 32],
    expires: u64,
) -> String {
    let request = json!({
        "amount": amount_sats.to_string(),
        "currency": "sat",
        "methodDetails": {"invoice": bolt11, "paymentHash": hex::encode(hash)},
    });
    let expires = mpp::time::format_rfc3339(expires);
    format!(
        "Payment id=\"abc\", realm=\"{realm}\", method=\"lightning\", intent=\"charge\", \
         request=\"{}\", expires=\"{expires}\"",
        mpp::b64url::encode(request.to_string().as_bytes())
    )
}

/// An x402 v2 Lightning-variant challenge stating `amount_msat` for `bolt11`.
fn x402_ln(resource: &str, amount_msat: u64, bolt11: &str) -> String {
    encode_header(&json!({
        "x402Version": 2,
        "resource": {"url": resource},
        "accepts": [{
            "scheme": "exact",
            "network": gate402_protocols::x402::lightning::LIGHTNING_NETWORK,
            "amount": amount_msat.to_string(),
            "asset": "BTC",
            "payTo": "anonymous",
            "maxTimeoutSeconds": 60,
            "extra": {"paymentMethod": "lightning", "invoice": bolt11},
        }],
    }))
}

#[tokio::test]
async fn hostile_402s_are_refused_and_nothing_is_paid() {
    let w = World::new();

    // Garbage headers: nothing parses.
    let url = hostile(vec![
        ("www-authenticate", "Payment ,,,=\"".into()),
        ("www-authenticate", "L402 macaroon=\"%%%\"".into()),
        ("payment-required", "!!!".into()),
    ])
    .await;
    let err = w.refused(&url).await;
    assert!(
        matches!(err, ClientError::NoPayableChallenge(Some(_))),
        "{err:?}"
    );

    // MPP: the invoice asks 20 sat, the challenge states 10.
    let inv = w.invoice(20_000, 600).await;
    let url = hostile(vec![(
        "www-authenticate",
        mpp_challenge("gate402", 10, &inv.bolt11, inv.payment_hash),
    )])
    .await;
    let err = w.refused(&url).await;
    assert!(
        matches!(
            err,
            ClientError::Policy(PolicyError::AmountMismatch {
                offered_msat: 10_000,
                invoice_msat: 20_000
            })
        ),
        "{err:?}"
    );

    // x402 Lightning variant: the invoice asks 20 sat, the entry states 10.
    let url = hostile(vec![]).await; // learn a port for a same-host resource
    let inv = w.invoice(20_000, 600).await;
    let url2 = hostile(vec![(
        "payment-required",
        x402_ln(&url, 10_000, &inv.bolt11),
    )])
    .await;
    let err = w.refused(&url2).await;
    assert!(
        matches!(err, ClientError::Policy(PolicyError::AmountMismatch { .. })),
        "{err:?}"
    );

    // Absurd amount: an honest L402 challenge for 10^9 sat.
    let inv = w.invoice(1_000_000_000_000, 600).await;
    let offer = Offer {
        service: "svc".into(),
        price_msat: 1_000_000_000_000,
        capabilities: vec![],
        valid_for_secs: None,
        bind_price: false,
    };
    let mac = L402::new(&[1u8; 32])
        .unwrap()
        .mint(&offer, inv.payment_hash, 0);
    let url = hostile(vec![(
        "www-authenticate",
        format!(
            "L402 macaroon=\"{}\", invoice=\"{}\"",
            mac.to_base64(),
            inv.bolt11
        ),
    )])
    .await;
    let err = w.refused(&url).await;
    assert!(
        matches!(err, ClientError::Policy(PolicyError::OverMaxCost { .. })),
        "{err:?}"
    );

    // Expired invoice (issued an hour ago, valid 60 s).
    let (bolt11, hash) = expired_invoice(10_000);
    let url = hostile(vec![(
        "www-authenticate",
        mpp_challenge("gate402", 10, &bolt11, hash),
    )])
    .await;
    let err = w.refused(&url).await;
    assert!(
        matches!(err, ClientError::Policy(PolicyError::ExpiredInvoice)),
        "{err:?}"
    );

    // x402 resource for another host.
    let inv = w.invoice(10_000, 600).await;
    let url = hostile(vec![(
        "payment-required",
        x402_ln("https://victim.example/paid", 10_000, &inv.bolt11),
    )])
    .await;
    let err = w.refused(&url).await;
    assert!(
        matches!(&err, ClientError::Policy(PolicyError::ForeignHost { bound, .. }) if bound == "victim.example"),
        "{err:?}"
    );

    // MPP realm naming another host (an IP literal).
    let inv = w.invoice(10_000, 600).await;
    let url = hostile(vec![(
        "www-authenticate",
        mpp_challenge("10.9.9.9", 10, &inv.bolt11, inv.payment_hash),
    )])
    .await;
    let err = w.refused(&url).await;
    assert!(
        matches!(err, ClientError::Policy(PolicyError::ForeignHost { .. })),
        "{err:?}"
    );

    // MPP: an expired challenge (honest invoice), and a payment hash that is not the invoice's.
    let inv = w.invoice(10_000, 600).await;
    let past = gate402::clock::now_unix() - 1;
    let url = hostile(vec![(
        "www-authenticate",
        mpp_challenge_expiring("gate402", 10, &inv.bolt11, inv.payment_hash, past),
    )])
    .await;
    let err = w.refused(&url).await;
    assert!(
        matches!(err, ClientError::Policy(PolicyError::ExpiredChallenge)),
        "{err:?}"
    );
    let url = hostile(vec![(
        "www-authenticate",
        mpp_challenge("gate402", 10, &inv.bolt11, [7u8; 32]),
    )])
    .await;
    let err = w.refused(&url).await;
    assert!(
        matches!(err, ClientError::Policy(PolicyError::InvoiceMismatch(_))),
        "{err:?}"
    );

    // The control: the same MPP challenge with an honest invoice is paid.
    let inv = w.invoice(10_000, 600).await;
    let url = hostile(vec![(
        "www-authenticate",
        mpp_challenge("gate402", 10, &inv.bolt11, inv.payment_hash),
    )])
    .await;
    let resp = w
        .client
        .send(&ClientRequest::get(url.parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(resp.payment.unwrap().amount_msat, 10_000);
    assert_eq!(w.net.balance_msat("buyer"), Some(BUYER - 10_000));
    drop(w.dir);
}

#[tokio::test]
async fn gate402_get_exits_3_on_a_hostile_402_and_pays_nothing() {
    let net = SimNetwork::new();
    let buyer = net.add_node("buyer", BUYER);
    let seller = net.add_node("seller", 0);
    let wallet = LndWallet::serve(buyer).await;
    let inv = seller
        .create_invoice(InvoiceRequest {
            amount_msat: 20_000,
            memo: "x".into(),
            expiry_secs: 600,
        })
        .await
        .unwrap();
    let url = hostile(vec![(
        "www-authenticate",
        mpp_challenge("gate402", 10, &inv.bolt11, inv.payment_hash),
    )])
    .await;
    let (code, out) = get_cli(&wallet, &[&url, "--json"]).await;
    assert_eq!(code, Exit::Policy, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kind"], "policy");
    assert!(v["error"].as_str().unwrap().contains("differs"), "{v}");
    assert_eq!(net.balance_msat("buyer"), Some(BUYER));
}
