//! `PaywallLayer` inside an ordinary axum app (no proxy).

use std::sync::Arc;

use axum::{routing::get, Extension, Router};
use gate402::{
    client::{ClientRequest, Policy},
    config::Config,
    paywall::{PaywallLayer, Receipt},
    server,
};
use gate402_tests::{raw, serve, SECRET};

#[tokio::test]
async fn paywall_layer_guards_an_axum_app_and_hands_over_the_receipt() {
    let net = gate402_rails::simnet::SimNetwork::new();
    let buyer = net.add_node("buyer", 1_000_000);
    let seller = net.add_node("seller", 0);
    let config = Config::from_toml(
        r#"
        [server]
        listen = "127.0.0.1:0"
        upstream = "http://127.0.0.1:1"
        [lightning]
        backend = "simnet"
        [[route]]
        name = "reports"
        path_prefix = "/reports/"
        price_msat = 1500
        "#,
    )
    .unwrap();
    config.validate().unwrap();
    let paywall = server::paywall_with_secret(&config, Arc::new(seller), &SECRET).unwrap();
    let app = Router::new()
        .route(
            "/reports/{id}",
            get(|Extension(r): Extension<Receipt>| async move {
                format!("{} paid {} msat", r.route, r.price_msat)
            }),
        )
        .route("/open", get(|| async { "open" }))
        .layer(PaywallLayer::new(Arc::new(paywall)));
    let addr = serve(app).await;

    let (status, _, body) = raw(&format!("http://{addr}/open").parse().unwrap(), &[]).await;
    assert_eq!((status.as_u16(), &body[..]), (200, &b"open"[..]));

    let dir = tempfile::tempdir().unwrap();
    let client = gate402::client::Client::new(
        Arc::new(buyer),
        gate402::client::TokenCache::new(dir.path()),
        Policy::default(),
    );
    let url = format!("http://{addr}/reports/7").parse().unwrap();
    let r = client.send(&ClientRequest::get(url)).await.unwrap();
    assert_eq!(r.response.status(), 200);
    assert_eq!(&r.response.body()[..], b"reports paid 1500 msat");
    assert_eq!(net.balance_msat("seller"), Some(1500));
}
