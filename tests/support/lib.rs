//! Shared harness for the integration tests: a simnet, an upstream API and a gateway, all on
//! `127.0.0.1:0`, with its store in a temporary SQLite file; PostgreSQL test databases
//! ([`pg`]), a TCP relay that can cut a database off ([`relay`]), a TLS-terminating relay
//! for `https://` node and facilitator URLs ([`tls_relay`]), the npm reference peers
//! ([`peers`]) and the generated interop matrix ([`matrix`]).

pub mod capture;
pub mod pg;
pub mod relay;
pub mod tls_relay;

pub mod grpc;
pub mod pricer;
pub mod transport;

pub mod chain;
// Headless Chromium over WebDriver (browser paywall).
pub mod chrome;
pub mod matrix;
pub mod peers;

// Secret files at mode 0600 (issue #12 H item 5).
pub mod secrets;
pub use secrets::write_secret;

use std::{net::SocketAddr, sync::Arc};

use axum::{body::Bytes, extract::Request, routing::get, Json, Router};
use gate402::{
    client::{Client, Policy, TokenCache},
    config::Config,
    server::{self, Running},
    store::{self, Store, StoreOptions},
};
use gate402_rails::simnet::{SimNetwork, SimNode};
use http::{HeaderMap, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client as HyperClient, rt::TokioExecutor};
use serde_json::json;
use tokio::net::TcpListener;

/// The buyer's starting balance.
pub const BUYER_MSAT: u64 = 10_000_000;

/// A test gateway config: route `/api/` (10 sat, service `api`, valid 1 h), route `/other/`
/// (service `other`), `/free/` priced 0. `{UPSTREAM}` is replaced by the upstream address.
pub const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
upstream = "{UPSTREAM}"
upstream_timeout_secs = 1
retry_after_secs = 7

[lightning]
backend = "simnet"

[[route]]
name = "api"
path_prefix = "/api/"
price_sat = 10
capabilities = ["read"]
valid_for_secs = 3600

[[route]]
name = "other"
path_prefix = "/other/"
price_sat = 20

[[route]]
name = "free"
path_prefix = "/free/"
price_sat = 0
"#;

/// An MPP test config: `/api/` and `/other/` (10 sat each, MPP only), `/both/` (L402 then
/// MPP); sessions on with a 10-unit deposit. `{UPSTREAM}` and `{DATA_DIR}` are replaced.
pub const MPP_CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
upstream = "{UPSTREAM}"

[mpp]
realm = "gate402.test"

[mpp.session]
enabled = true
deposit_units = 10

[lightning]
backend = "simnet"

[[route]]
name = "api"
path_prefix = "/api/"
price_sat = 10
protocols = ["mpp"]

[[route]]
name = "other"
path_prefix = "/other/"
price_sat = 10
protocols = ["mpp"]

[[route]]
name = "both"
path_prefix = "/both/"
price_sat = 10
protocols = ["l402", "mpp"]
"#;

/// The L402 master secret used by test gateways.
pub const SECRET: [u8; 32] = [7u8; 32];

/// An upstream that echoes what it received as JSON (path, method, body, a few headers, every
/// header name); `/hang/*` never answers.
pub fn upstream_app() -> Router {
    Router::new()
        .route("/hang/{*rest}", get(std::future::pending::<()>))
        .fallback(|req: Request| async move {
            let (parts, body) = req.into_parts();
            let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            Json(json!({
                "path": parts.uri.path(),
                "method": parts.method.as_str(),
                "authorization": parts.headers.get("authorization").map(|v| v.to_str().unwrap_or("").to_string()),
                "x_forwarded_for": parts.headers.get("x-forwarded-for").map(|v| v.to_str().unwrap_or("").to_string()),
                "header_names": parts.headers.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
                "body": String::from_utf8_lossy(&body),
            }))
        })
}

