//! `gate402 mcp --node-tools`: read-only Lightning node tools for agents (issue #16 "L"):
//! `node_info`, `channel_balance`, `decode_invoice` here, and the listings of `node_lists`
//! (`wallet_balance`, `list_channels`, `list_invoices`, `list_payments`,
//! `estimate_route_fee`), over LND's gRPC API.
//!
//! They run with a read-only macaroon (`--node-macaroon`, e.g. from
//! `gate402 macaroon bake --role read-only`); without one they would use the wallet's,
//! which can pay, and are refused unless `--allow-spending-macaroon`. Results carry amounts
//! in sat and msat and never a secret (no macaroon, no preimage).

use gate402_rails::lnd::permissions::{config_perms, non_read};
use gate402_rails::lnd::{LndConfig, LndRail};
use gate402_rails::{LightningRail, RailError};
use serde::Deserialize;
use serde_json::{json, Value};

use super::server::{CallError, ToolOutcome, ToolSpec};

/// Names of the node tools.
pub const NAMES: [&str; 8] = [
    "node_info",
    "channel_balance",
    "decode_invoice",
    "wallet_balance",
    "list_channels",
    "list_invoices",
    "list_payments",
    "estimate_route_fee",
];

/// Longest payment request `decode_invoice` accepts (characters).
const MAX_BOLT11: usize = 4_096;

/// The node tools on one LND connection.
pub struct NodeTools {
    rail: LndRail,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecodeArgs {
    invoice: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NoArgs {}

pub(super) fn closed(props: Value) -> Value {
    let required: Vec<String> = props
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    json!({ "type": "object", "properties": props, "required": required, "additionalProperties": false })
}

/// Success shape or `{error, message}`.
pub(super) fn output(ok: Value) -> Value {
    json!({
        "type": "object",
        "anyOf": [ok, closed(json!({
            "error": { "type": "string", "enum": ["node_unavailable", "permission_denied", "invalid_invoice", "node_error"] },
            "message": { "type": "string" }
        }))]
    })
}

pub(super) fn no_input() -> Value {
    json!({ "type": "object", "properties": {}, "additionalProperties": false })
}

pub(super) fn sat_msat(msat: u64) -> Value {
    json!({ "sat": msat / 1000, "msat": msat })
}

pub(super) fn amount_schema() -> Value {
    closed(json!({ "sat": { "type": "integer" }, "msat": { "type": "integer" } }))
}

pub(super) fn failure(e: &RailError) -> ToolOutcome {
    use gate402_rails::RailErrorKind as K;
    let kind = match e.kind {
        K::Unavailable | K::Timeout => "node_unavailable",
        K::PermissionDenied => "permission_denied",
        K::InvalidInvoice => "invalid_invoice",
        _ => "node_error",
    };
    ToolOutcome {
        value: json!({ "error": kind, "message": e.message }),
        is_error: true,
    }
}

pub(super) fn args<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, CallError> {
    serde_json::from_value(v).map_err(|e| CallError::InvalidArguments(e.to_string()))
}

impl NodeTools {
    /// Connect with `cfg`. Refused when its macaroon may do more than read, unless
    /// `allow_spending`; a macaroon whose permissions cannot be read is refused too.
    pub async fn connect(cfg: LndConfig, allow_spending: bool) -> Result<NodeTools, String> {
        let granted = config_perms(&cfg)?;
        let more = non_read(&granted);
        if !more.is_empty() && !allow_spending {
            let list: Vec<String> = more.iter().map(ToString::to_string).collect();
            return Err(format!(
                "--node-tools needs a read-only macaroon, but the {} also grants {} \
                 (bake one with `gate402 macaroon bake --role read-only`, pass it as \
                 --node-macaroon, or accept the risk with --allow-spending-macaroon)",
                cfg.macaroon,
                list.join(", ")
            ));
        }
        let rail = LndRail::connect(cfg).await.map_err(|e| e.to_string())?;
        Ok(NodeTools { rail })
    }

    /// The tool specs, in listing order.
    pub fn specs() -> Vec<ToolSpec> {
        vec![
            ToolSpec {
                name: "node_info",
                title: "Lightning node info",
                description: "Alias, public key, network and sync state of the buyer's \
                    Lightning node (read-only).",
                input_schema: no_input(),
                output_schema: output(closed(json!({
                    "alias": { "type": "string" },
                    "pubkey": { "type": "string" },
                    "network": { "type": "string" },
                    "synced": { "type": "boolean" }
                }))),
            },
            ToolSpec {
                name: "channel_balance",
                title: "Lightning channel balance",
                description: "Spendable local channel balance of the buyer's node, in sat and \
                    msat (read-only).",
                input_schema: no_input(),
                output_schema: output(closed(json!({ "local_balance": amount_schema() }))),
            },
            ToolSpec {
                name: "decode_invoice",
                title: "Decode a BOLT11 invoice",
                description: "Decode a BOLT11 payment request with the node: destination, \
                    payment hash, amount (sat and msat), description, expiry. Pays nothing.",
                input_schema: json!({
                    "type": "object",
                    "properties": { "invoice": { "type": "string", "maxLength": MAX_BOLT11 } },
                    "required": ["invoice"],
                    "additionalProperties": false
                }),
                output_schema: output(closed(json!({
                    "destination": { "type": "string" },
                    "payment_hash": { "type": "string" },
                    "amount": amount_schema(),
                    "description": { "type": "string" },
                    "timestamp": { "type": "integer" },
                    "expiry_secs": { "type": "integer" }
                }))),
            },
        ]
        .into_iter()
        .chain(super::node_lists::specs())
        .collect()
    }

    /// Run node tool `name`.
    pub async fn call(&self, name: &str, arguments: Value) -> Result<ToolOutcome, CallError> {
        let ok = |value| ToolOutcome {
            value,
            is_error: false,
        };
        match name {
            "node_info" => {
                args::<NoArgs>(arguments)?;
                Ok(match self.rail.info().await {
                    Ok(i) => ok(json!({
                        "alias": i.alias, "pubkey": i.pubkey,
                        "network": i.network, "synced": i.synced
                    })),
                    Err(e) => failure(&e),
                })
            }
            "channel_balance" => {
                args::<NoArgs>(arguments)?;
                Ok(match self.rail.channel_balance_msat().await {
                    Ok(msat) => ok(json!({ "local_balance": sat_msat(msat) })),
                    Err(e) => failure(&e),
                })
            }
            "decode_invoice" => {
                let a: DecodeArgs = args(arguments)?;
                if a.invoice.len() > MAX_BOLT11 {
                    return Err(CallError::InvalidArguments("invoice too long".into()));
                }
                Ok(match self.rail.decode_pay_req(&a.invoice).await {
                    Ok(p) => {
                        let msat = u64::try_from(p.num_msat).unwrap_or(0);
                        ok(json!({
                            "destination": p.destination,
                            "payment_hash": p.payment_hash,
                            "amount": sat_msat(msat),
                            "description": p.description,
                            "timestamp": p.timestamp,
                            "expiry_secs": p.expiry
                        }))
                    }
                    Err(e) => failure(&e),
                })
            }
            other => super::node_lists::call(&self.rail, other, arguments).await,
        }
    }
}
