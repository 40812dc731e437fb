//! Cross-check with the `mpp` crate 0.18.2 (tempoxyz/mpp-rs, `default-features = false`):
//! on the same inputs, challenge ids and header encodings agree in both directions.

use ::mpp::protocol::core as oracle;
use gate402_protocols::mpp::{self, id::BoundFields, MppChallenge, MppCredential, MppReceipt};
use gate402_protocols::{InvoiceFacts, NoRailFacts, Offer, PaymentProtocol};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

const SECRET: &str = "gate402-crosscheck-secret-of-32-bytes-or-more";
const NOW: u64 = 1_750_000_000;
const PREIMAGE: [u8; 32] = [5; 32];

fn ours() -> mpp::Mpp {
    mpp::Mpp::new(SECRET.as_bytes(), "api.example.com").unwrap()
}

fn offer() -> Offer {
    Offer {
        service: "api".into(),
        price_msat: 21_000,
        capabilities: vec![],
        valid_for_secs: None,
    }
}

fn invoice() -> InvoiceFacts {
    InvoiceFacts {
        bolt11: "lnbcrt210n1pexample".into(),
        payment_hash: Sha256::digest(PREIMAGE).into(),
        amount_msat: 21_000,
        expires_at: NOW + 3600,
    }
}

#[test]
fn our_challenge_parses_and_verifies_in_mpp() {
    let headers = ours().challenge(&offer(), Some(&invoice()), NOW).unwrap();
    let value = headers[0].1.to_str().unwrap();
    let theirs = oracle::parse_www_authenticate(value).unwrap();
    assert!(theirs.verify(SECRET), "mpp accepts our HMAC id");
    assert!(!theirs.verify("another-secret-another-secret-another-secret"));
    assert_eq!(theirs.realm, "api.example.com");
    assert_eq!(theirs.method.as_str(), "lightning");
    assert_eq!(theirs.intent.as_str(), "charge");
    assert_eq!(theirs.expires.as_deref(), Some("2025-06-15T15:11:40Z"));
    let req = theirs.request.decode_value().unwrap();
    assert_eq!(
        req["methodDetails"]["paymentHash"],
        hex::encode(invoice().payment_hash)
    );
    // mpp re-formats it byte-identically (same param order and quoting).
    assert_eq!(oracle::format_www_authenticate(&theirs).unwrap(), value);
}

#[test]
fn ids_agree_on_every_optional_slot() {
    let request = oracle::Base64UrlJson::from_value(
        &json!({"amount": "1000", "currency": "sat", "note": "café <&>"}),
    )
    .unwrap();
    let opaque = oracle::Base64UrlJson::from_value(&json!({"trace": "t-1", "a": "b"})).unwrap();
    type Slots<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
    );
    let combos: [Slots<'_>; 5] = [
        (None, None, None, None),
        (Some("2025-01-15T12:05:00.123Z"), None, None, None),
        (
            Some("2025-01-15T12:05:00Z"),
            Some("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"),
            None,
            None,
        ),
        (Some("2025-01-15T12:05:00Z"), None, Some(opaque.raw()), None),
        (
            Some("2025-01-15T12:05:00Z"),
            Some("sha-256=abc"),
            Some(opaque.raw()),
            Some("Payment-Authorization"),
        ),
    ];
    for (expires, digest, op, header) in combos {
        let theirs = oracle::compute_challenge_id_with_header(
            SECRET,
            "api.example.com",
            "lightning",
            "session",
            request.raw(),
            expires,
            digest,
            op,
            header,
        );
        let fields = BoundFields {
            realm: "api.example.com",
            method: "lightning",
            intent: "session",
            request: request.raw(),
            expires,
            digest,
            opaque: op,
            header,
        };
        assert_eq!(
            mpp::id::compute(SECRET.as_bytes(), &fields),
            theirs,
            "{expires:?} {digest:?} {op:?} {header:?}"
        );
    }
    // Our JCS equals theirs for request and opaque.
    let v = json!({"note": "café <&>", "currency": "sat", "amount": "1000"});
    assert_eq!(
        mpp::b64url::encode(mpp::jcs::canonicalize(&v).as_bytes()),
        request.raw()
    );
}

