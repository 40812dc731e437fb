//! The typed fast path for decoding credentials (no intermediate `serde_json::Value` for the
//! challenge echo); [`super::credential`] falls back to its general decoder, which reports
//! precise errors, when this one refuses.

use serde_json::{Map, Value};

use super::challenge::MppChallenge;
use super::credential::MppCredential;
use super::{b64url, jcs};

/// The credential as the fast path decodes it.
#[derive(serde::Deserialize)]
pub(super) struct Wire {
    challenge: WireEcho,
    payload: Map<String, Value>,
    #[serde(default)]
    source: Option<String>,
}

#[derive(serde::Deserialize)]
struct WireEcho {
    id: String,
    realm: String,
    method: String,
    intent: String,
    request: String,
    #[serde(default)]
    expires: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    opaque: Option<Value>,
    #[serde(default)]
    header: Option<String>,
}

impl Wire {
    pub(super) fn into_credential(self) -> Result<MppCredential, ()> {
        let e = self.challenge;
        if [&e.id, &e.realm, &e.method, &e.intent, &e.request]
            .iter()
            .any(|s| s.is_empty())
        {
            return Err(());
        }
        let opaque = match e.opaque {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(o @ Value::Object(_)) => Some(b64url::encode(jcs::canonicalize(&o).as_bytes())),
            Some(_) => return Err(()),
        };
        Ok(MppCredential {
            challenge: MppChallenge {
                id: e.id,
                realm: e.realm,
                method: e.method,
                intent: e.intent,
                request: e.request,
                expires: e.expires,
                description: e.description,
                digest: e.digest,
                opaque,
                header: e.header,
            },
            source: self.source,
            payload: self.payload,
        })
    }
}
