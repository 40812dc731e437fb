//! gRPC through the gateway (issue K, item 1): a tonic client calls a tonic test service
//! (`tests/proto/ticker.proto`) through the gateway as `gate402 serve` assembles it.
//!
//! Unpaid → Aperture's answer (trailers-only `grpc-status: 13`, `payment required`, the L402
//! challenges in the header metadata), which tonic surfaces as an error carrying them; the test
//! pays the invoice over the simnet and calls again with the credential in `authorization`
//! metadata (and in the `Grpc-Metadata-Macaroon` / `macaroon` forms): unary, a server stream of
//! 100 messages, a client stream, statuses and trailers passed through untouched. Downstream
//! over h2c and over TLS with ALPN `h2`; upstream over h2c and over TLS with a private CA.

use std::sync::Arc;

use gate402::{
    config::Config,
    server::Running,
    store::{self, StoreOptions},
};
use gate402_protocols::l402::L402Credential;
use gate402_rails::simnet::{SimNetwork, SimNode};
use gate402_tests::{
    grpc::{
        h2c_channel,
        pb::{ticker_client::TickerClient, CountRequest, EchoRequest, FailRequest, Num},
        serve_ticker, tls_channel,
    },
    transport::{macaroon_with_preimage, pay_l402, serve_gateway, TestCa},
    BUYER_MSAT,
};
use tonic::{metadata::MetadataValue, transport::Channel, Code, Request};

/// A gateway in front of the ticker service, with its simnet.
struct Gateway {
    net: SimNetwork,
    buyer: SimNode,
    running: Running,
    _dir: tempfile::TempDir,
}

fn config(upstream: &str, server_extra: &str, limits: &str) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nupstream = \"{upstream}\"\nupstream_timeout_secs = 10\n\
         {server_extra}\n{limits}\n\
         [lightning]\nbackend = \"simnet\"\n\
         [[route]]\nname = \"ticker\"\npath_prefix = \"/gate402.test.Ticker/\"\nprice_sat = 10\n"
    )
}

async fn start(text: &str) -> Gateway {
    let config = Config::from_toml(text).expect("config parses");
    config.validate().expect("config is valid");
    let net = SimNetwork::new();
    let buyer = net.add_node("buyer", BUYER_MSAT);
    let seller = net.add_node("seller", 0);
    let dir = tempfile::tempdir().unwrap();
    let store = store::open(&StoreOptions::sqlite(dir.path().join("gate402.sqlite")))
        .await
        .unwrap();
    let running = serve_gateway(&config, Arc::new(seller), store).await;
    Gateway {
        net,
        buyer,
        running,
        _dir: dir,
    }
}

fn with_auth<T>(msg: T, credential: &L402Credential) -> Request<T> {
    let mut req = Request::new(msg);
    let value: MetadataValue<_> = credential.authorization().parse().unwrap();
    req.metadata_mut().insert("authorization", value);
    req
}

/// Unpaid call → the error carrying the challenge; pay it over the simnet.
async fn pay_unpaid_call(client: &mut TickerClient<Channel>, g: &Gateway) -> L402Credential {
    let err = client
        .echo(EchoRequest { text: "hi".into() })
        .await
        .expect_err("an unpaid call fails");
    assert_eq!(err.code(), Code::Internal, "{err:?}");
    assert_eq!(err.message(), "payment required");
    let headers = err.metadata().clone().into_headers();
    let lines: Vec<_> = headers
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert!(
        lines.iter().any(|l| l.starts_with("L402 macaroon=\"")),
        "the challenge travels in the error's metadata: {lines:?}"
    );
    pay_l402(&headers, &g.buyer).await
}

/// The paid calls every transport must carry: unary, a 100-message server stream with its
/// trailers, a failing stream whose trailers carry status, message and metadata.
async fn paid_calls(client: &mut TickerClient<Channel>, credential: &L402Credential) {
    let reply = client
        .echo(with_auth(
            EchoRequest {
                text: "paid".into(),
            },
            credential,
        ))
        .await
        .expect("a paid unary call")
        .into_inner();
    assert_eq!(reply.text, "paid");
    assert!(
        !reply.saw_credentials,
        "credentials are stripped before upstream"
    );

    let resp = client
        .count(with_auth(
            CountRequest {
                count: 100,
                ..CountRequest::default()
            },
            credential,
        ))
        .await
        .expect("a paid server stream");
    assert_eq!(resp.metadata().get("x-ticks").unwrap(), "100");
    let mut stream = resp.into_inner();
    let mut ticks = Vec::new();
    while let Some(t) = stream.message().await.expect("no stream error") {
        ticks.push(t.n);
    }
    assert_eq!(ticks, (1..=100).collect::<Vec<_>>());
    assert!(
        stream.trailers().await.expect("trailers").is_some(),
        "the stream ends with its trailers (grpc-status 0)"
    );

    let mut stream = client
        .count(with_auth(
            CountRequest {
                count: 5,
                fail_code: Code::FailedPrecondition as i32,
                fail_message: "stopped: ünïcode 100%".into(),
            },
            credential,
        ))
        .await
        .unwrap()
        .into_inner();
    let mut n = 0;
    let status = loop {
        match stream.message().await {
            Ok(Some(_)) => n += 1,
            Ok(None) => panic!("the stream should end with an error status"),
            Err(s) => break s,
        }
    };
    assert_eq!(n, 5);
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(status.message(), "stopped: ünïcode 100%");
    assert_eq!(status.metadata().get("x-detail").unwrap(), "kept");
}

