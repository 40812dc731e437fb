//! Test pricers on `127.0.0.1:0` (dynamic pricing, issue K item 3): an Aperture-style
//! `pricesrpc` gRPC server (generated from `proto/prices.proto`, as Aperture's Go pricers
//! implement it) and an HTTP JSON pricer, both answering from one scripted [`Pricing`].
//! `/report?size=big` costs 50 sat, `size=small` 5 sat, anything else 10 sat.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
};

use axum::{extract::State, routing::post, Json, Router};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tower::ServiceExt;

/// Generated `pricesrpc` server.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("pricesrpc");
}

use pb::{
    prices_server::{Prices, PricesServer},
    GetPriceRequest, GetPriceResponse,
};

/// How the pricer answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// By the `size` query parameter (big 50, small 5, else 10 sat).
    Table,
    /// Always this many satoshis (0 and negative included).
    Fixed(i64),
    /// Never answers.
    Hang,
    /// The HTTP pricer answers a body without `price_sats`; the gRPC one an `INTERNAL` error.
    Garbage,
}

/// Shared script and observations of a test pricer.
#[derive(Debug)]
pub struct Pricing {
    /// How it answers now.
    pub mode: Mutex<Mode>,
    /// Calls received.
    pub calls: AtomicUsize,
    /// The last request text (gRPC `http_request_text` or HTTP `http_request_text`).
    pub last_text: Mutex<String>,
    /// The last `path` received.
    pub last_path: Mutex<String>,
}

impl Pricing {
    /// A table pricer.
    pub fn new() -> Arc<Pricing> {
        Arc::new(Pricing {
            mode: Mutex::new(Mode::Table),
            calls: AtomicUsize::new(0),
            last_text: Mutex::new(String::new()),
            last_path: Mutex::new(String::new()),
        })
    }

    /// Switch how it answers.
    pub fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// Calls so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Record a call; the price for `query` in the current mode (`None`: hang).
    async fn answer(&self, path: &str, query: &str, text: &str) -> Result<i64, ()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        *self.last_text.lock().unwrap() = text.to_owned();
        *self.last_path.lock().unwrap() = path.to_owned();
        let mode = *self.mode.lock().unwrap();
        match mode {
            Mode::Table => Ok(match query_param(query, "size") {
                Some("big") => 50,
                Some("small") => 5,
                _ => 10,
            }),
            Mode::Fixed(n) => Ok(n),
            Mode::Hang => std::future::pending().await,
            Mode::Garbage => Err(()),
        }
    }
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

/// The query string of the request line of an HTTP request text.
fn query_of_text(text: &str) -> &str {
    let target = text.split(' ').nth(1).unwrap_or("");
    target.split_once('?').map_or("", |(_, q)| q)
}

#[derive(Clone)]
struct Grpc(Arc<Pricing>);

#[tonic::async_trait]
impl Prices for Grpc {
    async fn get_price(
        &self,
        req: tonic::Request<GetPriceRequest>,
    ) -> Result<tonic::Response<GetPriceResponse>, tonic::Status> {
        let r = req.into_inner();
        let query = query_of_text(&r.http_request_text).to_owned();
        match self.0.answer(&r.path, &query, &r.http_request_text).await {
            Ok(price_sats) => Ok(tonic::Response::new(GetPriceResponse { price_sats })),
            Err(()) => Err(tonic::Status::internal("pricing database unavailable")),
        }
    }
}

/// Serve `pricing` as an Aperture `pricesrpc` gRPC server (h2c): its `http://` URL.
pub async fn serve_grpc(pricing: Arc<Pricing>) -> String {
    let router = tonic::service::Routes::new(PricesServer::new(Grpc(pricing))).into_axum_router();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let router = router.clone();
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        router.clone().oneshot(req.map(axum::body::Body::new))
                    });
                let builder = auto::Builder::new(TokioExecutor::new()).http2_only();
                let _ = builder.serve_connection(TokioIo::new(tcp), svc).await;
            });
        }
    });
    format!("http://{addr}")
}

async fn http_price(State(p): State<Arc<Pricing>>, Json(req): Json<Value>) -> Json<Value> {
    let path = req["path"].as_str().unwrap_or("").to_owned();
    let query = req["query"].as_str().unwrap_or("").to_owned();
    let text = req["http_request_text"].as_str().unwrap_or("").to_owned();
    match p.answer(&path, &query, &text).await {
        Ok(price_sats) => Json(json!({ "price_sats": price_sats })),
        Err(()) => Json(json!({ "price": "fifty" })),
    }
}

/// Serve `pricing` as an HTTP JSON pricer: its `http://…/price` URL.
pub async fn serve_http(pricing: Arc<Pricing>) -> String {
    let app = Router::new()
        .route("/price", post(http_price))
        .with_state(pricing);
    format!("http://{}/price", crate::serve(app).await)
}

/// A loopback URL where nothing listens (a pricer that is down).
pub async fn closed_url(kind: &str) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = l.local_addr().unwrap();
    drop(l);
    match kind {
        "grpc" => format!("http://{addr}"),
        _ => format!("http://{addr}/price"),
    }
}
