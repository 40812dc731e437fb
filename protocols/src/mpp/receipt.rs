//! `Payment-Receipt: <base64url JSON>` — only on 2xx, with `Cache-Control: private`.
//!
//! `{"challengeId", "method", "reference", "status": "success", "timestamp"}` plus
//! method-specific extras (sessions add `refundSats`, `refundStatus`, `spent`…). Emitted as
//! JCS; parsing tolerates unknown fields.

use serde_json::{Map, Value};

use super::{b64url, jcs};
use crate::ParseError;

/// Header name.
pub const PAYMENT_RECEIPT: &str = "payment-receipt";

/// A payment receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MppReceipt {
    /// `method`, e.g. `lightning`.
    pub method: String,
    /// `reference`: the payment hash (lowercase hex) for Lightning.
    pub reference: String,
    /// `challengeId` of the challenge paid, if any.
    pub challenge_id: Option<String>,
    /// `timestamp`, RFC 3339.
    pub timestamp: String,
    /// `status` (always `success` when emitted by us).
    pub status: String,
    /// Other members.
    pub extra: Map<String, Value>,
}

impl MppReceipt {
    /// The header value: base64url of the JCS JSON.
    pub fn to_header_value(&self) -> String {
        let mut obj = self.extra.clone();
        obj.insert("method".into(), self.method.clone().into());
        obj.insert("reference".into(), self.reference.clone().into());
        obj.insert("status".into(), self.status.clone().into());
        obj.insert("timestamp".into(), self.timestamp.clone().into());
        if let Some(id) = &self.challenge_id {
            obj.insert("challengeId".into(), id.clone().into());
        }
        b64url::encode(jcs::canonicalize(&Value::Object(obj)).as_bytes())
    }

    /// Parse a header value.
    pub fn parse(value: &str) -> Result<MppReceipt, ParseError> {
        let bytes = b64url::decode(value.trim()).ok_or(ParseError::Base64("receipt"))?;
        let Ok(Value::Object(mut obj)) = serde_json::from_slice::<Value>(&bytes) else {
            return Err(ParseError::Syntax("receipt is not a JSON object"));
        };
        let mut take = |k: &'static str| match obj.remove(k) {
            Some(Value::String(s)) => Ok(s),
            _ => Err(ParseError::MissingParam(k)),
        };
        let method = take("method")?;
        let reference = take("reference")?;
        let status = take("status")?;
        let timestamp = take("timestamp")?;
        let challenge_id = take("challengeId").ok();
        Ok(MppReceipt {
            method,
            reference,
            challenge_id,
            timestamp,
            status,
            extra: obj,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut extra = Map::new();
        extra.insert("refundSats".into(), 5.into());
        let r = MppReceipt {
            method: "lightning".into(),
            reference: "ab".into(),
            challenge_id: Some("id".into()),
            timestamp: "2025-01-15T12:05:00Z".into(),
            status: "success".into(),
            extra,
        };
        assert_eq!(MppReceipt::parse(&r.to_header_value()).unwrap(), r);
        assert!(MppReceipt::parse("e30").is_err());
    }
}