#[tokio::test]
async fn grpc_over_h2c_unpaid_gets_the_challenge_paid_calls_stream_through() {
    let upstream = serve_ticker(None).await;
    let g = start(&config(&format!("h2c://{upstream}"), "", "")).await;
    let mut client = TickerClient::new(h2c_channel(g.running.addr).await);
    let credential = pay_unpaid_call(&mut client, &g).await;
    paid_calls(&mut client, &credential).await;

    // A unary error (trailers-only) keeps its status, message and metadata.
    let status = client
        .fail(with_auth(
            FailRequest {
                code: Code::NotFound as i32,
                message: "no such ticker".into(),
            },
            &credential,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(status.message(), "no such ticker");
    assert_eq!(status.metadata().get("x-detail").unwrap(), "kept");

    // A client stream: the request body streams through too.
    let nums = futures_util::stream::iter((1..=50).map(|value| Num {
        value,
        padding: Vec::new(),
    }));
    let total = client
        .sum(with_auth(nums, &credential))
        .await
        .expect("a paid client stream")
        .into_inner();
    assert_eq!((total.sum, total.messages), (1275, 50));

    // Aperture's gRPC client form: the hex macaroon with a `preimage=` caveat, in
    // `macaroon` metadata, and the grpc-gateway form `Grpc-Metadata-Macaroon`.
    for key in ["macaroon", "grpc-metadata-macaroon"] {
        let mut req = Request::new(EchoRequest { text: key.into() });
        let value: MetadataValue<_> = macaroon_with_preimage(&credential).parse().unwrap();
        req.metadata_mut().insert(key, value);
        let reply = client.echo(req).await.expect(key).into_inner();
        assert_eq!(reply.text, key);
        assert!(!reply.saw_credentials, "{key} is stripped");
        assert_eq!(reply.forwarded_proto, "http");
    }
    assert_eq!(g.net.balance_msat("seller").unwrap(), 10_000, "paid once");
}

#[tokio::test]
async fn grpc_over_tls_with_h2_by_alpn() {
    let upstream = serve_ticker(None).await;
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let issued = ca.issue(dir.path(), "gateway");
    let tls = format!(
        "tls_cert = \"{}\"\ntls_key = \"{}\"",
        issued.cert.display(),
        issued.key.display()
    );
    let g = start(&config(&format!("h2c://{upstream}"), &tls, "")).await;
    assert_eq!(g.running.scheme(), "https");
    let channel = tls_channel(g.running.addr, ca.client_config(&[b"h2", b"http/1.1"])).await;
    let mut client = TickerClient::new(channel);
    let credential = pay_unpaid_call(&mut client, &g).await;
    paid_calls(&mut client, &credential).await;
    let reply = client
        .echo(with_auth(EchoRequest { text: "tls".into() }, &credential))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.forwarded_proto, "https");
}

#[tokio::test]
async fn grpc_to_an_https_upstream_trusted_through_upstream_ca_file() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let issued = ca.issue(dir.path(), "upstream");
    let upstream = serve_ticker(Some(TestCa::server_config(&issued, &[b"h2"]))).await;
    let ca_file = ca.write_ca(dir.path(), "ca.pem");
    let url = format!("https://localhost:{}", upstream.port());
    let trusted = format!("upstream_ca_file = \"{}\"", ca_file.display());
    let g = start(&config(&url, &trusted, "")).await;
    let mut client = TickerClient::new(h2c_channel(g.running.addr).await);
    let credential = pay_unpaid_call(&mut client, &g).await;
    paid_calls(&mut client, &credential).await;

    // Without the CA the upstream's certificate is refused: UNAVAILABLE (HTTP 502), never a
    // plaintext fallback. (The credential is valid there too: same secret and route.)
    let untrusted = start(&config(&url, "", "")).await;
    let mut client = TickerClient::new(h2c_channel(untrusted.running.addr).await);
    let status = client
        .echo(with_auth(EchoRequest { text: "x".into() }, &credential))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(status.message(), "upstream_unavailable");
}

#[tokio::test]
async fn a_grpc_client_stream_over_the_body_limit_is_resource_exhausted() {
    let upstream = serve_ticker(None).await;
    let limits = "[server.limits]\nmax_body_bytes = 65536";
    let g = start(&config(&format!("h2c://{upstream}"), "", limits)).await;
    let mut client = TickerClient::new(h2c_channel(g.running.addr).await);
    let credential = pay_unpaid_call(&mut client, &g).await;

    let small = futures_util::stream::iter((1..=4).map(|value| Num {
        value,
        padding: vec![0; 8192],
    }));
    let total = client.sum(with_auth(small, &credential)).await.unwrap();
    assert_eq!(total.into_inner().messages, 4);

    let big = futures_util::stream::iter((1..=20).map(|value| Num {
        value,
        padding: vec![0; 8192],
    }));
    let status = client.sum(with_auth(big, &credential)).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(status.message(), "body_too_large");
}
