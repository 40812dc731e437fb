//! Header tolerance: every credential and challenge shape of `specs/l402.md` §0–§2 that must be
//! accepted, and malformed ones that must be refused with the right [`ParseError`].

mod common;

use common::*;
use gate402_protocols::l402::L402Challenge;
use gate402_protocols::{ClientChallenge, ParseError, PaymentProtocol, MAX_HEADER_BYTES};

fn b64() -> String {
    minted().to_base64()
}

fn pre() -> String {
    hex::encode(PREIMAGE)
}

fn parse_err(h: &http::HeaderMap) -> ParseError {
    match parse(h) {
        Err(e) => e,
        Ok(c) => panic!("expected a parse error, got {c:?}"),
    }
}

#[test]
fn accepted_authorization_shapes() {
    let url_safe = b64().replace('+', "-").replace('/', "_");
    let unpadded = b64().trim_end_matches('=').to_owned();
    let values = [
        format!("L402 {}:{}", b64(), pre()),
        format!("LSAT {}:{}", b64(), pre()),
        format!("l402 {}:{}", b64(), pre()),
        format!("lSaT {}:{}", b64(), pre()),
        format!("L402    {}:{}", b64(), pre()),
        format!("L402\t{}:{}", b64(), pre()),
        format!("L402 {}:{}", b64(), pre().to_uppercase()),
        format!("L402 {url_safe}:{}", pre()),
        format!("L402 {}:{}", url_safe.trim_end_matches('='), pre()),
        format!("L402 {unpadded}:{}", pre()),
    ];
    for v in &values {
        let verified = check(&auth(v), &offer(), NOW);
        assert!(verified.is_ok(), "{v}: {verified:?}");
    }
}

#[test]
fn several_authorization_lines_last_l402_decides() {
    let good = format!("L402 {}:{}", b64(), pre());
    let lsat = format!("LSAT {}:{}", b64(), pre());
    let bad = format!("L402 {}:{}", b64(), "00".repeat(32));
    let h = headers(&[
        ("authorization", lsat.as_bytes()),
        ("authorization", good.as_bytes()),
    ]);
    assert!(check(&h, &offer(), NOW).is_ok());
    let h = headers(&[
        ("authorization", bad.as_bytes()),
        ("authorization", good.as_bytes()),
        ("authorization", b"Bearer x"),
    ]);
    assert!(check(&h, &offer(), NOW).is_ok());
    let h = headers(&[
        ("authorization", good.as_bytes()),
        ("authorization", bad.as_bytes()),
    ]);
    assert!(check(&h, &offer(), NOW).is_err());
}

#[test]
fn no_l402_credential_is_none() {
    let p = l402();
    assert!(p.parse_credential(&headers(&[])).is_none());
    assert!(p.parse_credential(&auth("Bearer abc")).is_none());
    assert!(p.parse_credential(&auth("Basic dXNlcjpwYXNz")).is_none());
    assert!(p.parse_credential(&auth("L402x abc:def")).is_none());
    assert!(p
        .parse_credential(&headers(&[("x-macaroon", b"00")]))
        .is_none());
}

#[test]
fn macaroon_header_fallback() {
    let mut m = minted();
    m.add_first_party_caveat(format!("preimage={}", pre()).as_bytes());
    let hexmac = hex::encode(m.encode_v2());
    for name in ["grpc-metadata-macaroon", "macaroon", "Macaroon"] {
        let h = headers(&[(name, hexmac.as_bytes())]);
        assert!(check(&h, &offer(), NOW).is_ok(), "{name}");
    }
    // Authorization wins over the metadata header.
    let h = headers(&[
        ("macaroon", b"zz"),
        (
            "authorization",
            format!("L402 {}:{}", b64(), pre()).as_bytes(),
        ),
    ]);
    assert!(check(&h, &offer(), NOW).is_ok());
    let h = headers(&[("macaroon", b"not hex")]);
    assert_eq!(parse_err(&h), ParseError::Hex("macaroon"));
    let h = headers(&[("macaroon", hex::encode(minted().encode_v2()).as_bytes())]);
    assert_eq!(parse_err(&h), ParseError::MissingParam("preimage"));
    let mut w = minted();
    w.add_first_party_caveat(b"preimage=xyz");
    let h = headers(&[(
        "grpc-metadata-macaroon",
        hex::encode(w.encode_v2()).as_bytes(),
    )]);
    assert_eq!(parse_err(&h), ParseError::Hex("preimage"));
}

