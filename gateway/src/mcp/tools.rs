//! The buyer's MCP tools: `fetch_paid_url`, `quote_url`, `budget_status`.
//!
//! Argument errors that break the `inputSchema` are JSON-RPC `-32602`; everything that goes
//! wrong while running a tool (bad URL text, refused by policy, payment failed, HTTP error
//! status) is a result with `isError: true` and `{error, message, paid}` so the model can
//! react. Lines marked `E-core API:` stand in for client calls that land with issue E's
//! policy/budget work (`Client::quote`, `PaidResponse::summary`, `Client::budget_status`).

use std::{collections::BTreeMap, sync::Arc};

use async_trait::async_trait;
use base64::Engine;
use bytes::Bytes;
use gate402_rails::LightningRail;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client as HyperClient},
    rt::TokioExecutor,
};
use serde::{de::DeserializeOwned, Deserialize};
use serde_json::{json, Value};

use super::{
    budget, quote,
    schema::{self},
    server::{CallError, ToolOutcome, ToolSet, ToolSpec},
};
use crate::client::{
    Client, ClientError, ClientRequest, EvmWallet, PaidResponse, Policy, TokenCache,
};
use crate::clock::now_unix;

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

/// The wallet, cache and limits every tool call uses.
pub struct BuyerTools {
    wallet: Arc<dyn LightningRail>,
    cache: TokenCache,
    policy: Policy,
    evm: Option<EvmWallet>,
    max_body_bytes: usize,
    http: HyperClient<HttpConnector, Full<Bytes>>,
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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuoteArgs {
    url: String,
    #[serde(default)]
    method: Option<String>,
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

fn client_failure(e: &ClientError) -> ToolOutcome {
    let kind = match e {
        ClientError::Usage(_) => "invalid_request",
        ClientError::Http(_) => "http",
        ClientError::Policy(_) => "refused_by_policy",
        ClientError::NoPayableChallenge(_) => "no_payable_offer",
        ClientError::Invoice(_) => "invalid_invoice",
        ClientError::Payment(_) | ClientError::BadPreimage => "payment_failed",
        ClientError::Cache(_) => "cache",
        ClientError::Config(_) => "invalid_config",
    };
    failure(kind, e, e.paid())
}

fn request(
    url: &str,
    method: Option<&str>,
    headers: &BTreeMap<String, String>,
    body: Option<&str>,
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
        max_cost: None,
    })
}

impl BuyerTools {
    /// Tools paying with `wallet` (and `evm`, if any) within `policy`, caching in `cache`;
    /// bodies in results are cut at `max_body_bytes`.
    pub fn new(
        wallet: Arc<dyn LightningRail>,
        cache: TokenCache,
        policy: Policy,
        evm: Option<EvmWallet>,
        max_body_bytes: usize,
    ) -> Self {
        BuyerTools {
            wallet,
            cache,
            policy,
            evm,
            max_body_bytes,
            http: HyperClient::builder(TokioExecutor::new()).build(HttpConnector::new()),
        }
    }

    /// A client for one call, its cost cap lowered to the call's `max_cost_msat`.
    fn client(&self, max_cost_msat: u64) -> Client {
        // E-core API: a shared `Client` with per-request limits once policies/budgets land.
        let policy = Policy {
            max_cost_msat,
            ..self.policy
        };
        let client = Client::new(self.wallet.clone(), self.cache.clone(), policy);
        match &self.evm {
            Some(w) => client.with_evm_wallet(w.clone()),
            None => client,
        }
    }

