//! x402: v2/v1 round trips, every rejection reason, the Lightning variant's wire shape (Alby),
//! and typed errors (no panics) on garbage. The EIP-712 golden vector is in `x402_golden.rs`.

use gate402_protocols::x402::evm::{self, Authorization};
use gate402_protocols::x402::wire::{decode_header, encode_header};
use gate402_protocols::x402::{
    settle_response_header, EvmPayment, EvmPrice, ResourceInfo, SettleResponse, X402Route, X402,
};
use gate402_protocols::{
    ClientChallenge, CredentialError, InvoiceFacts, NoRailFacts, Offer, PaymentProof,
    PaymentProtocol, Verified,
};
use http::{HeaderMap, HeaderValue};
use serde_json::{json, Value};

const NOW: u64 = 1_800_000_000;
const KEY1: &str = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const TOKEN: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const PAYEE: &str = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";

fn key() -> secp256k1::SecretKey {
    secp256k1::SecretKey::from_slice(&hex::decode(KEY1).unwrap()).unwrap()
}

fn price() -> EvmPrice {
    EvmPrice {
        chain_id: 31337,
        asset: evm::parse_address(TOKEN).unwrap(),
        pay_to: evm::parse_address(PAYEE).unwrap(),
        amount: 10_000,
        max_timeout_secs: 60,
        name: "USD Coin".into(),
        version: "2".into(),
    }
}

fn offer() -> Offer {
    Offer {
        service: "api".into(),
        price_msat: 21_000,
        capabilities: vec![],
        valid_for_secs: None,
        bind_price: false,
    }
}

fn proto(lightning: bool) -> X402 {
    X402::new([(
        "api".to_string(),
        X402Route {
            resource: ResourceInfo {
                url: "http://127.0.0.1/api/".into(),
                ..Default::default()
            },
            evm: Some(price()),
            lightning,
        },
    )])
}

fn challenge_headers(p: &X402, invoice: Option<&InvoiceFacts>) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in p.challenge(&offer(), invoice, NOW).unwrap() {
        h.insert(k, v);
    }
    h
}

/// Client side: read the 402, sign with `edit` applied to the authorization, build the header.
fn pay(p: &X402, edit: impl Fn(&mut Authorization)) -> HeaderMap {
    let ch = p
        .parse_challenges(&challenge_headers(p, None), b"")
        .remove(0)
        .unwrap();
    let ClientChallenge::X402(c) = &ch else {
        panic!("not x402")
    };
    let (mut auth, domain) = c
        .authorization(evm::address_of_key(&key()), [7; 32], NOW)
        .unwrap();
    edit(&mut auth);
    let sig = evm::sign(&key(), &auth.digest(&domain.separator()));
    let proof = PaymentProof::Evm(EvmPayment {
        authorization: auth,
        signature: sig.to_vec(),
    });
    let (k, v) = p.credential_header(&ch, &proof).unwrap();
    let mut h = HeaderMap::new();
    h.insert(k, v);
    h
}

fn check(p: &X402, h: &HeaderMap) -> Result<Verified, CredentialError> {
    let cred = p.parse_credential(h).expect("a credential")?;
    p.verify(&cred, &offer(), &NoRailFacts, NOW)
}

#[test]
fn v2_round_trip_and_single_use_key() {
    let p = proto(false);
    let h = challenge_headers(&p, None);
    let pr: Value = decode_header(h["payment-required"].as_bytes(), "t").unwrap();
    assert_eq!(pr["x402Version"], 2);
    assert_eq!(pr["accepts"][0]["network"], "eip155:31337");
    assert_eq!(pr["accepts"][0]["payTo"], PAYEE);
    assert_eq!(
        pr["accepts"][0]["extra"],
        json!({"name": "USD Coin", "version": "2"})
    );
    let paid = pay(&p, |_| {});
    let v = check(&p, &paid).unwrap();
    assert_eq!(v.expires_at, Some(NOW + 60));
    assert!(v.single_use_key.unwrap().starts_with(b"x402:evm:"));
    let payload: Value = decode_header(paid["payment-signature"].as_bytes(), "t").unwrap();
    assert_eq!(
        payload["accepted"], pr["accepts"][0],
        "accepted echoed verbatim"
    );
}

