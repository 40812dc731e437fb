//! The L402 key-derivation test vector in `docs/test-vectors/l402-key-derivation.json`:
//! recomputed here from the document (labels included) with plain HMAC-SHA256, and checked
//! against what the verifier derives and mints, so the published labels cannot drift from
//! the code.

use gate402_protocols::l402::{Identifier, Macaroon, L402};
use gate402_protocols::Offer;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn vector() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/test-vectors/l402-key-derivation.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn hex32(v: &Value, key: &str) -> [u8; 32] {
    hex::decode(v[key].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

#[test]
fn the_documented_key_derivation_is_what_the_verifier_does() {
    let v = vector();
    let secret = hex::decode(v["master_secret_hex"].as_str().unwrap()).unwrap();
    let preimage = hex32(&v, "preimage_hex");
    let payment_hash = hex32(&v, "payment_hash_hex");
    assert_eq!(<[u8; 32]>::from(Sha256::digest(preimage)), payment_hash);
    let token_label = v["token_id_label"].as_str().unwrap().as_bytes();
    let root_label = v["root_key_label"].as_str().unwrap().as_bytes();
    // Recomputed from the document alone.
    let token_id = hmac(&secret, &[token_label, &payment_hash]);
    let root_key = hmac(&secret, &[root_label, &token_id]);
    assert_eq!(token_id, hex32(&v, "token_id_hex"));
    assert_eq!(root_key, hex32(&v, "root_key_hex"));
    // The verifier derives the same.
    let l402 = L402::new(&secret).unwrap();
    assert_eq!(l402.token_id_for(&payment_hash), token_id);
    assert_eq!(l402.root_key_for(&token_id), root_key);
    // And mints the documented macaroon, signed under that root key.
    let o = &v["offer"];
    let offer = Offer {
        service: o["service"].as_str().unwrap().into(),
        price_msat: o["price_msat"].as_u64().unwrap(),
        capabilities: o["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect(),
        valid_for_secs: o["valid_for_secs"].as_u64(),
        bind_price: false,
    };
    let minted = l402.mint(&offer, payment_hash, v["now_unix"].as_u64().unwrap());
    assert_eq!(minted.to_base64(), v["macaroon_base64"].as_str().unwrap());
    let m = Macaroon::from_base64(v["macaroon_base64"].as_str().unwrap()).unwrap();
    assert!(m.verify_signature(&root_key));
    assert_eq!(
        m.identifier(),
        Identifier::new(payment_hash, token_id).encode().as_slice()
    );
    let auth = format!("L402 {}:{}", minted.to_base64(), hex::encode(preimage));
    assert_eq!(auth, v["authorization"].as_str().unwrap());
}
