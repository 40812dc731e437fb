//! Offers listed from real challenge headers (a simnet invoice, a minted macaroon).

use gate402_protocols::{l402::L402, Offer};
use gate402_rails::{simnet::SimNetwork, InvoiceRequest, LightningRail};
use http::HeaderValue;

use super::*;

async fn l402_header(price_msat: u64) -> HeaderValue {
    let net = SimNetwork::new();
    let bob = net.add_node("bob", 0);
    let inv = bob
        .create_invoice(InvoiceRequest {
            amount_msat: price_msat,
            memo: "q".into(),
            expiry_secs: 600,
        })
        .await
        .unwrap();
    let offer = Offer {
        service: "api".into(),
        price_msat,
        capabilities: vec![],
        valid_for_secs: None,
    };
    let mac = L402::new(&[7u8; 32])
        .unwrap()
        .mint(&offer, inv.payment_hash, 0);
    let value = format!(
        "L402 macaroon=\"{}\", invoice=\"{}\"",
        mac.to_base64(),
        inv.bolt11
    );
    HeaderValue::from_str(&value).unwrap()
}

const LIMITS: QuoteLimits = QuoteLimits {
    max_cost_msat: 20_000,
    max_evm_amount: None,
};

#[tokio::test]
async fn an_l402_offer_within_and_over_the_limit() {
    let mut headers = HeaderMap::new();
    headers.insert("www-authenticate", l402_header(10_000).await);
    let offers = offers(&headers, b"", LIMITS);
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].protocol, "l402");
    assert_eq!(offers[0].amount_msat, Some(10_000));
    assert!(offers[0].payable);
    assert_eq!(would_pay(&offers).unwrap().protocol, "l402");

    let mut headers = HeaderMap::new();
    headers.insert("www-authenticate", l402_header(30_000).await);
    let offers = offers_of(&headers);
    assert!(!offers[0].payable);
    let reason = would_pay(&offers).unwrap_err();
    assert!(reason.contains("exceeds"), "{reason}");
}

fn offers_of(h: &HeaderMap) -> Vec<QuotedOffer> {
    offers(h, b"", LIMITS)
}

#[test]
fn no_offer_at_all() {
    let offers = offers_of(&HeaderMap::new());
    assert!(offers.is_empty());
    assert_eq!(would_pay(&offers).unwrap_err(), "no payment offer");
}

fn x402_header(entries: Vec<serde_json::Value>) -> HeaderValue {
    use gate402_protocols::x402::wire::{encode_header, PaymentRequired};
    let pr = PaymentRequired {
        x402_version: 2,
        error: None,
        resource: Default::default(),
        accepts: entries,
    };
    HeaderValue::from_str(&encode_header(&pr)).unwrap()
}

fn evm_entry(amount: &str) -> serde_json::Value {
    serde_json::json!({
        "scheme": "exact",
        "network": "eip155:84532",
        "amount": amount,
        "asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
        "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
        "maxTimeoutSeconds": 60,
        "extra": { "name": "USDC", "version": "2" }
    })
}

#[test]
fn x402_evm_offers_need_a_key_and_a_price_within_the_cap() {
    let mut headers = HeaderMap::new();
    headers.insert("payment-required", x402_header(vec![evm_entry("10000")]));
    let no_key = offers_of(&headers);
    assert_eq!(no_key.len(), 1, "{no_key:?}");
    assert_eq!(no_key[0].protocol, "x402");
    assert_eq!(no_key[0].amount.as_deref(), Some("10000"));
    assert_eq!(no_key[0].network.as_deref(), Some("eip155:84532"));
    assert!(!no_key[0].payable);
    assert!(would_pay(&no_key).is_err());

    let with_key = |max| QuoteLimits {
        max_evm_amount: Some(max),
        ..LIMITS
    };
    let ok = offers(&headers, b"", with_key(10_000));
    assert!(ok[0].payable, "{ok:?}");
    assert_eq!(would_pay(&ok).unwrap().amount.as_deref(), Some("10000"));
    let over = offers(&headers, b"", with_key(9_999));
    assert!(!over[0].payable && over[0].reason.as_deref().unwrap().contains("exceeds"));
}

#[tokio::test]
async fn l402_is_preferred_over_x402_as_the_client_does() {
    let mut headers = HeaderMap::new();
    headers.insert("www-authenticate", l402_header(10_000).await);
    headers.insert("payment-required", x402_header(vec![evm_entry("1")]));
    let lim = QuoteLimits {
        max_evm_amount: Some(100),
        ..LIMITS
    };
    let all = offers(&headers, b"", lim);
    let protocols: Vec<_> = all.iter().map(|o| o.protocol).collect();
    assert_eq!(protocols, ["l402", "x402"]);
    assert_eq!(would_pay(&all).unwrap().protocol, "l402");
}
