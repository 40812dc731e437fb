//! DIFFERENTIAL: our RFC 8785 JSON canonicalisation against the `serde_jcs` crate, on every
//! JSON document serde_json accepts. Canonical output is a fixed point.
//!
//! `serde_jcs` 0.1 orders object members by their *quoted, escaped UTF-8* bytes, not by UTF-16
//! code units of the names as RFC 8785 §3.2.3 requires (the RFC's own sorting example comes
//! out differently; ours matches the RFC). The quotes matter too: `""` sorts after `"!a"`
//! there, because `"` (0x22) follows ` ` and `!`. So the outputs must be byte-identical when
//! every member name is printable ASCII above `"` and without `\` (where both orders
//! coincide); otherwise they must denote the same JSON value (number and string formatting are
//! still compared through the ASCII-named documents, which the fuzzer reaches far more often).
#![no_main]

use gate402_protocols::mpp::jcs;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn plain_keys(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.iter().all(|(k, v)| {
            k.bytes()
                .all(|b| (0x23..0x7f).contains(&b) && b != b'\\')
                && plain_keys(v)
        }),
        Value::Array(items) => items.iter().all(plain_keys),
        _ => true,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let ours = jcs::canonicalize(&value);
    let back: Value = serde_json::from_str(&ours).expect("canonical JSON parses");
    assert_eq!(jcs::canonicalize(&back), ours, "JCS is not a fixed point");
    let Ok(theirs) = serde_jcs::to_string(&value) else {
        return;
    };
    if plain_keys(&value) {
        assert_eq!(ours, theirs, "JCS differs from serde_jcs");
    } else {
        let theirs_back: Value = serde_json::from_str(&theirs).expect("serde_jcs output parses");
        assert_eq!(
            back, theirs_back,
            "JCS denotes another value than serde_jcs"
        );
    }
});
