//! The buyer's MCP tools: `fetch_paid_url`, `quote_url`, `budget_status`, on one shared
//! [`Client`] (the policy, wallets and cache of `gate402 get`).
//!
//! Argument errors that break the `inputSchema` are JSON-RPC `-32602`; everything that goes
//! wrong while running a tool (bad URL text, refused by policy or budget, payment failed,
//! HTTP error status) is a result with `isError: true` and `{error, message, paid}` so the
//! model can react. Results are the client's own shapes: [`PaidResponse::summary`] (plus the
//! body), [`crate::client::Quote`], [`crate::client::BudgetStatus`].

use std::collections::BTreeMap;

use async_trait::async_trait;
use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use serde::{de::DeserializeOwned, Deserialize};
use serde_json::{json, Value};

use super::{
    schema,
    server::{CallError, ToolOutcome, ToolSet, ToolSpec},
    trace,
};
use crate::client::{Client, ClientError, ClientRequest, MaxCost, PaidResponse, PolicyError};

/// Response headers passed on to the model (never cookies or other session secrets).
const SHOWN_HEADERS: [&str; 7] = [
    "content-type",
    "content-length",
    "payment-receipt",
    "payment-response",
    "x-payment-response",
    "retry-after",
    "www-authenticate",
];

/// The client every tool call uses, and the cut of bodies in results.
pub struct BuyerTools {
    client: Client,
    max_body_bytes: usize,
    /// `--node-tools` (listed after the buyer tools).
    node: Option<super::node_tools::NodeTools>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FetchArgs {
    url: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    max_cost_sats: Option<u64>,
    #[serde(default)]
    max_cost_evm: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuoteArgs {
    url: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    max_cost_sats: Option<u64>,
    #[serde(default)]
    max_cost_evm: Option<u64>,
}

/// A call's lower maximum price (never above the policy's).
#[derive(Debug, Clone, Copy, Default)]
struct MaxArgs {
    max_cost_sats: Option<u64>,
    max_cost_evm: Option<u64>,
}

impl MaxArgs {
    fn max_cost(&self) -> Option<MaxCost> {
        let m = MaxCost {
            msat: self.max_cost_sats.map(|s| s.saturating_mul(1000)),
            evm: self.max_cost_evm.map(u128::from),
        };
        (m != MaxCost::default()).then_some(m)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

fn args<T: DeserializeOwned>(v: Value) -> Result<T, CallError> {
    serde_json::from_value(v).map_err(|e| CallError::InvalidArguments(e.to_string()))
}

fn failure(kind: &str, message: impl std::fmt::Display, paid: bool) -> ToolOutcome {
    ToolOutcome {
        value: json!({ "error": kind, "message": message.to_string(), "paid": paid }),
        is_error: true,
    }
}

/// The `error` kind of a client failure (the list is [`schema::ERROR_KINDS`]).
fn error_kind(e: &ClientError) -> &'static str {
    match e {
        ClientError::Usage(_) => "invalid_request",
        ClientError::Http(_) => "http",
        ClientError::Policy(PolicyError::BudgetExceeded { .. }) => "budget_exceeded",
        ClientError::Policy(_) => "refused_by_policy",
        ClientError::NoPayableChallenge(_) => "no_payable_offer",
        ClientError::Invoice(_) => "invalid_invoice",
        ClientError::Payment(_) | ClientError::TrackedFailure(_) | ClientError::BadPreimage => {
            "payment_failed"
        }
        ClientError::Cache(_) => "cache",
        ClientError::Config(_) => "invalid_config",
    }
}

fn request(
    url: &str,
    method: Option<&str>,
    headers: &BTreeMap<String, String>,
    body: Option<&str>,
    max: &MaxArgs,
) -> Result<ClientRequest, String> {
    let url: Uri = url.parse().map_err(|_| format!("invalid URL `{url}`"))?;
    let method = method.unwrap_or("GET");
    let method =
        Method::from_bytes(method.as_bytes()).map_err(|_| format!("invalid method `{method}`"))?;
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| format!("invalid header name `{k}`"))?;
        let value =
            HeaderValue::from_str(v).map_err(|_| format!("invalid value for header `{k}`"))?;
        map.append(name, value);
    }
    Ok(ClientRequest {
        method,
        url,
        headers: map,
        body: Bytes::from(body.unwrap_or_default().to_owned()),
        max_cost: max.max_cost(),
    })
}

impl BuyerTools {
    /// Tools paying through `client`; bodies in results are cut at `max_body_bytes`.
    pub fn new(client: Client, max_body_bytes: usize) -> Self {
        BuyerTools {
            client: client.on_event(trace::record),
            max_body_bytes,
            node: None,
        }
    }

    /// Also serve the read-only node tools (`--node-tools`).
    pub fn with_node_tools(mut self, node: super::node_tools::NodeTools) -> Self {
        self.node = Some(node);
        self
    }

    /// The Lightning maximum of a call: the policy's, lowered by the call's.
    fn max_cost_msat(&self, max: &MaxArgs) -> u64 {
        let policy = self.client.policy().max_cost_sat.saturating_mul(1000);
        max.max_cost_sats
            .map_or(policy, |s| s.saturating_mul(1000).min(policy))
    }

