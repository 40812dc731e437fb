//! `WWW-Authenticate: Payment …` challenges: building, formatting and parsing one challenge.
//!
//! Formatting quotes every value, escapes `"` and `\`, writes non-ASCII as `\uXXXX` (UTF-16
//! code units, what the SDKs decode) and refuses control characters (CR/LF injection).
//! Parsing takes one challenge from [`crate::auth_header`] (which already decodes `\uXXXX`),
//! rejects duplicate parameters and missing required ones, ignores unknown ones.

use std::fmt::Write as _;

use serde_json::Value;

use super::id::{BoundFields, IdKey};
use super::{b64url, jcs, SCHEME};
use crate::auth_header::Challenge;
use crate::ParseError;

/// One `Payment` challenge, with `request`/`opaque` kept as their wire strings (the id binds
/// the wire strings).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MppChallenge {
    /// `id` (base64url HMAC for ours; opaque for others).
    pub id: String,
    /// `realm`.
    pub realm: String,
    /// `method`, e.g. `lightning`.
    pub method: String,
    /// `intent`, e.g. `charge` or `session`.
    pub intent: String,
    /// `request`: base64url of the JCS JSON request.
    pub request: String,
    /// `expires` (RFC 3339), as sent.
    pub expires: Option<String>,
    /// `description` (display only, not bound).
    pub description: Option<String>,
    /// `digest` (RFC 9530), as sent.
    pub digest: Option<String>,
    /// `opaque`: base64url of a JCS string map, as sent.
    pub opaque: Option<String>,
    /// `header`: `Payment-Authorization` when the credential goes in that header.
    pub header: Option<String>,
}

impl MppChallenge {
    /// A challenge for `request` (JSON, serialised here as JCS) with its id bound by `secret`;
    /// `digest` binds it to a request body ([`super::digest`]).
    #[allow(clippy::too_many_arguments)]
    pub fn issue(
        secret: &[u8],
        realm: &str,
        method: &str,
        intent: &str,
        request: &Value,
        expires: &str,
        description: Option<&str>,
        opaque: Option<&Value>,
        digest: Option<&str>,
    ) -> MppChallenge {
        MppChallenge::issue_jcs(
            &IdKey::new(secret),
            [realm, method, intent],
            &jcs::canonicalize(request),
            expires,
            description,
            opaque,
            digest,
        )
    }

    /// [`issue`](Self::issue) with a ready key and the request already in JCS form
    /// (`[realm, method, intent]` first).
    pub(crate) fn issue_jcs(
        key: &IdKey,
        [realm, method, intent]: [&str; 3],
        request_jcs: &str,
        expires: &str,
        description: Option<&str>,
        opaque: Option<&Value>,
        digest: Option<&str>,
    ) -> MppChallenge {
        let mut c = MppChallenge {
            realm: realm.into(),
            method: method.into(),
            intent: intent.into(),
            request: b64url::encode(request_jcs.as_bytes()),
            expires: Some(expires.into()),
            description: description.map(Into::into),
            opaque: opaque.map(|o| b64url::encode(jcs::canonicalize(o).as_bytes())),
            digest: digest.map(Into::into),
            ..MppChallenge::default()
        };
        c.id = key.compute(&c.bound());
        c
    }

    /// The fields bound by the id.
    pub fn bound(&self) -> BoundFields<'_> {
        BoundFields {
            realm: &self.realm,
            method: &self.method,
            intent: &self.intent,
            request: &self.request,
            expires: self.expires.as_deref(),
            digest: self.digest.as_deref(),
            opaque: self.opaque.as_deref(),
            header: self.header.as_deref(),
        }
    }

    /// The decoded `request` JSON object.
    pub fn request_json(&self) -> Result<Value, ParseError> {
        decode_json(&self.request, "request")
    }

    /// The header value `Payment id="…", realm="…", …` (required fields first, then optional
    /// ones in a fixed order). Errors on control characters in any value.
    pub fn to_header_value(&self) -> Result<String, ParseError> {
        let len = self.id.len() + self.realm.len() + self.request.len() + 160;
        let mut out = String::with_capacity(len);
        out.push_str(SCHEME);
        let fields: [(&str, Option<&str>); 10] = [
            ("id", Some(&self.id)),
            ("realm", Some(&self.realm)),
            ("method", Some(&self.method)),
            ("intent", Some(&self.intent)),
            ("request", Some(&self.request)),
            ("expires", self.expires.as_deref()),
            ("digest", self.digest.as_deref()),
            ("opaque", self.opaque.as_deref()),
            ("header", self.header.as_deref()),
            ("description", self.description.as_deref()),
        ];
        for (i, (name, value)) in fields.iter().enumerate() {
            let Some(value) = value else { continue };
            out.push_str(if i == 0 { " " } else { ", " });
            out.push_str(name);
            out.push_str("=\"");
            quote_into(&mut out, value)?;
            out.push('"');
        }
        Ok(out)
    }

    /// Build from one parsed auth-challenge whose scheme is `Payment`.
    pub fn from_auth(c: &Challenge) -> Result<MppChallenge, ParseError> {
        if !c.scheme_is(SCHEME) {
            return Err(ParseError::Syntax("not a Payment challenge"));
        }
        for (i, (k, _)) in c.params.iter().enumerate() {
            if c.params[..i].iter().any(|(p, _)| p.eq_ignore_ascii_case(k)) {
                return Err(ParseError::Syntax("duplicate Payment parameter"));
            }
        }
        let req = |name: &'static str| {
            c.param(name)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or(ParseError::MissingParam(name))
        };
        let opt = |name: &str| c.param(name).map(str::to_owned);
        let ch = MppChallenge {
            id: req("id")?,
            realm: req("realm")?,
            method: req("method")?,
            intent: req("intent")?,
            request: req("request")?,
            expires: opt("expires"),
            description: opt("description"),
            digest: opt("digest"),
            opaque: opt("opaque"),
            header: opt("header"),
        };
        if !valid_method(&ch.method)
            || !ch
                .intent
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(ParseError::Syntax("invalid method or intent"));
        }
        ch.request_json()?;
        Ok(ch)
    }
}

