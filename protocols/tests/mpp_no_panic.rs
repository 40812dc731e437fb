//! MPP robustness: mutated credentials and challenge headers through every MPP parser and the
//! verifier. Nothing panics; a mutated credential verifies only if it decodes to the very same
//! credential (e.g. base64 padding added); the ReDoS vector parses fast.

mod common;

use common::Rng;
use gate402_protocols::mpp::{client, Mpp, MppCredential};
use gate402_protocols::{Credential, InvoiceFacts, NoRailFacts, Offer, PaymentProtocol};
use http::{HeaderMap, HeaderValue};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

const NOW: u64 = 1_700_000_000;
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ ,\"\\";

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(3) {
        let pos = if v.is_empty() { 0 } else { rng.below(v.len()) };
        let pick = B64[rng.below(B64.len())];
        match rng.below(4) {
            0 if !v.is_empty() => v[pos] = pick,
            1 => v.insert(pos, pick),
            2 if !v.is_empty() => {
                v.remove(pos);
            }
            _ => v.truncate(pos),
        }
    }
    v
}

fn setup() -> (Mpp, Offer, HeaderValue, HeaderValue) {
    let p = Mpp::new(&[9; 32], "realm.test").unwrap();
    let offer = Offer {
        service: "api".into(),
        price_msat: 5_000,
        capabilities: vec![],
        valid_for_secs: None,
        bind_price: false,
    };
    let inv = InvoiceFacts {
        bolt11: "lnbcrt50n1pexample".into(),
        payment_hash: Sha256::digest([1u8; 32]).into(),
        amount_msat: 5_000,
        expires_at: NOW + 600,
    };
    let ch = p.charge_challenge(&offer, &inv, NOW);
    let mut payload = Map::new();
    payload.insert("preimage".into(), Value::String(hex::encode([1u8; 32])));
    let cred = HeaderValue::try_from(MppCredential::new(&ch, payload).to_header_value()).unwrap();
    let chal = HeaderValue::try_from(ch.to_header_value().unwrap()).unwrap();
    (p, offer, cred, chal)
}

#[test]
fn mutated_credentials_never_panic_nor_verify_when_changed() {
    let (p, offer, cred, chal) = setup();
    let mut h = HeaderMap::new();
    h.insert("authorization", cred.clone());
    let Some(Ok(Credential::Mpp(original))) = p.parse_credential(&h) else {
        panic!("valid credential")
    };
    assert!(p
        .verify(
            &Credential::Mpp(original.clone()),
            &offer,
            &NoRailFacts,
            NOW
        )
        .is_ok());
    let mut rng = Rng(0x5eed_0001);
    for _ in 0..3000 {
        let m = mutate(&mut rng, cred.as_bytes());
        let Ok(v) = HeaderValue::from_bytes(&m) else {
            continue;
        };
        let mut h = HeaderMap::new();
        h.insert("authorization", v);
        if let Some(Ok(c)) = p.parse_credential(&h) {
            if p.verify(&c, &offer, &NoRailFacts, NOW).is_ok() {
                assert_eq!(
                    c,
                    Credential::Mpp(original.clone()),
                    "{}",
                    String::from_utf8_lossy(&m)
                );
            }
        }
        let m = mutate(&mut rng, chal.as_bytes());
        if let Ok(v) = HeaderValue::from_bytes(&m) {
            let mut h = HeaderMap::new();
            h.insert("www-authenticate", v);
            let _ = client::parse_challenges(&h);
        }
    }
}

#[test]
fn redos_vector_parses_fast() {
    let value = format!("Payment id=\"{}", "\\".repeat(12_000));
    let mut h = HeaderMap::new();
    h.insert("www-authenticate", HeaderValue::try_from(value).unwrap());
    let start = std::time::Instant::now();
    let r = client::parse_challenges(&h);
    assert!(r.iter().all(Result::is_err));
    assert!(start.elapsed() < std::time::Duration::from_secs(1));
}
