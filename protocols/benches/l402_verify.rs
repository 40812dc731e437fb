//! L402 hot-path benchmarks (criterion). Target (`specs/performance.md` §8): the full paid
//! verification path ≤ 2 µs CPU with 3 caveats.
//!
//! Run: `cargo bench -p gate402-protocols --bench l402_verify -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{criterion_main, Criterion};
use gate402_protocols::l402::{L402Credential, Macaroon, L402};
use gate402_protocols::{Credential, InvoiceFacts, NoRailFacts, Offer, PaymentProtocol};
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

const NOW: u64 = 1_700_000_000;
const PREIMAGE: [u8; 32] = [7; 32];

fn offer() -> Offer {
    Offer {
        service: "api".into(),
        price_msat: 10_000,
        capabilities: vec!["read".into(), "write".into()],
        valid_for_secs: Some(3600),
        bind_price: false,
    }
}

/// A realistic request: a few ordinary headers plus the L402 credential (3 caveats).
fn request(p: &L402) -> HeaderMap {
    let hash: [u8; 32] = Sha256::digest(PREIMAGE).into();
    let cred = L402Credential {
        macaroon: p.mint(&offer(), hash, NOW),
        preimage: PREIMAGE,
    };
    let mut h = HeaderMap::new();
    for (k, v) in [
        ("host", "api.example"),
        ("user-agent", "lnget/1.1"),
        ("accept", "*/*"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    h.insert(
        AUTHORIZATION,
        HeaderValue::try_from(cred.authorization()).unwrap(),
    );
    h
}

fn bench_verify(c: &mut Criterion) {
    let p = L402::new(&[0x42; 32]).unwrap();
    let offer = offer();
    let headers = request(&p);
    let cred = p.parse_credential(&headers).unwrap().unwrap();
    assert!(p.verify(&cred, &offer, &NoRailFacts, NOW).is_ok());

    c.bench_function("l402/paid_path_parse_and_verify", |b| {
        b.iter(|| {
            let cred = p.parse_credential(black_box(&headers)).unwrap().unwrap();
            black_box(
                p.verify(&cred, &offer, &NoRailFacts, black_box(NOW))
                    .unwrap(),
            )
        })
    });
    c.bench_function("l402/parse_header_only", |b| {
        b.iter(|| black_box(p.parse_credential(black_box(&headers))))
    });
    c.bench_function("l402/verify_parsed_credential", |b| {
        b.iter(|| black_box(p.verify(black_box(&cred), &offer, &NoRailFacts, NOW)))
    });
    let Credential::L402(l) = &cred else {
        panic!("not an L402 credential")
    };
    let bin = l.macaroon.encode_v2();
    c.bench_function("l402/macaroon_decode_v2", |b| {
        b.iter(|| black_box(Macaroon::decode(black_box(&bin))))
    });
}

fn bench_challenge(c: &mut Criterion) {
    let p = L402::new(&[0x42; 32]).unwrap();
    let offer = offer();
    let invoice = InvoiceFacts {
        bolt11: "lnbc10n1pjq7w2ypp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypq".into(),
        payment_hash: Sha256::digest(PREIMAGE).into(),
        amount_msat: 10_000,
        expires_at: NOW + 86_400,
    };
    c.bench_function("l402/mint_and_challenge", |b| {
        b.iter(|| black_box(p.challenge(&offer, Some(black_box(&invoice)), NOW).unwrap()))
    });
}

/// Every benchmark of this file (what `criterion_group!` would generate, documented).
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    bench_verify(&mut c);
    bench_challenge(&mut c);
}

criterion_main!(benches);