/// SDK method-name rule `^[a-z][a-z0-9:_-]*$`.
pub fn valid_method(m: &str) -> bool {
    let mut b = m.bytes();
    b.next().is_some_and(|f| f.is_ascii_lowercase())
        && b.all(|x| x.is_ascii_lowercase() || x.is_ascii_digit() || b":_-".contains(&x))
}

/// Decode a base64url JSON object (`request`, `opaque`).
pub(crate) fn decode_json(b64: &str, what: &'static str) -> Result<Value, ParseError> {
    let bytes = b64url::decode(b64).ok_or(ParseError::Base64(what))?;
    let v: Value =
        serde_json::from_slice(&bytes).map_err(|_| ParseError::Syntax("invalid JSON"))?;
    if !v.is_object() {
        return Err(ParseError::Syntax("JSON is not an object"));
    }
    Ok(v)
}

/// Append `value` escaped for a quoted-string.
fn quote_into(out: &mut String, value: &str) -> Result<(), ParseError> {
    // Fast path: printable ASCII without `"` or `\` (ids, base64url, timestamps) is copied.
    let plain = !value.bytes().fold(false, |bad, b| {
        bad | ((b < b' ') & (b != b'\t')) | (b > b'~') | (b == b'"') | (b == b'\\')
    });
    if plain {
        out.push_str(value);
        return Ok(());
    }
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' | '\t' => out.push(c),
            c if c.is_control() => {
                return Err(ParseError::Syntax("control character in a challenge value"))
            }
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth_header::parse_challenges;
    use serde_json::json;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn issue_format_parse_round_trip() {
        let req = json!({"amount": "10", "currency": "sat"});
        let c = MppChallenge::issue(
            SECRET,
            "r",
            "lightning",
            "charge",
            &req,
            "2025-01-15T12:05:00Z",
            Some("caf\u{e9} \"x\""),
            None,
            Some("sha-256=:AA==:"),
        );
        let v = c.to_header_value().unwrap();
        assert!(v.starts_with("Payment id=\""), "{v}");
        assert!(v.contains("description=\"caf\\u00e9 \\\"x\\\"\""), "{v}");
        let parsed = MppChallenge::from_auth(&parse_challenges(&v).unwrap()[0]).unwrap();
        assert_eq!(parsed, c);
        assert_eq!(parsed.request_json().unwrap(), req);
        assert!(super::super::id::verify(SECRET, &parsed.id, &parsed.bound()).is_some());
    }

    #[test]
    fn refuses_bad_challenges() {
        let bad = [
            "Payment id=\"a\", realm=\"r\", method=\"m\", intent=\"charge\"",
            "Payment id=\"a\", id=\"b\", realm=\"r\", method=\"m\", intent=\"charge\", request=\"e30\"",
            "Payment id=\"a\", realm=\"r\", method=\"M\", intent=\"charge\", request=\"e30\"",
            "Payment id=\"a\", realm=\"r\", method=\"m\", intent=\"charge\", request=\"!!\"",
            "Payment id=\"a\", realm=\"r\", method=\"m\", intent=\"charge\", request=\"WzFd\"",
            "Payment id=\"\", realm=\"r\", method=\"m\", intent=\"charge\", request=\"e30\"",
        ];
        for b in bad {
            let c = &parse_challenges(b).unwrap()[0];
            assert!(MppChallenge::from_auth(c).is_err(), "{b}");
        }
        let mut c = MppChallenge {
            description: Some("a\r\nb".into()),
            ..Default::default()
        };
        assert!(c.to_header_value().is_err());
        c.description = None;
        assert!(c.to_header_value().is_ok());
    }
}
