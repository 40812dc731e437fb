//! Golden vectors A and B of `specs/l402.md` §7, byte for byte.

use gate402_protocols::l402::{Identifier, Macaroon};

const A_HEX: &str = "0201046c73617402420000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb00020f73657276696365733d737663313a3000021e737663315f6361706162696c69746965733d6164642c737562747261637400021b737663315f76616c69645f756e74696c3d3139393939393939393900000620bd17b440ecdadc7f7e6cb93e4e35b91d1a093d740aa4e99a57ae3626178fc3a9";
const A_B64: &str = "AgEEbHNhdAJCAACqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqru7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7AAIPc2VydmljZXM9c3ZjMTowAAIec3ZjMV9jYXBhYmlsaXRpZXM9YWRkLHN1YnRyYWN0AAIbc3ZjMV92YWxpZF91bnRpbD0xOTk5OTk5OTk5AAAGIL0XtEDs2tx/fmy5Pk41uR0aCT10CqTpmleuNiYXj8Op";
const A_CAVEATS: [&str; 3] = [
    "services=svc1:0",
    "svc1_capabilities=add,subtract",
    "svc1_valid_until=1999999999",
];
/// sig0, then the signature after each caveat.
const A_SIGS: [&str; 4] = [
    "1790bc6dc1964456355926bd4863e204d96b42629e94087abc906f85e91ccf93",
    "94dc9d22d4287174c66b77eb7f8e55ec7f678a2cc9a0b4da6f0f78d4a7997453",
    "c657beb5636c332601d83ae724045fa485d4e558b12b8a2be7696d260a4f9dab",
    "bd17b440ecdadc7f7e6cb93e4e35b91d1a093d740aa4e99a57ae3626178fc3a9",
];

const B_ROOT: &[u8] = b"this is our super secret key; only we should know it";
const B_HEX: &str = "020111687474703a2f2f3132372e302e302e312f021677652075736564206f757220736563726574206b65790002146163636f756e74203d203337333539323835353900020f73657276696365733d737663313a300000062001fa688c9c05e6f206308afb59e59915c6658e33b80eef9a396120b93e328ba0";
const B_B64: &str = "AgERaHR0cDovLzEyNy4wLjAuMS8CFndlIHVzZWQgb3VyIHNlY3JldCBrZXkAAhRhY2NvdW50ID0gMzczNTkyODU1OQACD3NlcnZpY2VzPXN2YzE6MAAABiAB+miMnAXm8gYwivtZ5ZkVxmWOM7gO75o5YSC5PjKLoA==";

fn vector_a_identifier() -> Vec<u8> {
    Identifier {
        version: 0,
        payment_hash: [0xaa; 32],
        token_id: [0xbb; 32],
    }
    .encode()
    .to_vec()
}

#[test]
fn vector_a_mint_intermediate_signatures_and_bytes() {
    let mut m = Macaroon::new(&[1u8; 32], vector_a_identifier(), Some(b"lsat".to_vec()));
    assert_eq!(hex::encode(m.signature()), A_SIGS[0], "sig0");
    for (caveat, sig) in A_CAVEATS.iter().zip(&A_SIGS[1..]) {
        m.add_first_party_caveat(caveat.as_bytes());
        assert_eq!(hex::encode(m.signature()), *sig, "after {caveat}");
    }
    let bin = m.encode_v2();
    assert_eq!(bin.len(), 192);
    assert_eq!(hex::encode(&bin), A_HEX);
    assert_eq!(m.to_base64(), A_B64);
    assert_eq!(m.to_base64().len(), 256);
}

#[test]
fn vector_a_decodes_and_verifies() {
    let bin = hex::decode(A_HEX).unwrap();
    let m = Macaroon::decode(&bin).unwrap();
    assert_eq!(m.location(), Some(&b"lsat"[..]));
    assert_eq!(m.identifier(), &vector_a_identifier()[..]);
    let caveats: Vec<&[u8]> = m.caveats().collect();
    assert_eq!(caveats, A_CAVEATS.map(str::as_bytes).to_vec());
    assert!(m.verify_signature(&[1u8; 32]));
    assert!(!m.verify_signature(&[2u8; 32]));
    assert_eq!(m.encode_v2(), bin);
    let id = Identifier::decode(m.identifier()).unwrap();
    assert_eq!(
        (id.version, id.payment_hash, id.token_id),
        (0, [0xaa; 32], [0xbb; 32])
    );

    // Standard, URL-safe (what the Rust `macaroon` crate emits) and unpadded forms all decode.
    assert_eq!(Macaroon::from_base64(A_B64).unwrap(), m);
    let url_safe = A_B64.replace('/', "_").replace('+', "-");
    assert_eq!(url_safe.find('_'), Some(223));
    assert_eq!(Macaroon::from_base64(&url_safe).unwrap(), m);
    assert_eq!(
        Macaroon::from_base64(A_B64.trim_end_matches('=')).unwrap(),
        m
    );
}

#[test]
fn vector_b_classic_libmacaroons_example() {
    let mut m = Macaroon::new(
        B_ROOT,
        b"we used our secret key".to_vec(),
        Some(b"http://127.0.0.1/".to_vec()),
    );
    m.add_first_party_caveat(b"account = 3735928559");
    m.add_first_party_caveat(b"services=svc1:0");
    assert_eq!(
        hex::encode(m.signature()),
        "01fa688c9c05e6f206308afb59e59915c6658e33b80eef9a396120b93e328ba0"
    );
    let bin = m.encode_v2();
    assert_eq!(bin.len(), 121);
    assert_eq!(hex::encode(&bin), B_HEX);
    assert_eq!(m.to_base64(), B_B64);

    let d = Macaroon::from_base64(B_B64).unwrap();
    assert_eq!(d, m);
    assert!(d.verify_signature(B_ROOT));
    assert_eq!(Macaroon::decode(&hex::decode(B_HEX).unwrap()).unwrap(), m);
    // pymacaroons form: URL-safe, no padding.
    let py = B_B64.replace('+', "-").replace('/', "_");
    assert_eq!(Macaroon::from_base64(py.trim_end_matches('=')).unwrap(), m);
}

#[test]
fn empty_location_writes_no_location_packet() {
    let m = Macaroon::new(&[1u8; 32], vector_a_identifier(), Some(Vec::new()));
    assert_eq!(m.location(), None);
    let bin = m.encode_v2();
    assert_eq!(&bin[..3], &[0x02, 0x02, 0x42]);
    assert_eq!(m, Macaroon::new(&[1u8; 32], vector_a_identifier(), None));
    assert_eq!(Macaroon::decode(&bin).unwrap(), m);
}

#[test]
fn debug_hides_signature_and_preimage_caveats() {
    let mut m = Macaroon::from_base64(A_B64).unwrap();
    m.add_first_party_caveat(
        b"preimage=0707070707070707070707070707070707070707070707070707070707070707",
    );
    let dbg = format!("{m:?}");
    assert!(!dbg.contains(&hex::encode(m.signature())), "{dbg}");
    assert!(!dbg.contains("070707"), "{dbg}");
    assert!(dbg.contains("services=svc1:0"), "{dbg}");
}
