//! Bounded loopback throughput of paid L402 requests through the gateway, per downstream
//! transport: HTTP/1.1 and h2c in plaintext, HTTP/1.1 and HTTP/2 over TLS (ALPN), plus the
//! upstream reached directly as a baseline. One token is bought first; every measured request
//! carries it (decode + HMAC chain + preimage check, no I/O) and is proxied to a tiny upstream
//! over pooled HTTP/1.1.
//!
//! HTTP/1.1: `CONCURRENCY` keep-alive connections, one request at a time each. HTTP/2: one
//! connection carrying `CONCURRENCY` concurrent streams.
//!
//! Run: `cargo run --release -p gate402-tests --example transport_throughput -- 20000 32`
//! (requests per transport, concurrency). Prints a markdown table.

use std::{net::SocketAddr, sync::Arc, time::Instant};

use axum::{routing::get, Router};
use bytes::Bytes;
use gate402::{
    config::Config,
    store::{self, StoreOptions},
};
use gate402_rails::simnet::SimNetwork;
use gate402_tests::{
    raw, serve,
    transport::{pay_l402, serve_gateway, TestCa},
    BUYER_MSAT,
};
use http::{HeaderValue, Request};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

#[derive(Clone, Copy, PartialEq)]
enum Wire {
    H1,
    H2,
}

/// A connected stream: plain TCP or TLS with `alpn`.
async fn connect(addr: SocketAddr, tls: Option<&rustls::ClientConfig>) -> TokioIo<Box<dyn Io>> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    match tls {
        None => TokioIo::new(Box::new(tcp)),
        Some(cfg) => {
            let c = tokio_rustls::TlsConnector::from(Arc::new(cfg.clone()));
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            TokioIo::new(Box::new(c.connect(name, tcp).await.unwrap()))
        }
    }
}

trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

fn request(addr: SocketAddr, auth: Option<&HeaderValue>, wire: Wire) -> Request<Empty<Bytes>> {
    let mut b = match wire {
        Wire::H1 => Request::get("/api/item").header("host", "localhost"),
        Wire::H2 => Request::get(format!("http://localhost:{}/api/item", addr.port())),
    };
    if let Some(a) = auth {
        b = b.header("authorization", a.clone());
    }
    b.body(Empty::new()).unwrap()
}

/// Run `n` requests with `c` in flight; returns (seconds, per-request latencies in ms).
async fn run(
    addr: SocketAddr,
    tls: Option<rustls::ClientConfig>,
    wire: Wire,
    auth: Option<HeaderValue>,
    n: usize,
    c: usize,
) -> (f64, Vec<f64>) {
    let per = n / c;
    let h2 = if wire == Wire::H2 {
        let io = connect(addr, tls.as_ref()).await;
        let (send, conn) = http2::handshake(TokioExecutor::new(), io).await.unwrap();
        tokio::spawn(conn);
        Some(send)
    } else {
        None
    };
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..c {
        let (tls, auth, h2) = (tls.clone(), auth.clone(), h2.clone());
        tasks.push(tokio::spawn(async move {
            let mut ms = Vec::with_capacity(per);
            let mut h1 = None;
            if h2.is_none() {
                let io = connect(addr, tls.as_ref()).await;
                let (send, conn) = http1::handshake(io).await.unwrap();
                tokio::spawn(conn);
                h1 = Some(send);
            }
            let mut h2 = h2;
            for _ in 0..per {
                let t = Instant::now();
                let req = request(addr, auth.as_ref(), wire);
                let resp = match (&mut h1, &mut h2) {
                    (Some(s), _) => s.send_request(req).await.unwrap(),
                    (None, Some(s)) => s.send_request(req).await.unwrap(),
                    _ => unreachable!(),
                };
                assert_eq!(resp.status(), 200);
                resp.into_body().collect().await.unwrap();
                ms.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            ms
        }));
    }
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    (start.elapsed().as_secs_f64(), all)
}

fn row(name: &str, (secs, mut ms): (f64, Vec<f64>)) -> String {
    ms.sort_by(|a, b| a.total_cmp(b));
    let p = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
    format!(
        "| {name} | {} | {:.0} | {:.2} | {:.2} | {:.2} |",
        ms.len(),
        ms.len() as f64 / secs,
        p(0.5),
        p(0.99),
        p(1.0)
    )
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(20_000);
    let c = args.get(1).copied().unwrap_or(32).max(1);
    let upstream = serve(Router::new().fallback(get(|| async { "ok" }))).await;
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let issued = ca.issue(dir.path(), "gateway");
    let net = SimNetwork::new();
    let buyer = net.add_node("buyer", BUYER_MSAT);
    let seller = Arc::new(net.add_node("seller", 0));
    let mut gateways = Vec::new();
    for tls in [false, true] {
        let tls_lines = if tls {
            format!(
                "tls_cert = \"{}\"\ntls_key = \"{}\"\n",
                issued.cert.display(),
                issued.key.display()
            )
        } else {
            String::new()
        };
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://{upstream}\"\n{tls_lines}\
             [lightning]\nbackend = \"simnet\"\n\
             [[route]]\nname = \"api\"\npath_prefix = \"/api/\"\nprice_sat = 10\n"
        );
        let config = Config::from_toml(&text).unwrap();
        let db = dir.path().join(format!("gate402-{tls}.sqlite"));
        let store = store::open(&StoreOptions::sqlite(db)).await.unwrap();
        gateways.push(serve_gateway(&config, seller.clone(), store).await);
    }
    let plain = gateways[0].addr;
    let secure = gateways[1].addr;
    let (status, headers, _) = raw(&format!("http://{plain}/api/pay").parse().unwrap(), &[]).await;
    assert_eq!(status, 402);
    let credential = pay_l402(&headers, &buyer).await.authorization();
    let auth = HeaderValue::from_str(&credential).unwrap();

    // Warm-up: first use recorded in the ledger (the paid path does no I/O afterwards).
    run(plain, None, Wire::H1, Some(auth.clone()), c, c).await;
    run(
        secure,
        Some(ca.client_config(&[b"http/1.1"])),
        Wire::H1,
        Some(auth.clone()),
        c,
        c,
    )
    .await;

    println!("{n} paid L402 requests per row, {c} in flight, loopback, one process\n");
    println!("| path | requests | req/s | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|");
    let base = run(upstream, None, Wire::H1, None, n, c).await;
    println!(
        "{}",
        row("upstream directly, HTTP/1.1 (baseline, unpaid)", base)
    );
    let r = run(plain, None, Wire::H1, Some(auth.clone()), n, c).await;
    println!("{}", row("gateway HTTP/1.1", r));
    let r = run(plain, None, Wire::H2, Some(auth.clone()), n, c).await;
    println!("{}", row("gateway h2c (one connection)", r));
    let h1_tls = ca.client_config(&[b"http/1.1"]);
    let r = run(secure, Some(h1_tls), Wire::H1, Some(auth.clone()), n, c).await;
    println!("{}", row("gateway TLS + HTTP/1.1 (ALPN)", r));
    let h2_tls = ca.client_config(&[b"h2"]);
    let r = run(secure, Some(h2_tls), Wire::H2, Some(auth.clone()), n, c).await;
    println!("{}", row("gateway TLS + HTTP/2 (ALPN, one connection)", r));
}
