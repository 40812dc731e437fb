//! A client connection's own upstream connection (`proxy::sticky`): the requests of one
//! HTTP/1.1 client connection reach an `http://` upstream over one upstream connection, other
//! client connections over others, and an upstream connection the upstream closed is
//! replaced without failing the request.

use std::net::SocketAddr;

use axum::{extract::ConnectInfo, Router};
use bytes::Bytes;
use gate402::config::Config;
use gate402_rails::simnet::SimNetwork;
use gate402_tests::start_gateway;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::mpsc,
};

/// An upstream that answers with the client's port (which upstream connection served it),
/// then the request body.
async fn port_upstream() -> SocketAddr {
    let app = Router::new().fallback(
        |ConnectInfo(peer): ConnectInfo<SocketAddr>, body: Bytes| async move {
            format!("{}:{}", peer.port(), String::from_utf8_lossy(&body))
        },
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    addr
}

/// A gateway (one priced route, not used here) in front of `upstream`.
async fn gateway_to(upstream: SocketAddr) -> (gate402::server::Running, SimNetwork) {
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://{upstream}\"\n\
         [lightning]\nbackend = \"simnet\"\n\
         [[route]]\nname = \"api\"\npath_prefix = \"/api/\"\nprice_sat = 10\n"
    );
    let config = Config::from_toml(&text).unwrap();
    config.validate().unwrap();
    let net = SimNetwork::new();
    let seller = net.add_node("seller", 0);
    (start_gateway(&config, &seller).await, net)
}

/// One keep-alive HTTP/1.1 connection to `addr`.
async fn connection(addr: SocketAddr) -> http1::SendRequest<Full<Bytes>> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (send, conn) = http1::handshake(TokioIo::new(tcp)).await.unwrap();
    tokio::spawn(conn);
    send
}

/// `method` `path` with `body` on `send`: status and body text.
async fn call(
    send: &mut http1::SendRequest<Full<Bytes>>,
    method: &str,
    path: &str,
    body: &str,
) -> (StatusCode, String) {
    send.ready().await.unwrap();
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "gateway")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn one_client_connection_uses_one_upstream_connection() {
    let (gateway, _net) = gateway_to(port_upstream().await).await;
    let mut first = connection(gateway.addr).await;
    let mut ports = Vec::new();
    for (i, method) in ["GET", "POST", "GET", "PUT", "GET"].into_iter().enumerate() {
        let sent = format!("body {i}");
        let (status, text) = call(&mut first, method, &format!("/free/{i}"), &sent).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        let (port, body) = text.split_once(':').unwrap();
        assert_eq!(body, sent, "the request body reached the upstream");
        ports.push(port.to_owned());
    }
    ports.dedup();
    assert_eq!(
        ports.len(),
        1,
        "one upstream connection for one client connection"
    );

    // Another client connection meanwhile gets an upstream connection of its own; the first
    // keeps its own.
    let mut second = connection(gateway.addr).await;
    let (_, other) = call(&mut second, "GET", "/free/x", "").await;
    let (_, again) = call(&mut first, "GET", "/free/y", "").await;
    assert_ne!(other.split(':').next(), Some(ports[0].as_str()));
    assert_eq!(again.split(':').next(), Some(ports[0].as_str()));
}

/// An upstream that answers each connection's first request and then closes it (no
/// `Connection: close`: it just goes away, as an upstream's keep-alive timeout does); reports
/// each close on `closed`.
async fn closing_upstream(closed: mpsc::UnboundedSender<()>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match tcp.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = tcp
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .await;
            drop(tcp);
            let _ = closed.send(());
        }
    });
    addr
}

#[tokio::test]
async fn an_upstream_connection_closed_while_idle_is_replaced() {
    let (tx, mut closed) = mpsc::unbounded_channel();
    let (gateway, _net) = gateway_to(closing_upstream(tx).await).await;
    let mut client = connection(gateway.addr).await;
    for i in 0..3 {
        let (status, body) = call(&mut client, "GET", &format!("/free/{i}"), "").await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "ok"),
            "request {i}"
        );
        // The upstream has closed the connection that served it before the next request.
        closed.recv().await.unwrap();
    }
}
