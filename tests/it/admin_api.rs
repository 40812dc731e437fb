//! Admin API (issue G item 2): JWT roles on every endpoint, a price set at run time on one
//! gateway applied to new challenges on another sharing the store while credentials paid at
//! the old price keep what they bought, the ledger paged and filtered, stats equal to the
//! ledger's totals, revocation, status, and config reloads (a bad file refused, the running
//! routes kept).

use std::sync::Arc;

use bytes::Bytes;
use gate402::admin::{AdminAuth, AdminState, Role};
use gate402::client::{ClientRequest, Policy};
use gate402::config::Config;
use gate402::paywall::Paywall;
use gate402::server;
use gate402::store::{self, LedgerFilter, Store, StoreOptions};
use gate402_rails::simnet::{SimNetwork, SimNode};
use gate402_rails::{LightningRail, PayLimits};
use gate402_tests::{eventually, raw, serve, upstream_app, SECRET};
use http::{StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use serde_json::{json, Map, Value};
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
name = "other"
path_prefix = "/other/"
price_sat = 3
protocols = ["l402"]
"#;

/// An HTTP request with an optional bearer token and JSON body: status and JSON answer.
async fn call(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, http::HeaderMap, Value) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let mut req = http::Request::builder().method(method).uri(url);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let body = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            Full::new(Bytes::from(b.to_string()))
        }
        None => Full::new(Bytes::new()),
    };
    let resp = client.request(req.body(body).unwrap()).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (parts.status, parts.headers, v)
}

struct Gateway {
    paywall: Arc<Paywall>,
    addr: std::net::SocketAddr,
    admin: String,
    _running: server::Running,
}

async fn gateway(
    config: &Config,
    seller: &SimNode,
    store: Arc<dyn Store>,
    auth: Option<Arc<AdminAuth>>,
) -> Gateway {
    let paywall = server::paywall_with_secret(config, Arc::new(seller.clone()), &SECRET).unwrap();
    // The default refresh interval (1 s): the issue's bound is 2 s.
    let refresh = config.store.revocation_refresh();
    let paywall = Arc::new(server::attach_store(paywall, store, refresh).await.unwrap());
    let admin = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin_addr = admin.local_addr().unwrap();
    let app = gate402::admin::router(AdminState {
        paywall: paywall.clone(),
        auth,
        reloader: None,
        started_at: 0,
    });
    tokio::spawn(async move { axum::serve(admin, app).await });
    let router = server::router(config, paywall.clone()).unwrap();
    let running = server::spawn(TcpListener::bind("127.0.0.1:0").await.unwrap(), router).unwrap();
    Gateway {
        paywall,
        addr: running.addr,
        admin: format!("http://{admin_addr}"),
        _running: running,
    }
}

fn uri(g: &Gateway, p: &str) -> Uri {
    format!("http://{}{p}", g.addr).parse().unwrap()
}

