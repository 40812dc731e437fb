//! The listener's abuse bounds (issue H, item 2, at the connection level): slowloris, request
//! head size and count (431), request bodies on priced routes (413 without buffering),
//! connection caps (per client address, total), first-request and idle deadlines, HTTP/2.
//!
//! Attackers connect from other loopback addresses (`127.0.0.2`…, all routed to `lo` on
//! Linux) so that the per-address cap can tell them from the paying client on `127.0.0.1`.

use std::{
    net::{IpAddr, SocketAddr},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use bytes::Bytes;
use futures_util::FutureExt;
use gate402::{
    config::Config,
    server::Running,
    store::{self, StoreOptions},
};
use gate402_rails::simnet::{SimNetwork, SimNode};
use gate402_tests::{
    eventually, raw, serve,
    transport::{pay_l402, serve_gateway},
    upstream_app, BUYER_MSAT,
};
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
    sync::watch,
    time::timeout,
};

struct Gateway {
    running: Running,
    buyer: SimNode,
    _net: SimNetwork,
    _dir: tempfile::TempDir,
}

impl Gateway {
    fn url(&self, path: &str) -> Uri {
        format!("http://{}{path}", self.running.addr)
            .parse()
            .unwrap()
    }

    /// Pay for route `api` (10 sat): the `Authorization` value.
    async fn credential(&self) -> String {
        let (status, headers, _) = raw(&self.url("/api/pay"), &[]).await;
        assert_eq!(status, 402);
        pay_l402(&headers, &self.buyer).await.authorization()
    }
}

/// A gateway in front of the echo upstream; `server` is extra `[server]` lines, `limits` the
/// `[server.limits]` lines.
async fn start(server: &str, limits: &str) -> Gateway {
    start_to(serve(upstream_app()).await, server, limits).await
}

/// [`start`] in front of `upstream`.
async fn start_to(upstream: SocketAddr, server: &str, limits: &str) -> Gateway {
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://{upstream}\"\n{server}\n\
         [server.limits]\n{limits}\n\
         [lightning]\nbackend = \"simnet\"\n\
         [[route]]\nname = \"api\"\npath_prefix = \"/api/\"\nprice_sat = 10\n"
    );
    let config = Config::from_toml(&text).unwrap();
    config.validate().unwrap();
    let net = SimNetwork::new();
    let buyer = net.add_node("buyer", BUYER_MSAT);
    let seller = net.add_node("seller", 0);
    let dir = tempfile::tempdir().unwrap();
    let store = store::open(&StoreOptions::sqlite(dir.path().join("gate402.sqlite")))
        .await
        .unwrap();
    let running = serve_gateway(&config, Arc::new(seller), store).await;
    Gateway {
        running,
        buyer,
        _net: net,
        _dir: dir,
    }
}

/// A TCP connection to `addr` from `from` (another loopback address).
async fn connect_from(from: IpAddr, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Send `request` on a fresh connection and read the answer until the server closes it.
async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before reading everything: a failed write is fine.
    let _ = tcp.write_all(request).await;
    let mut buf = Vec::new();
    let _ = timeout(Duration::from_secs(10), tcp.read_to_end(&mut buf))
        .await
        .expect("the server answers and closes");
    String::from_utf8_lossy(&buf).into_owned()
}

