//! x402 robustness: thousands of mutated `PAYMENT-SIGNATURE` values (mutations of the base64
//! text and of the JSON inside) through parse + verify, and of `PAYMENT-REQUIRED` through the
//! client parser. Nothing may panic and no mutation may verify as a different payment.

use gate402_protocols::x402::evm;
use gate402_protocols::x402::wire::encode_header;
use gate402_protocols::x402::{EvmPayment, EvmPrice, ResourceInfo, X402Route, X402};
use gate402_protocols::{ClientChallenge, NoRailFacts, Offer, PaymentProof, PaymentProtocol};
use http::{HeaderMap, HeaderValue};

const NOW: u64 = 1_800_000_000;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize
    }
}

fn setup() -> (X402, Offer, HeaderMap, HeaderMap) {
    let price = EvmPrice {
        chain_id: 31337,
        asset: [0x5f; 20],
        pay_to: [0x3c; 20],
        amount: 10_000,
        max_timeout_secs: 60,
        name: "USD Coin".into(),
        version: "2".into(),
    };
    let route = X402Route {
        resource: ResourceInfo::default(),
        evm: Some(price),
        lightning: false,
    };
    let p = X402::new([("api".to_string(), route)]);
    let offer = Offer {
        service: "api".into(),
        price_msat: 1,
        capabilities: vec![],
        valid_for_secs: None,
        bind_price: false,
    };
    let mut ch_headers = HeaderMap::new();
    for (k, v) in p.challenge(&offer, None, NOW).unwrap() {
        ch_headers.insert(k, v);
    }
    let ch = p.parse_challenges(&ch_headers, b"").remove(0).unwrap();
    let ClientChallenge::X402(c) = &ch else {
        unreachable!()
    };
    let key = secp256k1::SecretKey::from_slice(&[0x42; 32]).unwrap();
    let (auth, domain) = c
        .authorization(evm::address_of_key(&key), [9; 32], NOW)
        .unwrap();
    let sig = evm::sign(&key, &auth.digest(&domain.separator())).to_vec();
    let proof = PaymentProof::Evm(EvmPayment {
        authorization: auth,
        signature: sig,
    });
    let (k, v) = p.credential_header(&ch, &proof).unwrap();
    let mut paid = HeaderMap::new();
    paid.insert(k, v);
    (p, offer, paid, ch_headers)
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let pos = if v.is_empty() { 0 } else { rng.below(v.len()) };
        let pick = b"{}[]\":,0123456789abcdefxAZ+/=- \\"[rng.below(31)];
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

#[test]
fn mutated_payments_never_panic_and_never_verify_as_another_payment() {
    let (p, offer, paid, ch_headers) = setup();
    let good = p.parse_credential(&paid).unwrap().unwrap();
    let good_v = p.verify(&good, &offer, &NoRailFacts, NOW).unwrap();
    let b64 = paid["payment-signature"].as_bytes().to_vec();
    let json = String::from_utf8(
        gate402_protocols::x402::wire::decode_header::<serde_json::Value>(&b64, "t")
            .map(|v| v.to_string().into_bytes())
            .unwrap(),
    )
    .unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..4000 {
        let value = if i % 2 == 0 {
            mutate(&mut rng, &b64)
        } else {
            let m = mutate(&mut rng, json.as_bytes());
            encode_header(&serde_json::from_slice::<serde_json::Value>(&m).unwrap_or_default())
                .into_bytes()
        };
        let Ok(hv) = HeaderValue::from_bytes(&value) else {
            continue;
        };
        let mut h = HeaderMap::new();
        h.insert("payment-signature", hv.clone());
        if let Some(Ok(c)) = p.parse_credential(&h) {
            if let Ok(v) = p.verify(&c, &offer, &NoRailFacts, NOW) {
                assert_eq!(
                    v.single_use_key, good_v.single_use_key,
                    "a mutation became another payment"
                );
            }
        }
        let mut ch = ch_headers.clone();
        ch.insert("payment-required", hv);
        let _ = p.parse_challenges(&ch, &value);
    }
}