    async fn fetch(&self, a: FetchArgs) -> ToolOutcome {
        let max = MaxArgs {
            max_cost_sats: a.max_cost_sats,
            max_cost_evm: a.max_cost_evm,
        };
        let req = match request(
            &a.url,
            a.method.as_deref(),
            &a.headers,
            a.body.as_deref(),
            &max,
        ) {
            Ok(r) => r,
            Err(e) => return failure("invalid_request", e, false),
        };
        let max_cost_msat = self.max_cost_msat(&max);
        let (result, trace) = trace::traced(self.client.send(&req)).await;
        match result {
            Ok(resp) => self.paid_response(&resp, max_cost_msat),
            Err(e) => {
                let mut out = failure(error_kind(&e), &e, trace.paid_before(&e));
                out.value["max_cost_msat"] = json!(max_cost_msat);
                if let Some(p) = &trace.paid {
                    out.value["payment_hash"] = json!(p.payment_hash);
                }
                if !trace.attempts.is_empty() {
                    let tried: Vec<Value> = trace.attempts.iter().map(|a| a.to_json()).collect();
                    out.value["attempts"] = json!(tried);
                }
                out
            }
        }
    }

    fn paid_response(&self, resp: &PaidResponse, max_cost_msat: u64) -> ToolOutcome {
        let r = &resp.response;
        let headers: BTreeMap<&str, &str> = SHOWN_HEADERS
            .iter()
            .filter_map(|h| Some((*h, r.headers().get(*h)?.to_str().ok()?)))
            .collect();
        let body = r.body();
        let cut = &body[..body.len().min(self.max_body_bytes)];
        let (text, encoding) = match std::str::from_utf8(cut) {
            Ok(t) => (t.to_owned(), "utf-8"),
            // A cut in the middle of a UTF-8 sequence: keep the valid prefix.
            Err(e) if e.error_len().is_none() => (
                String::from_utf8_lossy(&cut[..e.valid_up_to()]).into_owned(),
                "utf-8",
            ),
            Err(_) => (
                base64::engine::general_purpose::STANDARD.encode(cut),
                "base64",
            ),
        };
        let mut value = resp.summary();
        value["headers"] = json!(headers);
        value["body"] = json!(text);
        value["body_encoding"] = json!(encoding);
        value["body_bytes"] = json!(body.len());
        value["body_truncated"] = json!(cut.len() < body.len());
        value["max_cost_msat"] = json!(max_cost_msat);
        let status = r.status();
        ToolOutcome {
            value,
            is_error: status.is_client_error() || status.is_server_error(),
        }
    }

    async fn quote(&self, a: QuoteArgs) -> ToolOutcome {
        let max = MaxArgs {
            max_cost_sats: a.max_cost_sats,
            max_cost_evm: a.max_cost_evm,
        };
        let req = match request(&a.url, a.method.as_deref(), &BTreeMap::new(), None, &max) {
            Ok(r) => r,
            Err(e) => return failure("invalid_request", e, false),
        };
        match self.client.quote(&req).await {
            Ok(q) => ToolOutcome {
                value: serde_json::to_value(q).unwrap_or_default(),
                is_error: false,
            },
            Err(e) => failure(error_kind(&e), &e, false),
        }
    }

    fn budget_status(&self) -> ToolOutcome {
        match self.client.budget_status() {
            Ok(status) => ToolOutcome {
                value: serde_json::to_value(status).unwrap_or_default(),
                is_error: false,
            },
            Err(e) => failure(error_kind(&e), &e, false),
        }
    }
}

#[async_trait]
impl ToolSet for BuyerTools {
    fn tools(&self) -> Vec<ToolSpec> {
        let mut specs = vec![
            ToolSpec {
                name: "fetch_paid_url",
                title: "Fetch a URL, paying its 402 price",
                description: "HTTP request to a URL; if it answers 402 Payment Required, pay \
                    (L402, MPP or x402) within max_cost_sats/max_cost_evm, the configured \
                    policy and daily budgets, then return the response: status, headers, body \
                    and what was paid. A refusal is an error result with paid=false.",
                input_schema: schema::fetch_input(),
                output_schema: schema::fetch_output(),
            },
            ToolSpec {
                name: "quote_url",
                title: "Quote a URL's price",
                description: "Request a URL without paying and list every payment offer of \
                    its 402 (protocol, rail, amount, why it would be refused) and the one \
                    fetch_paid_url would pay under the same limits.",
                input_schema: schema::quote_input(),
                output_schema: schema::quote_output(),
            },
            ToolSpec {
                name: "budget_status",
                title: "Today's spend",
                description: "Today's spend (UTC day) per domain and in total, settled and \
                    pending, against the daily budgets in force (null: unlimited). Amounts are \
                    decimal strings in their unit (msat, or token atomic units).",
                input_schema: schema::budget_input(),
                output_schema: schema::budget_output(),
            },
        ];
        if self.node.is_some() {
            specs.extend(super::node_tools::NodeTools::specs());
        }
        specs
    }

    async fn call(&self, name: &str, arguments: Value) -> Result<ToolOutcome, CallError> {
        if let Some(node) = &self.node {
            if super::node_tools::NAMES.contains(&name) {
                return node.call(name, arguments).await;
            }
        }
        match name {
            "fetch_paid_url" => Ok(self.fetch(args(arguments)?).await),
            "quote_url" => Ok(self.quote(args(arguments)?).await),
            "budget_status" => {
                args::<NoArgs>(arguments)?;
                Ok(self.budget_status())
            }
            other => Err(CallError::UnknownTool(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests;
