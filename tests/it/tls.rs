//! Downstream TLS (issue K, item 2): `[server] tls_cert` / `tls_key`, HTTP/1.1 and HTTP/2
//! chosen by ALPN, the certificate swapped by a reload (the function `SIGHUP` calls, and a real
//! `SIGHUP` to this process), a broken new pair refused with the old one kept in service.

use std::{net::SocketAddr, sync::Arc};

use bytes::Bytes;
use gate402::{
    config::Config,
    server::{tls::spawn_reload_on_sighup, Running},
    store::{self, StoreOptions},
};
use gate402_rails::simnet::SimNetwork;
use gate402_tests::{
    eventually, serve,
    transport::{serve_gateway, Issued, TestCa},
    upstream_app, BUYER_MSAT,
};
use http::{Request, StatusCode, Version};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
use tokio::net::TcpStream;

struct TlsGateway {
    running: Running,
    issued: Issued,
    ca: TestCa,
    dir: tempfile::TempDir,
    _net: SimNetwork,
}

async fn start() -> TlsGateway {
    let upstream = serve(upstream_app()).await;
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let issued = ca.issue(dir.path(), "gateway");
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://{upstream}\"\n\
         tls_cert = \"{}\"\ntls_key = \"{}\"\n\
         [lightning]\nbackend = \"simnet\"\n\
         [[route]]\nname = \"api\"\npath_prefix = \"/api/\"\nprice_sat = 10\n",
        issued.cert.display(),
        issued.key.display()
    );
    let config = Config::from_toml(&text).unwrap();
    config.validate().unwrap();
    let net = SimNetwork::new();
    net.add_node("buyer", BUYER_MSAT);
    let seller = net.add_node("seller", 0);
    let store = store::open(&StoreOptions::sqlite(dir.path().join("gate402.sqlite")))
        .await
        .unwrap();
    let running = serve_gateway(&config, Arc::new(seller), store).await;
    TlsGateway {
        running,
        issued,
        ca,
        dir,
        _net: net,
    }
}

/// One request over a fresh TLS connection offering `alpn`: the negotiated ALPN, the HTTP
/// version and status of the answer, its `x-forwarded-proto` as echoed by the upstream, and
/// the certificate the gateway presented.
struct Answer {
    alpn: Option<Vec<u8>>,
    version: Version,
    status: StatusCode,
    body: Bytes,
    cert: CertificateDer<'static>,
}

async fn get(addr: SocketAddr, ca: &TestCa, alpn: &[&[u8]], path: &str) -> Answer {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(ca.client_config(alpn)));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake");
    let (_, session) = tls.get_ref();
    let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
    let cert = session.peer_certificates().unwrap()[0].clone().into_owned();
    let uri = format!("https://localhost:{}{path}", addr.port());
    let io = TokioIo::new(tls);
    let resp = if alpn.as_deref() == Some(b"h2") {
        let (mut send, conn) =
            hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
                .await
                .unwrap();
        tokio::spawn(conn);
        let req = Request::get(uri).body(Empty::<Bytes>::new()).unwrap();
        send.send_request(req).await.unwrap()
    } else {
        let (mut send, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(conn);
        let req = Request::get(path)
            .header("host", "localhost")
            .body(Empty::<Bytes>::new())
            .unwrap();
        send.send_request(req).await.unwrap()
    };
    let (version, status) = (resp.version(), resp.status());
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        alpn,
        version,
        status,
        body,
        cert,
    }
}

fn cert_of(issued: &Issued) -> CertificateDer<'static> {
    CertificateDer::pem_file_iter(&issued.cert)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn https_serves_http1_and_h2_by_alpn() {
    let g = start().await;
    assert_eq!(g.running.scheme(), "https");
    for (offer, want_alpn, want_version) in [
        (
            &[&b"h2"[..], b"http/1.1"][..],
            Some(&b"h2"[..]),
            Version::HTTP_2,
        ),
        (
            &[&b"http/1.1"[..]][..],
            Some(&b"http/1.1"[..]),
            Version::HTTP_11,
        ),
        (&[][..], None, Version::HTTP_11),
    ] {
        let free = get(g.running.addr, &g.ca, offer, "/free").await;
        assert_eq!(free.alpn.as_deref(), want_alpn);
        assert_eq!(free.version, want_version);
        assert_eq!(free.status, 200);
        let echoed: serde_json::Value = serde_json::from_slice(&free.body).unwrap();
        assert_eq!(echoed["path"], "/free");
        let paid = get(g.running.addr, &g.ca, offer, "/api/x").await;
        assert_eq!(paid.version, want_version);
        assert_eq!(
            paid.status, 402,
            "the paywall answers over {want_version:?}"
        );
        assert_eq!(paid.cert, cert_of(&g.issued));
    }
    // Plain HTTP on the TLS port gets no HTTP answer: the connection is closed.
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        plain_request(g.running.addr),
    )
    .await
    .expect("the connection is closed");
    assert!(!answer.starts_with("HTTP/"), "{answer}");
}

