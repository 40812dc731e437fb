//! DIFFERENTIAL: our `WWW-Authenticate: Payment` challenge parsing and HMAC challenge-id
//! binding against the `mpp` crate (mpp-rs, the reference Rust SDK). When both parse a
//! header, they agree on every bound field, and both compute the same id for it.
#![no_main]

use ::mpp::protocol::core as oracle;
use gate402_protocols::auth_header::parse_challenges;
use gate402_protocols::mpp::{id, MppChallenge};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "gate402-fuzz-secret-of-32-bytes-or-more";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let ours = parse_challenges(text)
        .ok()
        .filter(|v| v.len() == 1)
        .and_then(|v| MppChallenge::from_auth(&v[0]).ok());
    let Some(ours) = ours else {
        return;
    };
    // The id binding, on our parsed fields, agrees with mpp's on the same fields.
    let mine = id::compute(SECRET.as_bytes(), &ours.bound());
    let theirs_id = oracle::compute_challenge_id_with_header(
        SECRET,
        &ours.realm,
        &ours.method,
        &ours.intent,
        &ours.request,
        ours.expires.as_deref(),
        ours.digest.as_deref(),
        ours.opaque.as_deref(),
        ours.header.as_deref(),
    );
    assert_eq!(mine, theirs_id, "challenge id differs from mpp's");
    let Ok(theirs) = oracle::parse_www_authenticate(text) else {
        return;
    };
    // Both parsed the same header: the bound fields are the same strings.
    assert_eq!(ours.realm, theirs.realm, "realm");
    assert_eq!(ours.request, theirs.request.raw(), "request");
    assert_eq!(ours.expires, theirs.expires, "expires");
    assert_eq!(ours.digest, theirs.digest, "digest");
    assert_eq!(
        ours.opaque.as_deref(),
        theirs.opaque.as_ref().map(|o| o.raw()),
        "opaque"
    );
    assert_eq!(ours.id, theirs.id, "id");
    // And a challenge that one accepts as ours, the other accepts too.
    let ok_ours = id::verify(SECRET.as_bytes(), &ours.id, &ours.bound()).is_some();
    assert_eq!(ok_ours, theirs.verify(SECRET), "verify disagrees");
});
