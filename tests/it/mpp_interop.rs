//! MPP interop with the npm reference peers (installed by `tests/run-all.sh` from the pinned
//! lockfile; missing `node_modules` fails the test, never skips it):
//!
//! * reference client → gate402: `@getalby/lightning-tools` 9.0.1 `fetchWithMpp` pays a
//!   gate402 route over simnet (its wallet pays through a loopback endpoint of this test);
//! * gate402 client → reference server: an `mppx` 0.11.0 server with a Lightning charge method
//!   defined with mppx's custom-method API (`tests/interop/mpp/mppx_server.mjs`).

use std::path::PathBuf;
use std::process::Stdio;

use axum::{routing::post, Json, Router};
use gate402::client::{ClientRequest, Policy};
use gate402_protocols::{mpp::MppReceipt, ProtocolId};
use gate402_rails::{simnet::SimNode, InvoiceRequest, LightningRail, PayLimits};
use gate402_tests::{serve, Harness};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn interop_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop");
    for pkg in ["@getalby/lightning-tools", "mppx"] {
        assert!(
            dir.join("node_modules").join(pkg).join("package.json").is_file(),
            "npm peer `{pkg}` missing in {}: run `npm ci --prefix tests/interop` (tests/run-all.sh does)",
            dir.display()
        );
    }
    dir
}

fn node(script: &str) -> Command {
    let dir = interop_dir();
    let mut c = Command::new("node");
    c.arg(dir.join("mpp").join(script))
        .current_dir(&dir)
        .kill_on_drop(true);
    c
}

/// A loopback wallet: `POST {invoice}` → pays it from `payer` → `{preimage}`.
fn wallet_app(payer: SimNode) -> Router {
    Router::new().route(
        "/pay",
        post(move |Json(body): Json<Value>| {
            let payer = payer.clone();
            async move {
                let invoice = body["invoice"].as_str().unwrap_or_default().to_owned();
                match payer.pay_invoice(&invoice, PayLimits::default()).await {
                    Ok(p) => Json(json!({"preimage": hex::encode(p.preimage), "fees_paid": p.fee_msat / 1000})),
                    Err(e) => Json(json!({"error": e.to_string()})),
                }
            }
        }),
    )
}

#[tokio::test]
async fn alby_fetch_with_mpp_pays_a_gate402_route() {
    let h = Harness::start_mpp().await;
    let wallet = serve(wallet_app(h.buyer.clone())).await;
    let out = node("alby_fetch.mjs")
        .arg(h.url("/api/alby").to_string())
        .arg(format!("http://{wallet}/pay"))
        .output()
        .await
        .expect("cannot run `node`: install Node.js >= 18");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "alby_fetch.mjs failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(result["status"], 200, "{result}");
    assert_eq!(result["paid"], true);
    assert_eq!(result["amountSat"], 10);
    let body: Value = serde_json::from_str(result["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["path"], "/api/alby");
    let receipt = MppReceipt::parse(result["receipt"].as_str().unwrap()).unwrap();
    assert_eq!(receipt.method, "lightning");
    assert_eq!(h.seller_msat(), 10_000, "exactly one charge was paid");
}

/// A loopback invoice minter for the mppx server: `POST {amount}` (sat) → `{bolt11, paymentHash}`.
fn minter_app(seller: SimNode) -> Router {
    Router::new().route(
        "/invoice",
        post(move |Json(body): Json<Value>| {
            let seller = seller.clone();
            async move {
                let sats: u64 = body["amount"]
                    .as_str()
                    .and_then(|a| a.parse().ok())
                    .unwrap_or(0);
                let req = InvoiceRequest {
                    amount_msat: sats * 1000,
                    memo: "mppx".into(),
                    expiry_secs: 600,
                };
                let inv = seller.create_invoice(req).await.expect("simnet mints");
                Json(json!({"bolt11": inv.bolt11, "paymentHash": hex::encode(inv.payment_hash)}))
            }
        }),
    )
}

#[tokio::test]
async fn gate402_client_pays_an_mppx_server() {
    let h = Harness::start_mpp().await;
    let minter = serve(minter_app(h.seller.clone())).await;
    let mut child = node("mppx_server.mjs")
        .arg(format!("http://{minter}/invoice"))
        .arg("mppx-interop-secret-of-at-least-32-bytes!")
        .arg("mppx.test")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("cannot run `node`: install Node.js >= 18");
    let stdout = child.stdout.take().unwrap();
    let line = BufReader::new(stdout)
        .lines()
        .next_line()
        .await
        .unwrap()
        .unwrap_or_default();
    let port: u16 = line
        .strip_prefix("LISTENING ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("mppx_server.mjs did not start: {line:?}"));

    let client = h.client("mppx", Policy::default());
    let url = format!("http://127.0.0.1:{port}/paid").parse().unwrap();
    let paid = client.send(&ClientRequest::get(url)).await.unwrap();
    assert_eq!(paid.response.status(), 200, "{:?}", paid.response.body());
    let info = paid.payment.unwrap();
    assert_eq!((info.protocol, info.amount_msat), (ProtocolId::Mpp, 10_000));
    let receipt =
        MppReceipt::parse(paid.response.headers()["payment-receipt"].to_str().unwrap()).unwrap();
    assert_eq!(receipt.reference, info.payment_hash);
    assert_eq!(h.seller_msat(), 10_000);
    child.kill().await.unwrap();
}
