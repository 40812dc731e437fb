//! JSON Schemas of the tools' arguments (`inputSchema`) and results (`outputSchema`).
//!
//! The argument structs in [`super::tools`] deserialize with `deny_unknown_fields`, so what
//! these schemas allow is exactly what the tools accept.

use serde_json::{json, Value};

fn payment_schema() -> Value {
    json!({
        "type": ["object", "null"],
        "description": "What was paid for this response (null: nothing was paid).",
        "properties": {
            "protocol": { "type": "string", "enum": ["l402", "mpp", "x402"] },
            "amount_msat": { "type": "integer" },
            "fee_msat": { "type": "integer" },
            "reference": { "type": "string", "description": "Payment hash or transaction." },
            "receipt": { "type": ["string", "null"], "description": "The server's receipt header." }
        }
    })
}

/// `fetch_paid_url` arguments.
pub fn fetch_input() -> Value {
    json!({
        "type": "object",
        "properties": {
            "url": { "type": "string", "description": "Absolute http:// URL." },
            "method": { "type": "string", "description": "HTTP method (default GET)." },
            "headers": {
                "type": "object",
                "description": "Extra request headers.",
                "additionalProperties": { "type": "string" }
            },
            "body": { "type": "string", "description": "Request body (text)." },
            "max_cost_sats": {
                "type": "integer",
                "minimum": 0,
                "description": "Refuse to pay more than this for the request (capped by the server's --max-cost)."
            }
        },
        "required": ["url"],
        "additionalProperties": false
    })
}

/// `fetch_paid_url` result.
pub fn fetch_output() -> Value {
    json!({
        "type": "object",
        "properties": {
            "status": { "type": "integer" },
            "headers": { "type": "object", "additionalProperties": { "type": "string" } },
            "body": { "type": "string" },
            "body_encoding": { "type": "string", "enum": ["utf-8", "base64"] },
            "body_bytes": { "type": "integer" },
            "body_truncated": { "type": "boolean" },
            "payment": payment_schema(),
            "reused_credential": { "type": "boolean" },
            "max_cost_msat": { "type": "integer" },
            "error": { "type": "string", "description": "Failure kind when isError is true." },
            "message": { "type": "string" },
            "paid": { "type": "boolean", "description": "Whether money was spent before a failure." }
        }
    })
}

/// `quote_url` arguments.
pub fn quote_input() -> Value {
    json!({
        "type": "object",
        "properties": {
            "url": { "type": "string", "description": "Absolute http:// URL." },
            "method": { "type": "string", "description": "HTTP method (default GET); sent without body or credential." }
        },
        "required": ["url"],
        "additionalProperties": false
    })
}

/// `quote_url` result.
pub fn quote_output() -> Value {
    json!({
        "type": "object",
        "properties": {
            "status": { "type": "integer" },
            "payment_required": { "type": "boolean" },
            "offers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "protocol": { "type": "string" },
                        "amount_msat": { "type": ["integer", "null"] },
                        "amount": { "type": ["string", "null"], "description": "x402 EVM: token atomic units." },
                        "asset": { "type": ["string", "null"] },
                        "network": { "type": ["string", "null"] },
                        "payable": { "type": "boolean" },
                        "reason": { "type": ["string", "null"] }
                    }
                }
            },
            "would_pay": { "type": ["object", "null"], "description": "The offer fetch_paid_url would pay." },
            "refusal": { "type": ["string", "null"], "description": "Why nothing would be paid." },
            "cached_credential": { "type": "boolean" },
            "max_cost_msat": { "type": "integer" }
        }
    })
}

/// `budget_status` arguments: none.
pub fn budget_input() -> Value {
    json!({ "type": "object", "properties": {}, "additionalProperties": false })
}

/// `budget_status` result.
pub fn budget_output() -> Value {
    json!({
        "type": "object",
        "properties": {
            "day": { "type": "string", "description": "UTC day (YYYY-MM-DD)." },
            "domains": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "domain": { "type": "string" },
                        "spent_msat": { "type": "integer" },
                        "payments": { "type": "integer" }
                    }
                }
            },
            "total_spent_msat": { "type": "integer" },
            "limits": { "type": "object" }
        }
    })
}
