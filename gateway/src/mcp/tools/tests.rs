//! Tool argument handling and result shapes, without a network (a wallet that cannot pay).

use std::time::Duration;

use gate402_protocols::ProtocolId;
use http::{Response, StatusCode};
use serde_json::json;

use super::*;
use crate::cli::NoWallet;
use crate::client::PaymentInfo;

fn tools(dir: &std::path::Path, max_body_bytes: usize) -> BuyerTools {
    let policy = Policy {
        max_cost_msat: 100_000,
        max_fee_msat: 1_000,
        payment_timeout: Duration::from_secs(5),
    };
    BuyerTools::new(
        Arc::new(NoWallet),
        TokenCache::new(dir),
        policy,
        None,
        max_body_bytes,
    )
}

#[tokio::test]
async fn schema_violations_are_call_errors() {
    let dir = tempfile::tempdir().unwrap();
    let t = tools(dir.path(), 100);
    let err = |name: &'static str, args: Value| {
        let t = &t;
        async move { t.call(name, args).await.unwrap_err() }
    };
    assert_eq!(
        err("nope", json!({})).await,
        CallError::UnknownTool("nope".into())
    );
    for (name, args) in [
        ("fetch_paid_url", json!({})),
        ("fetch_paid_url", json!({"url": 5})),
        ("fetch_paid_url", json!({"url": "http://a/", "extra": 1})),
        (
            "fetch_paid_url",
            json!({"url": "http://a/", "max_cost_sats": -1}),
        ),
        ("quote_url", json!({"method": "GET"})),
        ("budget_status", json!({"x": 1})),
    ] {
        assert!(
            matches!(
                err(name, args.clone()).await,
                CallError::InvalidArguments(_)
            ),
            "{name} {args}"
        );
    }
    let names: Vec<_> = t.tools().iter().map(|s| s.name).collect();
    assert_eq!(names, ["fetch_paid_url", "quote_url", "budget_status"]);
}

#[tokio::test]
async fn failures_are_tool_errors_and_max_cost_is_capped() {
    let dir = tempfile::tempdir().unwrap();
    let t = tools(dir.path(), 100);
    let call = |args: Value| {
        let t = &t;
        async move { t.call("fetch_paid_url", args).await.unwrap() }
    };
    for args in [
        json!({"url": "not a url at all"}),
        json!({"url": "http://127.0.0.1:1/", "method": "GE T"}),
        json!({"url": "http://127.0.0.1:1/", "headers": {"bad name": "v"}}),
        json!({"url": "https://example.invalid/"}),
    ] {
        let out = call(args.clone()).await;
        assert!(out.is_error, "{args}");
        assert_eq!(
            out.value["error"], "invalid_request",
            "{args}: {}",
            out.value
        );
        assert_eq!(out.value["paid"], false);
    }
    // Nothing listens on port 1: an HTTP failure, with the effective cap reported.
    let out = call(json!({"url": "http://127.0.0.1:1/x", "max_cost_sats": 5000})).await;
    assert!(out.is_error);
    assert_eq!(out.value["error"], "http");
    assert_eq!(out.value["max_cost_msat"], 100_000, "capped by --max-cost");
    let out = call(json!({"url": "http://127.0.0.1:1/x", "max_cost_sats": 5})).await;
    assert_eq!(out.value["max_cost_msat"], 5_000, "lowered by the call");
    let quote = t
        .call("quote_url", json!({"url": "http://127.0.0.1:1/x"}))
        .await
        .unwrap();
    assert!(quote.is_error);
    assert_eq!(quote.value["error"], "http");
}

fn response(status: StatusCode, body: &'static [u8]) -> Response<Bytes> {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .header("set-cookie", "session=secret")
        .header("payment-receipt", "receipt-value")
        .body(Bytes::from_static(body))
        .unwrap()
}

#[test]
fn paid_responses_are_cut_and_carry_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let t = tools(dir.path(), 5);
    let paid = PaidResponse {
        url: "http://example.test/".into(),
        // "héllo!" is 7 bytes; the first 5 are "héll" (a cut on a character boundary).
        response: response(StatusCode::OK, "héllo!".as_bytes()),
        payment: Some(PaymentInfo {
            protocol: ProtocolId::Mpp,
            rail: "lightning".into(),
            amount: crate::client::Amount {
                value: 10_000,
                unit: "msat".into(),
                decimals: None,
            },
            receipt: None,
            amount_msat: 10_000,
            fee_msat: 3,
            payment_hash: "ab".repeat(32),
        }),
        reused_credential: false,
    };
    let out = t.paid_response(&paid, 50_000);
    assert!(!out.is_error);
    let v = &out.value;
    assert_eq!(v["status"], 200);
    assert_eq!(v["body"], "héll");
    assert_eq!(v["body_bytes"], 7);
    assert_eq!(v["body_truncated"], true);
    assert_eq!(v["headers"]["content-type"], "text/plain");
    assert!(v["headers"].get("set-cookie").is_none(), "{v}");
    assert_eq!(
        v["payment"],
        json!({"protocol": "mpp", "amount_msat": 10_000, "fee_msat": 3,
               "reference": "ab".repeat(32), "receipt": "receipt-value"})
    );

    let cut_mid_char = t.paid_response(
        &PaidResponse {
            url: "http://example.test/".into(),
            response: response(StatusCode::OK, "abcdé".as_bytes()),
            payment: None,
            reused_credential: true,
        },
        1,
    );
    assert_eq!(cut_mid_char.value["body"], "abcd");
    assert_eq!(cut_mid_char.value["payment"], Value::Null);
    assert_eq!(cut_mid_char.value["reused_credential"], true);

    let binary = t.paid_response(
        &PaidResponse {
            url: "http://example.test/".into(),
            response: response(StatusCode::INTERNAL_SERVER_ERROR, &[0xff, 0xfe, 0x00]),
            payment: None,
            reused_credential: false,
        },
        1,
    );
    assert!(binary.is_error, "an HTTP error status is a tool error");
    assert_eq!(binary.value["body_encoding"], "base64");
    assert_eq!(binary.value["body"], "//4A");
}

#[tokio::test]
async fn budget_of_an_empty_cache() {
    let dir = tempfile::tempdir().unwrap();
    let out = tools(dir.path(), 5)
        .call("budget_status", json!({}))
        .await
        .unwrap();
    assert!(!out.is_error);
    assert_eq!(out.value["total_spent_msat"], 0);
    assert_eq!(out.value["domains"], json!([]));
    assert_eq!(out.value["limits"]["max_cost_per_request_msat"], 100_000);
    assert_eq!(out.value["limits"]["per_domain_daily_msat"], Value::Null);
}
