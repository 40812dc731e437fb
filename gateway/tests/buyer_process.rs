//! Two concurrent `gate402 get` processes sharing one cache directory and a daily budget that
//! covers exactly one payment: exactly one pays, the other is refused with exit code 3. Real
//! binaries throughout: `gate402 simnet` (LND-compatible nodes alice and bob), `gate402 serve`
//! minting on bob, the buyers paying from alice.

use std::{path::Path, process::Stdio, time::Duration};

use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

fn gate402(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gate402"));
    cmd.args(args)
        .env("GATE402_L402_SECRET", "2a".repeat(32))
        .env("GATE402_LOG", "warn")
        .env_remove("GATE402_POLICY")
        .env_remove("GATE402_CACHE_DIR")
        .kill_on_drop(true);
    cmd
}

/// Spawn with stdout piped and wait (≤ 60 s) for a line containing `ready`; that line.
async fn start(mut cmd: Command, ready: &str, log: &Path) -> (Child, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(l) = lines.next_line().await.unwrap() {
            if l.contains(ready) {
                return l;
            }
        }
        panic!("exited early: {}", std::fs::read_to_string(log).unwrap());
    })
    .await
    .expect("ready in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, line)
}

/// alice's balance from the simnet control API.
async fn alice_msat(sim: &Path) -> u64 {
    let addr = std::fs::read_to_string(sim.join("control.addr")).unwrap();
    let text = fetch(&format!("http://{}/nodes", addr.trim())).await;
    let v: Value = serde_json::from_str(&text).unwrap();
    let nodes = v
        .as_array()
        .cloned()
        .or_else(|| v["nodes"].as_array().cloned())
        .unwrap();
    nodes
        .iter()
        .find(|n| n["name"] == "alice")
        .and_then(|n| n["balance_msat"].as_u64())
        .unwrap()
}

async fn fetch(url: &str) -> String {
    use http_body_util::{BodyExt, Empty};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<bytes::Bytes>>();
    let resp = client.get(url.parse().unwrap()).await.unwrap();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_get_processes_cannot_overspend_a_budget() {
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("sim");
    let (_simnet, _) = start(
        gate402(&[
            "simnet",
            "--dir",
            sim.to_str().unwrap(),
            "--nodes",
            "alice,bob",
        ]),
        "simnet ready",
        &dir.path().join("simnet.log"),
    )
    .await;
    let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = upstream.local_addr().unwrap();
    let app = axum::Router::new().fallback(|| async { "paid content" });
    tokio::spawn(async move { axum::serve(upstream, app).await });
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://{up}\"\n\
             [lightning]\nbackend = \"lnd\"\ndir = \"{}\"\n\
             [store]\npath = \"{}\"\n\
             [[route]]\nname = \"ln\"\npath_prefix = \"/ln/\"\nprice_sat = 100\n\
             protocols = [\"x402\"]\nx402 = {{ lightning = true }}\n",
            sim.join("bob").display(),
            dir.path().join("store.sqlite").display(),
        ),
    )
    .unwrap();
    let (_gateway, line) = start(
        gate402(&["serve", "--config", config.to_str().unwrap()]),
        "listening on",
        &dir.path().join("gateway.log"),
    )
    .await;
    let base = line.rsplit(' ').next().unwrap().to_string();
    let before = alice_msat(&sim).await;

    // Budget for one payment (100 sat + 10 sat max fee), two buyers at once.
    let cache = dir.path().join("cache");
    let alice = sim.join("alice");
    let url = format!("{base}/ln/x");
    let buyer = || {
        gate402(&[
            "get",
            &url,
            "--lnd-dir",
            alice.to_str().unwrap(),
            "--cache-dir",
            cache.to_str().unwrap(),
            "--budget-daily",
            "150",
            "--json",
            "-s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
    };
    let (a, b) = (buyer(), buyer());
    let (a, b) = tokio::join!(a.wait_with_output(), b.wait_with_output());
    let mut codes: Vec<i32> = [&a, &b]
        .iter()
        .map(|o| o.as_ref().unwrap().status.code().unwrap())
        .collect();
    codes.sort();
    let show = |o: &std::io::Result<std::process::Output>| {
        let o = o.as_ref().unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    assert_eq!(codes, [0, 3], "{}\n{}", show(&a), show(&b));
    assert_eq!(
        alice_msat(&sim).await,
        before - 100_000,
        "exactly one payment"
    );

    // The ledger both processes wrote: one spend of 100 sat.
    let out = gate402(&["budget", "--json", "--cache-dir", cache.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["totals"][0]["spent"], "100000", "{v}");
    assert_eq!(v["totals"][0]["pending"], "0", "{v}");

    // Progress on stderr (not a TTY: one line per event), the body on stdout.
    let out = gate402(&[
        "get",
        &url,
        "--lnd-dir",
        alice.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
        "--budget-daily",
        "1000",
    ])
    .output()
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("* paying 100 sat ..."), "{stderr}");
    assert!(
        stderr.contains("* paid 100000 msat (+0 msat fee) via x402 in "),
        "{stderr}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "paid content");
}