    async fn fetch(&self, a: FetchArgs) -> ToolOutcome {
        let req = match request(&a.url, a.method.as_deref(), &a.headers, a.body.as_deref()) {
            Ok(r) => r,
            Err(e) => return failure("invalid_request", e, false),
        };
        let max_cost_msat = a
            .max_cost_sats
            .map_or(self.policy.max_cost_msat, |s| s.saturating_mul(1000))
            .min(self.policy.max_cost_msat);
        match self.client(max_cost_msat).send(&req).await {
            Ok(resp) => self.paid_response(&resp, max_cost_msat),
            Err(e) => {
                let mut out = client_failure(&e);
                out.value["max_cost_msat"] = json!(max_cost_msat);
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
        let status = r.status();
        ToolOutcome {
            value: json!({
                "status": status.as_u16(),
                "headers": headers,
                "body": text,
                "body_encoding": encoding,
                "body_bytes": body.len(),
                "body_truncated": cut.len() < body.len(),
                "payment": payment_summary(resp),
                "reused_credential": resp.reused_credential,
                "max_cost_msat": max_cost_msat,
            }),
            is_error: status.is_client_error() || status.is_server_error(),
        }
    }

    async fn quote(&self, a: QuoteArgs) -> ToolOutcome {
        // E-core API: `Client::quote(&ClientRequest)` replaces this request and parse.
        let req = match request(&a.url, a.method.as_deref(), &BTreeMap::new(), None) {
            Ok(r) => r,
            Err(e) => return failure("invalid_request", e, false),
        };
        if req.url.scheme_str() != Some("http") || req.url.authority().is_none() {
            return failure(
                "invalid_request",
                format!("only absolute http:// URLs are supported: {}", req.url),
                false,
            );
        }
        let key = req
            .url
            .authority()
            .map(|a| a.as_str().to_ascii_lowercase())
            .unwrap_or_default();
        let http_req = Request::builder()
            .method(req.method.clone())
            .uri(req.url.clone())
            // As the client sends it, so MPP charge offers are included.
            .header("accept-payment", "lightning/charge")
            .body(Full::new(Bytes::new()));
        let resp = match http_req {
            Ok(r) => self.http.request(r).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let resp = match resp {
            Ok(r) => r,
            Err(e) => return failure("http", e, false),
        };
        let (parts, body) = resp.into_parts();
        let body = match body.collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => return failure("http", e, false),
        };
        let limits = quote::QuoteLimits {
            max_cost_msat: self.policy.max_cost_msat,
            max_evm_amount: self.evm.as_ref().map(|w| w.max_amount),
        };
        let payment_required = parts.status == http::StatusCode::PAYMENT_REQUIRED;
        let offers = if payment_required {
            quote::offers(&parts.headers, &body, limits)
        } else {
            Vec::new()
        };
        let (would_pay, refusal) = match quote::would_pay(&offers) {
            Ok(o) => (Some(o), None),
            Err(_) if !payment_required => (None, None),
            Err(reason) => (None, Some(reason)),
        };
        ToolOutcome {
            value: json!({
                "status": parts.status.as_u16(),
                "payment_required": payment_required,
                "offers": offers,
                "would_pay": would_pay,
                "refusal": refusal,
                "cached_credential": self.cache.get(&key, now_unix()).is_some(),
                "max_cost_msat": self.policy.max_cost_msat,
            }),
            is_error: false,
        }
    }

    fn budget_status(&self) -> ToolOutcome {
        // E-core API: `Client::budget_status()` replaces this ledger read.
        let now = now_unix();
        match budget::spend_today(&self.cache.db_path(), now) {
            Ok(domains) => {
                let status = budget::BudgetStatus {
                    day: budget::utc_date(now),
                    total_spent_msat: domains.iter().map(|d| d.spent_msat).sum(),
                    domains,
                    limits: budget::Limits {
                        max_cost_per_request_msat: self.policy.max_cost_msat,
                        max_fee_msat: self.policy.max_fee_msat,
                        per_domain_daily_msat: None,
                        total_daily_msat: None,
                    },
                };
                ToolOutcome {
                    value: serde_json::to_value(status).unwrap_or_default(),
                    is_error: false,
                }
            }
            Err(e) => failure("cache", e, false),
        }
    }
}

/// What was paid, without secrets (no preimage, no macaroon).
fn payment_summary(resp: &PaidResponse) -> Value {
    // E-core API: `PaidResponse::summary()`.
    let Some(p) = &resp.payment else {
        return Value::Null;
    };
    let h = resp.response.headers();
    let receipt = ["payment-receipt", "payment-response", "x-payment-response"]
        .iter()
        .find_map(|n| h.get(*n)?.to_str().ok());
    json!({
        "protocol": p.protocol.as_str(),
        "amount_msat": p.amount_msat,
        "fee_msat": p.fee_msat,
        "reference": p.payment_hash,
        "receipt": receipt,
    })
}

#[async_trait]
impl ToolSet for BuyerTools {
    fn tools(&self) -> Vec<ToolSpec> {
        vec![
            ToolSpec {
                name: "fetch_paid_url",
                title: "Fetch a URL, paying its 402 price",
                description: "HTTP request to a URL; if it answers 402 Payment Required, pay \
                    (L402, MPP or x402) within max_cost_sats and the configured limits, then \
                    return the paid response: status, headers, body and what was paid.",
                input_schema: schema::fetch_input(),
                output_schema: schema::fetch_output(),
            },
            ToolSpec {
                name: "quote_url",
                title: "Quote a URL's price",
                description: "Request a URL without paying and list every payment offer of \
                    its 402 (protocol, amount) and the one fetch_paid_url would pay.",
                input_schema: schema::quote_input(),
                output_schema: schema::quote_output(),
            },
            ToolSpec {
                name: "budget_status",
                title: "Today's spend",
                description: "Satoshis spent today per domain, and the limits in force.",
                input_schema: schema::budget_input(),
                output_schema: schema::budget_output(),
            },
        ]
    }

    async fn call(&self, name: &str, arguments: Value) -> Result<ToolOutcome, CallError> {
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
