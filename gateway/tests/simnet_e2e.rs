//! End to end with real processes: `gate402 simnet` (LND gRPC over TLS with macaroons),
//! `gate402 serve` with the `lnd` backend on node bob, and `gate402 get` paying with node
//! alice. Nothing is in-process but the upstream.

use std::{path::Path, process::Stdio, time::Duration};

use axum::{routing::get, Router};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

const BIN: &str = env!("CARGO_BIN_EXE_gate402");

/// Spawn `gate402 args…` and read its stdout until a line containing `marker`; returns the
/// child (killed on drop) and that line.
async fn spawn_until(args: &[&str], envs: &[(&str, &str)], marker: &str) -> (Child, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn gate402");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains(marker) {
                return line;
            }
        }
        panic!("gate402 {args:?} exited before printing `{marker}`");
    })
    .await
    .expect("readiness line in time");
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, line)
}

async fn run_get(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().await.unwrap()
}

fn write_config(path: &Path, upstream: &str, bob: &Path) {
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
upstream = "{upstream}"

[lightning]
backend = "lnd"
dir = "{}"

[invoice_pool]
size = 4

[store]
path = "{}"

[[route]]
name = "api"
path_prefix = "/api/"
price_sat = 10
"#,
        bob.display(),
        path.with_file_name("gate402.sqlite").display()
    );
    std::fs::write(path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pay_over_lnd_grpc_with_separate_processes() {
    let tmp = tempfile::tempdir().unwrap();
    let sim_dir = tmp.path().join("sim");
    let (_sim, _) = spawn_until(
        &[
            "simnet",
            "--dir",
            sim_dir.to_str().unwrap(),
            "--nodes",
            "alice,bob",
        ],
        &[],
        "simnet ready",
    )
    .await;

    let up = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up_addr = up.local_addr().unwrap();
    let app = Router::new().route("/api/hello", get(|| async { "hello, paid world" }));
    tokio::spawn(async move { axum::serve(up, app).await });

    let config = tmp.path().join("gateway.toml");
    write_config(&config, &format!("http://{up_addr}"), &sim_dir.join("bob"));
    let secret = "11".repeat(32);
    let (_gw, line) = spawn_until(
        &["serve", "--config", config.to_str().unwrap()],
        &[("GATE402_L402_SECRET", secret.as_str())],
        "listening on",
    )
    .await;
    let base = line.rsplit(' ').next().unwrap().to_string();
    let url = format!("{base}/api/hello");
    let alice = sim_dir.join("alice");
    let cache = tmp.path().join("cache");
    let wallet = [
        "--lnd-dir",
        alice.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
    ];

    // Over budget: refused by policy (exit 3), nothing paid.
    let mut args = vec!["get", "--max-cost", "5", url.as_str()];
    args.extend(wallet);
    let refused = run_get(&args).await;
    assert_eq!(
        refused.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    // Pays 10 sat via SendPaymentV2 and gets the upstream body.
    let mut args = vec!["get", "-v", url.as_str()];
    args.extend(wallet);
    let paid = run_get(&args).await;
    let stderr = String::from_utf8_lossy(&paid.stderr);
    assert_eq!(paid.status.code(), Some(0), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&paid.stdout), "hello, paid world");
    assert!(stderr.contains("paying 10 sat"), "{stderr}");

    // The cached token is reused by a new process: nothing paid.
    let again = run_get(&args).await;
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("reused cached credential"), "{stderr}");
    assert!(!stderr.contains("paying"), "{stderr}");

    // Faults switched at run time through the simnet control API reach the gateway over gRPC:
    // offline → 503 (+ Retry-After), back → 402; a stopped gRPC server likewise.
    let control = std::fs::read_to_string(sim_dir.join("control.addr")).unwrap();
    let unpaid: http::Uri = format!("{base}/api/other").parse().unwrap();
    for (off, on) in [
        (
            ("PUT", "/nodes/bob/faults", r#"{"offline":true}"#),
            ("PUT", "/nodes/bob/faults", "{}"),
        ),
        (
            ("POST", "/nodes/bob/stop", ""),
            ("POST", "/nodes/bob/start", ""),
        ),
    ] {
        assert_eq!(control_call(&control, off).await, 200);
        wait_for_status(&unpaid, 503).await;
        assert_eq!(control_call(&control, on).await, 200);
        wait_for_status(&unpaid, 402).await;
    }
}

async fn control_call(addr: &str, (method, path, body): (&str, &str, &str)) -> u16 {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let req = http::Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", addr.trim()))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_string(),
        )))
        .unwrap();
    client.request(req).await.unwrap().status().as_u16()
}