/// Serve `app` on a fresh loopback port.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A running test system.
pub struct Harness {
    /// The simulated network.
    pub net: SimNetwork,
    /// The buyer's node.
    pub buyer: SimNode,
    /// The seller's node (the gateway's rail).
    pub seller: SimNode,
    /// The gateway.
    pub gateway: Running,
    /// Parsed config.
    pub config: Config,
    /// The gateway's store.
    pub store: Arc<dyn Store>,
    /// Client credential caches and the SQLite store live here.
    pub dir: tempfile::TempDir,
}

impl Harness {
    /// Start upstream + gateway with [`CONFIG`].
    pub async fn start() -> Harness {
        let upstream = serve(upstream_app()).await;
        Harness::start_with(&CONFIG.replace("{UPSTREAM}", &format!("http://{upstream}"))).await
    }

    /// Start upstream + gateway with [`MPP_CONFIG`] (sessions in the harness's store).
    pub async fn start_mpp() -> Harness {
        let upstream = serve(upstream_app()).await;
        let text = MPP_CONFIG.replace("{UPSTREAM}", &format!("http://{upstream}"));
        Harness::start_with(&text).await
    }

    /// Start a gateway with the given config text.
    pub async fn start_with(config_text: &str) -> Harness {
        Harness::start_in(config_text, tempfile::tempdir().unwrap()).await
    }

    /// Start a gateway with the given config text; its SQLite store and the clients' caches
    /// live in `dir` (kept as long as the harness).
    pub async fn start_in(config_text: &str, dir: tempfile::TempDir) -> Harness {
        let config = Config::from_toml(config_text).expect("config parses");
        config.validate().expect("config is valid");
        let net = SimNetwork::new();
        let buyer = net.add_node("buyer", BUYER_MSAT);
        let seller = net.add_node("seller", 0);
        let store = store::open(&StoreOptions::sqlite(dir.path().join("gate402.sqlite")))
            .await
            .unwrap();
        let gateway = gateway(&config, Arc::new(seller.clone()), store.clone()).await;
        Harness {
            net,
            buyer,
            seller,
            gateway,
            config,
            store,
            dir,
        }
    }

    /// Absolute URL of `path` on the gateway.
    pub fn url(&self, path: &str) -> Uri {
        format!("http://{}{path}", self.gateway.addr)
            .parse()
            .unwrap()
    }

    /// A buyer client with its own cache directory `name`.
    pub fn client(&self, name: &str, policy: Policy) -> Client {
        Client::new(
            Arc::new(self.buyer.clone()),
            TokenCache::new(self.dir.path().join(name)),
            policy,
        )
    }

    /// Seller balance in msat.
    pub fn seller_msat(&self) -> u64 {
        self.net.balance_msat("seller").unwrap()
    }
}

/// Start a gateway for `config` whose rail is `seller`.
pub async fn start_gateway(config: &Config, seller: &SimNode) -> Running {
    let paywall = server::paywall_with_secret(config, Arc::new(seller.clone()), &SECRET).unwrap();
    let router = server::router(config, Arc::new(paywall)).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    server::spawn(listener, router).unwrap()
}

/// Start a gateway for `config` with the test [`SECRET`], minting on `rail`, recording in `store`.
pub async fn gateway(
    config: &Config,
    rail: Arc<dyn gate402_rails::LightningRail>,
    store: Arc<dyn Store>,
) -> Running {
    let paywall = server::paywall_with_secret(config, rail, &SECRET).unwrap();
    let refresh = config.store.revocation_refresh();
    let paywall = server::attach_store(paywall, store, refresh).await.unwrap();
    let router = server::router(config, Arc::new(paywall)).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    server::spawn(listener, router).unwrap()
}

/// A raw HTTP request (no payment logic).
pub async fn raw(url: &Uri, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, Bytes) {
    let client = HyperClient::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = http::Request::builder().uri(url.clone());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = client
        .request(req.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let (parts, body) = resp.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

/// The JSON body of a response.
pub fn json_body(body: &Bytes) -> serde_json::Value {
    serde_json::from_slice(body).unwrap_or_else(|_| panic!("not JSON: {body:?}"))
}

/// Poll `check` until it returns `Some`, at most for `secs` seconds (a condition with a
/// deadline, never a fixed sleep). Panics with `what` on timeout.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
