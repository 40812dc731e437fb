//! Unit tests of the browser paywall: cookies and tickets (forged, expired, other route,
//! `alg: none`, one passed for the other), `Accept` detection, and that a browser's 402 has
//! the agent's headers.

use std::sync::Arc;

use axum::body::Body;
use base64::Engine as _;
use gate402_rails::simnet::SimNetwork;
use http::{HeaderMap, HeaderValue, Request, Response};

use super::*;
use crate::{config::Config, paywall::Paywall};

const SECRET: [u8; 32] = [7u8; 32];
const NOW: u64 = 1_900_000_000;
const HASH: [u8; 32] = [3u8; 32];

fn browser(secret: &[u8]) -> Browser {
    let rail = SimNetwork::new().add_node("seller", 0);
    Browser::new(secret, Arc::new(rail), BrowserSettings::default()).unwrap()
}

fn b64(v: &serde_json::Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

#[test]
fn a_session_cookie_verifies_for_its_route_until_it_expires() {
    let b = browser(&SECRET);
    let jwt = b.mint_session("api", &HASH, 3600, NOW).unwrap();
    let s = b.verify_session(&jwt, "api", NOW + 10).unwrap();
    assert_eq!(s.payment_hash, HASH);
    assert_eq!(s.expires_at, NOW + 3600);
    // jti = the L402 token id of the payment hash: `gate402 revoke` covers both.
    let l402 = gate402_protocols::l402::L402::new(&SECRET).unwrap();
    assert_eq!(s.token_id, l402.token_id_for(&HASH));

    let e = b.verify_session(&jwt, "api", NOW + 3600).unwrap_err();
    assert!(e.is_expired(), "{e}");
    let e = b.verify_session(&jwt, "other", NOW + 10).unwrap_err();
    assert!(matches!(e, BrowserError::OtherRoute), "{e}");
}

#[test]
fn forged_cookies_are_refused() {
    let b = browser(&SECRET);
    let jwt = b.mint_session("api", &HASH, 3600, NOW).unwrap();
    // Signed under another master secret.
    let other = browser(&[8u8; 32])
        .mint_session("api", &HASH, 3600, NOW)
        .unwrap();
    assert!(b.verify_session(&other, "api", NOW).is_err());
    // Claims changed (longer expiry, another route) with the old signature.
    let parts: Vec<&str> = jwt.split('.').collect();
    let claims = serde_json::json!({
        "aud": cookie::AUDIENCE, "jti": hex::encode(b.token_id(&HASH)),
        "sub": hex::encode(HASH), "route": "api", "iat": NOW, "exp": NOW + 999_999,
    });
    let tampered = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
    assert!(b.verify_session(&tampered, "api", NOW).is_err());
    // `alg: none`, no signature.
    let none = format!(
        "{}.{}.",
        b64(&serde_json::json!({"alg": "none", "typ": "JWT"})),
        b64(&claims)
    );
    assert!(b.verify_session(&none, "api", NOW).is_err());
    // HS512 header over the right key is still refused (HS256 only).
    let hs512 = format!(
        "{}.{}.{}",
        b64(&serde_json::json!({"alg": "HS512"})),
        parts[1],
        parts[2]
    );
    assert!(b.verify_session(&hs512, "api", NOW).is_err());
    // A ticket is not a cookie, nor a cookie a ticket (own keys and audiences).
    let ticket = b.mint_ticket("api", &HASH, NOW + 600).unwrap();
    assert!(b.verify_session(&ticket, "api", NOW).is_err());
    assert!(b.verify_ticket(&jwt, NOW).is_err());
    // Garbage.
    for junk in ["", "a.b.c", "....", &"x".repeat(5000)] {
        assert!(b.verify_session(junk, "api", NOW).is_err());
    }
}

#[test]
fn a_cookie_whose_token_id_is_not_its_hash_is_refused() {
    let b = browser(&SECRET);
    let claims = cookie::SessionClaims {
        aud: cookie::AUDIENCE.into(),
        jti: hex::encode([9u8; 32]),
        sub: hex::encode(HASH),
        route: "api".into(),
        iat: NOW,
        exp: NOW + 60,
    };
    let jwt = b.session_key.sign(&claims).unwrap();
    assert!(matches!(
        b.verify_session(&jwt, "api", NOW),
        Err(BrowserError::Malformed)
    ));
}

#[test]
fn tickets_verify_and_expire_after_a_grace() {
    let b = browser(&SECRET);
    let t = b.mint_ticket("api", &HASH, NOW + 600).unwrap();
    let v = b.verify_ticket(&t, NOW).unwrap();
    assert_eq!(
        (v.payment_hash, v.route.as_str(), v.invoice_expires_at),
        (HASH, "api", NOW + 600)
    );
    assert!(b.verify_ticket(&t, NOW + 600 + 3599).is_ok());
    assert!(b
        .verify_ticket(&t, NOW + 600 + 3600)
        .unwrap_err()
        .is_expired());
    assert!(browser(&[8u8; 32]).verify_ticket(&t, NOW).is_err());
}

fn accept(v: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(http::header::ACCEPT, HeaderValue::from_str(v).unwrap());
    h
}

#[test]
fn html_only_for_browser_navigations() {
    let chrome = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8";
    assert!(wants_html(&accept(chrome)));
    assert!(wants_html(&accept("TEXT/HTML")));
    assert!(wants_html(&accept("application/xhtml+xml")));
    assert!(!wants_html(&accept("*/*")));
    assert!(!wants_html(&accept("application/json")));
    assert!(!wants_html(&accept("text/*")));
    assert!(!wants_html(&accept("text/html;q=0, */*")));
    assert!(!wants_html(&accept("text/html; q=0.0")));
    assert!(!wants_html(&HeaderMap::new()));
}

#[test]
fn cookies_are_read_by_name() {
    let mut h = HeaderMap::new();
    h.insert(
        http::header::COOKIE,
        HeaderValue::from_static("a=1; gate402_paid=x.y.z; b=2"),
    );
    h.append(
        http::header::COOKIE,
        HeaderValue::from_static("gate402_paid=\"q.r.s\""),
    );
    assert_eq!(cookie::session_cookies(&h), vec!["x.y.z", "q.r.s"]);
    let set = cookie::set_cookie("t", "/api/", 60, true).unwrap();
    assert_eq!(
        set,
        "gate402_paid=t; Path=/api/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
    );
    let set = cookie::set_cookie("t", "/a;b", 60, false).unwrap();
    assert_eq!(
        set,
        "gate402_paid=t; Path=/; Max-Age=60; HttpOnly; SameSite=Lax"
    );
}

#[test]
fn the_html_402_keeps_every_header_byte_for_byte() {
    let challenges = vec![
        (
            http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("L402 macaroon=\"AgE=\", invoice=\"lnbcrt1\""),
        ),
        (
            http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Payment id=\"x\", method=\"lightning\""),
        ),
        (
            http::HeaderName::from_static("payment-required"),
            HeaderValue::from_static("eyJ4NDAyVmVyc2lvbiI6Mn0="),
        ),
    ];
    let err = crate::error::GateError::PaymentRequired {
        reason: None,
        detail: None,
    };
    let agent = crate::paywall::edge::error_response(&err, challenges.clone(), 5);
    let page = endpoint::html_402(
        crate::paywall::edge::error_response(&err, challenges, 5),
        "<!doctype html>".into(),
    );
    assert_eq!(page.status(), agent.status());
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("default-src 'none'"));
    assert_eq!(
        without_page_headers(page.headers()),
        without_page_headers(agent.headers())
    );
}

