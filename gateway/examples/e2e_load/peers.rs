//! The two reference peers of the bench: a bare hyper backend and a bare pass-through proxy.
//!
//! Both run on the runtime `gate402 serve` uses (multi-threaded, one worker per core) and
//! the same hyper / hyper-util versions; the proxy serves connections with the same
//! `auto::Builder` and forwards with the same pooled legacy client, and nothing else: no
//! header rewriting, no limits, no logging. It is the floor the gateway is measured against.

use std::{convert::Infallible, net::SocketAddr, time::Duration};

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
};
use tokio::net::TcpListener;

/// The backend's answer to every request: a small JSON body, as a typical paid API returns.
const BODY: &[u8] = br#"{"ok":true,"data":"0123456789abcdef0123456789abcdef"}"#;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

async fn bind() -> TcpListener {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    println!("listening on {}", l.local_addr().expect("addr"));
    l
}

/// `backend`: answer 200 + [`BODY`] to everything, HTTP/1.1 keep-alive.
pub fn backend() {
    runtime().block_on(async {
        let listener = bind().await;
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|_req: Request<Incoming>| async {
                    let mut resp = Response::new(Full::new(Bytes::from_static(BODY)));
                    resp.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("application/json"),
                    );
                    Ok::<_, Infallible>(resp)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    })
}

/// `proxy <upstream-addr>`: forward every request to the upstream as is.
pub fn proxy(upstream: SocketAddr) {
    runtime().block_on(proxy_on(upstream, None))
}

/// `proxy-per-core <upstream-addr>`: the same proxy on one current-thread runtime per core,
/// each with its own `SO_REUSEPORT` listener on one port.
pub fn proxy_per_core(upstream: SocketAddr) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // tokio's socket API registers the listener with a reactor; it is moved out again.
    let setup = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _enter = setup.enter();
    let first = reuseport(None);
    let port = first.local_addr().expect("addr").port();
    println!("listening on 127.0.0.1:{port}");
    let mut listeners = vec![first];
    listeners.extend((1..cores).map(|_| reuseport(Some(port))));
    let threads: Vec<_> = listeners
        .into_iter()
        .map(|l| {
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(proxy_on(upstream, Some(l)))
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

fn reuseport(port: Option<u16>) -> std::net::TcpListener {
    let s = tokio::net::TcpSocket::new_v4().expect("socket");
    s.set_reuseport(true).expect("SO_REUSEPORT");
    s.bind(SocketAddr::from(([127, 0, 0, 1], port.unwrap_or(0))))
        .expect("bind");
    let l = s.listen(1024).expect("listen");
    l.into_std().expect("std listener")
}

/// The proxy's accept loop, on `listener` or a fresh loopback one.
async fn proxy_on(upstream: SocketAddr, listener: Option<std::net::TcpListener>) {
    let mut tcp = HttpConnector::new();
    tcp.set_nodelay(true);
    let client: Client<HttpConnector, Incoming> = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_timer(TokioTimer::new())
        .build(tcp);
    let server = auto::Builder::new(TokioExecutor::new());
    let listener = match listener {
        Some(l) => TcpListener::from_std(l).expect("listener"),
        None => bind().await,
    };
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (client, server) = (client.clone(), server.clone());
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                let client = client.clone();
                async move {
                    let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
                    let uri: Uri = format!("http://{upstream}{pq}").parse().expect("uri");
                    *req.uri_mut() = uri;
                    Ok::<_, Infallible>(match client.request(req).await {
                        Ok(resp) => resp.map(axum::body::Body::new),
                        Err(_) => {
                            let mut r = Response::new(axum::body::Body::empty());
                            *r.status_mut() = http::StatusCode::BAD_GATEWAY;
                            r
                        }
                    })
                }
            });
            let _ = server
                .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                .await;
        });
    }
}