#[test]
fn malformed_authorization_values() {
    let b = b64();
    let p = pre();
    let garbage_mac = gate402_protocols::l402::Identifier::new([0; 32], [0; 32]).encode();
    let garbage_b64 = base64_std(&garbage_mac);
    let cases: Vec<(String, ParseError)> = vec![
        ("L402".into(), ParseError::MissingParam("macaroon")),
        ("LSAT   ".into(), ParseError::MissingParam("macaroon")),
        (format!("L402 {b}"), ParseError::MissingParam("preimage")),
        (format!("L402 :{p}"), ParseError::MissingParam("macaroon")),
        (format!("L402 {b}:"), ParseError::Hex("preimage")),
        (
            format!("L402 {b}:{}", &p[..63]),
            ParseError::Hex("preimage"),
        ),
        (format!("L402 {b}:{p}00"), ParseError::Hex("preimage")),
        (
            format!("L402 {b}:{}", "zz".repeat(32)),
            ParseError::Hex("preimage"),
        ),
        (format!("L402 {b}:{p}:{p}"), ParseError::Base64("macaroon")),
        (format!("L402 {b}:{p}:"), ParseError::Hex("preimage")),
        (format!("L402 {b} :{p}"), ParseError::Base64("macaroon")),
        (format!("L402 !!!!:{p}"), ParseError::Base64("macaroon")),
        (
            format!("L402 {}:{p}", &b[..b.len() - 3]),
            ParseError::Base64("macaroon"),
        ),
        (
            format!("L402 {garbage_b64}:{p}"),
            ParseError::Macaroon("unknown format version"),
        ),
        (
            format!("L402 {b},{b}:{p}"),
            ParseError::Syntax("several macaroons are not supported"),
        ),
        (
            format!("L402 {}:{p}", base64_std(&minted().encode_v2()[..100])),
            ParseError::Macaroon("field longer than input"),
        ),
    ];
    for (value, want) in cases {
        assert_eq!(parse_err(&auth(&value)), want, "{value}");
    }
    let mut raw = b"L402 ".to_vec();
    raw.extend_from_slice(&[0xff, 0xfe, b':']);
    assert_eq!(
        parse_err(&headers(&[("authorization", &raw)])),
        ParseError::NotText
    );
}

fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn oversized_headers_are_refused_before_decoding() {
    let big = format!("L402 {}", "A".repeat(9000 - 5));
    assert_eq!(big.len(), 9000);
    let want = ParseError::Oversized {
        len: 9000,
        max: MAX_HEADER_BYTES,
    };
    assert_eq!(parse_err(&auth(&big)), want);
    let good = format!("L402 {}:{}", b64(), pre());
    let h = headers(&[
        ("authorization", good.as_bytes()),
        ("authorization", big.as_bytes()),
    ]);
    assert_eq!(parse_err(&h), want);
    let h = headers(&[("macaroon", "0".repeat(9000).as_bytes())]);
    assert_eq!(parse_err(&h), want);
    let exactly = format!("L402 {}", "A".repeat(MAX_HEADER_BYTES - 5));
    assert_ne!(
        parse_err(&auth(&exactly)),
        ParseError::Oversized {
            len: MAX_HEADER_BYTES,
            max: MAX_HEADER_BYTES
        }
    );
    // Challenges too.
    let h = headers(&[("www-authenticate", big.as_bytes())]);
    assert_eq!(l402().parse_challenges(&h, b""), vec![Err(want)]);
}

fn client(values: &[&str]) -> Vec<Result<L402Challenge, ParseError>> {
    let pairs: Vec<(&str, &[u8])> = values
        .iter()
        .map(|v| ("www-authenticate", v.as_bytes()))
        .collect();
    l402()
        .parse_challenges(&headers(&pairs), b"")
        .into_iter()
        .map(|r| {
            r.map(|c| match c {
                ClientChallenge::L402(c) => c,
                other => panic!("not L402: {other:?}"),
            })
        })
        .collect()
}

fn one(values: &[&str]) -> L402Challenge {
    let mut all = client(values);
    assert_eq!(all.len(), 1, "{values:?}: {all:?}");
    all.remove(0).unwrap_or_else(|e| panic!("{values:?}: {e}"))
}

