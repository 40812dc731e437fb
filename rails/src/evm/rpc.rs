//! A minimal JSON-RPC 2.0 client over plain HTTP (hyper, pooled, `TCP_NODELAY`), and JSON
//! POST for facilitators. Every call has a timeout; transport failures and timeouts are
//! [`EvmErrorKind::Unavailable`] (retryable), JSON-RPC errors are returned to the caller.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

use super::{EvmError, EvmErrorKind};

/// Largest response body read (facilitator and node answers are small).
const MAX_BODY: usize = 1 << 20;

/// HTTP JSON client shared by the chain RPC and the facilitator client.
#[derive(Clone)]
pub struct JsonHttp {
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl JsonHttp {
    /// A client whose every request gives up after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        JsonHttp {
            client: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
        }
    }

    /// `method` `url` with an optional JSON body; returns the status and parsed JSON body.
    pub async fn request(
        &self,
        method: http::Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), EvmError> {
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        let req = http::Request::builder()
            .method(method)
            .uri(url)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(bytes)))
            .map_err(|e| EvmError::new(EvmErrorKind::Config, "invalid_url", e.to_string()))?;
        let fut = async {
            let resp = self.client.request(req).await.map_err(unavailable)?;
            let status = resp.status().as_u16();
            let body = Limited::new(resp.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| unavailable(e.to_string()))?
                .to_bytes();
            let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
            Ok((status, json))
        };
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| EvmError::new(EvmErrorKind::Unavailable, "timeout", "request timed out"))?
    }
}

fn unavailable(e: impl ToString) -> EvmError {
    EvmError::new(EvmErrorKind::Unavailable, "rpc_unreachable", e.to_string())
}

/// A JSON-RPC error returned by the node (e.g. an `eth_call` revert).
#[derive(Debug, Clone)]
pub struct RpcFailure {
    /// JSON-RPC error message (revert reason text for reverts).
    pub message: String,
    /// JSON-RPC error data (revert data), if any.
    pub data: Option<Value>,
}

/// JSON-RPC client for one node URL.
pub struct Rpc {
    http: JsonHttp,
    url: String,
    id: AtomicU64,
}

impl Rpc {
    /// A client for `url` (`http://host:port`).
    pub fn new(url: impl Into<String>, timeout: Duration) -> Self {
        Rpc {
            http: JsonHttp::new(timeout),
            url: url.into(),
            id: AtomicU64::new(1),
        }
    }

    /// Call `method`; the outer error is transport trouble, the inner a JSON-RPC error.
    pub async fn call(
        &self,
        method: &str,
        params: Value,
    ) -> Result<Result<Value, RpcFailure>, EvmError> {
        let id = self.id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let (status, v) = self
            .http
            .request(http::Method::POST, &self.url, Some(&body))
            .await?;
        if let Some(err) = v.get("error") {
            return Ok(Err(RpcFailure {
                message: err["message"].as_str().unwrap_or("").to_string(),
                data: err.get("data").cloned(),
            }));
        }
        match v.get("result") {
            Some(r) => Ok(Ok(r.clone())),
            None => Err(EvmError::new(
                EvmErrorKind::Unavailable,
                "rpc_bad_answer",
                format!("HTTP {status} without a JSON-RPC result"),
            )),
        }
    }

    /// Call `method` and treat a JSON-RPC error as node trouble.
    pub async fn call_ok(&self, method: &str, params: Value) -> Result<Value, EvmError> {
        self.call(method, params).await?.map_err(|f| {
            EvmError::new(
                EvmErrorKind::Unavailable,
                "rpc_error",
                format!("{method}: {}", f.message),
            )
        })
    }

    /// A `0x` quantity result as `u64`.
    pub async fn quantity(&self, method: &str, params: Value) -> Result<u64, EvmError> {
        let v = self.call_ok(method, params).await?;
        parse_quantity(&v).ok_or_else(|| {
            EvmError::new(
                EvmErrorKind::Unavailable,
                "rpc_bad_answer",
                format!("{method}: {v}"),
            )
        })
    }
}

/// Parse a JSON-RPC quantity (`"0x1a"`).
pub fn parse_quantity(v: &Value) -> Option<u64> {
    let s = v.as_str()?.strip_prefix("0x")?;
    u64::from_str_radix(if s.is_empty() { "0" } else { s }, 16).ok()
}
