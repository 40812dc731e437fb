//! The listing node tools (issue #16 "L" item 4): `wallet_balance`, `list_channels`,
//! `list_invoices`, `list_payments`, `estimate_route_fee`. Every amount is `{sat, msat}`;
//! results are built field by field from LND's messages, so the preimages LND returns with
//! invoices and payments (and payment secrets) never reach the agent.

use gate402_rails::lnd::proto::{lnrpc, routerrpc::RouteFeeRequest};
use gate402_rails::lnd::LndRail;
use serde::Deserialize;
use serde_json::{json, Value};

use super::node_tools::{amount_schema, args, closed, failure, no_input, output, sat_msat};
use super::server::{CallError, ToolOutcome, ToolSpec};

/// Names of the listing tools.
pub const NAMES: [&str; 5] = [
    "wallet_balance",
    "list_channels",
    "list_invoices",
    "list_payments",
    "estimate_route_fee",
];

/// Largest page an agent may ask for.
const MAX_PAGE: u64 = 100;
/// Default page (small: results go into a model's context).
const DEFAULT_PAGE: u64 = 20;
/// Seconds a probe of `estimate_route_fee` may take.
const PROBE_TIMEOUT_SECS: u32 = 20;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelArgs {
    #[serde(default)]
    active_only: bool,
    #[serde(default)]
    inactive_only: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PageArgs {
    #[serde(default)]
    pending_only: bool,
    #[serde(default)]
    include_incomplete: bool,
    #[serde(default)]
    index_offset: u64,
    #[serde(default)]
    max: Option<u64>,
    #[serde(default)]
    reversed: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeeArgs {
    #[serde(default)]
    invoice: Option<String>,
    #[serde(default)]
    destination: Option<String>,
    #[serde(default)]
    amount_sat: Option<u64>,
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn page_input(filter: &str, filter_doc: &str) -> Value {
    json!({
        "type": "object",
        "properties": {
            filter: { "type": "boolean", "description": filter_doc },
            "index_offset": { "type": "integer", "minimum": 0, "description": "exclusive start index (0: oldest, or newest when reversed)" },
            "max": { "type": "integer", "minimum": 1, "maximum": MAX_PAGE, "description": "page size (default 20)" },
            "reversed": { "type": "boolean", "description": "page backwards from index_offset" }
        },
        "additionalProperties": false
    })
}

fn page_output(key: &str, item: Value, extra: Value) -> Value {
    let mut props = json!({
        key: { "type": "array", "items": item },
        "first_index_offset": { "type": "integer" },
        "last_index_offset": { "type": "integer" }
    });
    if let (Some(p), Some(e)) = (props.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    output(closed(props))
}

/// The tool specs, in listing order.
pub fn specs() -> Vec<ToolSpec> {
    let s = |t: &str| json!({ "type": t });
    vec![
        ToolSpec {
            name: "wallet_balance",
            title: "On-chain wallet balance",
            description: "On-chain balances of the buyer's node (total, confirmed, \
                unconfirmed, locked, reserved for anchor channels), in sat and msat (read-only).",
            input_schema: no_input(),
            output_schema: output(closed(json!({
                "total": amount_schema(), "confirmed": amount_schema(),
                "unconfirmed": amount_schema(), "locked": amount_schema(),
                "reserved_anchor": amount_schema()
            }))),
        },
        ToolSpec {
            name: "list_channels",
            title: "List Lightning channels",
            description: "Open channels of the buyer's node: peer, capacity and balances in \
                sat and msat, active or not (read-only).",
            input_schema: json!({
                "type": "object",
                "properties": {
                    "active_only": { "type": "boolean" },
                    "inactive_only": { "type": "boolean" }
                },
                "additionalProperties": false
            }),
            output_schema: output(closed(
                json!({ "channels": { "type": "array", "items": closed(json!({
                "chan_id": s("string"), "channel_point": s("string"),
                "remote_pubkey": s("string"), "active": s("boolean"), "private": s("boolean"),
                "capacity": amount_schema(), "local_balance": amount_schema(),
                "remote_balance": amount_schema()
            })) } }),
            )),
        },
        ToolSpec {
            name: "list_invoices",
            title: "List invoices",
            description: "Invoices the buyer's node issued, oldest first, paginated by add \
                index: amount and amount paid in sat and msat, state. No preimages (read-only).",
            input_schema: page_input("pending_only", "only open invoices"),
            output_schema: page_output(
                "invoices",
                closed(json!({
                    "payment_hash": s("string"), "payment_request": s("string"),
                    "memo": s("string"), "state": s("string"), "amount": amount_schema(),
                    "amount_paid": amount_schema(), "created_at": s("integer"),
                    "settled_at": s("integer"), "expiry_secs": s("integer"),
                    "add_index": s("integer")
                })),
                json!({}),
            ),
        },
        ToolSpec {
            name: "list_payments",
            title: "List payments",
            description: "Payments the buyer's node sent, oldest first, paginated by payment \
                index: amount and fee in sat and msat, status, failure reason. No preimages \
                (read-only).",
            input_schema: page_input(
                "include_incomplete",
                "include failed and in-flight payments",
            ),
            output_schema: page_output(
                "payments",
                closed(json!({
                    "payment_hash": s("string"), "payment_request": s("string"),
                    "status": s("string"), "failure_reason": s("string"),
                    "amount": amount_schema(), "fee": amount_schema(),
                    "created_at_ns": s("integer"), "payment_index": s("integer")
                })),
                json!({ "total_num_payments": s("integer") }),
            ),
        },
        ToolSpec {
            name: "estimate_route_fee",
            title: "Estimate a routing fee",
            description: "Lower bound of the routing fee (sat and msat) and the time-lock delay \
                to pay an invoice (`invoice`: LND probes the route, paying nothing) or to send \
                `amount_sat` to a node (`destination`: hex public key, graph estimate).",
            input_schema: json!({
                "type": "object",
                "properties": {
                    "invoice": { "type": "string", "maxLength": 4096 },
                    "destination": { "type": "string", "pattern": "^[0-9a-fA-F]{66}$" },
                    "amount_sat": { "type": "integer", "minimum": 1 }
                },
                "additionalProperties": false
            }),
            output_schema: output(closed(json!({
                "routing_fee": amount_schema(), "time_lock_delay": s("integer"),
                "failure_reason": s("string")
            }))),
        },
    ]
}

fn ok(value: Value) -> ToolOutcome {
    ToolOutcome {
        value,
        is_error: false,
    }
}

fn invoice_json(i: &lnrpc::Invoice) -> Value {
    json!({
        "payment_hash": hex::encode(&i.r_hash),
        "payment_request": i.payment_request,
        "memo": i.memo,
        "state": i.state().as_str_name(),
        "amount": sat_msat(u(i.value_msat)),
        "amount_paid": sat_msat(u(i.amt_paid_msat)),
        "created_at": u(i.creation_date),
        "settled_at": u(i.settle_date),
        "expiry_secs": u(i.expiry),
        "add_index": i.add_index
    })
}

fn payment_json(p: &lnrpc::Payment) -> Value {
    json!({
        "payment_hash": p.payment_hash,
        "payment_request": p.payment_request,
        "status": p.status().as_str_name(),
        "failure_reason": p.failure_reason().as_str_name(),
        "amount": sat_msat(u(p.value_msat)),
        "fee": sat_msat(u(p.fee_msat)),
        "created_at_ns": u(p.creation_time_ns),
        "payment_index": p.payment_index
    })
}

fn page_size(max: Option<u64>) -> Result<u64, CallError> {
    match max.unwrap_or(DEFAULT_PAGE) {
        m @ 1..=MAX_PAGE => Ok(m),
        _ => Err(CallError::InvalidArguments(format!(
            "max must be 1..={MAX_PAGE}"
        ))),
    }
}

/// Run listing tool `name` (one of [`NAMES`]).
pub async fn call(rail: &LndRail, name: &str, arguments: Value) -> Result<ToolOutcome, CallError> {
    let sat = |v: i64| sat_msat(u(v).saturating_mul(1000));
    Ok(match name {
        "wallet_balance" => {
            args::<super::node_tools::NoArgs>(arguments)?;
            match rail.wallet_balance().await {
                Ok(b) => ok(json!({
                    "total": sat(b.total_balance), "confirmed": sat(b.confirmed_balance),
                    "unconfirmed": sat(b.unconfirmed_balance), "locked": sat(b.locked_balance),
                    "reserved_anchor": sat(b.reserved_balance_anchor_chan)
                })),
                Err(e) => failure(&e),
            }
        }
        "list_channels" => {
            let a: ChannelArgs = args(arguments)?;
            let req = lnrpc::ListChannelsRequest {
                active_only: a.active_only,
                inactive_only: a.inactive_only,
                ..Default::default()
            };
            match rail.list_channels(req).await {
                Ok(chans) => {
                    let list: Vec<Value> = chans
                        .iter()
                        .map(|c| {
                            json!({
                                "chan_id": c.chan_id.to_string(), "channel_point": c.channel_point,
                                "remote_pubkey": c.remote_pubkey, "active": c.active,
                                "private": c.private, "capacity": sat(c.capacity),
                                "local_balance": sat(c.local_balance),
                                "remote_balance": sat(c.remote_balance)
                            })
                        })
                        .collect();
                    ok(json!({ "channels": list }))
                }
                Err(e) => failure(&e),
            }
        }
        "list_invoices" => {
            let a: PageArgs = args(arguments)?;
            let req = lnrpc::ListInvoiceRequest {
                pending_only: a.pending_only,
                index_offset: a.index_offset,
                num_max_invoices: page_size(a.max)?,
                reversed: a.reversed,
                ..Default::default()
            };
            match rail.list_invoices(req).await {
                Ok(r) => ok(json!({
                    "invoices": r.invoices.iter().map(invoice_json).collect::<Vec<_>>(),
                    "first_index_offset": r.first_index_offset,
                    "last_index_offset": r.last_index_offset
                })),
                Err(e) => failure(&e),
            }
        }
        "list_payments" => {
            let a: PageArgs = args(arguments)?;
            let req = lnrpc::ListPaymentsRequest {
                include_incomplete: a.include_incomplete,
                index_offset: a.index_offset,
                max_payments: page_size(a.max)?,
                reversed: a.reversed,
                count_total_payments: true,
                ..Default::default()
            };
            match rail.list_payments(req).await {
                Ok(r) => ok(json!({
                    "payments": r.payments.iter().map(payment_json).collect::<Vec<_>>(),
                    "first_index_offset": r.first_index_offset,
                    "last_index_offset": r.last_index_offset,
                    "total_num_payments": r.total_num_payments
                })),
                Err(e) => failure(&e),
            }
        }
        "estimate_route_fee" => {
            let a: FeeArgs = args(arguments)?;
            let req = fee_request(a)?;
            match rail.estimate_route_fee(req).await {
                Ok(r) => ok(json!({
                    "routing_fee": sat_msat(u(r.routing_fee_msat)),
                    "time_lock_delay": u(r.time_lock_delay),
                    "failure_reason": r.failure_reason().as_str_name()
                })),
                Err(e) => failure(&e),
            }
        }
        other => return Err(CallError::UnknownTool(other.to_owned())),
    })
}

fn fee_request(a: FeeArgs) -> Result<RouteFeeRequest, CallError> {
    let bad = |m: &str| CallError::InvalidArguments(m.to_owned());
    match (a.invoice, a.destination, a.amount_sat) {
        (Some(inv), None, None) if inv.len() <= 4096 => Ok(RouteFeeRequest {
            payment_request: inv.trim().to_owned(),
            timeout: PROBE_TIMEOUT_SECS,
            ..Default::default()
        }),
        (None, Some(dest), Some(amt)) if amt > 0 => {
            let dest = hex::decode(dest.trim()).map_err(|_| bad("destination is not hex"))?;
            if dest.len() != 33 {
                return Err(bad("destination must be a 33-byte public key"));
            }
            Ok(RouteFeeRequest {
                dest,
                amt_sat: i64::try_from(amt).map_err(|_| bad("amount_sat out of range"))?,
                ..Default::default()
            })
        }
        _ => Err(bad("give `invoice`, or `destination` and `amount_sat`")),
    }
}