/// Headers in order as `(name, bytes)`, without those the page sets.
fn without_page_headers(h: &HeaderMap) -> Vec<(String, Vec<u8>)> {
    h.iter()
        .filter(|(n, _)| {
            ![
                "content-type",
                "content-security-policy",
                "referrer-policy",
                "x-content-type-options",
            ]
            .contains(&n.as_str())
        })
        .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
        .collect()
}

/// A challenge header with its quoted values (fresh per 402: invoice, macaroon, id) masked.
fn shape(v: &[u8]) -> String {
    let mut out = String::new();
    let mut quoted = false;
    for c in String::from_utf8_lossy(v).chars() {
        if c == '"' {
            quoted = !quoted;
            out.push(c);
        } else if !quoted {
            out.push(c);
        }
    }
    out
}

const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
upstream = "http://127.0.0.1:9"

[mpp]
realm = "t"

[lightning]
backend = "simnet"

[[route]]
name = "api"
path_prefix = "/api/"
price_sat = 10
valid_for_secs = 600
protocols = ["l402", "mpp"]
"#;

async fn answer(paywall: &Paywall, headers: &[(&str, &str)]) -> Response<Body> {
    let mut req = Request::builder().uri("http://gw.test/api/x");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    match paywall.authorize(req.body(Body::empty()).unwrap()).await {
        Err(resp) => resp,
        Ok(_) => panic!("served without payment"),
    }
}

