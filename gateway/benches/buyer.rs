//! Bounded benchmark of the buyer's per-payment overhead (no network): normalising the offers
//! of a 402 carrying L402 + MPP charge + x402 Lightning challenges (three BOLT11 decodes with
//! signature checks), and one budget reservation + settlement in the SQLite ledger
//! (`BEGIN IMMEDIATE`, WAL, `synchronous = FULL`: two durable commits).
//!
//! Run: `cargo bench -p gate402 --bench buyer` (fixed counts, a few seconds).

use std::time::Instant;

use gate402::client::{
    budget::Charge,
    offers::{self, OfferContext},
    BuyerPolicy, TokenCache,
};
use gate402_rails::{simnet::SimNetwork, InvoiceRequest, LightningRail};
use http::HeaderMap;

fn pct(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[v.len() * 9 / 10])
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let net = SimNetwork::new();
    let seller = net.add_node("seller", 0);
    let inv = |amount_msat| {
        seller.create_invoice(InvoiceRequest {
            amount_msat,
            memo: "bench".into(),
            expiry_secs: 600,
        })
    };
    let (a, b, c) = (
        inv(10_000).await.unwrap(),
        inv(10_000).await.unwrap(),
        inv(10_000).await.unwrap(),
    );
    let offer = gate402_protocols::Offer {
        service: "svc".into(),
        price_msat: 10_000,
        capabilities: vec![],
        valid_for_secs: None,
        bind_price: false,
    };
    let mac = gate402_protocols::l402::L402::new(&[1u8; 32])
        .unwrap()
        .mint(&offer, a.payment_hash, 0);
    let request = serde_json::json!({"amount": "10", "currency": "sat",
        "methodDetails": {"invoice": b.bolt11, "paymentHash": hex::encode(b.payment_hash)}});
    let x402 = serde_json::json!({"x402Version": 2, "resource": {"url": "http://h/x"},
        "accepts": [{"scheme": "exact", "network": "bip122:000000000019d6689c085ae165831e93",
        "amount": "10000", "asset": "BTC", "payTo": "anonymous", "maxTimeoutSeconds": 60,
        "extra": {"paymentMethod": "lightning", "invoice": c.bolt11}}]});
    let mut h = HeaderMap::new();
    let l402 = format!(
        "L402 macaroon=\"{}\", invoice=\"{}\"",
        mac.to_base64(),
        a.bolt11
    );
    let mpp = format!(
        "Payment id=\"i\", realm=\"h\", method=\"lightning\", intent=\"charge\", request=\"{}\"",
        gate402_protocols::mpp::b64url::encode(request.to_string().as_bytes())
    );
    h.append("www-authenticate", l402.parse().unwrap());
    h.append("www-authenticate", mpp.parse().unwrap());
    h.append(
        "payment-required",
        gate402_protocols::x402::wire::encode_header(&x402)
            .parse()
            .unwrap(),
    );
    let ctx = OfferContext {
        decoder: &seller,
        lightning: true,
        evm: false,
        host: "h".into(),
        now: gate402::clock::now_unix(),
    };
    let mut parse = Vec::new();
    for _ in 0..2000 {
        let t = Instant::now();
        let (o, _) = offers::parse(&h, b"", &ctx);
        parse.push(t.elapsed().as_secs_f64() * 1e6);
        assert!(o.iter().all(|o| o.payable), "{o:?}");
    }
    let (p50, p90) = pct(parse);
    println!("offers::parse (3 challenges): p50 {p50:.1} µs, p90 {p90:.1} µs (2000 runs)");

    let dir = tempfile::tempdir().unwrap();
    let cache = TokenCache::new(dir.path());
    let mut policy = BuyerPolicy::default();
    policy.budget.daily_total_sat = Some(u64::MAX / 2000);
    policy.budget.daily_per_domain_sat = Some(u64::MAX / 2000);
    let mut cycle = Vec::new();
    for i in 0..500u64 {
        let t = Instant::now();
        let charge = Charge {
            domain: "h",
            unit: "msat",
            amount: 20_000,
            protocol: "l402",
        };
        let r = cache.reserve(&charge, &policy, 1_000_000).unwrap();
        cache.settle(r, 10_000, 0, &i.to_string()).unwrap();
        cycle.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let (p50, p90) = pct(cycle);
    println!("budget reserve + settle: p50 {p50:.2} ms, p90 {p90:.2} ms (500 runs)");
}
