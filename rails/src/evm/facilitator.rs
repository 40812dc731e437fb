//! [`FacilitatorClient`]: verify and settle through an external x402 facilitator
//! (`POST {url}/verify`, `POST {url}/settle` with `{x402Version, paymentPayload,
//! paymentRequirements}`), accepting both 200-with-`isValid:false` (TS) and 4xx (x402-rs).

use std::time::Duration;

use async_trait::async_trait;
use gate402_protocols::x402::evm;
use gate402_protocols::x402::wire::{FacilitatorRequest, SettleResponse, VerifyResponse};
use serde_json::Value;

use super::rpc::JsonHttp;
use super::{EvmError, EvmErrorKind, ExactEvmBackend, PaymentRef, Settled};

/// Client of an external facilitator.
pub struct FacilitatorClient {
    http: JsonHttp,
    settle_http: JsonHttp,
    base: String,
}

impl FacilitatorClient {
    /// A client for the facilitator at `base_url` (no trailing `/`), with the Go SDK's
    /// guidance as timeouts (verify 10 s, settle 60 s) unless given.
    pub fn new(base_url: &str, verify_timeout: Duration, settle_timeout: Duration) -> Self {
        FacilitatorClient {
            http: JsonHttp::new(verify_timeout),
            settle_http: JsonHttp::new(settle_timeout),
            base: base_url.trim_end_matches('/').to_string(),
        }
    }

    async fn post(
        &self,
        http: &JsonHttp,
        path: &str,
        p: &PaymentRef<'_>,
    ) -> Result<(u16, Value), EvmError> {
        let body = FacilitatorRequest {
            x402_version: p.payload.x402_version,
            payment_payload: p.payload.clone(),
            payment_requirements: p.price.requirement(),
        };
        let body = serde_json::to_value(body).unwrap_or(Value::Null);
        let (status, v) = http
            .request(
                http::Method::POST,
                &format!("{}{path}", self.base),
                Some(&body),
            )
            .await?;
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
        let (status, v) = self.post(&self.http, "/verify", &p).await?;
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
        let (status, v) = self.post(&self.settle_http, "/settle", &p).await?;
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
