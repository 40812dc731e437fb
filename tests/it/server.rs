//! The HTTP server itself: request-head timeout, graceful shutdown.

use std::time::Duration;

use axum::{routing::get, Router};
use gate402::server;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// A server answering `ok` on `/`, with a 300 ms head timeout.
async fn ok_server() -> server::Running {
    let app = Router::new().route("/", get(|| async { "ok" }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    server::spawn_with(listener, app, Duration::from_millis(300)).unwrap()
}

#[tokio::test]
async fn a_client_that_never_finishes_its_request_head_is_disconnected() {
    let running = ok_server().await;
    let mut slow = TcpStream::connect(running.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    // The server closes the connection (possibly after a 408): read to EOF, bounded.
    let read = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut buf)).await;
    assert!(
        read.is_ok(),
        "connection still open after the header timeout"
    );
    let text = String::from_utf8_lossy(&buf);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );

    // A well-behaved client is served, and shutdown completes.
    let mut ok = TcpStream::connect(running.addr).await.unwrap();
    ok.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut resp = String::new();
    ok.read_to_string(&mut resp).await.unwrap();
    assert!(
        resp.starts_with("HTTP/1.1 200") && resp.ends_with("ok"),
        "{resp}"
    );
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_keep_alive_connection_whose_next_head_never_completes_is_disconnected() {
    let running = ok_server().await;
    let mut conn = TcpStream::connect(running.addr).await.unwrap();
    conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = conn.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // The next head is trickled in and never finished: the connection closes (between 1× and
    // 2× the head timeout after the last request; bounded generously here).
    conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert!(
        crate::limits::closed_within(&mut conn, 10).await,
        "connection still open after twice the head timeout"
    );
    running.shutdown().await.unwrap();
}
