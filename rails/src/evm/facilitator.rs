//! [`FacilitatorClient`]: verify and settle through an external x402 facilitator
//! (`POST {url}/verify`, `POST {url}/settle` with `{x402Version, paymentPayload,
//! paymentRequirements}`), accepting both 200-with-`isValid:false` (TS) and 4xx (x402-rs).
//! Over reqwest with rustls ([`HttpOptions`]): `https://` facilitators work.

use std::time::Duration;

use async_trait::async_trait;
use gate402_protocols::x402::evm;
use gate402_protocols::x402::wire::{FacilitatorRequest, SettleResponse, VerifyResponse};
use serde_json::Value;

use super::http::{parse_url, unavailable, HttpOptions};
use super::{EvmError, EvmErrorKind, ExactEvmBackend, PaymentRef, Settled};

/// Largest facilitator answer read (they are a few hundred bytes).
const MAX_BODY: usize = 1 << 20;

/// Client of an external facilitator.
pub struct FacilitatorClient {
    http: reqwest::Client,
    settle_timeout: Duration,
    base: String,
}

impl FacilitatorClient {
    /// A client for the facilitator at `base_url` (`http(s)://…`, no trailing `/`): `/verify`
    /// within `http.timeout`, `/settle` within `settle_timeout` (the Go SDK's guidance is
    /// 10 s and 60 s). Fails on a bad URL or CA file.
    pub fn new(
        base_url: &str,
        http: &HttpOptions,
        settle_timeout: Duration,
    ) -> Result<Self, EvmError> {
        parse_url(base_url)?;
        Ok(FacilitatorClient {
            http: http.client()?,
            settle_timeout: settle_timeout.max(http.timeout),
            base: base_url.trim_end_matches('/').to_string(),
        })
    }

    async fn post(&self, path: &str, p: &PaymentRef<'_>) -> Result<(u16, Value), EvmError> {
        let body = FacilitatorRequest {
            x402_version: p.payload.x402_version,
            payment_payload: p.payload.clone(),
            payment_requirements: p.price.requirement(),
        };
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body);
        if path == "/settle" {
            req = req.timeout(self.settle_timeout);
        }
        let mut resp = req.send().await.map_err(|e| unavailable(&e))?;
        let status = resp.status().as_u16();
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| unavailable(&e))? {
            if bytes.len() + chunk.len() > MAX_BODY {
                return Err(EvmError::new(
                    EvmErrorKind::Unavailable,
                    "facilitator_error",
                    format!("facilitator {path}: answer over {MAX_BODY} bytes"),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status >= 500 && v.is_null() {
            return Err(EvmError::new(
                EvmErrorKind::Unavailable,
                "facilitator_error",
                format!("facilitator {path}: HTTP {status}"),
            ));
        }
        Ok((status, v))
    }
}

fn rejected(reason: Option<String>, message: Option<String>) -> EvmError {
    let reason = reason.unwrap_or_default();
    let detail = match message {
        Some(m) => format!("{reason}: {m}"),
        None => reason.clone(),
    };
    EvmError::new(EvmErrorKind::Rejected, stable(&reason), detail)
}

/// Facilitator reasons are an open set: keep ours stable, pass theirs in the detail.
fn stable(reason: &str) -> &'static str {
    if reason.contains("nonce") {
        "nonce_already_used"
    } else if reason.contains("insufficient") {
        "insufficient_funds"
    } else if reason.contains("signature") {
        "invalid_signature"
    } else if reason.contains("valid_before") || reason.contains("expired") {
        "expired"
    } else if reason.contains("valid_after") || reason.contains("early") {
        "not_yet_valid"
    } else {
        "facilitator_rejected"
    }
}

#[async_trait]
impl ExactEvmBackend for FacilitatorClient {
    async fn verify(&self, p: PaymentRef<'_>) -> Result<(), EvmError> {
        let (status, v) = self.post("/verify", &p).await?;
        match serde_json::from_value::<VerifyResponse>(v) {
            Ok(r) if r.is_valid => Ok(()),
            Ok(r) => Err(rejected(r.invalid_reason, r.invalid_message)),
            Err(_) => Err(EvmError::new(
                EvmErrorKind::Unavailable,
                "facilitator_error",
                format!("/verify: HTTP {status}, not a VerifyResponse"),
            )),
        }
    }

    async fn settle(&self, p: PaymentRef<'_>) -> Result<Settled, EvmError> {
        let (status, v) = self.post("/settle", &p).await?;
        match serde_json::from_value::<SettleResponse>(v) {
            Ok(r) if r.success => Ok(Settled {
                transaction: r.transaction,
                payer: r
                    .payer
                    .unwrap_or_else(|| evm::checksum(&p.payment.authorization.from)),
            }),
            Ok(r) => {
                let mut e = rejected(r.error_reason, r.error_message);
                e.transaction = Some(r.transaction).filter(|t| !t.is_empty());
                Err(e)
            }
            Err(_) => Err(EvmError::new(
                EvmErrorKind::Unavailable,
                "facilitator_error",
                format!("/settle: HTTP {status}, not a SettleResponse"),
            )),
        }
    }

    fn describe(&self) -> String {
        format!("facilitator {}", self.base)
    }
}
