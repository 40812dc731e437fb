//! Property-style robustness: thousands of pseudo-random and mutated inputs through every
//! parser, with a deterministic PRNG. Nothing may panic; decodable macaroons must re-encode to
//! an equal macaroon; nothing forged may verify.

mod common;

use common::*;
use gate402_protocols::auth_header::parse_challenges;
use gate402_protocols::l402::{Macaroon, MAX_CAVEATS};
use gate402_protocols::{NoRailFacts, PaymentProtocol};
use http::{HeaderMap, HeaderValue};

const ROUNDS: usize = 4000;

/// Apply 1–4 random edits: flip, overwrite, insert, delete, truncate, duplicate a slice.
fn mutate(rng: &mut Rng, input: &[u8], alphabet: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let pos = if v.is_empty() { 0 } else { rng.below(v.len()) };
        let pick = alphabet[rng.below(alphabet.len())];
        match rng.below(6) {
            0 if !v.is_empty() => v[pos] ^= 1 << rng.below(8),
            1 if !v.is_empty() => v[pos] = pick,
            2 => v.insert(pos, pick),
            3 if !v.is_empty() => {
                v.remove(pos);
            }
            4 => v.truncate(pos),
            _ => {
                let end = (pos + rng.below(16)).min(v.len());
                let chunk = v[pos..end].to_vec();
                v.splice(pos..pos, chunk);
            }
        }
    }
    v
}

fn feed_headers(p: &gate402_protocols::l402::L402, name: &'static str, value: &[u8]) {
    let Ok(value) = HeaderValue::from_bytes(value) else {
        return;
    };
    let mut h = HeaderMap::new();
    h.append(name, value);
    if let Some(Ok(c)) = p.parse_credential(&h) {
        let _ = p.verify(&c, &offer(), &NoRailFacts, NOW);
    }
    for c in p.parse_challenges(&h, b"").into_iter().flatten() {
        let _ = c.invoice();
    }
}

#[test]
fn macaroon_decoder_never_panics_and_round_trips() {
    let p = l402();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut seed = p.mint(&offer(), hash(&PREIMAGE), NOW);
    seed.add_first_party_caveat(b"preimage=00");
    let v2 = seed.encode_v2();
    let all: Vec<u8> = (0..=255).collect();
    let mut decoded = 0;
    for round in 0..ROUNDS {
        let input = if round % 4 == 0 {
            let n = rng.below(300);
            rng.bytes(n)
        } else {
            mutate(&mut rng, &v2, &all)
        };
        if let Ok(m) = Macaroon::decode(&input) {
            decoded += 1;
            assert_eq!(Macaroon::decode(&m.encode_v2()).as_ref(), Ok(&m));
            assert_eq!(Macaroon::from_base64(&m.to_base64()).as_ref(), Ok(&m));
            let cred = gate402_protocols::l402::L402Credential {
                macaroon: m,
                preimage: PREIMAGE,
            };
            let _ = format!("{cred:?}");
            let r = p.verify(
                &gate402_protocols::Credential::L402(cred.clone()),
                &offer(),
                &NoRailFacts,
                NOW,
            );
            // Only edits outside the signed content (location, encoding) can still verify.
            if r.is_ok() {
                assert_eq!(cred.macaroon.identifier(), seed.identifier());
                assert!(cred.macaroon.caveats().eq(seed.caveats()));
            }
        }
        let text = String::from_utf8_lossy(&input);
        let _ = Macaroon::from_base64(&text);
    }
    assert!(
        decoded > 50,
        "mutations should sometimes stay decodable ({decoded})"
    );
}

#[test]
fn random_valid_macaroons_round_trip() {
    let mut rng = Rng(42);
    for _ in 0..500 {
        let key_len = rng.below(80);
        let key = rng.bytes(key_len);
        let id_len = rng.below(200);
        let id = rng.bytes(id_len);
        let loc_len = rng.below(20);
        let loc = rng.bytes(loc_len);
        let mut m = Macaroon::new(&key, id, Some(loc));
        for _ in 0..rng.below(MAX_CAVEATS + 1) {
            let n = rng.below(150);
            m.add_first_party_caveat(&rng.bytes(n));
        }
        let bin = m.encode_v2();
        let d = Macaroon::decode(&bin).unwrap();
        assert_eq!(d, m);
        assert_eq!(d.encode_v2(), bin);
        assert!(d.verify_signature(&key));
        assert_eq!(Macaroon::from_base64(&m.to_base64()).unwrap(), m);
    }
}

#[test]
fn header_parsers_never_panic() {
    let p = l402();
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    let m = p.mint(&offer(), hash(&PREIMAGE), NOW).to_base64();
    let seeds = [
        format!("L402 {m}:{}", hex::encode(PREIMAGE)),
        format!("LSAT macaroon=\"{m}\", invoice=\"{BOLT11}\""),
        format!(
            "L402 version=\"0\" token=\"{m}\", invoice=\"{BOLT11}\", Payment id=\"a\\\"b\", x=y"
        ),
        format!("L402 version=0 macaroon={m} invoice={BOLT11}"),
        "Basic QWxh==, Bearer realm=\"x\"".to_owned(),
    ];
    let alphabet: Vec<u8> =
        b" \t,=\":\\/+-_LSAT402lsatmacarontkeinvic0123456789abcdefABCDEF=\x00\x7f\xc3\xa9\xff"
            .to_vec();
    for round in 0..ROUNDS {
        let seed = seeds[round % seeds.len()].as_bytes();
        let input = if round % 5 == 0 {
            let n = rng.below(120);
            (0..n)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect()
        } else {
            mutate(&mut rng, seed, &alphabet)
        };
        if let Ok(s) = std::str::from_utf8(&input) {
            if let Ok(list) = parse_challenges(s) {
                for c in &list {
                    let _ = (c.param("macaroon"), c.scheme_is("l402"));
                }
            }
            let _ = Macaroon::from_base64(s);
        }
        feed_headers(&p, "authorization", &input);
        feed_headers(&p, "www-authenticate", &input);
        feed_headers(&p, "macaroon", &input);
        feed_headers(&p, "grpc-metadata-macaroon", hex::encode(&input).as_bytes());
    }
}
