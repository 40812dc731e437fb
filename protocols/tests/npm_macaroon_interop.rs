//! Byte compatibility with an external implementation: npm `macaroon` 3.0.4 (the JavaScript
//! port of go-macaroon), driven through `tests/interop/macaroon_compat.mjs`.
//!
//! Needs Node.js and `npm ci --prefix tests/interop`; fails (never skips) without them.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;
use gate402_protocols::l402::{Identifier, Macaroon, L402};
use gate402_protocols::{CredentialError, NoRailFacts, PaymentProtocol, VerifyError};
use serde_json::Value;

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/interop")
}

/// Run the oracle CLI and return its stdout.
fn node(args: &[&str]) -> String {
    let dir = interop_dir();
    assert!(
        dir.join("node_modules/macaroon/package.json").is_file(),
        "npm dependencies missing in {}: run `npm ci --prefix tests/interop` first \
         (the project's test script does this)",
        dir.display()
    );
    let out = Command::new("node")
        .arg(dir.join("macaroon_compat.mjs"))
        .args(args)
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `node` ({e}): install Node.js >= 18 and run `npm ci --prefix tests/interop`")
        });
    assert!(
        out.status.success(),
        "macaroon_compat.mjs {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8 output")
        .trim()
        .to_owned()
}

fn node_verify(root_key: &[u8; 32], m: &Macaroon) -> Value {
    let out = node(&["verify", &hex::encode(root_key), &m.to_base64()]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON {out:?}: {e}"))
}

fn node_mint(root_key: &[u8; 32], identifier: &[u8], location: &str, caveats: &[&str]) -> String {
    let root = hex::encode(root_key);
    let id = hex::encode(identifier);
    let mut args = vec!["mint", root.as_str(), id.as_str(), location];
    args.extend_from_slice(caveats);
    node(&args)
}

fn caveat_strings(m: &Macaroon) -> Vec<String> {
    m.caveats()
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect()
}

fn verify_b64(p: &L402, b64: &str) -> Result<gate402_protocols::Verified, CredentialError> {
    let h = auth(&format!("L402 {b64}:{}", hex::encode(PREIMAGE)));
    let cred = p
        .parse_credential(&h)
        .expect("credential")
        .map_err(CredentialError::from)?;
    p.verify(&cred, &offer(), &NoRailFacts, NOW)
}

#[test]
fn gate402_mint_verifies_in_node() {
    let p = l402();
    let m = p.mint(&offer(), hash(&PREIMAGE), NOW);
    let token_id = Identifier::decode(m.identifier()).unwrap().token_id;
    let root = p.root_key_for(&token_id);
    let v = node_verify(&root, &m);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["identifierHex"], hex::encode(m.identifier()));
    assert_eq!(v["location"], "lsat");
    assert_eq!(v["caveats"], serde_json::json!(caveat_strings(&m)));
    assert_eq!(v["signatureHex"], hex::encode(m.signature()));
    assert_eq!(
        v["reencoded"],
        m.to_base64(),
        "node re-exports the same bytes"
    );

    // lnget-style attenuation keeps verifying in node as well.
    let mut a = m.clone();
    a.add_first_party_caveat(format!("preimage={}", hex::encode(PREIMAGE)).as_bytes());
    assert_eq!(node_verify(&root, &a)["ok"], true);
    // And a wrong key or a tampered signature does not.
    assert_eq!(node_verify(&[0u8; 32], &m)["ok"], false);
    let mut bin = m.encode_v2();
    *bin.last_mut().unwrap() ^= 1;
    assert_eq!(
        node_verify(&root, &Macaroon::decode(&bin).unwrap())["ok"],
        false
    );
}

#[test]
fn node_mint_is_byte_identical_and_verifies_in_gate402() {
    let p = l402();
    let ours = p.mint(&offer(), hash(&PREIMAGE), NOW);
    let token_id = p.token_id_for(&hash(&PREIMAGE));
    let id = Identifier::new(hash(&PREIMAGE), token_id).encode();
    let caveats = caveat_strings(&ours);
    let refs: Vec<&str> = caveats.iter().map(String::as_str).collect();
    let theirs = node_mint(&p.root_key_for(&token_id), &id, "lsat", &refs);
    assert_eq!(theirs, ours.to_base64(), "same inputs, same bytes");
    assert_eq!(Macaroon::from_base64(&theirs).unwrap(), ours);
    assert!(verify_b64(&p, &theirs).is_ok());

    // Attenuated like lnget (4 caveats): still identical, still accepted.
    let mut attenuated = ours.clone();
    attenuated.add_first_party_caveat(format!("preimage={}", hex::encode(PREIMAGE)).as_bytes());
    let caveats = caveat_strings(&attenuated);
    let refs: Vec<&str> = caveats.iter().map(String::as_str).collect();
    let theirs = node_mint(&p.root_key_for(&token_id), &id, "lsat", &refs);
    assert_eq!(theirs, attenuated.to_base64());
    assert!(verify_b64(&p, &theirs).is_ok());

    // Any token id works as long as the root key is ours for that id.
    let token_id = [0x5a; 32];
    let id = Identifier::new(hash(&PREIMAGE), token_id).encode();
    let extra = ["services=api:0", "api_capabilities=read", "note=from node"];
    let b64 = node_mint(&p.root_key_for(&token_id), &id, "", &extra);
    let v = verify_b64(&p, &b64).unwrap();
    assert_eq!(v.token_id, Some(token_id));
    assert_eq!(Macaroon::from_base64(&b64).unwrap().location(), None);

    // Minted in node with a key that is not ours: refused.
    let b64 = node_mint(&[1u8; 32], &id, "lsat", &extra);
    assert_eq!(verify_b64(&p, &b64), Err(VerifyError::BadSignature.into()));
}