#[test]
fn every_field_is_checked() {
    let p = proto(false);
    type Edit = Box<dyn Fn(&mut Authorization)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("pay_to_mismatch", Box::new(|a| a.to = [1; 20])),
        ("amount_mismatch", Box::new(|a| a.value = 9_999)),
        ("amount_mismatch", Box::new(|a| a.value = 10_001)),
        ("expired", Box::new(|a| a.valid_before = NOW + 5)),
        ("not_yet_valid", Box::new(|a| a.valid_after = NOW + 10)),
    ];
    for (reason, edit) in cases {
        let err = check(&p, &pay(&p, edit)).unwrap_err();
        assert_eq!(err.reason(), reason);
    }
}

fn tamper(h: &HeaderMap, f: impl Fn(&mut Value)) -> HeaderMap {
    let mut v: Value = decode_header(h["payment-signature"].as_bytes(), "t").unwrap();
    f(&mut v);
    let mut out = HeaderMap::new();
    out.insert(
        "payment-signature",
        HeaderValue::try_from(encode_header(&v)).unwrap(),
    );
    out
}

#[test]
fn tampered_payloads_are_refused_with_a_reason() {
    let p = proto(false);
    let good = pay(&p, |_| {});
    type Tamper = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Tamper)> = vec![
        (
            "network_mismatch",
            Box::new(|v| v["accepted"]["network"] = json!("eip155:8453")),
        ),
        (
            "asset_mismatch",
            Box::new(|v| v["accepted"]["asset"] = json!(PAYEE)),
        ),
        (
            "pay_to_mismatch",
            Box::new(|v| v["accepted"]["payTo"] = json!(TOKEN)),
        ),
        (
            "amount_mismatch",
            Box::new(|v| v["accepted"]["amount"] = json!("1")),
        ),
        (
            "scheme_mismatch",
            Box::new(|v| v["accepted"]["scheme"] = json!("upto")),
        ),
        (
            "invalid_signature",
            Box::new(|v| v["payload"]["authorization"]["value"] = json!("10001")),
        ),
        (
            "invalid_signature",
            Box::new(|v| {
                v["payload"]["authorization"]["nonce"] = json!(format!("0x{}", "22".repeat(32)))
            }),
        ),
        (
            "invalid_signature",
            Box::new(|v| v["payload"]["signature"] = json!(format!("0x{}1b", "11".repeat(64)))),
        ),
        (
            "invalid_hex",
            Box::new(|v| v["payload"]["signature"] = json!("0xzz")),
        ),
        (
            "missing_parameter",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("accepted");
            }),
        ),
        (
            "invalid_json",
            Box::new(|v| v["payload"] = json!({"signature": 1})),
        ),
        (
            "malformed_header",
            Box::new(|v| v["x402Version"] = json!(1)),
        ),
    ];
    for (reason, f) in cases {
        let got = check(&p, &tamper(&good, f)).err().map(|e| e.reason());
        assert_eq!(got, Some(reason));
    }
    for garbage in ["%%%", "bm90IGpzb24=", "e30=", ""] {
        let mut h = HeaderMap::new();
        h.insert("payment-signature", HeaderValue::from_static(garbage));
        let err = check(&p, &h).unwrap_err();
        assert!(
            ["invalid_base64", "invalid_json"].contains(&err.reason()),
            "{garbage}"
        );
    }
}

#[test]
fn wrong_key_is_a_bad_signature() {
    let p = proto(false);
    let h = pay(&p, |a| a.from = [9; 20]);
    assert_eq!(check(&p, &h).unwrap_err().reason(), "invalid_signature");
}

