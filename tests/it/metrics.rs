//! Prometheus metrics (issue G item 1): after a scripted exchange (paid, reused, unpaid,
//! replayed, refused, free) the admin listener's `/_gate402/metrics` is parsed by the reference
//! Python parser (`prometheus_client.parser`) and its payment counters equal the ledger.

use std::{collections::HashMap, io::Write, process::Stdio, sync::Arc};

use gate402::client::{ClientRequest, Policy};
use gate402::config::Config;
use gate402::server;
use gate402::store::{self, LedgerFilter, StoreOptions};
use gate402_rails::simnet::SimNetwork;
use gate402_rails::{LightningRail, PayLimits};
use gate402_tests::{raw, serve, upstream_app, SECRET};
use serde_json::{Map, Value};
use tokio::net::TcpListener;

const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
upstream = "{UPSTREAM}"

[mpp]
realm = "gate402.test"

[lightning]
backend = "simnet"

[admin]
listen = "127.0.0.1:0"

[[route]]
name = "api"
path_prefix = "/api/"
price_sat = 10
protocols = ["l402", "mpp"]

[[route]]
name = "free"
path_prefix = "/free/"
price_sat = 0
"#;

/// `(name, labels) → value` of every sample, parsed by `prometheus_client.parser`.
fn parse(text: &str) -> Vec<(String, HashMap<String, String>, f64)> {
    let script = "import sys, json\n\
        from prometheus_client.parser import text_string_to_metric_families as f\n\
        print(json.dumps([[s.name, s.labels, s.value] for m in f(sys.stdin.read()) for s in m.samples]))";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (tests/run-all.sh installs prometheus_client)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Prometheus parser refused the exposition: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn sum(
    samples: &[(String, HashMap<String, String>, f64)],
    name: &str,
    want: &[(&str, &str)],
) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| {
            n == name
                && want
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| v)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_their_counters_equal_the_ledger() {
    let upstream = serve(upstream_app()).await;
    let config =
        Config::from_toml(&CONFIG.replace("{UPSTREAM}", &format!("http://{upstream}"))).unwrap();
    config.validate().unwrap();
    let net = SimNetwork::new();
    let buyer = net.add_node("buyer", 10_000_000);
    let seller = net.add_node("seller", 0);
    let dir = tempfile::tempdir().unwrap();
    let store = store::open(&StoreOptions::sqlite(dir.path().join("s.sqlite")))
        .await
        .unwrap();
    let paywall = server::paywall_with_secret(&config, Arc::new(seller.clone()), &SECRET).unwrap();
    let paywall = Arc::new(
        server::attach_store(paywall, store.clone(), config.store.revocation_refresh())
            .await
            .unwrap(),
    );
    let admin = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin_addr = admin.local_addr().unwrap();
    let admin_app = server::admin_router(paywall.clone());
    tokio::spawn(async move { axum::serve(admin, admin_app).await });
    let router = server::router(&config, paywall).unwrap();
    let gateway = server::spawn(TcpListener::bind("127.0.0.1:0").await.unwrap(), router).unwrap();
    let url = |p: &str| -> http::Uri { format!("http://{}{p}", gateway.addr).parse().unwrap() };

    // Unpaid: challenged (one L402 and one MPP challenge).
    let (status, headers, _) = raw(&url("/api/a"), &[]).await;
    assert_eq!(status, 402);
    // L402 paid by the client, then reused: two paid requests, one payment.
    let client = gate402::client::Client::new(
        Arc::new(buyer.clone()),
        gate402::client::TokenCache::new(dir.path().join("c")),
        Policy::default(),
    );
    for _ in 0..2 {
        let r = client
            .send(&ClientRequest::get(url("/api/a")))
            .await
            .unwrap();
        assert_eq!(r.response.status(), 200);
    }
    // An MPP charge paid once, then replayed.
    let offer = gate402_protocols::mpp::client::parse_challenges(&headers)
        .pop()
        .unwrap()
        .unwrap();
    let paid = buyer
        .pay_invoice(offer.invoice.as_deref().unwrap(), PayLimits::default())
        .await
        .unwrap();
    let mut payload = Map::new();
    payload.insert("preimage".into(), Value::String(hex::encode(paid.preimage)));
    let mpp =
        gate402_protocols::mpp::MppCredential::new(&offer.challenge, payload).to_header_value();
    assert_eq!(raw(&url("/api/b"), &[("authorization", &mpp)]).await.0, 200);
    assert_eq!(raw(&url("/api/b"), &[("authorization", &mpp)]).await.0, 402);
    // A forged L402 credential: refused. A free route: free.
    let forged = format!("L402 {}:{}", "AgEEbHNhdAJCAAA", "00".repeat(32));
    assert_eq!(
        raw(&url("/api/c"), &[("authorization", &forged)]).await.0,
        402
    );
    assert_eq!(raw(&url("/free/x"), &[]).await.0, 200);

    let text = reqwest_text(&format!("http://{admin_addr}/_gate402/metrics")).await;
    let s = parse(&text);

    let ledger = store.ledger(&LedgerFilter::default()).await.unwrap();
    assert_eq!(ledger.len(), 2, "one L402 token, one MPP charge");
    for row in &ledger {
        let labels = [
            ("route", row.route.as_str()),
            ("protocol", row.protocol.as_str()),
            ("rail", row.rail.as_str()),
        ];
        assert_eq!(sum(&s, "gate402_payments_total", &labels), 1.0, "{row:?}");
        assert_eq!(
            sum(&s, "gate402_revenue_msat_total", &labels),
            row.amount_msat as f64,
            "{row:?}"
        );
    }
    assert_eq!(sum(&s, "gate402_payments_total", &[]), ledger.len() as f64);
    let revenue: u64 = ledger.iter().map(|r| r.amount_msat).sum();
    assert_eq!(sum(&s, "gate402_revenue_msat_total", &[]), revenue as f64);

    let req = |outcome: &str| sum(&s, "gate402_requests_total", &[("outcome", outcome)]);
    assert_eq!(req("paid"), 3.0, "two L402 requests and one MPP charge");
    assert_eq!(
        sum(
            &s,
            "gate402_requests_total",
            &[("outcome", "paid"), ("protocol", "l402")]
        ),
        2.0
    );
    assert_eq!(req("replayed"), 1.0);
    assert_eq!(req("refused"), 1.0);
    assert_eq!(req("free"), 1.0);
    // The first unpaid request and the client's first attempt.
    assert_eq!(req("challenged"), 2.0);
    assert_eq!(
        sum(
            &s,
            "gate402_requests_total",
            &[("outcome", "refused"), ("route", "api")]
        ),
        1.0
    );
    // Each 402 carries one L402 and one MPP challenge: 2 challenged + replayed + refused.
    assert_eq!(
        sum(&s, "gate402_challenges_total", &[("protocol", "l402")]),
        4.0
    );
    assert_eq!(
        sum(&s, "gate402_challenges_total", &[("protocol", "mpp")]),
        4.0
    );
    assert_eq!(sum(&s, "gate402_verify_seconds_count", &[]), 3.0);
    assert_eq!(sum(&s, "gate402_rail_up", &[]), 1.0);
    assert_eq!(sum(&s, "gate402_store_up", &[]), 1.0);
    assert!(sum(&s, "gate402_upstream_seconds_count", &[]) >= 4.0);
    // Labels are bounded: no request path in any of them.
    assert!(!text.contains("/api/"), "{text}");
}

async fn reqwest_text(url: &str) -> String {
    let (status, headers, body) = raw(&url.parse().unwrap(), &[]).await;
    assert_eq!(status, 200);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    String::from_utf8(body.to_vec()).unwrap()
}
