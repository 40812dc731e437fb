//! MPP hot-path benchmarks (criterion). Target (issue D): charge-credential verification
//! (base64url + JSON decode, HMAC id check, preimage hash, route pinning) ≤ 5 µs.
//!
//! Run: `taskset -c 1 cargo bench -p gate402-protocols --bench mpp_verify -- --warm-up-time 1 --measurement-time 3`
//! Instruction counts (deterministic): see [`icount`].

use std::hint::black_box;

use criterion::{criterion_main, Criterion};
use gate402_protocols::mpp::{Mpp, MppCredential};
use gate402_protocols::{HeaderPair, InvoiceFacts, NoRailFacts, Offer, PaymentProtocol, Verified};
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
        bind_price: false,
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

struct Fixture {
    p: Mpp,
    offer: Offer,
    headers: HeaderMap,
    inv: InvoiceFacts,
}

fn fixture() -> Fixture {
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
    Fixture {
        p,
        offer,
        headers,
        inv: invoice(),
    }
}

impl Fixture {
    fn verify_full(&self) -> Verified {
        let parsed = self
            .p
            .parse_credential(black_box(&self.headers))
            .unwrap()
            .unwrap();
        self.p
            .verify(&parsed, &self.offer, &NoRailFacts, black_box(NOW))
            .unwrap()
    }

    fn issue(&self) -> Vec<HeaderPair> {
        self.p
            .challenge(&self.offer, Some(black_box(&self.inv)), NOW)
            .unwrap()
    }
}

fn bench(c: &mut Criterion) {
    let f = fixture();
    c.bench_function("mpp/charge_verify_full_path", |b| {
        b.iter(|| black_box(f.verify_full()))
    });
    let parsed = f.p.parse_credential(&f.headers).unwrap().unwrap();
    c.bench_function("mpp/charge_verify_parsed", |b| {
        b.iter(|| {
            black_box(
                f.p.verify(black_box(&parsed), &f.offer, &NoRailFacts, NOW)
                    .unwrap(),
            )
        })
    });
    c.bench_function("mpp/charge_challenge_issue", |b| {
        b.iter(|| black_box(f.issue()))
    });
}

/// Instruction-count mode for `valgrind --tool=callgrind` (deterministic, unlike wall time on
/// a shared VM): `MPP_ICOUNT=verify:N` or `issue:N` runs the operation N times and exits.
/// Instructions per operation = (Ir at N − Ir at 0) / N.
fn icount(spec: &str) {
    let (op, n) = spec.split_once(':').expect("MPP_ICOUNT=op:N");
    let n: usize = n.parse().expect("N");
    let f = fixture();
    for _ in 0..n {
        match op {
            "verify" => drop(black_box(f.verify_full())),
            "issue" => drop(black_box(f.issue())),
            other => panic!("unknown op {other}"),
        }
    }
}

/// Every benchmark of this file.
fn benches() {
    if let Ok(spec) = std::env::var("MPP_ICOUNT") {
        icount(&spec);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
}

criterion_main!(benches);
