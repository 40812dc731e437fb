//! MPP hot-path benchmarks (criterion). Target (issue D): charge-credential verification
//! (base64url + JSON decode, HMAC id check, preimage hash, route pinning) ≤ 5 µs.
//!
//! Run: `taskset -c 1 cargo bench -p gate402-protocols --bench mpp_verify -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{criterion_main, Criterion};
use gate402_protocols::mpp::{Mpp, MppCredential};
use gate402_protocols::{InvoiceFacts, NoRailFacts, Offer, PaymentProtocol};
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

const NOW: u64 = 1_700_000_000;
const PREIMAGE: [u8; 32] = [7; 32];
/// A realistic 10-sat regtest invoice length (the bytes are not decoded on verification).
const BOLT11: &str = "lnbcrt100n1pjqqqqqpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsdqqcqzzsxqyz5vqsp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygs9qyyssq5kg0z8flrh8dnpsy0x6kjq0xk9wj3vjg3pp8sn4rsuaawxk7h3l9j2jdxjgwqx3rxlhnjeyztk6ahrdmhygvlpx4e4mhhjjvl8gd8pqq2xdl9w";

fn offer() -> Offer {
    Offer {
        service: "api".into(),
        price_msat: 10_000,
        capabilities: vec![],
        valid_for_secs: None,
    }
}

fn invoice() -> InvoiceFacts {
    InvoiceFacts {
        bolt11: BOLT11.into(),
        payment_hash: Sha256::digest(PREIMAGE).into(),
        amount_msat: 10_000,
        expires_at: NOW + 3600,
    }
}

fn bench(c: &mut Criterion) {
    let p = Mpp::new(&[0x42; 32], "api.example.com").unwrap();
    let offer = offer();
    let challenge = p.charge_challenge(&offer, &invoice(), NOW);
    let mut payload = Map::new();
    payload.insert("preimage".into(), Value::String(hex::encode(PREIMAGE)));
    let cred = MppCredential::new(&challenge, payload);
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("api.example.com"));
    headers.insert("user-agent", HeaderValue::from_static("bench/1.0"));
    headers.insert(
        AUTHORIZATION,
        HeaderValue::try_from(cred.to_header_value()).unwrap(),
    );
    c.bench_function("mpp/charge_verify_full_path", |b| {
        b.iter(|| {
            let parsed = p.parse_credential(black_box(&headers)).unwrap().unwrap();
            black_box(
                p.verify(&parsed, &offer, &NoRailFacts, black_box(NOW))
                    .unwrap(),
            )
        })
    });
    let parsed = p.parse_credential(&headers).unwrap().unwrap();
    c.bench_function("mpp/charge_verify_parsed", |b| {
        b.iter(|| {
            black_box(
                p.verify(black_box(&parsed), &offer, &NoRailFacts, NOW)
                    .unwrap(),
            )
        })
    });
    c.bench_function("mpp/charge_challenge_issue", |b| {
        let inv = invoice();
        b.iter(|| black_box(p.challenge(&offer, Some(black_box(&inv)), NOW).unwrap()))
    });
}

/// Every benchmark of this file.
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
}

criterion_main!(benches);