/// Whether the server closed `tcp` (EOF or reset) within `secs`.
pub(crate) async fn closed_within(tcp: &mut TcpStream, secs: u64) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match timeout(Duration::from_secs(secs), tcp.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// The soft open-files limit (Linux), to fail clearly rather than with `EMFILE` midway.
fn open_files_limit() -> Option<u64> {
    std::fs::read_to_string("/proc/self/limits")
        .ok()?
        .lines()
        .find(|l| l.starts_with("Max open files"))?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()
}

#[tokio::test]
async fn slowloris_from_500_connections_does_not_stop_a_paid_request() {
    if let Some(n) = open_files_limit() {
        assert!(
            n >= 2048,
            "open-files limit {n} is too low for 500 attacker sockets: `ulimit -n 4096` \
             (tests/run-all.sh raises it)"
        );
    }
    let g = start("", "").await; // defaults: 256 connections per address, 15 s head timeout
    let credential = g.credential().await;
    let attacker: IpAddr = [127, 0, 0, 2].into();
    let (stop, stopped) = watch::channel(false);
    let refused = Arc::new(AtomicUsize::new(0));
    for _ in 0..500 {
        let (addr, mut stopped, refused) = (g.running.addr, stopped.clone(), refused.clone());
        tokio::spawn(async move {
            let mut tcp = connect_from(attacker, addr).await;
            let head =
                b"GET /api/slow HTTP/1.1\r\nHost: gateway\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaa";
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut buf = [0u8; 256];
            for byte in head.iter().cycle() {
                tokio::select! {
                    _ = tick.tick() => if tcp.write_all(&[*byte]).await.is_err() {
                        refused.fetch_add(1, Ordering::SeqCst);
                        return;
                    },
                    _ = tcp.read(&mut buf) => {
                        refused.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                    _ = stopped.changed() => return,
                }
            }
        });
    }
    // The per-address cap admits 256 and closes the other 244 at once.
    eventually(30, "the attack to be in place", || async {
        (g.running.open_connections() >= 256 && refused.load(Ordering::SeqCst) >= 244).then_some(())
    })
    .await;
    assert_eq!(refused.load(Ordering::SeqCst), 244);

    // While they trickle in their heads, a stranger gets a challenge and the paying client
    // is served, each within 1 s.
    let unpaid = timeout(Duration::from_secs(1), raw(&g.url("/api/data"), &[]))
        .await
        .expect("a 402 within 1 s during the attack");
    assert_eq!(unpaid.0, 402);
    let paid = timeout(
        Duration::from_secs(1),
        raw(
            &g.url("/api/data"),
            &[("authorization", credential.as_str())],
        ),
    )
    .await
    .expect("the paid request is served within 1 s during the attack");
    assert_eq!(paid.0, 200);
    assert!(
        g.running.open_connections() >= 256,
        "the slowloris connections were still open"
    );
    assert_eq!(refused.load(Ordering::SeqCst), 244);
    stop.send(true).unwrap();
}

#[tokio::test]
async fn oversized_request_heads_get_431() {
    let g = start("", "").await;
    let big = "a".repeat(100 * 1024);
    let answer = exchange(
        g.running.addr,
        format!("GET /api/x HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n").as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:.80}");

    let many: String = (0..101).map(|i| format!("X-H{i}: v\r\n")).collect();
    let answer = exchange(
        g.running.addr,
        format!("GET /api/x HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:.80}");

    // A 12 KiB head is within the 16 KiB default: answered (402 on the priced route).
    let fine = "b".repeat(12 * 1024);
    let answer = exchange(
        g.running.addr,
        format!("GET /api/x HTTP/1.1\r\nHost: x\r\nX-Fine: {fine}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 402"), "{answer:.80}");

    // HTTP/2 (h2c): a header list over the limit gets 431 (the `h2` crate); one far over it
    // (100 KB) ends the connection with ENHANCE_YOUR_CALM before it is even decoded.
    let tcp = TcpStream::connect(g.running.addr).await.unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    let over = Request::get(g.url("/api/x"))
        .header("x-over", "c".repeat(20 * 1024))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = send.send_request(over).await.expect("a response");
    assert_eq!(resp.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    let way_over = Request::get(g.url("/api/x"))
        .header("x-big", big)
        .body(Empty::<Bytes>::new())
        .unwrap();
    let e = send.send_request(way_over).await.expect_err("refused");
    assert!(format!("{e:?}").contains("ENHANCE_YOUR_CALM"), "{e:?}");
}

#[tokio::test]
async fn a_50_mb_body_on_a_paid_route_gets_413_without_being_read() {
    let g = start("", "max_body_bytes = 1048576").await;
    let mut tcp = TcpStream::connect(g.running.addr).await.unwrap();
    tcp.write_all(b"POST /api/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 52428800\r\n\r\n")
        .await
        .unwrap();
    tcp.write_all(&[b'x'; 65536]).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = timeout(Duration::from_secs(10), tcp.read(&mut buf))
        .await
        .expect("answered after 64 KiB of a declared 50 MB")
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(head.contains("body_too_large"), "{head}");

    // Chunked (no declared length) and paid: counted while streaming; the gateway answers
    // 413 long before the client has sent its 50 MB.
    let credential = g.credential().await;
    let mut tcp = TcpStream::connect(g.running.addr).await.unwrap();
    let head = format!(
        "POST /api/upload HTTP/1.1\r\nHost: x\r\nAuthorization: {credential}\r\n\
         Transfer-Encoding: chunked\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let (mut rd, mut wr) = tcp.into_split();
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    let writer = tokio::spawn(async move {
        let chunk = format!("10000\r\n{}\r\n", "y".repeat(0x10000));
        for _ in 0..800 {
            // 800 × 64 KiB = 50 MiB
            if wr.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
            counter.fetch_add(0x10000, Ordering::SeqCst);
        }
    });
    let mut answer = Vec::new();
    let _ = timeout(Duration::from_secs(30), async {
        let mut buf = [0u8; 4096];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    let at_answer = sent.load(Ordering::SeqCst);
    assert!(
        at_answer < 50 << 20,
        "answered before the client finished sending ({at_answer} bytes sent)"
    );
    writer.abort();
}

#[tokio::test]
async fn the_per_address_cap_refuses_extra_connections_from_one_address_only() {
    let g = start("", "max_connections_per_ip = 4").await;
    let crowd: IpAddr = [127, 0, 0, 3].into();
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect_from(crowd, g.running.addr).await);
    }
    eventually(10, "4 admitted connections", || async {
        (g.running.open_connections() == 4).then_some(())
    })
    .await;
    let mut fifth = connect_from(crowd, g.running.addr).await;
    assert!(
        closed_within(&mut fifth, 10).await,
        "the 5th connection is closed"
    );
    let (status, ..) = raw(&g.url("/free"), &[]).await;
    assert_eq!(status, 200, "another address is served");

    // One of the four closes: the address may connect again.
    drop(held.pop());
    eventually(10, "the slot to be released", || async {
        (g.running.open_connections() == 3).then_some(())
    })
    .await;
    let mut again = connect_from(crowd, g.running.addr).await;
    again
        .write_all(b"GET /free HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    again.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn at_the_total_cap_new_connections_wait_until_one_closes() {
    let g = start("", "max_connections = 3\nmax_connections_per_ip = 0").await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(g.running.addr).await.unwrap());
    }
    eventually(10, "3 open connections", || async {
        (g.running.open_connections() == 3).then_some(())
    })
    .await;
    // The 4th is accepted by the kernel (backlog) but not served while the cap is full.
    let mut fourth = TcpStream::connect(g.running.addr).await.unwrap();
    fourth
        .write_all(b"GET /free HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    assert!(
        timeout(Duration::from_millis(300), fourth.read(&mut buf))
            .await
            .is_err(),
        "served over the connection cap"
    );
    assert_eq!(g.running.open_connections(), 3);
    drop(held.pop());
    let mut answer = String::new();
    timeout(Duration::from_secs(10), fourth.read_to_string(&mut answer))
        .await
        .expect("served once a slot is free")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn silent_and_idle_connections_are_closed_but_a_slow_request_is_not_cut() {
    let g = start(
        "header_read_timeout_secs = 1\nupstream_timeout_secs = 3",
        "idle_timeout_secs = 1",
    )
    .await;
    // Connected, never a byte: closed after the head timeout.
    let mut silent = TcpStream::connect(g.running.addr).await.unwrap();
    assert!(
        closed_within(&mut silent, 10).await,
        "a silent connection stays open"
    );

    // One request, then keep-alive idle: closed (HTTP/1.1: after the smaller of the idle and
    // head timeouts, both 1 s here; the HTTP/2 case below is the idle timeout alone).
    let mut idle = TcpStream::connect(g.running.addr).await.unwrap();
    idle.write_all(b"GET /free HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    assert!(
        closed_within(&mut idle, 10).await,
        "an idle keep-alive stays open"
    );

    // A request in flight for 3 s (the upstream hangs until the 504) outlives the 1 s idle
    // timeout: it gets its answer.
    let answer = exchange(
        g.running.addr,
        b"GET /hang/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 504"), "{answer}");

    // HTTP/2 (h2c): an idle connection is told GOAWAY and closes (hyper's HTTP/2 server has
    // no idle timeout of its own).
    let tcp = TcpStream::connect(g.running.addr).await.unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    let resp = send
        .send_request(
            Request::get(g.url("/free"))
                .body(Empty::<Bytes>::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.version(), http::Version::HTTP_2);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(body.starts_with(b"{"), "the echo upstream answered");
    timeout(Duration::from_secs(10), conn)
        .await
        .expect("the idle h2 connection is closed")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn an_upgraded_tunnel_keeps_its_connection_counted() {
    let upstream = crate::upgrade::echo_upstream().await;
    let g = start_to(upstream, "", "max_connections_per_ip = 2").await;
    let (mut a, head) = crate::upgrade::open(g.running.addr, "/free/ws", "").await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let (mut b, head) = crate::upgrade::open(g.running.addr, "/free/ws", "").await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert_eq!(crate::upgrade::roundtrip(&mut a, b"a").await, b"A");
    assert_eq!(g.running.open_connections(), 2, "both tunnels still count");

    // A third connection from the same address is over the cap while both tunnels run.
    let mut third = TcpStream::connect(g.running.addr).await.unwrap();
    assert!(
        closed_within(&mut third, 10).await,
        "the cap ignored the tunnels"
    );

    drop(a);
    eventually(10, "the closed tunnel to free its slot", || async {
        (g.running.open_connections() == 1).then_some(())
    })
    .await;
    assert_eq!(crate::upgrade::roundtrip(&mut b, b"b").await, b"B");
    let (status, ..) = raw(&g.url("/free/x"), &[]).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "served again (the echo upstream wants an upgrade)"
    );
}

#[tokio::test]
async fn http2_settings_reach_the_wire_and_a_reset_flood_closes_the_connection() {
    let g = start(
        "[server.http2]\nmax_concurrent_streams = 3\nmax_pending_accept_reset_streams = 5",
        "",
    )
    .await;
    let tcp = TcpStream::connect(g.running.addr).await.unwrap();
    let (send, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(conn);
    let mut send = send.ready().await.unwrap();
    let req = Request::get(g.url("/free/x")).body(()).unwrap();
    let (resp, _) = send.send_request(req, true).unwrap();
    assert_eq!(resp.await.unwrap().status(), 200);
    assert_eq!(
        send.current_max_send_streams(),
        3,
        "SETTINGS_MAX_CONCURRENT_STREAMS"
    );

    // Rapid reset (CVE-2023-44487): streams opened and cancelled at once, in one burst (the
    // test runtime is single-threaded: nothing is flushed before the loop ends).
    let g = start("[server.http2]\nmax_pending_accept_reset_streams = 5", "").await;
    let tcp = TcpStream::connect(g.running.addr).await.unwrap();
    let (send, conn) = h2::client::handshake(tcp).await.unwrap();
    let conn = tokio::spawn(conn);
    let mut send = send.ready().await.unwrap();
    let mut opened = 0;
    for _ in 0..200 {
        let Some(Ok(ready)) = send.clone().ready().now_or_never() else {
            break;
        };
        send = ready;
        let req = Request::get(g.url("/free/x")).body(()).unwrap();
        let Ok((_, mut stream)) = send.send_request(req, false) else {
            break;
        };
        stream.send_reset(h2::Reason::CANCEL);
        opened += 1;
    }
    assert!(opened > 5, "only {opened} streams opened");
    let ended = timeout(Duration::from_secs(10), conn)
        .await
        .expect("the flooding connection is closed")
        .unwrap();
    let e = ended.expect_err("closed with an error");
    assert_eq!(e.reason(), Some(h2::Reason::ENHANCE_YOUR_CALM), "{e:?}");
}
