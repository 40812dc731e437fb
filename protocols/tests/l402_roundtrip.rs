//! End-to-end L402 flows: mint → challenge → client → credential → verify, and accepted
//! attenuations. Rejections are in `l402_rejections.rs`.

mod common;

use common::*;
use gate402_protocols::l402::{Identifier, L402Credential, L402};
use gate402_protocols::{
    ChallengeError, ClientChallenge, NoRailFacts, PaymentProof, PaymentProtocol, ProtocolId,
    VerifyError,
};
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};

#[test]
fn full_round_trip() {
    let p = l402();
    assert_eq!(p.id(), ProtocolId::L402);
    assert!(p.needs_invoice());
    let hdrs = p.challenge(&offer(), Some(&invoice()), NOW).unwrap();
    assert_eq!(hdrs.len(), 1);
    let (name, value) = &hdrs[0];
    assert_eq!(name, WWW_AUTHENTICATE);
    let expected = format!(
        "L402 macaroon=\"{}\", invoice=\"{BOLT11}\"",
        minted().to_base64()
    );
    assert_eq!(value.to_str().unwrap(), expected);

    let mut resp = http::HeaderMap::new();
    resp.append(name.clone(), value.clone());
    let challenges = p.parse_challenges(&resp, b"payment required");
    assert_eq!(challenges.len(), 1);
    let challenge = challenges[0].clone().unwrap();
    let ClientChallenge::L402(c) = &challenge else {
        panic!("expected an L402 challenge")
    };
    assert_eq!(c.scheme, "L402");
    assert_eq!(c.invoice, BOLT11);
    assert_eq!(c.payment_hash(), Some(hash(&PREIMAGE)));
    assert_eq!(challenge.invoice(), Some(BOLT11));

    let (hname, hvalue) = p
        .credential_header(&challenge, &PaymentProof::Preimage(PREIMAGE))
        .unwrap();
    assert_eq!(hname, AUTHORIZATION);
    assert_eq!(
        hvalue.to_str().unwrap(),
        format!("L402 {}:{}", c.macaroon.to_base64(), hex::encode(PREIMAGE))
    );
    assert_eq!(
        hvalue.to_str().unwrap(),
        c.credential(PREIMAGE).authorization()
    );

    let mut req = http::HeaderMap::new();
    req.append(hname, hvalue);
    let credential = p.parse_credential(&req).unwrap().unwrap();
    assert_eq!(credential.protocol(), ProtocolId::L402);
    let v = p
        .verify(&credential, &offer(), &NoRailFacts, NOW + 10)
        .unwrap();
    assert_eq!(v.protocol, ProtocolId::L402);
    assert_eq!(v.reference.to_string(), hex::encode(hash(&PREIMAGE)));
    assert_eq!(v.token_id, Some(p.token_id_for(&hash(&PREIMAGE))));
    assert_eq!(v.single_use_key, None);
    assert_eq!(v.expires_at, Some(NOW + 3600));
    assert!(p.receipt(&v).is_empty());
}

#[test]
fn mint_is_deterministic_with_aperture_caveats() {
    let m = minted();
    assert_eq!(m, minted());
    assert_eq!(m.location(), Some(&b"lsat"[..]));
    let caveats: Vec<String> = m
        .caveats()
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    let until = format!("api_valid_until={}", NOW + 3600);
    assert_eq!(
        caveats,
        [
            "services=api:0",
            "api_capabilities=read,write",
            until.as_str()
        ]
    );
    let id = Identifier::decode(m.identifier()).unwrap();
    let p = l402();
    assert_eq!(id.token_id, p.token_id_for(&hash(&PREIMAGE)));
    assert!(m.verify_signature(&p.root_key_for(&id.token_id)));
    // No expiry and no capabilities: the capabilities caveat is still minted, empty.
    let open = gate402_protocols::Offer {
        capabilities: vec![],
        valid_for_secs: None,
        ..offer()
    };
    let m = p.mint(&open, hash(&PREIMAGE), NOW);
    let caveats: Vec<&[u8]> = m.caveats().collect();
    assert_eq!(caveats, [&b"services=api:0"[..], b"api_capabilities="]);
    assert_eq!(
        p.verify(&cred(&m, PREIMAGE), &open, &NoRailFacts, u64::MAX)
            .unwrap()
            .expires_at,
        None
    );
}

#[test]
fn challenge_errors() {
    let p = l402();
    assert_eq!(
        p.challenge(&offer(), None, NOW),
        Err(ChallengeError::InvoiceRequired)
    );
    for bad in ["", "a:b", "a,b", "a=b", "a b", "a\nb"] {
        let r = p.challenge(&offer_for(bad), Some(&invoice()), NOW);
        assert!(matches!(r, Err(ChallengeError::InvalidOffer(_))), "{bad:?}");
    }
    let caps = gate402_protocols::Offer {
        capabilities: vec!["a,b".into()],
        ..offer()
    };
    assert!(p.challenge(&caps, Some(&invoice()), NOW).is_err());
    let mut inv = invoice();
    inv.bolt11 = "lnbc1\"evil".into();
    assert!(p.challenge(&offer(), Some(&inv), NOW).is_err());
    assert!(matches!(
        L402::new(&[0u8; 31]),
        Err(ChallengeError::InvalidOffer(_))
    ));
    assert!(L402::new(&[0u8; 64]).is_ok());
}

#[test]
fn attenuation_is_accepted() {
    let m = minted();
    let mut a = m.clone();
    a.add_first_party_caveat(b"api_capabilities=read");
    a.add_first_party_caveat(format!("api_valid_until={}", NOW + 60).as_bytes());
    a.add_first_party_caveat(b"services=api:0");
    a.add_first_party_caveat(format!("preimage={}", hex::encode(PREIMAGE)).as_bytes());
    a.add_first_party_caveat(b"note=anything goes");
    let v = verify(&a, NOW).unwrap();
    assert_eq!(v.expires_at, Some(NOW + 60));
    assert_eq!(verify(&a, NOW + 60), Err(VerifyError::Expired.into()));
    // Through the Authorization header too.
    let h = auth(
        &L402Credential {
            macaroon: a,
            preimage: PREIMAGE,
        }
        .authorization(),
    );
    assert!(check(&h, &offer(), NOW).is_ok());
}

#[test]
fn credential_debug_redacts_preimage() {
    let c = L402Credential {
        macaroon: minted(),
        preimage: PREIMAGE,
    };
    let dbg = format!("{c:?}");
    assert!(
        dbg.contains("<redacted>") && !dbg.contains("0707070707"),
        "{dbg}"
    );
    assert!(!format!("{:?}", l402()).contains("4242"));
}
