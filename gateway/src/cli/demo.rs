//! `gate402 demo`: the whole exchange on loopback with an embedded simulated Lightning network.
//!
//! buyer and seller nodes on a simnet → a small upstream API → the gateway in front of it →
//! the buyer client: 402 → pay → 200 → reuse the token without paying; then one x402 payment
//! (its Lightning variant, so no chain is needed); then the same route paid with MPP (one
//! Lightning charge, then a short session with a refund, in [`super::demo_mpp`]). Every step
//! is checked; any surprise ends the demo with a non-zero exit code.

use std::{process::ExitCode, sync::Arc};

use axum::{routing::get, Json, Router};
use gate402_rails::{simnet::SimNetwork, LightningRail};
use http::{StatusCode, Uri};
use rand::RngCore;
use serde_json::json;
use tokio::net::TcpListener;

use crate::{
    client::{Client, ClientRequest, Policy, TokenCache},
    config::Config,
    server,
};

/// The embedded demo configuration.
pub const DEMO_CONFIG: &str = include_str!("../../../config/demo.toml");

const BUYER_START_MSAT: u64 = 100_000_000;

/// Run the demo; prints the exchange and returns 0 on success.
pub async fn run_demo() -> ExitCode {
    match demo().await {
        Ok(()) => {
            println!("\ndemo ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("\ndemo FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

fn upstream_app() -> Router {
    Router::new()
        .route(
            "/api/quote",
            get(|| async { Json(json!({"quote": "Stay humble, stack sats.", "by": "upstream"})) }),
        )
        .route(
            "/x402/quote",
            get(|| async { Json(json!({"quote": "Don't trust, verify.", "by": "upstream"})) }),
        )
        .route("/free", get(|| async { "free content" }))
}

async fn demo() -> Result<(), String> {
    let e = |what: &str| {
        let what = what.to_string();
        move |err: &dyn std::fmt::Display| format!("{what}: {err}")
    };
    // 1. The network.
    let net = SimNetwork::new();
    let buyer = net.add_node("buyer", BUYER_START_MSAT);
    let seller = net.add_node("seller", 0);

    // 2. The upstream API.
    let up = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|x| e("bind upstream")(&x))?;
    let up_addr = up.local_addr().map_err(|x| e("upstream addr")(&x))?;
    tokio::spawn(async move { axum::serve(up, upstream_app()).await });

    // 3. The gateway, from the embedded config.
    let mut config = Config::from_toml(DEMO_CONFIG).map_err(|x| e("demo config")(&x))?;
    config.server.upstream = format!("http://{up_addr}");
    config.validate().map_err(|x| e("demo config")(&x))?;
    let mut secret = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut secret);
    let seller_rail: Arc<dyn LightningRail> = Arc::new(seller);
    let paywall =
        server::paywall_with_secret(&config, seller_rail, &secret).map_err(|x| e("paywall")(&x))?;
    // The store (MPP session balances, ledger) in a temporary SQLite file.
    let cache_dir = std::env::temp_dir().join(format!("gate402-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache_dir);
    let store = crate::store::open(&crate::store::StoreOptions::sqlite(
        cache_dir.join("store").join("gate402.sqlite"),
    ))
    .await
    .map_err(|x| e("store")(&x))?;
    let paywall = server::attach_store(paywall, store, config.store.revocation_refresh())
        .await
        .map_err(|x| e("store")(&x))?;
    let router = server::router(&config, Arc::new(paywall)).map_err(|x| e("router")(&x))?;
    let gw = TcpListener::bind(config.server.listen)
        .await
        .map_err(|x| e("bind gateway")(&x))?;
    let running = server::spawn(gw, router).map_err(|x| e("serve")(&x))?;
    let gw_addr = running.addr;
    let route = &config.routes[0];

    println!("gate402 demo — L402, x402 and MPP over a simulated Lightning network\n");
    println!(
        "  simnet    buyer {} sat, seller 0 sat",
        BUYER_START_MSAT / 1000
    );
    println!("  upstream  http://{up_addr}  (GET /api/quote)");
    println!(
        "  gateway   http://{gw_addr}  route {}* costs {} sat via L402 or MPP",
        route.path_prefix,
        route.price_msat() / 1000
    );
    println!(
        "            route {}* costs {} sat via x402 (Lightning variant)\n",
        config.routes[1].path_prefix,
        config.routes[1].price_msat() / 1000
    );

    let url: Uri = format!("http://{gw_addr}/api/quote")
        .parse()
        .map_err(|_| "bad URL".to_string())?;
    let wallet: Arc<dyn LightningRail> = Arc::new(buyer);
    let client = Client::new(
        wallet.clone(),
        TokenCache::new(&cache_dir),
        Policy {
            max_cost_msat: 50_000,
            ..Policy::default()
        },
    );

    let x402_url: Uri = format!("http://{gw_addr}/x402/quote")
        .parse()
        .map_err(|_| "bad URL".to_string())?;
    let mut result = steps(&client, &url, &x402_url, &net).await;
    if result.is_ok() {
        result = super::demo_mpp::mpp_steps(wallet, &url, &net, &cache_dir.join("mpp")).await;
    }
    let _ = std::fs::remove_dir_all(&cache_dir);
    let _ = running.shutdown().await;
    result
}

async fn steps(client: &Client, url: &Uri, x402_url: &Uri, net: &SimNetwork) -> Result<(), String> {
    // Step 1: an unpaid request, shown raw.
    println!("1. GET {} without paying", url.path());
    let raw = unpaid_request(url).await?;
    if raw.0 != StatusCode::PAYMENT_REQUIRED {
        return Err(format!("expected 402, got {}", raw.0));
    }
    println!("   <- {}", raw.0);
    println!("      WWW-Authenticate: {}", shorten(&raw.1, 110));

    // Step 2: the client pays and retries.
    println!("2. buyer client pays the invoice over simnet and retries");
    let paid = client
        .send(&ClientRequest::get(url.clone()))
        .await
        .map_err(|e| e.to_string())?;
    let payment = paid.payment.ok_or("the client did not pay")?;
    println!(
        "   -> paid {} sat (fee {} msat), payment hash {}…",
        payment.amount_msat / 1000,
        payment.fee_msat,
        &payment.payment_hash[..16]
    );
    let status = paid.response.status();
    println!(
        "   <- {status} {}",
        String::from_utf8_lossy(paid.response.body())
    );
    if status != StatusCode::OK {
        return Err(format!("expected 200 after paying, got {status}"));
    }

    // Step 3: reuse.
    println!("3. GET {} again with the cached token", url.path());
    let again = client
        .send(&ClientRequest::get(url.clone()))
        .await
        .map_err(|e| e.to_string())?;
    if again.payment.is_some() || !again.reused_credential {
        return Err("the second request paid again instead of reusing the token".into());
    }
    if again.response.status() != StatusCode::OK {
        return Err(format!(
            "expected 200 on reuse, got {}",
            again.response.status()
        ));
    }
    println!("   <- {} — nothing paid", again.response.status());

    let x402 = x402_step(client, x402_url).await?;
    let paid_msat = payment.amount_msat + x402.amount_msat;
    let fees_msat = payment.fee_msat + x402.fee_msat;

    let buyer = net.balance_msat("buyer").unwrap_or(0);
    let seller = net.balance_msat("seller").unwrap_or(0);
    println!(
        "\nbalances: buyer {} sat, seller {} sat",
        buyer / 1000,
        seller / 1000
    );
    if seller != paid_msat || buyer + seller + fees_msat != BUYER_START_MSAT {
        return Err("balances do not add up to exactly two payments".into());
    }
    Ok(())
}

/// Step 4: one x402 payment, Lightning variant (`PAYMENT-REQUIRED` → pay → `PAYMENT-SIGNATURE`).
async fn x402_step(client: &Client, url: &Uri) -> Result<crate::client::PaymentInfo, String> {
    println!("4. GET {} — offered over x402 only", url.path());
    let (status, required) = unpaid_header(url, "payment-required").await?;
    if status != StatusCode::PAYMENT_REQUIRED || required.is_empty() {
        return Err(format!("expected 402 with PAYMENT-REQUIRED, got {status}"));
    }
    println!("   <- {status}");
    println!("      PAYMENT-REQUIRED: {}", shorten(&required, 100));
    let paid = client
        .send(&ClientRequest::get(url.clone()))
        .await
        .map_err(|e| e.to_string())?;
    let payment = paid.payment.ok_or("the client did not pay over x402")?;
    if payment.protocol != gate402_protocols::ProtocolId::X402 {
        return Err(format!(
            "expected an x402 payment, got {}",
            payment.protocol
        ));
    }
    let receipt = paid
        .response
        .headers()
        .get("payment-response")
        .and_then(|v| v.to_str().ok())
        .ok_or("no PAYMENT-RESPONSE receipt")?;
    println!(
        "   -> paid {} sat over x402 (invoice from PAYMENT-REQUIRED, sent back in PAYMENT-SIGNATURE)",
        payment.amount_msat / 1000
    );
    let status = paid.response.status();
    println!(
        "   <- {status} {}",
        String::from_utf8_lossy(paid.response.body())
    );
    println!("      PAYMENT-RESPONSE: {}", shorten(receipt, 100));
    if status != StatusCode::OK {
        return Err(format!("expected 200 after paying over x402, got {status}"));
    }
    Ok(payment)
}

async fn unpaid_request(url: &Uri) -> Result<(StatusCode, String), String> {
    unpaid_header(url, http::header::WWW_AUTHENTICATE.as_str()).await
}

async fn unpaid_header(url: &Uri, name: &str) -> Result<(StatusCode, String), String> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let resp = client
        .get(url.clone())
        .await
        .map_err(|e| format!("unpaid request: {e}"))?;
    let challenge = resp
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    Ok((resp.status(), challenge))
}

fn shorten(s: &str, max: usize) -> String {
    if s.len() <= max {
        s.to_string()
    } else {
        format!("{}…", &s[..max])
    }
}
