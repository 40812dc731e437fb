//! The revenue dashboard (issue G item 3) in headless Chromium: the page served by the admin
//! listener asks for a token, then its totals table equals what `gate402 ledger --json`
//! prints, its latest-payments table lists the ledger, health shows, and a new payment shows
//! up without a reload. A refused token sends it back to the login form.
//! `GATE402_WRITE_SCREENSHOTS=1` writes `docs/img/dashboard.png`.

use std::sync::Arc;

use fantoccini::Locator;
use gate402::admin::{AdminAuth, AdminState, Role};
use gate402::client::{ClientRequest, Policy};
use gate402::config::Config;
use gate402::server;
use gate402::store::{self, LedgerFilter, StoreOptions};
use gate402_rails::simnet::SimNetwork;
use gate402_tests::{chrome::Chrome, eventually, serve, upstream_app, SECRET};
use tokio::net::TcpListener;

const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
upstream = "{UPSTREAM}"

[mpp]
realm = "gate402.test"

[lightning]
backend = "simnet"

[[route]]
name = "articles"
path_prefix = "/articles/"
price_sat = 25
protocols = ["l402"]

[[route]]
name = "api"
path_prefix = "/api/"
price_sat = 7
protocols = ["l402", "mpp"]
"#;

/// The rows of a table body, cell texts.
async fn rows(chrome: &Chrome, table: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let trs = chrome
        .client
        .find_all(Locator::Css(&format!("#{table} tbody tr")))
        .await
        .unwrap();
    for tr in trs {
        let mut cells = Vec::new();
        for td in tr.find_all(Locator::Css("td")).await.unwrap() {
            cells.push(td.text().await.unwrap());
        }
        out.push(cells);
    }
    out
}

async fn text(chrome: &Chrome, id: &str) -> String {
    chrome
        .client
        .find(Locator::Id(id))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_ledger_and_updates_by_itself() {
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
    let refresh = config.store.revocation_refresh();
    let paywall = Arc::new(
        server::attach_store(paywall, store.clone(), refresh)
            .await
            .unwrap(),
    );
    let auth = Arc::new(AdminAuth::hs256(&[9u8; 32]).unwrap());
    let admin = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin_url = format!("http://{}/", admin.local_addr().unwrap());
    let app = gate402::admin::router(AdminState {
        paywall: paywall.clone(),
        auth: Some(auth.clone()),
        reloader: None,
        started_at: 0,
    });
    tokio::spawn(async move { axum::serve(admin, app).await });
    let router = server::router(&config, paywall).unwrap();
    let gateway = server::spawn(TcpListener::bind("127.0.0.1:0").await.unwrap(), router).unwrap();
    let url = |p: &str| -> http::Uri { format!("http://{}{p}", gateway.addr).parse().unwrap() };
    let client = |cache: &str| {
        // Cache `m…`: a buyer preferring MPP (the second protocol of the run).
        let prefer = if cache.starts_with('m') {
            "mpp"
        } else {
            "l402"
        };
        gate402::client::Client::new(
            Arc::new(buyer.clone()),
            gate402::client::TokenCache::new(dir.path().join(cache)),
            Policy::default(),
        )
        .with_policy(gate402::client::BuyerPolicy {
            prefer: vec![prefer.into()],
            ..gate402::client::BuyerPolicy::default()
        })
    };

    // Payments on two routes over two protocols (L402 tokens: one cache each; MPP charges).
    for (cache, path) in [
        ("a", "/articles/1"),
        ("b", "/articles/2"),
        ("c", "/api/1"),
        ("m1", "/api/2"),
        ("m2", "/api/3"),
    ] {
        let r = client(cache)
            .send(&ClientRequest::get(url(path)))
            .await
            .unwrap();
        assert_eq!(r.response.status(), 200);
    }

    let chrome = Chrome::start().await;
    let c = &chrome.client;
    c.goto(&admin_url).await.unwrap();
    // A token of another key is refused: back to the form, with the reason.
    let wrong = AdminAuth::hs256(&[1u8; 32])
        .unwrap()
        .mint("x", Role::Read, 600, gate402::clock::now_unix())
        .unwrap();
    let input = chrome.wait_for("#token", 20, "the login form").await;
    input.send_keys(&wrong).await.unwrap();
    c.find(Locator::Css("#login-form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually(20, "the refusal", || async {
        text(&chrome, "login-error")
            .await
            .contains("refused")
            .then_some(())
    })
    .await;

    let token = auth
        .mint("ops", Role::Read, 600, gate402::clock::now_unix())
        .unwrap();
    c.find(Locator::Id("token"))
        .await
        .unwrap()
        .send_keys(&token)
        .await
        .unwrap();
    c.find(Locator::Css("#login-form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    chrome
        .wait_for("#board[data-loaded]", 20, "the dashboard")
        .await;

    let ledger = gate402::cli::ledger_json(&*store, &LedgerFilter::default())
        .await
        .unwrap();
    let want: Vec<Vec<String>> = ledger["totals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            vec![
                t["route"].as_str().unwrap().to_owned(),
                t["protocol"].as_str().unwrap().to_owned(),
                t["payments"].to_string(),
                t["amount_msat"].to_string(),
            ]
        })
        .collect();
    assert_eq!(want.len(), 3, "two routes, two protocols: {ledger}");
    assert_eq!(rows(&chrome, "totals").await, want);
    assert_eq!(text(&chrome, "foot-msat").await, "71000");
    assert_eq!(text(&chrome, "total-payments").await, "5");
    let payments = rows(&chrome, "payments").await;
    let mut shown: Vec<String> = payments.iter().map(|r| r[5].clone()).collect();
    let mut refs: Vec<String> = ledger["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["reference"].as_str().unwrap().to_owned())
        .collect();
    shown.sort();
    refs.sort();
    assert_eq!(shown, refs, "the latest payments are the ledger's");
    assert!(text(&chrome, "rail").await.starts_with("up"));
    assert!(chrome.has("#chart svg rect").await, "a revenue chart");
    assert_eq!(rows(&chrome, "routes").await.len(), 2);
    if std::env::var("GATE402_WRITE_SCREENSHOTS").as_deref() == Ok("1") {
        let png = c.screenshot().await.unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/img");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("dashboard.png"), png).unwrap();
    }

    // One more payment: the page shows it without a reload.
    let r = client("d")
        .send(&ClientRequest::get(url("/api/4")))
        .await
        .unwrap();
    assert_eq!(r.response.status(), 200);
    eventually(20, "the live refresh", || async {
        (text(&chrome, "foot-msat").await == "78000").then_some(())
    })
    .await;
    assert_eq!(text(&chrome, "total-payments").await, "6");
}
