//! Tool argument handling and result shapes, without a network (a wallet that cannot pay).

use std::sync::Arc;

use gate402_protocols::ProtocolId;
use gate402_rails::RailError;
use http::{Response, StatusCode};
use serde_json::json;

use super::*;
use crate::cli::NoWallet;
use crate::client::{BuyerPolicy, PaymentInfo, Policy, TokenCache};

/// Tools without a wallet: 100 sat per request, 50 sat per domain and day.
fn tools(dir: &std::path::Path, max_body_bytes: usize) -> BuyerTools {
    let mut policy = BuyerPolicy {
        max_cost_sat: 100,
        max_fee_sat: 1,
        ..BuyerPolicy::default()
    };
    policy.budget.daily_per_domain_sat = Some(50);
    let client = Client::new(Arc::new(NoWallet), TokenCache::new(dir), Policy::default())
        .with_policy(policy);
    BuyerTools::new(client, max_body_bytes)
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
        (
            "fetch_paid_url",
            json!({"url": "http://a/", "max_cost_evm": "10"}),
        ),
        (
            "quote_url",
            json!({"url": "http://a/", "max_cost_sats": 1.5}),
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
        json!({"url": "ftp://127.0.0.1:1/"}),
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
    assert_eq!(out.value["max_cost_msat"], 100_000, "capped by the policy");
    assert_eq!(out.value["paid"], false);
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
        attempts: Vec::new(),
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
    assert_eq!(v["paid"], true);
    assert_eq!(v["protocol"], "mpp");
    assert_eq!(
        (&v["amount"], &v["unit"]),
        (&json!("10000"), &json!("msat"))
    );
    assert_eq!(v["fee_msat"], 3);
    assert_eq!(v["payment_hash"], "ab".repeat(32));
    assert_eq!(v["max_cost_msat"], 50_000);
    for secret in ["preimage", "macaroon", "secret"] {
        assert!(!v.to_string().contains(secret), "{v}");
    }

    let cut_mid_char = t.paid_response(
        &PaidResponse {
            url: "http://example.test/".into(),
            response: response(StatusCode::OK, "abcdé".as_bytes()),
            payment: None,
            reused_credential: true,
            attempts: Vec::new(),
        },
        1,
    );
    assert_eq!(cut_mid_char.value["body"], "abcd");
    assert_eq!(cut_mid_char.value["paid"], false);
    assert_eq!(cut_mid_char.value["protocol"], Value::Null);
    assert_eq!(cut_mid_char.value["reused_credential"], true);

    let binary = t.paid_response(
        &PaidResponse {
            url: "http://example.test/".into(),
            response: response(StatusCode::INTERNAL_SERVER_ERROR, &[0xff, 0xfe, 0x00]),
            payment: None,
            reused_credential: false,
            attempts: Vec::new(),
        },
        1,
    );
    assert!(binary.is_error, "an HTTP error status is a tool error");
    assert_eq!(binary.value["body_encoding"], "base64");
    assert_eq!(binary.value["body"], "//4A");
}

#[tokio::test]
async fn budget_shows_the_policy_limits() {
    let dir = tempfile::tempdir().unwrap();
    let out = tools(dir.path(), 5)
        .call("budget_status", json!({}))
        .await
        .unwrap();
    assert!(!out.is_error);
    assert_eq!(out.value["domains"], json!([]));
    assert_eq!(
        out.value["totals"],
        json!([{"unit": "msat", "spent": "0", "pending": "0", "limit": null}])
    );
    assert_eq!(out.value["day"].as_str().unwrap().len(), 10);
}

#[test]
fn every_client_error_has_a_kind_in_the_schema() {
    let rail = || RailError::new(gate402_rails::RailErrorKind::NoRoute, "x");
    let budget = PolicyError::BudgetExceeded {
        scope: "total".into(),
        unit: "msat".into(),
        spent: 1,
        pending: 0,
        amount: 1,
        limit: 1,
    };
    let errors = [
        (ClientError::Usage("u".into()), "invalid_request"),
        (ClientError::Http("h".into()), "http"),
        (ClientError::Policy(budget), "budget_exceeded"),
        (
            ClientError::Policy(PolicyError::AmountlessInvoice),
            "refused_by_policy",
        ),
        (ClientError::NoPayableChallenge(None), "no_payable_offer"),
        (ClientError::Invoice(rail()), "invalid_invoice"),
        (ClientError::Payment(rail()), "payment_failed"),
        (ClientError::BadPreimage, "payment_failed"),
        (ClientError::Cache(std::io::Error::other("c")), "cache"),
        (ClientError::Config("c".into()), "invalid_config"),
    ];
    for (e, kind) in &errors {
        assert_eq!(error_kind(e), *kind, "{e}");
        assert!(schema::ERROR_KINDS.contains(kind));
    }
    for kind in schema::ERROR_KINDS {
        assert!(errors.iter().any(|(_, k)| *k == kind), "{kind} unused");
    }
}

/// A trace of the client's events says whether a failed call spent money.
#[tokio::test]
async fn paid_flag_of_failures_follows_the_payment_events() {
    let info = PaymentInfo {
        protocol: ProtocolId::L402,
        rail: "lightning".into(),
        amount: crate::client::Amount::msat(1000),
        amount_msat: 1000,
        fee_msat: 0,
        payment_hash: "cd".repeat(32),
        receipt: None,
    };
    let http = ClientError::Http("retry failed".into());
    let no_route = ClientError::Payment(RailError::new(gate402_rails::RailErrorKind::NoRoute, "x"));
    let timeout = ClientError::Payment(RailError::new(gate402_rails::RailErrorKind::Timeout, "x"));
    let ((), none) = trace::traced(async {}).await;
    assert!(!none.paid_before(&http), "no payment started");
    let ((), started) =
        trace::traced(async { trace::record(&crate::client::Event::Paying(1)) }).await;
    assert!(
        !started.paid_before(&no_route),
        "a failure that moves nothing"
    );
    assert!(
        started.paid_before(&timeout),
        "an unknown outcome counts as paid"
    );
    let ((), paid) = trace::traced(async {
        trace::record(&crate::client::Event::Paying(1));
        trace::record(&crate::client::Event::Paid(info.clone()));
    })
    .await;
    assert!(paid.paid_before(&http), "the retry failed after paying");
    assert_eq!(paid.paid, Some(info));
    // Outside a traced call the sink only logs.
    trace::record(&crate::client::Event::Paying(1));
}
