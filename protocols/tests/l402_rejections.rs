//! L402 rejections: tampering, wrong preimage, expiry, widening, wrong service, identifier
//! versions, third-party caveats — each with the right error.

mod common;

use common::*;
use gate402_protocols::l402::{Identifier, Macaroon, L402};
use gate402_protocols::{CredentialError, NoRailFacts, ParseError, PaymentProtocol, VerifyError};

#[test]
fn tampering_is_detected() {
    let m = minted();
    let good = m.encode_v2();
    // Signature byte → BadSignature.
    let mut b = good.clone();
    let last = b.len() - 1;
    b[last] ^= 1;
    assert_eq!(
        verify_err(&Macaroon::decode(&b).unwrap()),
        VerifyError::BadSignature
    );
    // A caveat byte (services=api:0 → services=apj:0): still decodes, BadSignature.
    let pos = good.windows(3).position(|w| w == b"api").unwrap();
    let mut b = good.clone();
    b[pos + 2] = b'j';
    assert_eq!(
        verify_err(&Macaroon::decode(&b).unwrap()),
        VerifyError::BadSignature
    );
    // Token id byte (offset: version 1 + loc 6 + id header 2 + 34) → BadSignature.
    let mut b = good.clone();
    b[1 + 6 + 2 + 40] ^= 0x80;
    assert_eq!(
        verify_err(&Macaroon::decode(&b).unwrap()),
        VerifyError::BadSignature
    );
    // Payment hash byte → PreimageMismatch (checked before the chain).
    let mut b = good.clone();
    b[1 + 6 + 2 + 5] ^= 0x80;
    assert_eq!(
        verify_err(&Macaroon::decode(&b).unwrap()),
        VerifyError::PreimageMismatch
    );
    // Structural bytes → ParseError.
    let mut b = good.clone();
    b[0] = 3;
    assert!(matches!(Macaroon::decode(&b), Err(ParseError::Macaroon(_))));
    let mut b = good.clone();
    b[2] = 0x7f; // location length
    assert!(matches!(Macaroon::decode(&b), Err(ParseError::Macaroon(_))));
    // Every single-bit flip is refused, one way or the other, except in the location bytes
    // (3..7): the location is an unsigned hint in every macaroon implementation.
    for i in (0..good.len()).filter(|i| !(3..7).contains(i)) {
        for bit in 0..8 {
            let mut b = good.clone();
            b[i] ^= 1 << bit;
            if let Ok(t) = Macaroon::decode(&b) {
                assert!(verify(&t, NOW).is_err(), "flip {i}:{bit} accepted");
            }
        }
    }
    let mut b = good.clone();
    b[3] = b'L';
    assert!(verify(&Macaroon::decode(&b).unwrap(), NOW).is_ok());
}

#[test]
fn semantic_rejections() {
    let m = minted();
    let r = l402().verify(&cred(&m, [8u8; 32]), &offer(), &NoRailFacts, NOW);
    assert_eq!(
        r,
        Err(CredentialError::Verify(VerifyError::PreimageMismatch))
    );
    assert_eq!(r.unwrap_err().reason(), "invalid_preimage");
    // Expiry: valid until NOW+3600 exclusive.
    assert!(verify(&m, NOW + 3599).is_ok());
    assert_eq!(verify(&m, NOW + 3600), Err(VerifyError::Expired.into()));
    // Widening by the client.
    for widen in [
        "services=api:0,admin:0",
        "api_capabilities=read,write,admin",
    ] {
        let mut w = m.clone();
        w.add_first_party_caveat(widen.as_bytes());
        assert!(
            matches!(verify_err(&w), VerifyError::CaveatWidened(_)),
            "{widen}"
        );
    }
    let mut w = m.clone();
    w.add_first_party_caveat(format!("api_valid_until={}", NOW + 7200).as_bytes());
    assert!(matches!(verify_err(&w), VerifyError::CaveatWidened(_)));
    // Token minted for another service.
    let other = l402().mint(&offer_for("other"), hash(&PREIMAGE), NOW);
    assert_eq!(verify_err(&other), VerifyError::WrongService("api".into()));
    // Malformed known caveat.
    let mut w = m.clone();
    w.add_first_party_caveat(b"api_valid_until=soon");
    assert!(matches!(verify_err(&w), VerifyError::BadCaveat(_)));
    // Token of another gateway (different master secret).
    let foreign = L402::new(&[9u8; 32])
        .unwrap()
        .mint(&offer(), hash(&PREIMAGE), NOW);
    assert_eq!(verify_err(&foreign), VerifyError::BadSignature);
}

#[test]
fn identifier_rejections() {
    let p = l402();
    let token_id = [3u8; 32];
    let mut id = Identifier::new(hash(&PREIMAGE), token_id);
    id.version = 1;
    let mut m = Macaroon::new(&p.root_key_for(&token_id), id.encode().to_vec(), None);
    m.add_first_party_caveat(b"services=api:0");
    assert_eq!(verify_err(&m), VerifyError::UnknownVersion(1));
    let short = Macaroon::new(&p.root_key_for(&token_id), vec![0, 0, 1], None);
    assert!(matches!(
        verify(&short, NOW),
        Err(CredentialError::Parse(ParseError::Identifier(_)))
    ));
    // A signed version-0 identifier with an arbitrary token id verifies (the root key is bound
    // to the token id, whoever picked it).
    let id = Identifier::new(hash(&PREIMAGE), token_id);
    let mut m = Macaroon::new(&p.root_key_for(&token_id), id.encode().to_vec(), None);
    m.add_first_party_caveat(b"services=api:0");
    assert_eq!(verify(&m, NOW).unwrap().token_id, Some(token_id));
}

#[test]
fn third_party_caveat_fails() {
    let good = minted().encode_v2();
    // Splice a third-party caveat (cl, cid, vid) before the end-of-caveats EOS.
    let end = good.len() - 35;
    assert_eq!(good[end], 0);
    let tp = [1u8, 1, b'l', 2, 1, b'c', 4, 1, b'v', 0];
    let b = [&good[..end], &tp[..], &good[end..]].concat();
    let m = Macaroon::decode(&b).unwrap();
    assert!(m.has_third_party_caveats());
    assert!(matches!(verify_err(&m), VerifyError::BadCaveat(_)));
}