/// Poll the gateway until `uri` answers `want` (bounded: 15 s).
async fn wait_for_status(uri: &http::Uri, want: u16) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let got = client.get(uri.clone()).await.unwrap().status().as_u16();
        if got == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{uri}: still {got}, wanted {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `serve --log-format json`: every stderr line is a JSON object; one `gate402::access`
/// event per request with route, protocol, outcome, status and latency; no secret, credential
/// or preimage in any line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_have_one_access_event_per_request_and_no_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let sim_dir = tmp.path().join("sim");
    let (_sim, _) = spawn_until(
        &[
            "simnet",
            "--dir",
            sim_dir.to_str().unwrap(),
            "--nodes",
            "alice,bob",
        ],
        &[],
        "simnet ready",
    )
    .await;
    let up = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up_addr = up.local_addr().unwrap();
    let app = Router::new().route("/api/hello", get(|| async { "hello, paid world" }));
    tokio::spawn(async move { axum::serve(up, app).await });
    let config = tmp.path().join("gateway.toml");
    write_config(&config, &format!("http://{up_addr}"), &sim_dir.join("bob"));
    let secret = "5a".repeat(32);
    let mut gw = Command::new(BIN)
        .args([
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--log-format",
            "json",
        ])
        .env("GATE402_L402_SECRET", &secret)
        .env("GATE402_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut out = BufReader::new(gw.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let l = out.next_line().await.unwrap().expect("serve exited");
            if l.contains("listening on") {
                return l;
            }
        }
    })
    .await
    .unwrap();
    let base = line.rsplit(' ').next().unwrap().to_string();
    let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut err = BufReader::new(gw.stderr.take().unwrap()).lines();
    let sink = logs.clone();
    tokio::spawn(async move {
        while let Ok(Some(l)) = err.next_line().await {
            sink.lock().unwrap().push(l);
        }
    });
    let url = format!("{base}/api/hello");
    let alice = sim_dir.join("alice");
    let cache = tmp.path().join("cache");
    let args = [
        "get",
        url.as_str(),
        "--lnd-dir",
        alice.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
    ];
    assert_eq!(run_get(&args).await.status.code(), Some(0), "paid");
    assert_eq!(run_get(&args).await.status.code(), Some(0), "reused");
    let forged = "L402 AgJAbWFjYXJvb24=:".to_string() + &"ab".repeat(32);
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let req = http::Request::get(&url)
        .header("authorization", &forged)
        .body(http_body_util::Empty::new())
        .unwrap();
    assert_eq!(client.request(req).await.unwrap().status(), 402);
    // Four requests through the gateway (get's unpaid try, its paid retry, the reuse, the
    // forged one): wait for their four access events.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let access = loop {
        let access: Vec<serde_json::Value> = logs
            .lock()
            .unwrap()
            .iter()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
            .filter(|v| v["target"] == "gate402::access")
            .collect();
        if access.len() >= 4 || tokio::time::Instant::now() > deadline {
            break access;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let outcomes: Vec<&str> = access
        .iter()
        .map(|v| v["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["challenged", "paid", "paid", "refused"],
        "{access:?}"
    );
    for v in &access {
        assert_eq!(v["route"], "api");
        assert!(v["status"].as_u64().is_some() && v["latency_ms"].as_f64().is_some());
    }
    assert_eq!(access[1]["protocol"], "l402");
    // Nothing secret anywhere: the master secret, the forged credential, any Authorization.
    let preimage_hex = &"ab".repeat(32);
    for l in logs.lock().unwrap().iter() {
        assert!(!l.contains(&secret), "{l}");
        assert!(
            !l.contains(preimage_hex) && !l.contains("AgJAbWFjYXJvb24"),
            "{l}"
        );
        assert!(
            !l.to_ascii_lowercase().contains("authorization: l402"),
            "{l}"
        );
    }
}
