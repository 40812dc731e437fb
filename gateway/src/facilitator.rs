//! The built-in x402 facilitator: `POST {prefix}/verify`, `POST {prefix}/settle`,
//! `GET {prefix}/supported` with the reference request/response shapes, so third-party x402
//! servers (e.g. `@x402/express`) can use gate402 as their facilitator.
//!
//! Verify = the local checks of [`gate402_protocols::x402::exact`] (requirement match,
//! EIP-712 signature, payee, time window, exact value) + the chain simulation; settle = the
//! same checks, then the `transferWithAuthorization` transaction and its receipt. Refusals
//! answer 200 with `isValid:false` / `success:false` (as the TS facilitator); an unreachable
//! chain answers 503.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::State,
    http::StatusCode,
    routing::{get, post},
    Json, Router,
};
use gate402_protocols::x402::exact::parse_network;
use gate402_protocols::x402::wire::{FacilitatorRequest, PaymentRequirements};
use gate402_protocols::x402::{evm, EvmPayment, EvmPrice, SettleResponse, SCHEME_EXACT};
use gate402_rails::evm::{ExactEvmBackend, PaymentRef};
use serde_json::{json, Value};

use crate::clock::now_unix;

/// Facilitator state: the chain backend and what it supports.
pub struct Facilitator {
    backend: Arc<dyn ExactEvmBackend>,
    chain_id: u64,
    signer: Option<String>,
}

impl Facilitator {
    /// A facilitator for `chain_id` settling through `backend` from `signer` (address).
    pub fn new(backend: Arc<dyn ExactEvmBackend>, chain_id: u64, signer: Option<String>) -> Self {
        Facilitator {
            backend,
            chain_id,
            signer,
        }
    }

    /// The endpoints, mounted under `prefix` (e.g. `/_gate402/facilitator`).
    pub fn router(self: Arc<Self>, prefix: &str) -> Router {
        Router::new()
            .route(&format!("{prefix}/supported"), get(supported))
            .route(&format!("{prefix}/verify"), post(verify))
            .route(&format!("{prefix}/settle"), post(settle))
            .with_state(self)
    }

    /// Decode and check a request locally: `(price, payment)` or `(reason, message)`.
    fn check(&self, body: &[u8]) -> Result<(FacilitatorRequest, EvmPrice, EvmPayment), Refused> {
        let req: FacilitatorRequest = serde_json::from_slice(body)
            .map_err(|e| Refused("invalid_payload", e.to_string(), None))?;
        let price = EvmPrice::from_requirement(&req.payment_requirements)
            .map_err(|e| Refused(e.reason(), e.to_string(), None))?;
        if price.chain_id != self.chain_id {
            return Err(Refused(
                "invalid_network",
                "unsupported network".into(),
                None,
            ));
        }
        let payment = EvmPayment::from_payload(&req.payment_payload.payload)
            .map_err(|e| Refused("invalid_payload", e.to_string(), None))?;
        let payer = Some(evm::checksum(&payment.authorization.from));
        let p = &req.payment_payload;
        let matched = match &p.accepted {
            Some(a) => serde_json::from_value::<PaymentRequirements>(a.clone())
                .map_err(|_| VerifyMismatch)
                .and_then(|a| price.check_accepted(&a).map_err(|_| VerifyMismatch)),
            None => (p.scheme.as_deref() == Some(SCHEME_EXACT)
                && p.network.as_deref().and_then(parse_network) == Some(price.chain_id))
            .then_some(())
            .ok_or(VerifyMismatch),
        };
        if matched.is_err() {
            return Err(Refused(
                "accepted_requirements_mismatch",
                "payload does not match the requirements".into(),
                payer,
            ));
        }
        price
            .verify(&payment, now_unix())
            .map_err(|e| Refused(e.reason(), e.to_string(), payer))?;
        Ok((req, price, payment))
    }
}

struct VerifyMismatch;

/// A refusal: reason, message, payer.
struct Refused(&'static str, String, Option<String>);

async fn supported(State(f): State<Arc<Facilitator>>) -> Json<Value> {
    let network = format!("eip155:{}", f.chain_id);
    let signers: Vec<String> = f.signer.iter().cloned().collect();
    Json(json!({
        "kinds": [
            {"x402Version": 2, "scheme": SCHEME_EXACT, "network": network},
            {"x402Version": 1, "scheme": SCHEME_EXACT, "network": network},
        ],
        "extensions": [],
        "signers": {"eip155:*": signers},
    }))
}

async fn verify(State(f): State<Arc<Facilitator>>, body: Bytes) -> (StatusCode, Json<Value>) {
    let (req, price, payment) = match f.check(&body) {
        Ok(ok) => ok,
        Err(Refused(reason, msg, payer)) => return invalid(reason, msg, payer),
    };
    let payer = evm::checksum(&payment.authorization.from);
    let r = PaymentRef {
        price: &price,
        payment: &payment,
        payload: &req.payment_payload,
    };
    match f.backend.verify(r).await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({"isValid": true, "payer": payer})),
        ),
        Err(e) if e.retryable() => unavailable(&e.to_string()),
        Err(e) => invalid(e.reason, e.message, Some(payer)),
    }
}

async fn settle(State(f): State<Arc<Facilitator>>, body: Bytes) -> (StatusCode, Json<Value>) {
    let network = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| {
            v["paymentRequirements"]["network"]
                .as_str()
                .map(String::from)
        })
        .unwrap_or_default();
    let (req, price, payment) = match f.check(&body) {
        Ok(ok) => ok,
        Err(Refused(reason, msg, payer)) => {
            return settle_failed(reason, msg, payer, network, None)
        }
    };
    let payer = evm::checksum(&payment.authorization.from);
    let r = PaymentRef {
        price: &price,
        payment: &payment,
        payload: &req.payment_payload,
    };
    match f.backend.settle(r).await {
        Ok(s) => {
            // Delivered to the calling server: nothing left to reconcile.
            f.backend.forget(r).await;
            let resp = SettleResponse::settled(Some(s.payer), s.transaction, network);
            (
                StatusCode::OK,
                Json(serde_json::to_value(resp).unwrap_or(Value::Null)),
            )
        }
        Err(e) if e.retryable() && e.transaction.is_none() => unavailable(&e.to_string()),
        Err(e) => settle_failed(e.reason, e.message, Some(payer), network, e.transaction),
    }
}

fn invalid(reason: &str, message: String, payer: Option<String>) -> (StatusCode, Json<Value>) {
    let body = json!({"isValid": false, "invalidReason": reason, "invalidMessage": message,
        "payer": payer.unwrap_or_default()});
    (StatusCode::OK, Json(body))
}

fn settle_failed(
    reason: &str,
    message: String,
    payer: Option<String>,
    network: String,
    tx: Option<String>,
) -> (StatusCode, Json<Value>) {
    let resp = SettleResponse::failed(reason, message, payer, tx, network);
    (
        StatusCode::OK,
        Json(serde_json::to_value(resp).unwrap_or(Value::Null)),
    )
}

fn unavailable(message: &str) -> (StatusCode, Json<Value>) {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"error": "chain unavailable", "detail": message})),
    )
}
