//! The general RFC 9110 §11 challenge-list parser (`auth_header`).

use gate402_protocols::auth_header::{parse_challenges, Challenge};
use gate402_protocols::{ParseError, MAX_HEADER_BYTES};

fn ch(scheme: &str, params: &[(&str, &str)]) -> Challenge {
    Challenge {
        scheme: scheme.into(),
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        token68: None,
    }
}

#[test]
fn quoted_strings_escapes_and_commas() {
    let got =
        parse_challenges(r#"Newauth realm="apps, \"inc\"", type=1,title="a\\b", x="""#).unwrap();
    assert_eq!(
        got,
        vec![ch(
            "Newauth",
            &[
                ("realm", "apps, \"inc\""),
                ("type", "1"),
                ("title", "a\\b"),
                ("x", "")
            ]
        )]
    );
    let got = parse_challenges("X a=\"é ü\"").unwrap();
    assert_eq!(got[0].param("A"), Some("é ü"));
}

#[test]
fn several_challenges_and_whitespace_variations() {
    let v = "  Basic realm=\"a\" ,, Bearer  ,Payment id=\"1\",\tmethod = lightning ,Digest\trealm=x, Negotiate  ";
    let got = parse_challenges(v).unwrap();
    let schemes: Vec<&str> = got.iter().map(|c| c.scheme.as_str()).collect();
    assert_eq!(
        schemes,
        ["Basic", "Bearer", "Payment", "Digest", "Negotiate"]
    );
    assert_eq!(
        got[2].params,
        ch("Payment", &[("id", "1"), ("method", "lightning")]).params
    );
    assert_eq!(got[3].param("realm"), Some("x"));
    assert!(parse_challenges("").unwrap().is_empty());
    assert!(parse_challenges(" , ").unwrap().is_empty());
}

#[test]
fn token68_and_ambiguities() {
    let got = parse_challenges("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==, Bearer realm=\"x\"").unwrap();
    assert_eq!(
        got[0].token68.as_deref(),
        Some("QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    );
    assert!(got[0].params.is_empty());
    assert_eq!(got[1].param("realm"), Some("x"));
    assert_eq!(
        parse_challenges("A b=").unwrap()[0].token68.as_deref(),
        Some("b=")
    );
    assert_eq!(
        parse_challenges("A b==, C").unwrap()[0].token68.as_deref(),
        Some("b==")
    );
    assert_eq!(
        parse_challenges("A a/b+c").unwrap()[0].token68.as_deref(),
        Some("a/b+c")
    );
}

#[test]
fn lenient_space_separated_params() {
    let got = parse_challenges("L402 version=0 macaroon=AgE+/w== invoice=lnbc1").unwrap();
    assert_eq!(
        got,
        vec![ch(
            "L402",
            &[
                ("version", "0"),
                ("macaroon", "AgE+/w=="),
                ("invoice", "lnbc1")
            ]
        )]
    );
    let got = parse_challenges("L402 version=\"0\" token=\"T\", invoice=\"I\"").unwrap();
    assert_eq!(got[0].param("token"), Some("T"));
    assert_eq!(got[0].param("invoice"), Some("I"));
}

#[test]
fn syntax_errors() {
    for bad in [
        "=x",
        "\"q\" a=b",
        "Basic realm=\"unterminated",
        "Basic realm=\"a\"b",
        "Basic realm=\"a\\",
        "Basic realm=\"ctl\u{1}\"",
        "Basic@ x",
        "Basic !!",
        "Basic a=b=c=\"",
    ] {
        assert!(
            matches!(parse_challenges(bad), Err(ParseError::Syntax(_))),
            "{bad:?}"
        );
    }
    let big = "a".repeat(MAX_HEADER_BYTES + 1);
    assert_eq!(
        parse_challenges(&big),
        Err(ParseError::Oversized {
            len: MAX_HEADER_BYTES + 1,
            max: MAX_HEADER_BYTES
        })
    );
}