#[test]
fn mpp_challenges_parse_here_including_merged_and_escaped() {
    let mk = |intent: &str, desc: &str| {
        let req =
            oracle::Base64UrlJson::from_value(&json!({"amount": "7", "currency": "sat"})).unwrap();
        let mut c = oracle::PaymentChallenge::new("x", "api.example.com", "lightning", intent, req)
            .with_expires("2025-01-15T12:05:00.500Z")
            .with_description(desc)
            .with_opaque(oracle::Base64UrlJson::from_value(&json!({"k": "v"})).unwrap());
        c.id = oracle::compute_challenge_id(
            SECRET,
            &c.realm,
            c.method.as_str(),
            c.intent.as_str(),
            c.request.raw(),
            c.expires.as_deref(),
            None,
            c.opaque.as_ref().map(|o| o.raw()),
        );
        c
    };
    let a = oracle::format_www_authenticate(&mk("charge", "Zürich \"quoted\" ☕")).unwrap();
    let b = oracle::format_www_authenticate(&mk("session", "Payment inside a value")).unwrap();
    let mut headers = http::HeaderMap::new();
    headers.append(
        "www-authenticate",
        format!("L402 macaroon=\"AgE\", invoice=\"lnbc1\", {a}, {b}")
            .parse()
            .unwrap(),
    );
    let offers: Vec<_> = mpp::client::parse_challenges(&headers)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(offers.len(), 2);
    assert_eq!(
        offers[0].challenge.description.as_deref(),
        Some("Zürich \"quoted\" ☕")
    );
    assert_eq!(offers[1].challenge.intent, "session");
    for o in &offers {
        assert!(
            mpp::id::verify(SECRET.as_bytes(), &o.challenge.id, &o.challenge.bound()).is_some()
        );
        assert_eq!(
            mpp::time::parse_rfc3339(o.challenge.expires.as_deref().unwrap()),
            Some(1_736_942_700)
        );
    }
}

#[test]
fn credentials_and_receipts_round_trip_both_ways() {
    let p = ours();
    let challenge = p.charge_challenge(&offer(), &invoice(), NOW);
    let mut payload = Map::new();
    payload.insert("preimage".into(), Value::String(hex::encode(PREIMAGE)));
    let cred = MppCredential::new(&challenge, payload);
    // ours -> mpp
    let theirs = oracle::parse_authorization(&cred.to_header_value()).unwrap();
    assert_eq!(theirs.challenge.id, challenge.id);
    assert_eq!(theirs.challenge.request.raw(), challenge.request);
    assert_eq!(theirs.payload["preimage"], hex::encode(PREIMAGE));
    // mpp -> ours, and it verifies.
    let header = oracle::format_authorization(&theirs).unwrap();
    let mut h = http::HeaderMap::new();
    h.insert("authorization", header.parse().unwrap());
    let back = p.parse_credential(&h).unwrap().unwrap();
    let verified = p.verify(&back, &offer(), &NoRailFacts, NOW + 1).unwrap();
    // receipts: ours parse in mpp.
    let receipt_headers = p.receipt_at(&verified, NOW + 1);
    let value = receipt_headers[0].1.to_str().unwrap();
    let r = oracle::parse_receipt(value).unwrap();
    assert_eq!(r.reference, hex::encode(invoice().payment_hash));
    assert_eq!(r.method.as_str(), "lightning");
    let ours = MppReceipt::parse(value).unwrap();
    assert_eq!(ours.challenge_id.as_deref(), Some(challenge.id.as_str()));
    let _: MppChallenge = back_challenge(&back);
}

fn back_challenge(c: &gate402_protocols::Credential) -> MppChallenge {
    match c {
        gate402_protocols::Credential::Mpp(m) => m.challenge.clone(),
        other => panic!("not MPP: {other:?}"),
    }
}
