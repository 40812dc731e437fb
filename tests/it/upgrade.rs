//! Protocol upgrades through the gateway: a `Connection: upgrade` request reaches the upstream,
//! its `101 Switching Protocols` comes back and bytes then flow both ways; a priced route still
//! answers 402 to an unpaid upgrade and opens the tunnel once paid.

use std::{convert::Infallible, net::SocketAddr, time::Duration};

use bytes::Bytes;
use gate402::client::Policy;
use gate402_tests::{Harness, CONFIG};
use http::{Request, Response, StatusCode};
use http_body_util::Empty;
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// An upstream that accepts `Upgrade: echo` and then echoes every byte, upper-cased.
pub(crate) async fn echo_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let svc = service_fn(|mut req: Request<Incoming>| async move {
                let asked = req.headers().get("upgrade").is_some_and(|v| v == "echo");
                if !asked {
                    let resp = Response::builder().status(StatusCode::BAD_REQUEST);
                    return Ok::<_, Infallible>(resp.body(Empty::<Bytes>::new()).unwrap());
                }
                tokio::spawn(async move {
                    let Ok(up) = hyper::upgrade::on(&mut req).await else {
                        return;
                    };
                    let mut io = TokioIo::new(up);
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = io.read(&mut buf).await {
                        if n == 0 || io.write_all(&buf[..n].to_ascii_uppercase()).await.is_err() {
                            break;
                        }
                    }
                });
                let resp = Response::builder()
                    .status(StatusCode::SWITCHING_PROTOCOLS)
                    .header("connection", "upgrade")
                    .header("upgrade", "echo");
                Ok(resp.body(Empty::<Bytes>::new()).unwrap())
            });
            tokio::spawn(
                http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .with_upgrades(),
            );
        }
    });
    addr
}

/// Send an upgrade request for `path` (with `extra` header lines) and return the stream and
/// the response head.
pub(crate) async fn open(gateway: SocketAddr, path: &str, extra: &str) -> (TcpStream, String) {
    let mut s = TcpStream::connect(gateway).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: echo\r\n{extra}\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut byte))
            .await
            .expect("response head within 10 s")
            .unwrap();
        assert_eq!(n, 1, "connection closed before the response head ended");
        head.push(byte[0]);
    }
    (s, String::from_utf8(head).unwrap())
}

pub(crate) async fn roundtrip(s: &mut TcpStream, msg: &[u8]) -> Vec<u8> {
    s.write_all(msg).await.unwrap();
    let mut got = vec![0u8; msg.len()];
    tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut got))
        .await
        .expect("echo within 10 s")
        .unwrap();
    got
}

#[tokio::test]
async fn an_upgrade_is_tunnelled_both_ways() {
    let upstream = echo_upstream().await;
    let h = Harness::start_with(&CONFIG.replace("{UPSTREAM}", &format!("http://{upstream}"))).await;
    let (mut s, head) = open(h.gateway.addr, "/free/ws", "").await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("upgrade: echo"),
        "{head}"
    );
    assert_eq!(roundtrip(&mut s, b"hello").await, b"HELLO");
    assert_eq!(roundtrip(&mut s, b"again, more").await, b"AGAIN, MORE");
}

#[tokio::test]
async fn a_priced_upgrade_needs_payment_then_opens() {
    let upstream = echo_upstream().await;
    let h = Harness::start_with(&CONFIG.replace("{UPSTREAM}", &format!("http://{upstream}"))).await;
    let (_, head) = open(h.gateway.addr, "/api/ws", "").await;
    assert!(head.starts_with("HTTP/1.1 402"), "{head}");
    assert!(head.contains("L402"), "{head}");

    // Buy a token with the client (its plain GET is refused upstream with 400, which is fine:
    // the token is cached once paid), then open the tunnel with it.
    let client = h.client("buyer", Policy::default());
    let paid = client
        .send(&gate402::client::ClientRequest::get(h.url("/api/ws")))
        .await
        .unwrap();
    assert!(paid.payment.is_some());
    let key = h.gateway.addr.to_string();
    let token = gate402::client::TokenCache::new(h.dir.path().join("buyer"))
        .get(&key, gate402::clock::now_unix())
        .expect("token cached");
    let auth = format!(
        "Authorization: L402 {}:{}\r\n",
        token.macaroon, token.preimage
    );
    let (mut s, head) = open(h.gateway.addr, "/api/ws", &auth).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert_eq!(roundtrip(&mut s, b"paid").await, b"PAID");
}
