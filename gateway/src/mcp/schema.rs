//! JSON Schemas of the tools' arguments (`inputSchema`) and results (`outputSchema`).
//!
//! The argument structs in [`super::tools`] deserialize with `deny_unknown_fields`, so what
//! these schemas allow is exactly what the tools accept. Each result schema is the success
//! shape (the client's own: [`crate::client::PaidResponse::summary`] plus the body,
//! [`crate::client::Quote`], [`crate::client::BudgetStatus`]; closed with
//! `additionalProperties: false`, so a field added to those types without its schema fails
//! the interop test that validates results) or the failure shape `{error, message, paid}`.

use serde_json::{json, Value};

/// The `error` kinds of failure results.
pub const ERROR_KINDS: [&str; 9] = [
    "invalid_request",
    "http",
    "refused_by_policy",
    "budget_exceeded",
    "no_payable_offer",
    "invalid_invoice",
    "payment_failed",
    "cache",
    "invalid_config",
];

const INT: &str = "integer";

fn nullable(t: &str) -> Value {
    json!({ "type": [t, "null"] })
}

/// Either the success shape `ok` or a failure.
fn result(ok: Value) -> Value {
    json!({
        "type": "object",
        "anyOf": [ok, {
            "type": "object",
            "description": "A failure (isError: true).",
            "properties": {
                "error": { "type": "string", "enum": ERROR_KINDS },
                "message": { "type": "string" },
                "paid": { "type": "boolean", "description": "Whether money was (or may have been) spent before the failure." },
                "max_cost_msat": { "type": INT },
                "payment_hash": { "type": "string" },
                "attempts": { "type": "array", "description": "Offers tried before (failover), each {protocol, rail, error, message}." }
            },
            "required": ["error", "message", "paid"]
        }]
    })
}

/// A closed object with these properties, all required.
fn object(props: Value) -> Value {
    let required: Vec<&String> = props
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    json!({ "type": "object", "properties": props, "required": required, "additionalProperties": false })
}

fn max_cost_args() -> Value {
    json!({
        "max_cost_sats": {
            "type": INT, "minimum": 0,
            "description": "Refuse Lightning prices above this (can only lower the configured maximum)."
        },
        "max_cost_evm": {
            "type": INT, "minimum": 0,
            "description": "Refuse x402 token prices above this many atomic units (can only lower the configured maximum)."
        }
    })
}

fn input(mut props: Value, more: Value) -> Value {
    if let (Some(p), Some(m)) = (props.as_object_mut(), more.as_object()) {
        p.extend(m.clone());
    }
    json!({ "type": "object", "properties": props, "required": ["url"], "additionalProperties": false })
}

/// `fetch_paid_url` arguments.
pub fn fetch_input() -> Value {
    input(
        json!({
            "url": { "type": "string", "description": "Absolute http:// or https:// URL." },
            "method": { "type": "string", "description": "HTTP method (default GET)." },
            "headers": {
                "type": "object",
                "description": "Extra request headers.",
                "additionalProperties": { "type": "string" }
            },
            "body": { "type": "string", "description": "Request body (text)." }
        }),
        max_cost_args(),
    )
}

/// `fetch_paid_url` result.
pub fn fetch_output() -> Value {
    result(object(json!({
        "url": { "type": "string" },
        "status": { "type": INT },
        "paid": { "type": "boolean", "description": "Whether a payment was made for this response." },
        "protocol": { "type": ["string", "null"], "enum": ["l402", "mpp", "x402", null] },
        "rail": nullable("string"),
        "amount": { "type": ["string", "null"], "description": "Amount paid, atomic units of `unit`." },
        "unit": { "type": ["string", "null"], "description": "msat, or evm:<network>:<asset>." },
        "fee_msat": nullable(INT),
        "payment_hash": { "type": ["string", "null"], "description": "Payment hash or transaction." },
        "receipt": { "description": "The decoded receipt (MPP Payment-Receipt, x402 PAYMENT-RESPONSE, L402 token id)." },
        "reused_credential": { "type": "boolean" },
        "attempts": {
            "type": "array",
            "description": "Offers tried before the one paid, whose payment failed without moving money (failover).",
            "items": { "type": "object", "properties": {
                "protocol": { "type": "string" }, "rail": { "type": "string" },
                "error": { "type": "string" }, "message": { "type": "string" }
            }, "required": ["protocol", "rail", "error", "message"] }
        },
        "headers": { "type": "object", "additionalProperties": { "type": "string" } },
        "body": { "type": "string" },
        "body_encoding": { "type": "string", "enum": ["utf-8", "base64"] },
        "body_bytes": { "type": INT },
        "body_truncated": { "type": "boolean" },
        "max_cost_msat": { "type": INT }
    })))
}