#[test]
fn client_accepts_every_challenge_form() {
    let m = b64();
    let u = m.trim_end_matches('=');
    let i = BOLT11;
    let forms = [
        format!("L402 macaroon=\"{m}\", invoice=\"{i}\""),
        format!("L402 version=\"0\", token=\"{m}\", invoice=\"{i}\""),
        format!("L402 version=\"0\" token=\"{m}\", invoice=\"{i}\""),
        format!("L402 version=0 macaroon={m} invoice={i}"),
        format!("L402 macaroon={u}, invoice={i}"),
        format!("l402 invoice=\"{i}\", macaroon=\"{m}\""),
        format!("L402 macaroon=\"{m}\", invoice=\"{i}\", version=\"0\""),
        format!("L402 macaroon = \"{m}\" ,invoice= \"{i}\" , foo=bar"),
        format!("L402 macaroon=\"{m}\", invoice=\"{i}\", Payment id=\"x\", realm=\"r\", method=\"lightning\", intent=\"charge\", request=\"eyJhIjoxfQ\""),
        format!("Payment id=\"x\", method=\"lightning\", L402 macaroon=\"{m}\", invoice=\"{i}\""),
        format!("Bearer realm=\"x\", L402 token=\"{m}\", invoice=\"{i}\""),
    ];
    for f in &forms {
        let c = one(&[f]);
        assert_eq!(c.macaroon, minted(), "{f}");
        assert_eq!(c.invoice, BOLT11, "{f}");
        assert_eq!(c.payment_hash(), Some(hash(&PREIMAGE)));
    }
    assert_eq!(one(&[&forms[5]]).scheme, "l402");
    // The typed free function agrees with the trait method.
    let h = headers(&[("www-authenticate", forms[0].as_bytes())]);
    assert_eq!(
        gate402_protocols::l402::parse_challenges(&h),
        client(&[&forms[0]])
    );
    // Aperture: two lines, LSAT first.
    let lsat = format!("LSAT macaroon=\"{m}\", invoice=\"{i}\"");
    let both = client(&[&lsat, &forms[0], "Payment id=\"x\""]);
    assert_eq!(both.len(), 2);
    assert_eq!(both[0].as_ref().unwrap().scheme, "LSAT");
    assert_eq!(both[1].as_ref().unwrap().scheme, "L402");
    // One comma-joined value with both (fetch `Headers.get()`).
    assert_eq!(client(&[&format!("{lsat}, {}", forms[0])]).len(), 2);
    // Other schemes only.
    assert!(client(&[
        "Payment id=\"x\", method=\"lightning\"",
        "Basic realm=\"a\""
    ])
    .is_empty());
    assert!(client(&["Payment \"broken"]).is_empty());
}

#[test]
fn client_rejects_malformed_challenges() {
    let m = b64();
    let i = BOLT11;
    let cases: Vec<(String, ParseError)> = vec![
        (
            format!("L402 macaroon=\"{m}\""),
            ParseError::MissingParam("invoice"),
        ),
        (
            format!("L402 invoice=\"{i}\""),
            ParseError::MissingParam("macaroon"),
        ),
        (
            format!("L402 macaroon=\"\", invoice=\"{i}\""),
            ParseError::MissingParam("macaroon"),
        ),
        (
            format!("L402 macaroon=\"{m}\", invoice=\"\""),
            ParseError::MissingParam("invoice"),
        ),
        (
            format!("L402 version=\"1\", token=\"{m}\", invoice=\"{i}\""),
            ParseError::Syntax("unsupported L402 version"),
        ),
        (
            format!("L402 macaroon=\"%%%\", invoice=\"{i}\""),
            ParseError::Base64("macaroon"),
        ),
        (
            format!("L402 macaroon=\"{m}, invoice=\"{i}\""),
            ParseError::Syntax("unexpected character after a value"),
        ),
        (
            format!("L402 macaroon=\"{m}\", invoice=\"{i}"),
            ParseError::Syntax("unterminated quoted string"),
        ),
        ("L402 abcdef".into(), ParseError::MissingParam("macaroon")),
        ("L402".into(), ParseError::MissingParam("macaroon")),
    ];
    for (value, want) in cases {
        let got = client(&[&value]);
        assert_eq!(got, vec![Err(want)], "{value}");
    }
    let raw = [b"L402 macaroon=\"".as_slice(), &[0xff], b"\""].concat();
    let got = l402().parse_challenges(&headers(&[("www-authenticate", &raw)]), b"");
    assert_eq!(got, vec![Err(ParseError::NotText)]);
}
