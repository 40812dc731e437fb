//! The admin API with real processes: `gate402 simnet`, `gate402 serve` with an `[admin]`
//! section and `$GATE402_ADMIN_SECRET`, tokens from `gate402 admin token`, and a real `SIGHUP`
//! to the serve process: a new price in the file is applied, a broken file is refused and the
//! running routes kept.

use std::{path::Path, process::Stdio, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    process::{Child, Command},
};

const BIN: &str = env!("CARGO_BIN_EXE_gate402");
const ADMIN_SECRET: &str = "an admin secret of at least thirty-two bytes";

/// Spawn `gate402 args…`; read stdout until every marker has been seen, returning the lines.
async fn spawn_until(
    args: &[&str],
    envs: &[(&str, &str)],
    markers: &[&str],
) -> (Child, Vec<String>) {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn gate402");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut found = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), async {
        while found.len() < markers.len() {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("gate402 exited early");
            if markers.iter().any(|m| line.contains(m)) {
                found.push(line);
            }
        }
    })
    .await
    .expect("readiness lines in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, found)
}

/// `GET`/`PUT` over a fresh HTTP/1.1 connection: status and body.
async fn http(addr: &str, method: &str, path: &str, token: &str) -> (u16, serde_json::Value) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf);
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

fn write_config(path: &Path, upstream: &str, bob: &Path, price_sat: u64) {
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nupstream = \"{upstream}\"\n\n\
         [lightning]\nbackend = \"lnd\"\ndir = \"{}\"\n\n[store]\npath = \"{}\"\n\n\
         [admin]\nlisten = \"127.0.0.1:0\"\n\n\
         [[route]]\nname = \"api\"\npath_prefix = \"/api/\"\nprice_sat = {price_sat}\n",
        bob.display(),
        path.with_file_name("gate402.sqlite").display()
    );
    std::fs::write(path, text).unwrap();
}

async fn price(admin: &str, token: &str) -> u64 {
    let (status, routes) = http(admin, "GET", "/api/routes", token).await;
    assert_eq!(status, 200, "{routes}");
    routes["routes"][0]["price_msat"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_tokens_from_the_cli_and_a_real_sighup_reload() {
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
        &["simnet ready"],
    )
    .await;
    let config = tmp.path().join("gateway.toml");
    let upstream = "http://127.0.0.1:9"; // never reached: only 402s and the admin API here
    write_config(&config, upstream, &sim_dir.join("bob"), 10);
    let envs = [
        ("GATE402_L402_SECRET", "5a".repeat(32)),
        ("GATE402_ADMIN_SECRET", ADMIN_SECRET.to_string()),
    ];
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (gw, lines) = spawn_until(
        &["serve", "--config", config.to_str().unwrap()],
        &envs,
        &["gate402 admin on", "listening on"],
    )
    .await;
    let admin = lines[0].rsplit("http://").next().unwrap().to_string();

    let token = |role: &str| {
        let out = std::process::Command::new(BIN)
            .args(["admin", "token", "--role", role, "--ttl", "10m"])
            .env("GATE402_ADMIN_SECRET", ADMIN_SECRET)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let admin_token = token("admin");
    assert_eq!(price(&admin, &admin_token).await, 10_000);
    assert_eq!(http(&admin, "GET", "/api/routes", "not-a-jwt").await.0, 401);
    // A role that does not exist, and no secret: usage errors.
    let bad = std::process::Command::new(BIN)
        .args(["admin", "token", "--role", "root"])
        .env("GATE402_ADMIN_SECRET", ADMIN_SECRET)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let none = std::process::Command::new(BIN)
        .args(["admin", "token"])
        .env_remove("GATE402_ADMIN_SECRET")
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(2));

    let hup = || {
        let status = std::process::Command::new("kill")
            .args(["-HUP", &gw.id().unwrap().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    // A new price in the file, then SIGHUP: applied without a restart.
    write_config(&config, upstream, &sim_dir.join("bob"), 15);
    hup();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while price(&admin, &admin_token).await != 15_000 {
        assert!(tokio::time::Instant::now() < deadline, "the SIGHUP reload");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A broken file: refused and reported; the running routes stay.
    std::fs::write(&config, "[[route]]\nname = \"api\"\nprice_sat = \"ten\"\n").unwrap();
    hup();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, status) = http(&admin, "GET", "/api/status", &admin_token).await;
        if status["reloads"]["last_error"]["error"].is_string() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the refused reload");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        price(&admin, &admin_token).await,
        15_000,
        "the running config stays"
    );

    // check-config sees a broken [admin] key.
    write_config(&config, upstream, &sim_dir.join("bob"), 15);
    let text = std::fs::read_to_string(&config).unwrap();
    let broken = text.replace(
        "[admin]\n",
        "[admin]\npublic_key_file = \"/nonexistent.pem\"\n",
    );
    std::fs::write(&config, broken).unwrap();
    let out = std::process::Command::new(BIN)
        .args(["check-config", config.to_str().unwrap()])
        .env("GATE402_L402_SECRET", "5a".repeat(32))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nonexistent.pem"));
}
