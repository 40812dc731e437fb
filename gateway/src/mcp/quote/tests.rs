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
