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
        bind_price: false,
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

#[test]
fn body_digest_is_emitted_bound_and_checked_like_mpp() {
    let p = ours();
    let body = br#"{"query":"paid"}"#;
    let digest = mpp::BodyDigest::of(body);
    let challenge = p.charge_challenge_with(&offer(), &invoice(), NOW, Some(&digest));
    let header = mpp::challenge::MppChallenge::to_header_value(&challenge).unwrap();
    // mpp parses it, accepts the id (digest slot bound) and our digest value for this body.
    let theirs = oracle::parse_www_authenticate(&header).unwrap();
    assert!(theirs.verify(SECRET));
    let d = theirs.digest.as_deref().unwrap();
    assert!(d.starts_with("sha-256=:") && d.ends_with(':'), "{d}");
    assert!(::mpp::body_digest::verify(d, body));
    assert!(!::mpp::body_digest::verify(d, b"{}"));
    // The id differs from the same challenge without a digest (the slot is bound).
    let plain = p.charge_challenge(&offer(), &invoice(), NOW);
    assert_ne!(plain.id, challenge.id);
    // mpp's own digest form names the same body here.
    assert!(digest.matches(&::mpp::body_digest::compute(body)));

    let mut payload = Map::new();
    payload.insert("preimage".into(), Value::String(hex::encode(PREIMAGE)));
    let cred = MppCredential::new(&challenge, payload.clone());
    let ok = p.verify_charge_with(&cred, &offer(), NOW, Some(&digest));
    assert!(ok.is_ok(), "{ok:?}");
    // Another body, no body: refused.
    let other = mpp::BodyDigest::of(b"{}");
    let err = p
        .verify_charge_with(&cred, &offer(), NOW, Some(&other))
        .unwrap_err();
    assert_eq!(err.reason(), "unknown_challenge");
    assert!(p.verify_charge_with(&cred, &offer(), NOW, None).is_err());
    // A client that does not echo `digest` (Alby's fetchWithMpp) pays for the same body only.
    let mut alby = cred.clone();
    alby.challenge.digest = None;
    assert!(p
        .verify_charge_with(&alby, &offer(), NOW, Some(&digest))
        .is_ok());
    assert!(p
        .verify_charge_with(&alby, &offer(), NOW, Some(&other))
        .is_err());
    // A challenge issued for a body-less request does not pay for a request with a body.
    let bare = MppCredential::new(&plain, payload);
    assert!(p.verify_charge_with(&bare, &offer(), NOW, None).is_ok());
    assert!(p
        .verify_charge_with(&bare, &offer(), NOW, Some(&digest))
        .is_err());
}

#[test]
fn unsupported_method_or_intent_is_a_bad_request() {
    let p = ours();
    let mut payload = Map::new();
    payload.insert("preimage".into(), Value::String(hex::encode(PREIMAGE)));
    let mut challenge = p.charge_challenge(&offer(), &invoice(), NOW);
    for (method, intent) in [("tempo", "charge"), ("lightning", "subscription")] {
        challenge.method = method.into();
        challenge.intent = intent.into();
        let cred =
            gate402_protocols::Credential::Mpp(MppCredential::new(&challenge, payload.clone()));
        let err = p.verify(&cred, &offer(), &NoRailFacts, NOW).unwrap_err();
        assert!(err.is_bad_request(), "{method}/{intent}: {err:?}");
        assert_eq!(err.reason(), "method_unsupported");
        assert_eq!(
            mpp::problem::problem_type(Some(&err)),
            mpp::problem::METHOD_UNSUPPORTED
        );
    }
}
