//! `Authorization: Payment <base64url JSON>` credentials (also in `Payment-Authorization`).
//!
//! Decoded JSON: `{"challenge": {echo}, "payload": {…}, "source"?: "…"}`. The echo carries the
//! challenge's `id, realm, method, intent, request` and whichever of `expires, description,
//! digest, opaque, header` it had; `opaque` is accepted as a string or (legacy mppx) as an
//! object, which is re-encoded as JCS base64url. Unknown fields are ignored. We emit JCS.

use http::HeaderMap;
use serde_json::{Map, Value};

use super::challenge::MppChallenge;
use super::id::PAYMENT_AUTHORIZATION;
use super::{b64url, jcs, SCHEME};
use crate::{ParseError, MAX_HEADER_BYTES};

/// A parsed `Payment` credential. `Debug` redacts the payload (it carries preimages).
#[derive(Clone, PartialEq, Eq)]
pub struct MppCredential {
    /// The echoed challenge.
    pub challenge: MppChallenge,
    /// Optional payer id (never required).
    pub source: Option<String>,
    /// The method-specific payload object.
    pub payload: Map<String, Value>,
}

impl std::fmt::Debug for MppCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MppCredential")
            .field("challenge", &self.challenge)
            .field("source", &self.source)
            .field("payload", &"<redacted>")
            .finish()
    }
}

impl MppCredential {
    /// A credential echoing `challenge` with `payload`.
    pub fn new(challenge: &MppChallenge, payload: Map<String, Value>) -> MppCredential {
        MppCredential {
            challenge: challenge.clone(),
            source: None,
            payload,
        }
    }

    /// A string field of the payload.
    pub fn payload_str(&self, name: &'static str) -> Result<&str, ParseError> {
        self.payload
            .get(name)
            .and_then(Value::as_str)
            .ok_or(ParseError::MissingParam(name))
    }

    /// The JSON object (JCS-serialisable).
    pub fn to_json(&self) -> Value {
        let c = &self.challenge;
        let mut echo = Map::new();
        let mut put = |k: &str, v: Option<&String>| {
            if let Some(v) = v {
                echo.insert(k.into(), Value::String(v.clone()));
            }
        };
        put("id", Some(&c.id));
        put("realm", Some(&c.realm));
        put("method", Some(&c.method));
        put("intent", Some(&c.intent));
        put("request", Some(&c.request));
        put("expires", c.expires.as_ref());
        put("description", c.description.as_ref());
        put("digest", c.digest.as_ref());
        put("opaque", c.opaque.as_ref());
        put("header", c.header.as_ref());
        let mut obj = Map::new();
        obj.insert("challenge".into(), Value::Object(echo));
        obj.insert("payload".into(), Value::Object(self.payload.clone()));
        if let Some(s) = &self.source {
            obj.insert("source".into(), Value::String(s.clone()));
        }
        Value::Object(obj)
    }

    /// The token after `Payment `: base64url (no padding) of the JCS JSON.
    pub fn to_token(&self) -> String {
        b64url::encode(jcs::canonicalize(&self.to_json()).as_bytes())
    }

    /// The full header value `Payment <token>`.
    pub fn to_header_value(&self) -> String {
        format!("{SCHEME} {}", self.to_token())
    }

    /// Name of the header this credential must be sent in (`Authorization` unless the
    /// challenge advertised `Payment-Authorization`).
    pub fn header_name(&self) -> http::HeaderName {
        match &self.challenge.header {
            Some(h) if h.eq_ignore_ascii_case(PAYMENT_AUTHORIZATION) => {
                http::HeaderName::from_static("payment-authorization")
            }
            _ => http::header::AUTHORIZATION,
        }
    }

    /// Decode a token (the part after `Payment `).
    pub fn from_token(token: &str) -> Result<MppCredential, ParseError> {
        let bytes = b64url::decode(token.trim()).ok_or(ParseError::Base64("credential"))?;
        // Fast path: a typed decode; anything unusual takes the general path below, which
        // also says precisely what is wrong.
        if let Ok(w) = serde_json::from_slice::<super::wire::Wire>(&bytes) {
            if let Ok(c) = w.into_credential() {
                return Ok(c);
            }
        }
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|_| ParseError::Syntax("credential is not JSON"))?;
        let Value::Object(mut obj) = v else {
            return Err(ParseError::Syntax("credential is not a JSON object"));
        };
        let Some(Value::Object(echo)) = obj.remove("challenge") else {
            return Err(ParseError::MissingParam("challenge"));
        };
        let Some(Value::Object(payload)) = obj.remove("payload") else {
            return Err(ParseError::MissingParam("payload"));
        };
        let source = match obj.remove("source") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => return Err(ParseError::Syntax("source is not a string")),
        };
        Ok(MppCredential {
            challenge: echo_from_json(&echo)?,
            source,
            payload,
        })
    }
}

