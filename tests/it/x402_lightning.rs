//! The Lightning variant of x402 over simnet: Alby's `fetchWithX402` pays gate402; replaying
//! its payment header is refused; an unpaid invoice is refused.

use gate402_protocols::x402::wire::decode_header;
use gate402_rails::{LightningRail, PayLimits};
use gate402_tests::chain::node_json;
use gate402_tests::{json_body, matrix, peers, raw, serve, upstream_app, Harness};
use http::StatusCode;
use serde_json::{json, Value};

/// A Lightning-only x402 route (`/ln/`, 21 sat) next to L402.
pub const LN_CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
upstream = "{UPSTREAM}"

[lightning]
backend = "simnet"

[[route]]
name = "ln"
path_prefix = "/ln/"
price_sat = 21
protocols = ["l402", "x402"]
x402 = { lightning = true, description = "lightning x402" }
"#;

/// Start upstream + gateway with [`LN_CONFIG`].
pub async fn start_ln() -> Harness {
    let upstream = serve(upstream_app()).await;
    Harness::start_with(&LN_CONFIG.replace("{UPSTREAM}", &format!("http://{upstream}"))).await
}

#[tokio::test]
async fn alby_fetch_with_x402_pays_gate402_over_simnet() {
    matrix::cell(
        "x402_lightning::alby_fetch_with_x402_pays_gate402_over_simnet",
        async {
            let h = start_ln().await;
            let out = node_json(
                "alby_client.mjs",
                &[
                    ("X402_URL", h.url("/ln/data").to_string()),
                    ("WALLET_URL", peers::wallet(h.buyer.clone()).await),
                ],
            )
            .await;
            assert_eq!(out["status"], 200, "{out}");
            assert_eq!(
                json_body(&out["body"].as_str().unwrap().to_string().into())["path"],
                "/ln/data"
            );
            assert_eq!(h.seller_msat(), 21_000);
            // The same payment header again: single use.
            let cred = &out["credentials"];
            assert_eq!(cred["header"], "payment-signature");
            let value = cred["value"].as_str().unwrap();
            let (status, headers, _) =
                raw(&h.url("/ln/data"), &[("payment-signature", value)]).await;
            assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
            assert_eq!(headers["gate402-reason"], "replayed");
            assert_eq!(h.seller_msat(), 21_000);
        },
    )
    .await;
}

#[tokio::test]
async fn unpaid_lightning_invoice_is_refused_and_receipt_is_sent() {
    let h = start_ln().await;
    let (status, headers, _) = raw(&h.url("/ln/x"), &[]).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    assert!(
        headers.contains_key("www-authenticate"),
        "L402 alongside x402"
    );
    let pr: Value = decode_header(headers["payment-required"].as_bytes(), "t").unwrap();
    let entry = pr["accepts"][0].clone();
    assert_eq!(entry["amount"], "21000");
    let header = |entry: &Value| {
        let body = json!({"x402Version": 2, "scheme": entry["scheme"], "network": entry["network"],
            "payload": {"invoice": entry["extra"]["invoice"]}, "accepted": entry});
        gate402_protocols::x402::wire::encode_header(&body)
    };
    // Not paid yet.
    let v = header(&entry);
    let (status, headers, _) = raw(&h.url("/ln/x"), &[("payment-signature", &v)]).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(headers["gate402-reason"], "not_settled");
    // Paid: 200 with a PAYMENT-RESPONSE naming the payment hash.
    let inv = entry["extra"]["invoice"].as_str().unwrap();
    let paid = h
        .buyer
        .pay_invoice(inv, PayLimits::default())
        .await
        .unwrap();
    let (status, headers, _) = raw(&h.url("/ln/x"), &[("payment-signature", &v)]).await;
    assert_eq!(status, StatusCode::OK);
    let receipt: Value = decode_header(headers["payment-response"].as_bytes(), "t").unwrap();
    assert_eq!(receipt["success"], true);
    assert_eq!(receipt["transaction"], hex::encode(paid.payment_hash));
    // The settled payment is in the ledger, once.
    let rows = h
        .store
        .ledger(&gate402::store::LedgerFilter::default())
        .await
        .unwrap();
    let x402: Vec<_> = rows.iter().filter(|r| r.protocol == "x402").collect();
    assert_eq!(x402.len(), 1, "{rows:?}");
    assert_eq!(x402[0].reference, hex::encode(paid.payment_hash));
    assert_eq!(x402[0].amount_msat, 21_000);
}