/// The amount of the MPP challenge's invoice in a 402, msat.
fn mpp_amount(seller: &SimNode, headers: &http::HeaderMap) -> u64 {
    let offer = gate402_protocols::mpp::client::parse_challenges(headers)
        .pop()
        .unwrap()
        .unwrap();
    seller
        .decode(offer.invoice.as_deref().unwrap())
        .unwrap()
        .amount_msat
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_run_time_prices_ledger_stats_and_revocation() {
    let upstream = serve(upstream_app()).await;
    let config =
        Config::from_toml(&CONFIG.replace("{UPSTREAM}", &format!("http://{upstream}"))).unwrap();
    config.validate().unwrap();
    let net = SimNetwork::new();
    let buyer = net.add_node("buyer", 10_000_000);
    let seller = net.add_node("seller", 0);
    let dir = tempfile::tempdir().unwrap();
    // Two gateways on one PostgreSQL database.
    let pg = gate402_tests::pg::TestDb::create().await;
    let options = StoreOptions::Postgres {
        url: pg.url.clone(),
        max_connections: 8,
        acquire_timeout: std::time::Duration::from_secs(5),
    };
    let store_a = store::open(&options).await.unwrap();
    let store_b = store::open(&options).await.unwrap();
    let auth = Arc::new(AdminAuth::hs256(&[42u8; 32]).unwrap());
    let a = gateway(&config, &seller, store_a.clone(), Some(auth.clone())).await;
    let b = gateway(&config, &seller, store_b, None).await;
    let now = gate402::clock::now_unix();
    let read = auth.mint("test", Role::Read, 600, now).unwrap();
    let admin = auth.mint("test", Role::Admin, 600, now).unwrap();
    let api = |p: &str| format!("{}{p}", a.admin);

    // Authentication and roles.
    let (s, h, _) = call("GET", &api("/api/routes"), None, None).await;
    assert_eq!(s, 401);
    assert!(h["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let expired = auth.mint("test", Role::Admin, 1, now - 10).unwrap();
    assert_eq!(
        call("GET", &api("/api/routes"), Some(&expired), None)
            .await
            .0,
        401
    );
    let stranger = AdminAuth::hs256(&[43u8; 32])
        .unwrap()
        .mint("x", Role::Admin, 600, now)
        .unwrap();
    assert_eq!(
        call("GET", &api("/api/routes"), Some(&stranger), None)
            .await
            .0,
        401
    );
    let (s, _, routes) = call("GET", &api("/api/routes"), Some(&read), None).await;
    assert_eq!(s, 200);
    assert_eq!(routes["routes"][0]["price_msat"], 10_000);
    let price = |msat: u64| Some(json!({ "price_msat": msat }));
    assert_eq!(
        call(
            "PUT",
            &api("/api/routes/api/price"),
            Some(&read),
            price(20_000)
        )
        .await
        .0,
        403
    );
    assert_eq!(
        call(
            "PUT",
            &api("/api/routes/nope/price"),
            Some(&admin),
            price(20_000)
        )
        .await
        .0,
        404
    );
    assert_eq!(
        call("PUT", &api("/api/routes/api/price"), Some(&admin), price(0))
            .await
            .0,
        409
    );
    assert_eq!(
        call(
            "PUT",
            &api("/api/routes/api/price"),
            Some(&admin),
            Some(json!({"price": 1}))
        )
        .await
        .0,
        400
    );
    // A tampered signature and `alg: none`: 401, and nothing changed.
    let tampered = {
        let (head, sig) = admin.rsplit_once('.').unwrap();
        let flipped = if sig.starts_with('A') { "B" } else { "A" };
        format!("{head}.{flipped}{}", &sig[1..])
    };
    let none = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let claims = admin.split('.').nth(1).unwrap();
        format!("{}.{claims}.", b64.encode(br#"{"alg":"none","typ":"JWT"}"#))
    };
    for bad in [&tampered, &none] {
        let (s, _, _) = call("PUT", &api("/api/routes/api/price"), Some(bad), price(1)).await;
        assert_eq!(s, 401, "{bad}");
    }
    let (_, _, routes) = call("GET", &api("/api/routes"), Some(&read), None).await;
    assert_eq!(routes["routes"][0]["price_msat"], 10_000, "nothing changed");
    // A gateway without a key: the API is off.
    assert_eq!(
        call(
            "GET",
            &format!("{}/api/routes", b.admin),
            Some(&admin),
            None
        )
        .await
        .0,
        503
    );

    // Before the change: an L402 token bought on A, an MPP challenge taken from B.
    let client = gate402::client::Client::new(
        Arc::new(buyer.clone()),
        gate402::client::TokenCache::new(dir.path().join("c")),
        Policy::default(),
    );
    let r = client
        .send(&ClientRequest::get(uri(&a, "/api/x")))
        .await
        .unwrap();
    assert_eq!(r.response.status(), 200);
    let (status, old_challenge, _) = raw(&uri(&b, "/api/y"), &[]).await;
    assert_eq!(status, 402);
    assert_eq!(mpp_amount(&seller, &old_challenge), 10_000);

    // The price goes up on A: B's new challenges follow within its refresh interval.
    let (s, _, set) = call(
        "PUT",
        &api("/api/routes/api/price"),
        Some(&admin),
        price(20_000),
    )
    .await;
    assert_eq!(s, 200, "{set}");
    assert_eq!(set["price"]["floor_msat"], 10_000);
    let (_, h, _) = raw(&uri(&a, "/api/z"), &[]).await;
    assert_eq!(mpp_amount(&seller, &h), 20_000, "A at once");
    eventually(2, "B sees the new price within 2 s", || async {
        let (_, h, _) = raw(&uri(&b, "/api/z"), &[]).await;
        (mpp_amount(&seller, &h) == 20_000).then_some(())
    })
    .await;
    let (_, _, routes) = call("GET", &api("/api/routes"), Some(&read), None).await;
    assert_eq!(routes["routes"][0]["price_msat"], 20_000);
    assert_eq!(routes["routes"][0]["config_price_msat"], 10_000);

    // The old challenge, paid after the change at its 10 sat, still buys one request on B.
    let offer = gate402_protocols::mpp::client::parse_challenges(&old_challenge)
        .pop()
        .unwrap()
        .unwrap();
    let paid = buyer
        .pay_invoice(offer.invoice.as_deref().unwrap(), PayLimits::default())
        .await
        .unwrap();
    let mut payload = Map::new();
    payload.insert("preimage".into(), Value::String(hex::encode(paid.preimage)));
    let cred =
        gate402_protocols::mpp::MppCredential::new(&offer.challenge, payload).to_header_value();
    assert_eq!(
        raw(&uri(&b, "/api/y"), &[("authorization", &cred)]).await.0,
        200
    );
    // The L402 token bought at 10 sat on A stays valid there (no new payment); on B the
    // client (whose tokens are kept per origin) buys one at the new price.
    let sent = net.payments_sent("buyer");
    let r = client
        .send(&ClientRequest::get(uri(&a, "/api/again")))
        .await
        .unwrap();
    assert_eq!(r.response.status(), 200);
    assert_eq!(net.payments_sent("buyer"), sent, "reused, not paid again");
    let r = client
        .send(&ClientRequest::get(uri(&b, "/api/again")))
        .await
        .unwrap();
    assert_eq!(r.response.status(), 200);
    // Another route keeps its configured price.
    let r = client
        .send(&ClientRequest::get(uri(&a, "/other/1")))
        .await
        .unwrap();
    assert_eq!(r.response.status(), 200);

    // Ledger: paged newest first, filtered; stats equal the store's totals.
    let all = store_a.ledger(&LedgerFilter::default()).await.unwrap();
    let amounts = |route: &str, protocol: &str| {
        let mut v: Vec<u64> = all
            .iter()
            .filter(|p| p.route == route && p.protocol == protocol)
            .map(|p| p.amount_msat)
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        amounts("api", "l402"),
        vec![10_000, 20_000],
        "old price on A, new on B"
    );
    assert_eq!(
        amounts("api", "mpp"),
        vec![10_000],
        "the old challenge at its price"
    );
    assert_eq!(amounts("other", "l402"), vec![3_000]);
    let (s, _, p1) = call("GET", &api("/api/ledger?limit=3"), Some(&read), None).await;
    assert_eq!(s, 200);
    assert_eq!(p1["payments"].as_array().unwrap().len(), 3);
    let next = p1["next"].as_i64().unwrap();
    let (_, _, p2) = call(
        "GET",
        &api(&format!("/api/ledger?limit=3&before={next}")),
        Some(&read),
        None,
    )
    .await;
    assert_eq!(p2["payments"].as_array().unwrap().len(), 1);
    assert!(p2["next"].is_null());
    let mut refs: Vec<_> = p1["payments"]
        .as_array()
        .unwrap()
        .iter()
        .chain(p2["payments"].as_array().unwrap())
        .map(|p| p["reference"].as_str().unwrap().to_owned())
        .collect();
    refs.sort();
    let mut want: Vec<_> = all.iter().map(|p| p.reference.clone()).collect();
    want.sort();
    assert_eq!(refs, want);
    let (_, _, mpp_only) = call("GET", &api("/api/ledger?protocol=mpp"), Some(&read), None).await;
    assert_eq!(mpp_only["payments"].as_array().unwrap().len(), 1);
    assert_eq!(
        mpp_only["payments"][0]["amount_msat"], 10_000,
        "paid at the old price"
    );
    let (_, _, later) = call(
        "GET",
        &api(&format!("/api/ledger?since={}", now + 3600)),
        Some(&read),
        None,
    )
    .await;
    assert!(later["payments"].as_array().unwrap().is_empty());
    assert_eq!(
        call("GET", &api("/api/ledger?limit=x"), Some(&read), None)
            .await
            .0,
        400
    );
    let (_, _, stats) = call("GET", &api("/api/stats"), Some(&read), None).await;
    let totals = store_a.totals(&LedgerFilter::default()).await.unwrap();
    let got: Vec<(String, String, u64, u64)> = stats["totals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["route"].as_str().unwrap().into(),
                t["protocol"].as_str().unwrap().into(),
                t["payments"].as_u64().unwrap(),
                t["amount_msat"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<_> = totals
        .iter()
        .map(|t| {
            (
                t.route.clone(),
                t.protocol.clone(),
                t.payments,
                t.amount_msat,
            )
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(stats["days"][0]["day"].as_str().unwrap().len(), 10);
    assert_eq!(
        stats["total"]["amount_msat"],
        totals.iter().map(|t| t.amount_msat).sum::<u64>()
    );

    // Status.
    let (_, _, status) = call("GET", &api("/api/status"), Some(&read), None).await;
    assert_eq!(status["rail"]["up"], true);
    assert_eq!(status["store"]["backend"], "postgres");
    assert_eq!(status["store"]["up"], true);

    // The client reuses its cached token (its last one for A: the `other` route's).
    let on_a = |path: &'static str| {
        let req = ClientRequest::get(uri(&a, path));
        let client = &client;
        async move { client.send(&req).await.unwrap().response.status() }
    };
    let sent = net.payments_sent("buyer");
    assert_eq!(on_a("/other/before").await, 200);
    assert_eq!(net.payments_sent("buyer"), sent, "the cached token served");
    // Revoke the L402 token over the API: refused on A at once, loaded by B within its
    // refresh interval.
    let token_id = all
        .iter()
        .find(|p| p.route == "other")
        .unwrap()
        .token_id
        .clone()
        .unwrap();
    let body = Some(json!({ "token_id": token_id }));
    assert_eq!(
        call("POST", &api("/api/revoke"), Some(&read), body.clone())
            .await
            .0,
        403
    );
    assert_eq!(
        call(
            "POST",
            &api("/api/revoke"),
            Some(&admin),
            Some(json!({"token_id": "zz"}))
        )
        .await
        .0,
        400
    );
    let (s, _, r) = call("POST", &api("/api/revoke"), Some(&admin), body).await;
    assert_eq!((s.as_u16(), r["fresh"].as_bool()), (200, Some(true)));
    assert_eq!(a.paywall.revocations().unwrap().len(), 1);
    // Refused on A at once: the client has to buy a new token.
    assert_eq!(on_a("/other/after").await, 200);
    assert_eq!(
        net.payments_sent("buyer"),
        sent + 1,
        "the revoked token was refused"
    );
    eventually(10, "B loads the revocation", || async {
        (b.paywall.revocations().unwrap().len() == 1).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_applies_new_routes_and_refuses_a_bad_file() {
    let upstream = serve(upstream_app()).await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("l402.secret");
    std::fs::write(&secret, hex::encode(SECRET)).unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let text = CONFIG.replace("{UPSTREAM}", &format!("http://{upstream}"))
        + &format!(
            "\n[l402]\nsecret_file = {:?}\n",
            secret.display().to_string()
        );
    let path = dir.path().join("gateway.toml");
    std::fs::write(&path, &text).unwrap();
    let config = Config::load(&path).unwrap();
    let net = SimNetwork::new();
    let seller = net.add_node("seller", 0);
    let store = store::open(&StoreOptions::sqlite(dir.path().join("s.sqlite")))
        .await
        .unwrap();
    let auth = Arc::new(AdminAuth::hs256(&[42u8; 32]).unwrap());
    let paywall = server::paywall_with_secret(&config, Arc::new(seller.clone()), &SECRET).unwrap();
    let refresh = std::time::Duration::from_millis(100);
    let paywall = Arc::new(server::attach_store(paywall, store, refresh).await.unwrap());
    let reloader = Arc::new(gate402::admin::Reloader::new(path.clone(), paywall.clone()));
    let admin_l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin_url = format!("http://{}", admin_l.local_addr().unwrap());
    let app = gate402::admin::router(AdminState {
        paywall: paywall.clone(),
        auth: Some(auth.clone()),
        reloader: Some(reloader.clone()),
        started_at: 0,
    });
    tokio::spawn(async move { axum::serve(admin_l, app).await });
    let router = server::router(&config, paywall.clone()).unwrap();
    let running = server::spawn(TcpListener::bind("127.0.0.1:0").await.unwrap(), router).unwrap();
    let url = |p: &str| -> Uri { format!("http://{}{p}", running.addr).parse().unwrap() };
    assert_eq!(raw(&url("/new/a"), &[]).await.0, 200, "not priced yet");

    // A new route and a new price, reloaded through the API (SIGHUP calls the same reload).
    let edited = text.replace("price_sat = 10", "price_sat = 12")
        + "\n[[route]]\nname = \"new\"\npath_prefix = \"/new/\"\nprice_sat = 5\nprotocols = [\"l402\", \"mpp\"]\n";
    std::fs::write(&path, &edited).unwrap();
    let admin = auth
        .mint("t", Role::Admin, 600, gate402::clock::now_unix())
        .unwrap();
    let (s, _, r) = call(
        "POST",
        &format!("{admin_url}/api/reload"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["report"]["routes"], 3);
    let (s, h, _) = raw(&url("/new/a"), &[]).await;
    assert_eq!(s, 402);
    assert_eq!(mpp_amount(&seller, &h), 5_000);
    let (_, h, _) = raw(&url("/api/a"), &[]).await;
    assert_eq!(mpp_amount(&seller, &h), 12_000);

    // A file that fails validation is refused; the running routes stay.
    std::fs::write(
        &path,
        edited.replace("path_prefix = \"/new/\"", "path_prefix = \"new\""),
    )
    .unwrap();
    let (s, _, r) = call(
        "POST",
        &format!("{admin_url}/api/reload"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 422, "{r}");
    assert!(reloader.reload().is_err());
    std::fs::write(&path, "not = [toml").unwrap();
    assert!(reloader.reload().is_err());
    assert_eq!(
        raw(&url("/new/a"), &[]).await.0,
        402,
        "the running config stays"
    );
    assert_eq!(reloader.summary()["last_ok"]["routes"], 3);
    assert!(reloader.summary()["last_error"]["error"].is_string());
    // A section that cannot change while running is reported, not applied.
    std::fs::write(
        &path,
        edited.replace("realm = \"gate402.test\"", "realm = \"other.test\""),
    )
    .unwrap();
    let report = reloader.reload().unwrap();
    assert_eq!(report.needs_restart, vec!["mpp".to_string()]);
}
