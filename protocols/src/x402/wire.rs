//! x402 JSON shapes (v1 and v2) and the base64 header codec.
//!
//! Field names follow the reference SDK (`@x402/core` 2.27.0) exactly (camelCase). Headers
//! carry standard-alphabet base64 **with padding** of UTF-8 JSON; decoding also accepts the
//! unpadded and URL-safe forms.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{b64, ParseError, MAX_HEADER_BYTES};

/// One accepted way to pay (v2 `PaymentRequirements`; v1 entries are mapped onto it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequirements {
    /// Scheme id, `exact`.
    pub scheme: String,
    /// CAIP-2 network (`eip155:8453`, `bip122:<genesis>` for Lightning).
    pub network: String,
    /// Atomic amount as a decimal string (token units; msat for Lightning).
    pub amount: String,
    /// Token address, or `BTC`.
    pub asset: String,
    /// Payee address, or `anonymous` for Lightning.
    pub pay_to: String,
    /// Seconds the authorization may stay valid.
    pub max_timeout_seconds: u64,
    /// Scheme-specific data (`name`/`version` for EIP-712; `paymentMethod`/`invoice`).
    #[serde(default)]
    pub extra: Map<String, Value>,
}

impl PaymentRequirements {
    /// A string member of `extra`.
    pub fn extra_str(&self, key: &str) -> Option<&str> {
        self.extra.get(key).and_then(Value::as_str)
    }
}

/// v1 `accepts` entry (`maxAmountRequired`, `resource` per entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequirementsV1 {
    /// Scheme id.
    pub scheme: String,
    /// Network name (`base`, `base-sepolia`, …) or CAIP-2 id.
    pub network: String,
    /// Atomic amount, decimal string.
    pub max_amount_required: String,
    /// Resource URL.
    #[serde(default)]
    pub resource: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// MIME type of the resource.
    #[serde(default)]
    pub mime_type: String,
    /// Token address.
    pub asset: String,
    /// Payee address.
    pub pay_to: String,
    /// Seconds the authorization may stay valid.
    pub max_timeout_seconds: u64,
    /// Scheme-specific data.
    #[serde(default)]
    pub extra: Map<String, Value>,
}

impl PaymentRequirementsV1 {
    /// The v2-shaped view of this entry.
    pub fn to_v2(&self) -> PaymentRequirements {
        PaymentRequirements {
            scheme: self.scheme.clone(),
            network: self.network.clone(),
            amount: self.max_amount_required.clone(),
            asset: self.asset.clone(),
            pay_to: self.pay_to.clone(),
            max_timeout_seconds: self.max_timeout_seconds,
            extra: self.extra.clone(),
        }
    }
}

/// v2 `resource` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ResourceInfo {
    /// URL of the resource.
    pub url: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
}

/// v2 `PaymentRequired` (the `PAYMENT-REQUIRED` header).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequired {
    /// Always 2.
    pub x402_version: u8,
    /// Why payment is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The resource.
    #[serde(default)]
    pub resource: ResourceInfo,
    /// Accepted payments, raw JSON (clients must echo the chosen one verbatim).
    pub accepts: Vec<Value>,
}

/// v1 `PaymentRequirementsResponse` (the 402 JSON body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequiredV1 {
    /// Always 1.
    pub x402_version: u8,
    /// Why payment is required.
    #[serde(default)]
    pub error: String,
    /// Accepted payments.
    pub accepts: Vec<PaymentRequirementsV1>,
}

/// `PaymentPayload` (the `PAYMENT-SIGNATURE` / `X-PAYMENT` header), v1 or v2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentPayload {
    /// 1 or 2.
    pub x402_version: u8,
    /// v1 (and Alby's v2 Lightning payload): the scheme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// v1 (and Alby's v2 Lightning payload): the network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// v2: the resource (informative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Value>,
    /// v2: the chosen requirement, verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<Value>,
    /// Scheme payload (`{signature, authorization}` or `{invoice}`).
    pub payload: Value,
    /// v2 extensions (echoed, ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Value>,
}

/// EIP-3009 authorization as sent on the wire (every field a string).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationJson {
    /// Payer address.
    pub from: String,
    /// Payee address.
    pub to: String,
    /// Amount, decimal.
    pub value: String,
    /// Unix seconds, decimal.
    pub valid_after: String,
    /// Unix seconds, decimal.
    pub valid_before: String,
    /// `0x` + 64 hex.
    pub nonce: String,
}

/// `exact` EVM payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExactEvmPayloadJson {
    /// `0x` + hex signature (65 bytes for EOAs).
    pub signature: String,
    /// The signed authorization.
    pub authorization: AuthorizationJson,
}

/// `SettleResponse` (the `PAYMENT-RESPONSE` / `X-PAYMENT-RESPONSE` header and facilitator
/// `/settle` answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettleResponse {
    /// Whether the payment settled.
    pub success: bool,
    /// Machine-readable failure reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_reason: Option<String>,
    /// Human-readable failure detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Payer address (required in v1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<String>,
    /// Transaction hash (`""` on failure).
    #[serde(default)]
    pub transaction: String,
    /// Network of the settlement.
    #[serde(default)]
    pub network: String,
}

impl SettleResponse {
    /// A settled payment.
    pub fn settled(payer: Option<String>, transaction: String, network: String) -> Self {
        SettleResponse {
            success: true,
            error_reason: None,
            error_message: None,
            payer,
            transaction,
            network,
        }
    }

    /// A failed settlement (`transaction` is the hash of a broadcast that failed, if any).
    pub fn failed(
        reason: &str,
        message: String,
        payer: Option<String>,
        transaction: Option<String>,
        network: String,
    ) -> Self {
        SettleResponse {
            success: false,
            error_reason: Some(reason.to_owned()),
            error_message: Some(message),
            payer,
            transaction: transaction.unwrap_or_default(),
            network,
        }
    }
}

/// Facilitator `/verify` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyResponse {
    /// Whether the payment is valid.
    pub is_valid: bool,
    /// Machine-readable refusal reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_reason: Option<String>,
    /// Human-readable refusal detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_message: Option<String>,
    /// Payer address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<String>,
}

/// Facilitator `/verify` and `/settle` request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FacilitatorRequest {
    /// Protocol version of the payload.
    #[serde(default = "two")]
    pub x402_version: u8,
    /// The client's payload.
    pub payment_payload: PaymentPayload,
    /// The server's requirement.
    pub payment_requirements: PaymentRequirements,
}

fn two() -> u8 {
    2
}

/// Decode a base64 JSON header value into `T`.
pub fn decode_header<T: for<'de> Deserialize<'de>>(
    value: &[u8],
    what: &'static str,
) -> Result<T, ParseError> {
    if value.len() > MAX_HEADER_BYTES {
        return Err(ParseError::Oversized {
            len: value.len(),
            max: MAX_HEADER_BYTES,
        });
    }
    let trimmed = value.trim_ascii();
    let json = b64::decode_flexible(trimmed).ok_or(ParseError::Base64(what))?;
    serde_json::from_slice(&json).map_err(|_| ParseError::Json(what))
}

/// Encode `value` as standard base64 (padded) of its JSON.
pub fn encode_header<T: Serialize>(value: &T) -> String {
    // Serializing these plain structs cannot fail.
    b64::encode_std(&serde_json::to_vec(value).unwrap_or_default())
}
