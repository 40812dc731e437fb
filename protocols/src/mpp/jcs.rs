//! JSON Canonicalization Scheme (RFC 8785) for `serde_json::Value`.
//!
//! Object members sorted by their names' UTF-16 code units, no whitespace, strings escaped as
//! ECMAScript `JSON.stringify` does (only `"`, `\` and control characters; non-ASCII stays raw
//! UTF-8, HTML-sensitive characters are not escaped), numbers in ECMAScript `Number#toString`
//! form. Used for the `request` and `opaque` auth-params and for the credentials we emit.

use serde_json::Value;

/// The canonical serialisation of `value`.
pub fn canonicalize(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, v);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_value(out, v);
            }
            out.push('}');
        }
    }
}

/// Append `s` as a JCS string literal.
pub(crate) fn write_string(out: &mut String, s: &str) {
    out.push('"');
    // Fast path: nothing to escape (no `"`, `\\` or control character) — the usual case for
    // invoices, hashes and names. `fold` (no early exit) lets the check vectorise.
    if !s.bytes().fold(false, |esc, b| {
        esc | (b < 0x20) | (b == b'"') | (b == b'\\')
    }) {
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_number(out: &mut String, n: &serde_json::Number) {
    if let Some(i) = n.as_i64() {
        out.push_str(&i.to_string());
    } else if let Some(u) = n.as_u64() {
        out.push_str(&u.to_string());
    } else if let Some(f) = n.as_f64() {
        out.push_str(&es_number(f));
    }
}

/// ECMAScript `Number#toString(10)` of a finite double (RFC 8785 §3.2.2.3), by `ryu-js`:
/// shortest round-trip digits and, when two shortest candidates are equally close, the even one
/// (ECMA-262 Number::toString step 5; `format!("{:e}")` rounds such ties up, which the
/// `jcs_diff` fuzz target found: 1669503599666666.25 must print as `1669503599666666.2`).
fn es_number(f: f64) -> String {
    if f == 0.0 {
        return "0".into();
    }
    ryu_js::Buffer::new().format_finite(f).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_escapes_and_keeps_unicode_raw() {
        let v = json!({"b": "<a>&'", "a": {"z": 1, "\u{e9}": "caf\u{e9}\n"}, "A": [true, null]});
        assert_eq!(
            canonicalize(&v),
            "{\"A\":[true,null],\"a\":{\"z\":1,\"\u{e9}\":\"caf\u{e9}\\n\"},\"b\":\"<a>&'\"}"
        );
    }

    #[test]
    fn a_key_sorts_before_its_extensions() {
        // RFC 8785 §3.2.3 compares member names, not their quoted forms: "" and "!a" order as
        // the empty string first (the `jcs_diff` fuzz target found serde_jcs ordering them by
        // `"` vs `!` after the opening quote, the other way round).
        let v = json!({"!u20ac{": 1, "": 2, " ": 3, "1": 4});
        assert_eq!(canonicalize(&v), "{\"\":2,\" \":3,\"!u20ac{\":1,\"1\":4}");
    }

    #[test]
    // The literal is the ECMAScript round-half-even vector written exactly as in RFC 8785.
    #[allow(clippy::excessive_precision)]
    fn numbers_follow_ecmascript() {
        let cases = [
            (1e21, "1e+21"),
            (1669503599666666.25, "1669503599666666.2"),
            (1e20, "100000000000000000000"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (-1.5, "-1.5"),
            (123.456, "123.456"),
            (4.5e-10, "4.5e-10"),
        ];
        for (f, want) in cases {
            assert_eq!(canonicalize(&json!(f)), want, "{f}");
        }
        assert_eq!(canonicalize(&json!(-42)), "-42");
    }
}
