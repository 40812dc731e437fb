//! Helpers for tests that run the real `gate402` binary: a fresh PostgreSQL database per
//! test, a config file, a gateway process whose readiness line is read from its stdout, and
//! L402 tokens minted with the test master secret (what a paid invoice would have bought).

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use bytes::Bytes;
use gate402_protocols::{l402::L402, Offer};
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// Master secret given to the gateway processes (hex in `GATE402_L402_SECRET`).
pub const SECRET: [u8; 32] = [42u8; 32];

/// A fresh PostgreSQL database (server on 127.0.0.1:5432 or `GATE402_TEST_PG_URL`), dropped
/// with its connections at the end.
pub struct TestDb {
    name: String,
    /// Its URL.
    pub url: String,
}

fn admin_url() -> String {
    std::env::var("GATE402_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

impl TestDb {
    /// Create it; panics (never skips) if PostgreSQL is absent.
    pub async fn create() -> TestDb {
        let admin = admin_url();
        let name = format!("gate402_test_{}", hex::encode(rand::random::<[u8; 8]>()));
        let mut conn = PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL must run at {admin}: {e}"));
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        TestDb {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async move {
                let mut conn = PgConnection::connect(&admin_url()).await.ok()?;
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// Write a gateway config with route `api` (10 sat, capability `read`, valid 1 h) in front of
/// `upstream`, storing in `store_toml`.
pub fn write_config(dir: &Path, upstream: std::net::SocketAddr, store_toml: &str) -> PathBuf {
    let path = dir.join("gateway.toml");
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://{upstream}\"\n\
         [lightning]\nbackend = \"simnet\"\n{store_toml}\n\
         [[route]]\nname = \"api\"\npath_prefix = \"/api/\"\nprice_sat = 10\n\
         capabilities = [\"read\"]\nvalid_for_secs = 3600\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A `gate402` command with the test secret and quiet logs.
pub fn gate402(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gate402"));
    cmd.args(args)
        .env("GATE402_L402_SECRET", hex::encode(SECRET))
        .env("GATE402_LOG", "warn")
        .kill_on_drop(true);
    cmd
}

/// A running `gate402 serve`.
pub struct Gateway {
    /// The process.
    pub child: Child,
    /// Its base URL.
    pub base: String,
}

impl Gateway {
    /// Start `gate402 serve --config config` and wait (≤ 60 s) for its readiness line; its
    /// stderr goes to `log`.
    pub async fn start(config: &Path, log: &Path) -> Gateway {
        let stderr = std::fs::File::create(log).unwrap();
        let mut child = gate402(&["serve", "--config", config.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("gateway ready within 60 s")
            .unwrap()
            .unwrap_or_else(|| panic!("gateway exited: {}", std::fs::read_to_string(log).unwrap()));
        let base = line
            .strip_prefix("gate402 listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Gateway { child, base }
    }

    /// `kill -9` and reap.
    pub async fn kill9(mut self) {
        self.child.start_kill().unwrap(); // SIGKILL on Unix
        self.child.wait().await.unwrap();
    }
}

/// A fresh token for route `api`, as if its invoice had just been paid: the `Authorization`
/// value and the payment hash (hex).
pub fn mint_token() -> (String, String) {
    let preimage: [u8; 32] = rand::random();
    let hash: [u8; 32] = Sha256::digest(preimage).into();
    let offer = Offer {
        service: "api".into(),
        price_msat: 10_000,
        capabilities: vec!["read".into()],
        valid_for_secs: Some(3600),
        bind_price: false,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let macaroon = L402::new(&SECRET).unwrap().mint(&offer, hash, now);
    let cred = gate402_protocols::l402::L402Credential { macaroon, preimage };
    (cred.authorization(), hex::encode(hash))
}

/// GET `url` with an `Authorization` header: the status, or `None` if the connection failed.
pub async fn get(url: &str, auth: &str) -> Option<u16> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = http::Request::get(url)
        .header("authorization", auth)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = client.request(req).await.ok()?;
    let status = resp.status().as_u16();
    resp.into_body().collect().await.ok()?;
    Some(status)
}

/// GET `url`: the body as text (panics on failure).
pub async fn get_text(url: &str) -> String {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let resp = client
        .request(
            http::Request::get(url)
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8_lossy(&body).into_owned()
}

/// Payment hashes in the ledger, via `gate402 ledger --json`.
pub async fn ledger_refs(config: &Path) -> Vec<String> {
    let out = gate402(&["ledger", "--json", "--config", config.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["reference"].as_str().unwrap().to_string())
        .collect()
}

/// A running `gate402 simnet` with nodes `alice` and `bob` under a directory (killed on drop).
pub struct Simnet {
    _child: Child,
}

impl Simnet {
    /// Start it in `dir` and wait (≤ 30 s) for its readiness line.
    pub async fn start(dir: &Path) -> Simnet {
        let mut child = gate402(&[
            "simnet",
            "--dir",
            dir.to_str().unwrap(),
            "--nodes",
            "alice,bob",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(l) = lines.next_line().await.unwrap() {
                if l.contains("simnet ready") {
                    return;
                }
            }
            panic!("gate402 simnet exited early");
        })
        .await
        .expect("simnet ready in time");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Simnet { _child: child }
    }
}

/// Two `gate402 serve` processes on one fresh PostgreSQL database, both minting on node `bob`
/// of one shared `gate402 simnet` (buyer: node `alice`), with one route in front of the test
/// upstream. Fields drop in order: gateways, simnet, files, database.
pub struct Fleet {
    /// First process.
    pub a: Gateway,
    /// Second process.
    pub b: Gateway,
    /// The shared config file.
    pub config: PathBuf,
    /// The simnet directory (`alice/`, `bob/`).
    pub sim: PathBuf,
    _simnet: Simnet,
    _dir: tempfile::TempDir,
    _db: TestDb,
}

impl Fleet {
    /// Start both processes with `route` (the body of a `[[route]]` table) as their only route.
    pub async fn start(route: &str) -> Fleet {
        let db = TestDb::create().await;
        let dir = tempfile::tempdir().unwrap();
        let sim = dir.path().join("sim");
        let simnet = Simnet::start(&sim).await;
        let upstream = crate::upstream().await;
        let config = dir.path().join("gateway.toml");
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://{upstream}\"\n\
                 [lightning]\nbackend = \"lnd\"\ndir = \"{}\"\n\
                 [invoice_pool]\nsize = 0\n\
                 [store]\nbackend = \"postgres\"\ndatabase_url = \"{}\"\n\
                 [[route]]\n{route}",
                sim.join("bob").display(),
                db.url
            ),
        )
        .unwrap();
        let a = Gateway::start(&config, &dir.path().join("a.log")).await;
        let b = Gateway::start(&config, &dir.path().join("b.log")).await;
        Fleet {
            a,
            b,
            config,
            sim,
            _simnet: simnet,
            _dir: dir,
            _db: db,
        }
    }
}

/// An LND gRPC client on a simnet node's directory (`rpc.addr`, `tls.cert`, admin macaroon).
pub async fn lnd_wallet(node: &Path) -> gate402_rails::lnd::LndRail {
    use gate402_rails::lnd::{LndConfig, LndRail};
    LndRail::connect(LndConfig::from_files(
        std::fs::read_to_string(node.join("rpc.addr"))
            .unwrap()
            .trim(),
        node.join("tls.cert"),
        node.join("admin.macaroon"),
    ))
    .await
    .unwrap()
}

/// Write a secret file readable by its owner only (the gateway refuses world-readable ones).
pub fn write_secret(path: &Path, contents: impl AsRef<[u8]>) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, contents).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}