fn echo_from_json(echo: &Map<String, Value>) -> Result<MppChallenge, ParseError> {
    let opt = |k: &str| -> Result<Option<String>, ParseError> {
        match echo.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ParseError::Syntax("challenge field is not a string")),
        }
    };
    let req = |k: &'static str| -> Result<String, ParseError> {
        opt(k)?
            .filter(|s| !s.is_empty())
            .ok_or(ParseError::MissingParam(k))
    };
    let opaque = match echo.get("opaque") {
        Some(o @ Value::Object(_)) => Some(b64url::encode(jcs::canonicalize(o).as_bytes())),
        _ => opt("opaque")?,
    };
    Ok(MppChallenge {
        id: req("id")?,
        realm: req("realm")?,
        method: req("method")?,
        intent: req("intent")?,
        request: req("request")?,
        expires: opt("expires")?,
        description: opt("description")?,
        digest: opt("digest")?,
        opaque,
        header: opt("header")?,
    })
}

/// The `Payment` credential of a request, from `Payment-Authorization` or `Authorization`
/// (one comma-separated element starting with `Payment `). `None`: no Payment credential.
/// Several Payment credentials are an error.
pub fn find_credential(headers: &HeaderMap) -> Option<Result<MppCredential, ParseError>> {
    let mut found: Option<&str> = None;
    let names = [
        http::HeaderName::from_static("payment-authorization"),
        http::header::AUTHORIZATION,
    ];
    for name in &names {
        for value in headers.get_all(name) {
            let bytes = value.as_bytes();
            if bytes.len() > MAX_HEADER_BYTES {
                if starts_with_scheme(bytes) {
                    return Some(Err(ParseError::Oversized {
                        len: bytes.len(),
                        max: MAX_HEADER_BYTES,
                    }));
                }
                continue;
            }
            let Ok(text) = std::str::from_utf8(bytes) else {
                continue;
            };
            for part in text.split(',') {
                let part = part.trim_start();
                if starts_with_scheme(part.as_bytes()) {
                    if found.is_some() {
                        return Some(Err(ParseError::SeveralCredentials("Payment")));
                    }
                    found = Some(part);
                }
            }
        }
    }
    let part = found?;
    let token = part[SCHEME.len()..].trim();
    if token.is_empty() {
        return Some(Err(ParseError::MissingParam("credential")));
    }
    Some(MppCredential::from_token(token))
}

fn starts_with_scheme(b: &[u8]) -> bool {
    b.len() >= SCHEME.len()
        && b[..SCHEME.len()].eq_ignore_ascii_case(SCHEME.as_bytes())
        && b.get(SCHEME.len())
            .is_none_or(|c| *c == b' ' || *c == b'\t')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cred() -> MppCredential {
        let ch = MppChallenge {
            id: "abc".into(),
            realm: "r".into(),
            method: "lightning".into(),
            intent: "charge".into(),
            request: "e30".into(),
            expires: Some("2025-01-15T12:05:00Z".into()),
            ..Default::default()
        };
        let Value::Object(p) = json!({"preimage": "00"}) else {
            unreachable!()
        };
        MppCredential::new(&ch, p)
    }

    #[test]
    fn round_trip_and_lookup() {
        let c = cred();
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            format!("Bearer x, {}", c.to_header_value())
                .parse()
                .unwrap(),
        );
        assert_eq!(find_credential(&h).unwrap().unwrap(), c);
        assert!(!format!("{c:?}").contains("preimage\""));
        h.insert(
            "payment-authorization",
            c.to_header_value().parse().unwrap(),
        );
        assert!(
            find_credential(&h).unwrap().is_err(),
            "two Payment credentials"
        );
        assert!(find_credential(&HeaderMap::new()).is_none());
    }

    #[test]
    fn opaque_object_is_re_encoded_and_errors_are_typed() {
        let tok = b64url::encode(
            br#"{"challenge":{"id":"a","realm":"r","method":"m","intent":"charge","request":"e30","opaque":{"b":"2","a":"1"}},"payload":{}}"#,
        );
        let c = MppCredential::from_token(&tok).unwrap();
        assert_eq!(
            c.challenge.opaque.as_deref(),
            Some(b64url::encode(br#"{"a":"1","b":"2"}"#).as_str())
        );
        for bad in [
            "!!",
            &b64url::encode(b"[1]"),
            &b64url::encode(br#"{"payload":{}}"#),
            &b64url::encode(br#"{"challenge":{"realm":"r"},"payload":{}}"#),
        ] {
            assert!(MppCredential::from_token(bad).is_err(), "{bad}");
        }
    }
}
