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
use gate402_tests::capture::Capture;
use gate402_tests::{chrome::Chrome, raw, serve, Harness};

const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
upstream = "{UPSTREAM}"

access_log = true

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

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let i = text
        .find(start)
        .unwrap_or_else(|| panic!("{start} not in {text}"))
        + start.len();
    text[i..].split(end).next().unwrap()
}

/// The same flow over plain HTTP (no browser), every tracing event captured at TRACE with the
/// access log on: neither the ticket nor the session cookie ever reaches the logs; a forged
/// cookie gets the page again.
#[tokio::test(flavor = "current_thread")]
async fn the_ticket_and_the_cookie_never_reach_the_logs() {
    let logs = Capture::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let upstream = serve(Router::new().fallback(get(|| async { Html(ARTICLE) }))).await;
    let h = Harness::start_with(&CONFIG.replace("{UPSTREAM}", &format!("http://{upstream}"))).await;
    // Another test's thread may have cached "never" for the access event's callsite while no
    // capturing subscriber existed (tracing's global interest cache): recompute the interest
    // with ours in place until a free request's access event is captured (bounded).
    let captured = |logs: &Capture| {
        String::from_utf8_lossy(&logs.0.lock().unwrap()).contains("gate402::access")
    };
    for _ in 0..50 {
        tracing::callsite::rebuild_interest_cache();
        let (status, _, _) = raw(&h.url("/warmup"), &[]).await;
        assert_eq!(status, 200);
        if captured(&logs) {
            break;
        }
    }
    assert!(
        captured(&logs),
        "the access log never reached the capturing subscriber"
    );
    let html = [("accept", "text/html,*/*;q=0.8")];
    let (status, headers, body) = raw(&h.url("/articles/a"), &html).await;
    assert_eq!(status, 402);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let page = String::from_utf8(body.to_vec()).unwrap();
    let wait = between(&page, "data-wait=\"", "\"").to_string();
    let invoice = between(&page, "id=\"invoice\" readonly value=\"", "\"").to_string();
    let ticket = wait.rsplit('/').next().unwrap().to_string();

    // A forged ticket is not watched.
    let forged = format!("{}x", &wait);
    let (status, _, _) = raw(&h.url(&forged), &[]).await;
    assert_eq!(status, 404);

    h.buyer
        .pay_invoice(&invoice, PayLimits::default())
        .await
        .unwrap();
    let (status, headers, body) = raw(&h.url(&wait), &[]).await;
    assert_eq!(
        (status.as_u16(), &body[..]),
        (200, &br#"{"state":"settled"}"#[..])
    );
    let set = headers["set-cookie"].to_str().unwrap().to_string();
    let jwt = between(&set, "gate402_paid=", ";").to_string();
    let cookie = format!("gate402_paid={jwt}");
    let (status, _, body) = raw(&h.url("/articles/b"), &[("cookie", &cookie)]).await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("paid-content"));

    // A forged cookie (signature changed) → the page again.
    let mut bad = jwt.clone();
    let last = bad.pop().unwrap();
    bad.push(if last == 'A' { 'B' } else { 'A' });
    let forged_cookie = format!("gate402_paid={bad}");
    let (status, headers, _) = raw(
        &h.url("/articles/b"),
        &[html[0], ("cookie", &forged_cookie)],
    )
    .await;
    assert_eq!(status, 402);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(headers.contains_key("www-authenticate"));

    let all = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        all.contains("gate402::access"),
        "the access log ran:\n{all}"
    );
    for (what, secret) in [
        ("ticket", &ticket),
        ("cookie", &jwt),
        ("forged cookie", &bad),
    ] {
        let sig = secret.rsplit('.').next().unwrap();
        assert!(!all.contains(sig), "{what} leaked into the logs");
    }
}
