//! The browser paywall in headless Chromium (issue G item 4): open a paid URL → the page
//! shows the price and a QR code; the test reads the invoice from the page and pays it over
//! simnet; the page turns into the upstream's content by itself; a second visit is served by
//! the session cookie with no new payment (one `browser` ledger row); after `revoke` of the
//! cookie's token id the paywall is shown again.
//!
//! `GATE402_WRITE_SCREENSHOTS=1` writes the paywall's screenshot to `docs/img/paywall.png`.

use std::time::Duration;

use axum::{response::Html, routing::get, Router};
use fantoccini::Locator;
use gate402::store::LedgerFilter;
use gate402_rails::{LightningRail, PayLimits};
use gate402_tests::{chrome::Chrome, raw, serve, Harness};

const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
upstream = "{UPSTREAM}"

[server.paywall]
poll_interval_ms = 100
wait_secs = 5

[store]
revocation_refresh_ms = 200

[lightning]
backend = "simnet"

[[route]]
name = "articles"
path_prefix = "/articles/"
price_sat = 250
valid_for_secs = 3600
"#;

const ARTICLE: &str = r#"<!doctype html><html><head><title>Paid article</title></head>
<body><h1 id="paid-content">The paid article</h1><p>Thanks for paying.</p></body></html>"#;

async fn browser_ledger(h: &Harness) -> Vec<gate402::store::PaymentRecord> {
    h.store
        .ledger(&LedgerFilter {
            protocol: Some("browser".into()),
            ..LedgerFilter::default()
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_pays_on_the_page_and_keeps_access_through_its_cookie() {
    let upstream = serve(Router::new().fallback(get(|| async { Html(ARTICLE) }))).await;
    let h = Harness::start_with(&CONFIG.replace("{UPSTREAM}", &format!("http://{upstream}"))).await;
    let url = h.url("/articles/rust").to_string();
    let chrome = Chrome::start().await;
    let c = &chrome.client;

    // 1. The paywall page: price, QR code, invoice text and a lightning: link.
    c.goto(&url).await.unwrap();
    let invoice = chrome.wait_for("#invoice", 20, "the paywall page").await;
    let invoice = invoice.prop("value").await.unwrap().unwrap();
    assert!(invoice.starts_with("lnbcrt"), "{invoice}");
    let price = c
        .find(Locator::Id("price"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(price, "250 sat");
    assert!(chrome.has("#qr svg path").await, "a QR code");
    let link = c.find(Locator::Id("wallet")).await.unwrap();
    assert_eq!(
        link.attr("href").await.unwrap().unwrap(),
        format!("lightning:{invoice}")
    );
    assert!(c.title().await.unwrap().contains("articles"));
    let decoded = gate402_rails::decode_bolt11(&invoice).unwrap();
    assert_eq!(decoded.amount_msat, Some(250_000));
    if std::env::var("GATE402_WRITE_SCREENSHOTS").as_deref() == Ok("1") {
        let png = c.screenshot().await.unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/img");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("paywall.png"), png).unwrap();
    }
    assert!(browser_ledger(&h).await.is_empty());

    // 2. Pay it from a wallet; the page turns into the article by itself.
    let seller_before = h.seller_msat();
    h.buyer
        .pay_invoice(&invoice, PayLimits::default())
        .await
        .unwrap();
    chrome
        .wait_for("#paid-content", 20, "the paid content after payment")
        .await;
    assert_eq!(c.title().await.unwrap(), "Paid article");
    assert_eq!(h.seller_msat(), seller_before + 250_000);

    // The cookie: HttpOnly, SameSite=Lax, Path = the route's prefix, not Secure over http.
    let cookie = c.get_named_cookie("gate402_paid").await.unwrap();
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(format!("{:?}", cookie.same_site()), "Some(Lax)");
    assert_eq!(cookie.path(), Some("/articles/"));
    assert_ne!(cookie.secure(), Some(true));
    let rows = browser_ledger(&h).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].route, "articles");
    assert_eq!(rows[0].amount_msat, 250_000);
    assert_eq!(rows[0].reference, hex::encode(decoded.payment_hash));

    // 3. A second visit (and another page of the route) is served by the cookie: no page,
    // no new payment, still one ledger row.
    for path in ["/articles/rust", "/articles/other"] {
        c.goto(&h.url(path).to_string()).await.unwrap();
        chrome
            .wait_for("#paid-content", 10, "the content on a second visit")
            .await;
        assert!(!chrome.has("#invoice").await);
    }
    assert_eq!(h.seller_msat(), seller_before + 250_000);
    assert_eq!(browser_ledger(&h).await.len(), 1);
    // An agent without the cookie still gets the JSON 402.
    let (status, headers, _) = raw(&h.url("/articles/rust"), &[("accept", "*/*")]).await;
    assert_eq!(status, 402);
    assert_eq!(headers["content-type"], "application/problem+json");

    // 4. Revoke the cookie's token id (as `gate402 revoke` does: in the store; the gateway
    // reloads its revocations every 200 ms): the paywall is shown again.
    let token_id = rows[0]
        .token_id
        .clone()
        .expect("the row names the token id");
    let id: [u8; 32] = hex::decode(&token_id).unwrap().try_into().unwrap();
    h.store.revoke(&id, 1).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        c.goto(&url).await.unwrap();
        let page = chrome
            .wait_for("#invoice, #paid-content", 10, "a page")
            .await;
        if page.attr("id").await.unwrap().as_deref() == Some("invoice") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the revoked cookie still works"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fresh = c
        .find(Locator::Id("invoice"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(fresh, invoice, "a fresh invoice");
    assert_eq!(browser_ledger(&h).await.len(), 1);
    c.clone().close().await.unwrap();
}