#[tokio::test]
async fn agents_get_the_same_402_with_or_without_accept_html() {
    let config = Config::from_toml(CONFIG).unwrap();
    config.validate().unwrap();
    let rail = SimNetwork::new().add_node("seller", 0);
    let paywall = crate::server::paywall_with_secret(&config, Arc::new(rail), &SECRET).unwrap();
    let json = answer(&paywall, &[("accept", "*/*")]).await;
    let html = answer(&paywall, &[("accept", "text/html,*/*;q=0.8")]).await;
    assert_eq!((json.status().as_u16(), html.status().as_u16()), (402, 402));
    assert_eq!(json.headers()["content-type"], "application/problem+json");
    assert_eq!(html.headers()["content-type"], "text/html; charset=utf-8");
    let (a, b) = (
        without_page_headers(json.headers()),
        without_page_headers(html.headers()),
    );
    assert_eq!(a.len(), b.len(), "{a:?}\n{b:?}");
    for ((na, va), (nb, vb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        match na.as_str() {
            // Fresh invoice, macaroon and challenge id per 402: same form.
            "www-authenticate" => assert_eq!(shape(va), shape(vb)),
            "content-length" => {}
            _ => assert_eq!(va, vb, "{na}"),
        }
    }
    // The page shows the L402 challenge's invoice.
    let l402 = html
        .headers()
        .get_all("www-authenticate")
        .iter()
        .find_map(|v| {
            let v = v.to_str().ok()?;
            let rest = v.strip_prefix("L402 ")?;
            let i = rest.find("invoice=\"")? + 9;
            Some(rest[i..].split('"').next()?.to_string())
        })
        .unwrap();
    let body = axum::body::to_bytes(html.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert!(body.contains(&format!("value=\"{l402}\"")), "{body}");
    assert!(body.contains(&format!("href=\"lightning:{l402}\"")));
    assert!(body.contains("<svg"));
    assert!(body.contains("data-msat=\"10000\""));
    // Self-contained: nothing loaded from anywhere.
    assert!(
        !body.contains("src=") && !body.contains("href=\"http"),
        "{body}"
    );
}

#[tokio::test]
async fn watchers_are_bounded_and_see_a_payment() {
    use gate402_rails::{InvoiceRequest, LightningRail, PayLimits};
    use std::time::Duration;
    let net = SimNetwork::new();
    let seller = net.add_node("seller", 0);
    let buyer = net.add_node("buyer", 1_000_000);
    let req = || InvoiceRequest {
        amount_msat: 1000,
        memo: "t".into(),
        expiry_secs: 600,
    };
    let (a, b) = (
        seller.create_invoice(req()).await.unwrap(),
        seller.create_invoice(req()).await.unwrap(),
    );
    let w = Arc::new(watch::Watchers::new(
        Arc::new(seller.clone()),
        1,
        2,
        Duration::from_millis(20),
    ));
    // Waiting on A holds the one watched slot: B is refused while A is watched.
    let wa = {
        let w = w.clone();
        let hash = a.payment_hash;
        tokio::spawn(async move { w.wait(hash, Duration::from_secs(10)).await })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while w.watched() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "A never watched");
        tokio::task::yield_now().await;
    }
    assert_eq!(
        w.wait(b.payment_hash, Duration::from_millis(10)).await,
        Err(watch::Busy)
    );
    // A second waiter on A shares the watcher (no new slot needed).
    let short = w.wait(a.payment_hash, Duration::from_millis(30)).await;
    assert_eq!(short, Ok(PayState::Pending));
    buyer
        .pay_invoice(&a.bolt11, PayLimits::default())
        .await
        .unwrap();
    assert_eq!(wa.await.unwrap(), Ok(PayState::Settled));
    // Final states are remembered; the slot is free again.
    assert_eq!(
        w.wait(a.payment_hash, Duration::ZERO).await,
        Ok(PayState::Settled)
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while w.watched() != 0 {
        assert!(tokio::time::Instant::now() < deadline, "A still watched");
        tokio::task::yield_now().await;
    }
    assert_eq!(
        w.wait(b.payment_hash, Duration::from_millis(30)).await,
        Ok(PayState::Pending)
    );
}