/// A plaintext request to a TLS port: what comes back before the connection closes.
async fn plain_request(addr: SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let _ = tcp
        .write_all(b"GET /free HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let mut buf = Vec::new();
    let _ = tcp.read_to_end(&mut buf).await;
    String::from_utf8_lossy(&buf).to_string()
}

#[tokio::test]
async fn reload_swaps_the_certificate_and_a_broken_pair_keeps_the_old_one() {
    let g = start().await;
    let tls = g.running.tls().expect("serving TLS").clone();
    let first = get(g.running.addr, &g.ca, &[b"h2"], "/free").await.cert;
    assert_eq!(first, cert_of(&g.issued));

    let next = g.ca.issue(g.dir.path(), "next");
    std::fs::copy(&next.cert, &g.issued.cert).unwrap();
    std::fs::copy(&next.key, &g.issued.key).unwrap();
    tls.reload().expect("a good new pair is accepted");
    let second = get(g.running.addr, &g.ca, &[b"h2"], "/free").await.cert;
    assert_eq!(second, cert_of(&next));
    assert_ne!(second, first);

    // A truncated certificate file and a key that does not match: both refused, the
    // gateway keeps serving the second certificate.
    let text = std::fs::read_to_string(&next.cert).unwrap();
    std::fs::write(&g.issued.cert, &text[..text.len() / 2]).unwrap();
    assert!(tls.reload().is_err());
    std::fs::copy(&next.cert, &g.issued.cert).unwrap();
    let other = g.ca.issue(g.dir.path(), "other");
    std::fs::copy(&other.key, &g.issued.key).unwrap();
    let e = tls.reload().expect_err("a key of another certificate");
    assert!(e.to_string().contains("gateway.crt"), "{e}");
    let still = get(g.running.addr, &g.ca, &[b"http/1.1"], "/free").await;
    assert_eq!(still.cert, second);
    assert_eq!(still.status, 200);
    assert_eq!(tls.reload_stats().refused, 2);
}

#[tokio::test]
async fn sighup_reloads_the_certificate_and_refuses_a_broken_one() {
    let g = start().await;
    let tls = g.running.tls().unwrap().clone();
    let listener = spawn_reload_on_sighup(tls.clone()).unwrap();
    let hup = || {
        let status = std::process::Command::new("kill")
            .args(["-HUP", &std::process::id().to_string()])
            .status()
            .expect("kill(1)");
        assert!(status.success());
    };

    let next = g.ca.issue(g.dir.path(), "after-hup");
    std::fs::copy(&next.cert, &g.issued.cert).unwrap();
    std::fs::copy(&next.key, &g.issued.key).unwrap();
    hup();
    eventually(10, "the SIGHUP reload", || async {
        (tls.reload_stats().reloaded >= 1).then_some(())
    })
    .await;
    let served = get(g.running.addr, &g.ca, &[b"h2"], "/free").await.cert;
    assert_eq!(served, cert_of(&next));

    std::fs::write(
        &g.issued.key,
        "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    hup();
    eventually(10, "the refused SIGHUP reload", || async {
        (tls.reload_stats().refused >= 1).then_some(())
    })
    .await;
    let served = get(g.running.addr, &g.ca, &[b"h2"], "/free").await;
    assert_eq!(
        served.cert,
        cert_of(&next),
        "the old certificate stays in service"
    );
    assert_eq!(served.status, 200);
    listener.abort();
}

#[test]
fn check_config_loads_the_tls_pair_and_the_upstream_ca() {
    use gate402::server::ListenerOptions;
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let issued = ca.issue(dir.path(), "gw");
    let ca_file = ca.write_ca(dir.path(), "ca.pem");
    let server = |cert: &std::path::Path, ca: &std::path::Path| {
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nupstream = \"https://localhost:1\"\n\
             upstream_ca_file = \"{}\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\n\
             [lightning]\nbackend = \"simnet\"\n",
            ca.display(),
            cert.display(),
            issued.key.display()
        );
        Config::from_toml(&text).unwrap().server
    };
    ListenerOptions::check(&server(&issued.cert, &ca_file)).expect("a good setup");
    let e = ListenerOptions::check(&server(&dir.path().join("none.crt"), &ca_file)).unwrap_err();
    assert!(
        e.contains("server.tls_cert") && e.contains("none.crt"),
        "{e}"
    );
    let e =
        ListenerOptions::check(&server(&issued.cert, &dir.path().join("no-ca.pem"))).unwrap_err();
    assert!(e.contains("upstream_ca_file"), "{e}");
}
