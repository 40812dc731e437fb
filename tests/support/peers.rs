//! The npm reference peers the interop tests, the interop matrix and the probe's peer grades
//! share: their loopback helpers (a wallet that pays with a simnet node, an invoice minter for
//! peer servers) and how each peer is started.

use axum::{routing::post, Json, Router};
use gate402_protocols::x402::evm;
use gate402_rails::{simnet::SimNode, InvoiceRequest, LightningRail, PayLimits};
use http::StatusCode;
use serde_json::{json, Value};

use crate::chain::{Chain, NodePeer};

/// A loopback wallet for the JS clients: `POST {invoice}` → pays it from `payer` →
/// `{preimage, fees_paid}` (502 with the error when the payment fails).
pub fn wallet_app(payer: SimNode) -> Router {
    Router::new().route(
        "/pay",
        post(move |Json(body): Json<Value>| {
            let payer = payer.clone();
            async move {
                let invoice = body["invoice"].as_str().unwrap_or_default().to_owned();
                match payer.pay_invoice(&invoice, PayLimits::default()).await {
                    Ok(p) => Ok(Json(json!({
                        "preimage": hex::encode(p.preimage),
                        "fees_paid": p.fee_msat / 1000,
                    }))),
                    Err(e) => Err((StatusCode::BAD_GATEWAY, e.to_string())),
                }
            }
        }),
    )
}

/// Serve [`wallet_app`]; its `/pay` URL.
pub async fn wallet(payer: SimNode) -> String {
    format!("http://{}/pay", crate::serve(wallet_app(payer)).await)
}

/// An invoice minter for the peer servers: `POST {amount}` (sat) → `{bolt11, paymentHash}`,
/// minted on `seller` (600 s expiry).
pub fn minter_app(seller: SimNode) -> Router {
    Router::new().route(
        "/invoice",
        post(move |Json(body): Json<Value>| {
            let seller = seller.clone();
            async move {
                let sats: u64 = body["amount"]
                    .as_str()
                    .and_then(|a| a.parse().ok())
                    .or_else(|| body["amount"].as_u64())
                    .unwrap_or(0);
                let req = InvoiceRequest {
                    amount_msat: sats * 1000,
                    memo: "peer".into(),
                    expiry_secs: 600,
                };
                let inv = seller.create_invoice(req).await.expect("simnet mints");
                Json(json!({"bolt11": inv.bolt11, "paymentHash": hex::encode(inv.payment_hash)}))
            }
        }),
    )
}

/// Serve [`minter_app`]; its `/invoice` URL.
pub async fn minter(seller: SimNode) -> String {
    format!("http://{}/invoice", crate::serve(minter_app(seller)).await)
}

/// The reference facilitator (`@x402/core` `x402Facilitator` over express) settling with dev
/// account #3.
pub async fn reference_facilitator(chain: &Chain) -> NodePeer {
    NodePeer::start(
        "facilitator.mjs",
        &[
            ("X402_FAC_KEY", chain.keys[3].clone()),
            ("X402_RPC_URL", chain.url.clone()),
        ],
    )
    .await
}

/// The reference resource server (`@x402/express` `paymentMiddleware`) selling `GET /weather`
/// for 10000 units of the test token to dev account #2, settling through `facilitator_url`.
pub async fn x402_express(chain: &Chain, facilitator_url: String) -> NodePeer {
    NodePeer::start(
        "express_server.mjs",
        &[
            ("X402_FACILITATOR_URL", facilitator_url),
            ("X402_TOKEN", evm::checksum(&chain.token)),
            ("X402_PAYEE", evm::checksum(&chain.address(2))),
        ],
    )
    .await
}

/// The `mppx` server with its custom Lightning charge method (`GET /paid`, 10 sat), minting
/// through `minter_url`.
pub async fn mppx_lightning(minter_url: &str) -> NodePeer {
    NodePeer::start_script(
        "mpp/mppx_server.mjs",
        &[
            minter_url,
            "mppx-interop-secret-of-at-least-32-bytes!",
            "mppx.test",
        ],
        &[],
    )
    .await
}

/// The `mppx` server with the built-in `evm` charge and its x402 compatibility (`GET /paid`;
/// only its 402 is used).
pub async fn mppx_evm() -> NodePeer {
    NodePeer::start_script(
        "probe/mppx_evm_server.mjs",
        &[
            "mppx-interop-secret-of-at-least-32-bytes!",
            "mppx.test",
            "0x5FbDB2315678afecb367f032d93F642f64180aa3",
            "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
        ],
        &[],
    )
    .await
}

/// An L402 server built on Alby's server utilities (`issueL402Macaroon`,
/// `makeL402AuthenticateHeader`), minting through `minter_url` (`GET /paid`, 10 sat).
pub async fn alby_l402(minter_url: &str) -> NodePeer {
    NodePeer::start_script("probe/alby_l402_server.mjs", &[minter_url], &[]).await
}
