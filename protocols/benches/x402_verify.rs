//! x402 local verification benchmarks (criterion). Target (`specs/performance.md` §8): the
//! full local path — base64 + JSON decode of `PAYMENT-SIGNATURE`, EIP-712 digest, ecrecover
//! with libsecp256k1, requirement/payTo/amount/network/time checks — ≤ 60 µs; no RPC.
//!
//! Run: `taskset -c 1 cargo bench -p gate402-protocols --bench x402_verify -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{criterion_main, Criterion};
use gate402_protocols::x402::evm::{self, Authorization};
use gate402_protocols::x402::{EvmPayment, EvmPrice, ResourceInfo, X402Route, X402};
use gate402_protocols::{ClientChallenge, NoRailFacts, Offer, PaymentProof, PaymentProtocol};
use http::HeaderMap;

const NOW: u64 = 1_800_000_000;

fn price() -> EvmPrice {
    EvmPrice {
        chain_id: 31337,
        asset: evm::parse_address("0x5FbDB2315678afecb367f032d93F642f64180aa3").unwrap(),
        pay_to: evm::parse_address("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC").unwrap(),
        amount: 10_000,
        max_timeout_secs: 60,
        name: "USD Coin".into(),
        version: "2".into(),
    }
}

fn setup() -> (X402, Offer, HeaderMap) {
    let proto = X402::new([(
        "api".to_string(),
        X402Route {
            resource: ResourceInfo {
                url: "http://127.0.0.1/api/".into(),
                ..Default::default()
            },
            evm: Some(price()),
            lightning: false,
        },
    )]);
    let offer = Offer {
        service: "api".into(),
        price_msat: 10_000,
        capabilities: vec![],
        valid_for_secs: None,
        bind_price: false,
    };
    let mut challenge_headers = HeaderMap::new();
    for (k, v) in proto.challenge(&offer, None, NOW).unwrap() {
        challenge_headers.insert(k, v);
    }
    let ch = proto
        .parse_challenges(&challenge_headers, b"")
        .remove(0)
        .unwrap();
    let ClientChallenge::X402(c) = &ch else {
        unreachable!()
    };
    let key = secp256k1::SecretKey::from_slice(&[0x59; 32]).unwrap();
    let (auth, domain): (Authorization, _) = c
        .authorization(evm::address_of_key(&key), [0x11; 32], NOW)
        .unwrap();
    let sig = evm::sign(&key, &auth.digest(&domain.separator()));
    let proof = PaymentProof::Evm(EvmPayment {
        authorization: auth,
        signature: sig.to_vec(),
    });
    let (name, value) = proto.credential_header(&ch, &proof).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(name, value);
    (proto, offer, headers)
}

fn benches(c: &mut Criterion) {
    let (proto, offer, headers) = setup();
    let cred = proto.parse_credential(&headers).unwrap().unwrap();
    assert!(proto.verify(&cred, &offer, &NoRailFacts, NOW).is_ok());

    c.bench_function(
        "x402 full local verify (decode + digest + recover + checks)",
        |b| {
            b.iter(|| {
                let cred = proto
                    .parse_credential(black_box(&headers))
                    .unwrap()
                    .unwrap();
                proto.verify(&cred, &offer, &NoRailFacts, NOW).unwrap()
            })
        },
    );
    c.bench_function("x402 decode PAYMENT-SIGNATURE (base64 + JSON)", |b| {
        b.iter(|| {
            proto
                .parse_credential(black_box(&headers))
                .unwrap()
                .unwrap()
        })
    });
    let p = price();
    let sep = p.domain().separator();
    let gate402_protocols::Credential::X402(x) = &cred else {
        unreachable!()
    };
    let gate402_protocols::x402::X402Kind::Evm(pay) = &x.kind else {
        unreachable!()
    };
    c.bench_function("x402 EIP-712 digest", |b| {
        b.iter(|| black_box(&pay.authorization).digest(&sep))
    });
    let digest = pay.authorization.digest(&sep);
    c.bench_function("x402 ecrecover (libsecp256k1)", |b| {
        b.iter(|| evm::recover(black_box(&digest), &pay.signature).unwrap())
    });
}

fn run() {
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
}

criterion_main!(run);