#[test]
fn v1_body_challenge_and_x_payment() {
    let p = proto(false);
    let req = price().requirement();
    let body = json!({"x402Version": 1, "error": "X-PAYMENT header is required", "accepts": [{
        "scheme": "exact", "network": req.network, "maxAmountRequired": req.amount,
        "resource": "http://x/api", "description": "", "mimeType": "", "asset": req.asset,
        "payTo": req.pay_to, "maxTimeoutSeconds": 60, "extra": req.extra }]});
    let ch = p
        .parse_challenges(&HeaderMap::new(), body.to_string().as_bytes())
        .remove(0)
        .unwrap();
    let ClientChallenge::X402(c) = &ch else {
        panic!()
    };
    assert_eq!(c.version, 1);
    let (auth, domain) = c
        .authorization(evm::address_of_key(&key()), [3; 32], NOW)
        .unwrap();
    assert_eq!(auth.valid_after, NOW - 600);
    let sig = evm::sign(&key(), &auth.digest(&domain.separator()));
    let proof = PaymentProof::Evm(EvmPayment {
        authorization: auth,
        signature: sig.to_vec(),
    });
    let (k, v) = p.credential_header(&ch, &proof).unwrap();
    assert_eq!(k.as_str(), "x-payment");
    let mut h = HeaderMap::new();
    h.insert(k, v);
    check(&p, &h).unwrap();
    let (name, _) = settle_response_header(
        1,
        &SettleResponse {
            success: true,
            error_reason: None,
            error_message: None,
            payer: None,
            transaction: "0x00".into(),
            network: "eip155:31337".into(),
        },
    )
    .unwrap();
    assert_eq!(name.as_str(), "x-payment-response");
}

#[test]
fn lightning_variant_matches_alby_shape() {
    let p = proto(true);
    let inv = InvoiceFacts {
        bolt11: "lnbcrt210n1pexample".into(),
        payment_hash: [1; 32],
        amount_msat: 21_000,
        expires_at: NOW + 600,
    };
    assert!(p.needs_invoice_for(&offer()));
    let h = challenge_headers(&p, Some(&inv));
    let pr: Value = decode_header(h["payment-required"].as_bytes(), "t").unwrap();
    let entry = pr["accepts"][1].clone();
    assert_eq!(entry["extra"]["paymentMethod"], "lightning");
    assert_eq!(entry["amount"], "21000");
    // Exactly what Alby's fetchWithX402 sends back.
    let alby = json!({"x402Version": 2, "scheme": entry["scheme"], "network": entry["network"],
        "payload": {"invoice": inv.bolt11}, "accepted": entry});
    let mut paid = HeaderMap::new();
    paid.insert(
        "payment-signature",
        HeaderValue::try_from(encode_header(&alby)).unwrap(),
    );
    let v = check(&p, &paid).unwrap();
    assert!(v.single_use_key.unwrap().starts_with(b"x402:ln:"));
    let other = tamper(&paid, |v| v["payload"]["invoice"] = json!("lnbcrt1other"));
    assert_eq!(check(&p, &other).unwrap_err().reason(), "invoice_mismatch");
    let cheap = tamper(&paid, |v| v["accepted"]["amount"] = json!("1"));
    assert_eq!(check(&p, &cheap).unwrap_err().reason(), "amount_mismatch");
    // Our client builds the same header.
    let ch = p.parse_challenges(&h, b"").remove(1).unwrap();
    assert_eq!(ch.invoice(), Some(inv.bolt11.as_str()));
    let (_, v) = p
        .credential_header(&ch, &PaymentProof::Preimage([0; 32]))
        .unwrap();
    let ours: Value = decode_header(v.as_bytes(), "t").unwrap();
    assert_eq!(ours, alby);
}

#[test]
fn routes_without_x402_issue_no_challenge() {
    let p = proto(false);
    let mut o = offer();
    o.service = "elsewhere".into();
    assert!(p.challenge(&o, None, NOW).unwrap().is_empty());
    assert!(!p.needs_invoice_for(&o));
    assert_eq!(
        check_with(&p, &pay(&p, |_| {}), &o).unwrap_err().reason(),
        "not_offered"
    );
}

fn check_with(p: &X402, h: &HeaderMap, o: &Offer) -> Result<Verified, CredentialError> {
    let cred = p.parse_credential(h).expect("a credential")?;
    p.verify(&cred, o, &NoRailFacts, NOW)
}
