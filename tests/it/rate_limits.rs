//! `[route.rate_limit]`: unpaid requests per client address get 429 past their burst while
//! another address still gets 402s; a paid token over its rate gets 429 and stays valid;
//! `X-Forwarded-For` names the client only when the peer is a trusted proxy.

use std::net::SocketAddr;

use bytes::Bytes;
use gate402::client::{ClientRequest, Policy};
use gate402_tests::{eventually, json_body, raw, serve, upstream_app, Harness, CONFIG};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::net::TcpSocket;

async fn harness(rate_limit: &str, server_extra: &str) -> Harness {
    let upstream = serve(upstream_app()).await;
    let text = CONFIG
        .replace("{UPSTREAM}", &format!("http://{upstream}"))
        .replace(
            "retry_after_secs = 7\n",
            &format!("retry_after_secs = 7\n{server_extra}"),
        )
        .replace(
            "valid_for_secs = 3600\n",
            &format!("valid_for_secs = 3600\nrate_limit = {{ {rate_limit} }}\n"),
        );
    // No pool: every 402 mints its invoice, so invoices minted = challenges answered.
    Harness::start_with(&format!("{text}\n[invoice_pool]\nsize = 0\n")).await
}

/// GET `path` from source address `from` (127.0.0.x: all of 127/8 is loopback on Linux).
async fn get_from(from: &str, to: SocketAddr, path: &str, headers: &[(&str, &str)]) -> u16 {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let stream = socket.connect(to).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = http::Request::get(path).header("host", to.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = send
        .send_request(req.body(Empty::<Bytes>::new()).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let _ = resp.into_body().collect().await;
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpaid_flood_from_one_address_gets_429_while_another_gets_402() {
    let h = harness("unpaid_per_second = 1, unpaid_burst = 10", "").await;
    let to = h.gateway.addr;
    let mut statuses = Vec::new();
    for _ in 0..200 {
        statuses.push(get_from("127.0.0.1", to, "/api/a", &[]).await);
    }
    let first_429 = statuses.iter().position(|s| *s == 429).expect("429s");
    assert!(first_429 >= 10, "not before the burst: {statuses:?}");
    assert!(statuses[..first_429].iter().all(|s| *s == 402));
    assert!(statuses.iter().filter(|s| **s == 429).count() >= 180);
    // Another address is not affected.
    assert_eq!(get_from("127.0.0.2", to, "/api/a", &[]).await, 402);
    // The 429 carries Retry-After and the RateLimit fields, and no challenge.
    let (status, headers, body) = raw(&h.url("/api/a"), &[]).await;
    assert_eq!(status, 429);
    assert!(headers.contains_key("retry-after"));
    assert_eq!(headers["ratelimit-policy"], "\"unpaid\";q=10;w=10");
    assert!(headers["ratelimit"]
        .to_str()
        .unwrap()
        .starts_with("\"unpaid\";r=0;t="));
    assert!(!headers.contains_key("www-authenticate"));
    assert_eq!(json_body(&body)["reason"], "rate_limited");
    // The limited requests minted nothing: one invoice per 402 answered.
    let answered_402 = statuses.iter().filter(|s| **s == 402).count() + 1;
    assert_eq!(h.net.invoices_count("seller"), answered_402);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_token_over_its_rate_gets_429_and_stays_valid() {
    let h = harness("paid_per_second = 1, paid_burst = 2", "").await;
    let client = h.client("c", Policy::default());
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = client
            .send(&ClientRequest::get(h.url("/api/a")))
            .await
            .unwrap();
        statuses.push(r.response.status().as_u16());
    }
    assert_eq!(&statuses[..2], [200, 200], "{statuses:?}");
    assert!(statuses[2..].contains(&429), "{statuses:?}");
    // Still valid: served again once the rate allows, and never paid twice.
    eventually(10, "served again", || async {
        let r = client
            .send(&ClientRequest::get(h.url("/api/a")))
            .await
            .unwrap();
        (r.response.status() == 200).then_some(())
    })
    .await;
    assert_eq!(h.seller_msat(), 10_000, "one purchase");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_forwarded_for_is_believed_only_from_trusted_proxies() {
    // Untrusted peer: every request counts against 127.0.0.1, whatever it claims.
    let h = harness("unpaid_per_second = 1, unpaid_burst = 3", "").await;
    let mut statuses = Vec::new();
    for i in 0..8 {
        let xff = format!("198.51.100.{i}");
        statuses.push(
            get_from(
                "127.0.0.1",
                h.gateway.addr,
                "/api/a",
                &[("x-forwarded-for", &xff)],
            )
            .await,
        );
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    // Trusted peer: each forwarded client has its own bucket.
    let h = harness(
        "unpaid_per_second = 1, unpaid_burst = 3",
        "trusted_proxies = [\"127.0.0.1/32\"]\n",
    )
    .await;
    for i in 0..8 {
        let xff = format!("203.0.113.9, 198.51.100.{i}");
        let s = get_from(
            "127.0.0.1",
            h.gateway.addr,
            "/api/a",
            &[("x-forwarded-for", &xff)],
        )
        .await;
        assert_eq!(s, 402, "client {i}");
    }
}

#[test]
fn bad_trusted_proxies_and_bursts_are_refused() {
    let text = CONFIG.replace("{UPSTREAM}", "http://127.0.0.1:1").replace(
        "retry_after_secs = 7\n",
        "retry_after_secs = 7\ntrusted_proxies = [\"nope\"]\n",
    );
    let e = gate402::config::Config::from_toml(&text)
        .unwrap()
        .validate()
        .unwrap_err();
    assert!(e.to_string().contains("trusted_proxies"), "{e}");
    let text = CONFIG.replace("{UPSTREAM}", "http://127.0.0.1:1").replace(
        "valid_for_secs = 3600\n",
        "valid_for_secs = 3600\nrate_limit = { paid_burst = 5 }\n",
    );
    let e = gate402::config::Config::from_toml(&text)
        .unwrap()
        .validate()
        .unwrap_err();
    assert!(e.to_string().contains("paid_burst"), "{e}");
}