/// `quote_url` arguments.
pub fn quote_input() -> Value {
    input(
        json!({
            "url": { "type": "string", "description": "Absolute http:// or https:// URL." },
            "method": { "type": "string", "description": "HTTP method (default GET); sent without body or credential." }
        }),
        max_cost_args(),
    )
}

fn amount() -> Value {
    json!({
        "type": "object",
        "properties": {
            "value": { "type": "string", "description": "Atomic units, decimal." },
            "unit": { "type": "string", "description": "msat, or evm:<network>:<asset>." },
            "decimals": { "type": INT }
        },
        "required": ["value", "unit"],
        "additionalProperties": false
    })
}

fn offer() -> Value {
    json!({
        "type": "object",
        "properties": {
            "index": { "type": INT },
            "protocol": { "type": "string" },
            "intent": { "type": "string" },
            "rail": { "type": "string" },
            "amount": { "anyOf": [amount(), { "type": "null" }] },
            "description": { "type": "string" },
            "expires_at": { "type": INT },
            "payable": { "type": "boolean" },
            "refused": { "type": "string", "description": "Why it would not be paid." }
        },
        "required": ["index", "protocol", "intent", "rail", "amount", "payable"],
        "additionalProperties": false
    })
}

/// `quote_url` result.
pub fn quote_output() -> Value {
    result(object(json!({
        "url": { "type": "string" },
        "status": { "type": INT, "description": "Status of the unpaid request." },
        "offers": { "type": "array", "items": offer() },
        "rejected": {
            "type": "array",
            "description": "Challenges that did not parse (never paid).",
            "items": object(json!({ "protocol": { "type": "string" }, "error": { "type": "string" } }))
        },
        "chosen": { "type": ["integer", "null"], "description": "Index of the offer fetch_paid_url would pay." },
        "would_pay": {
            "anyOf": [{
                "type": "object",
                "properties": {
                    "protocol": { "type": "string" },
                    "rail": { "type": "string" },
                    "amount": amount(),
                    "max_fee_msat": { "type": INT }
                },
                "required": ["protocol", "rail", "amount"],
                "additionalProperties": false
            }, { "type": "null" }]
        },
        "refusal": { "type": ["string", "null"], "description": "Why nothing would be paid." },
        "cached_credential": { "type": "boolean" }
    })))
}

/// `budget_status` arguments: none.
pub fn budget_input() -> Value {
    json!({ "type": "object", "properties": {}, "additionalProperties": false })
}

/// `budget_status` result.
pub fn budget_output() -> Value {
    let spend = |scope: Value| {
        let mut props = json!({
            "unit": { "type": "string", "description": "msat, or evm:<network>:<asset>." },
            "spent": { "type": "string", "description": "Settled today, fees included." },
            "pending": { "type": "string", "description": "Payments in flight or of unknown outcome." },
            "limit": { "type": ["string", "null"], "description": "Daily limit (null: none)." }
        });
        if let (Some(p), Some(s)) = (props.as_object_mut(), scope.as_object()) {
            p.extend(s.clone());
        }
        object(props)
    };
    result(object(json!({
        "day": { "type": "string", "description": "UTC day (YYYY-MM-DD)." },
        "domains": { "type": "array", "items": spend(json!({ "domain": { "type": "string" } })) },
        "totals": { "type": "array", "items": spend(json!({})) }
    })))
}
