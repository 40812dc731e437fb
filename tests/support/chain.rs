//! A real local EVM chain for x402 tests: anvil from npm `@foundry-rs/anvil-linux-amd64`
//! (pinned in `tests/interop/package-lock.json`) on a free loopback port, with the project's
//! EIP-3009 test token (`tests/chain/EIP3009Token.json`) deployed and minted to the buyer.
//!
//! Missing binaries are a test FAILURE with instructions, never a skip.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use gate402_protocols::x402::evm::{self, Address};
use gate402_rails::evm::alloy::providers::{DynProvider, Provider, ProviderBuilder};
use gate402_rails::evm::HttpOptions;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Root of the workspace.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `tests/interop/node_modules`, or a panic telling how to install it.
pub fn node_modules() -> PathBuf {
    let p = workspace().join("tests/interop/node_modules");
    assert!(
        p.join("@x402/core").is_dir() && p.join("@foundry-rs/anvil-linux-amd64").is_dir(),
        "npm interop peers missing at {}: run `npm ci --prefix tests/interop` (tests/run-all.sh does)",
        p.display()
    );
    p
}

/// Tokens minted to the buyer (1000 USDC).
pub const BUYER_TOKENS: u128 = 1_000_000_000;

/// A running anvil with the test token deployed.
pub struct Chain {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Dev private keys printed by anvil, hex with `0x`.
    pub keys: Vec<String>,
    /// The token contract.
    pub token: Address,
    /// JSON-RPC client.
    pub rpc: Rpc,
}

/// A JSON-RPC client with untyped answers (alloy's provider underneath).
#[derive(Clone)]
pub struct Rpc(DynProvider);

impl Rpc {
    /// A client for `url` (`http://…`).
    pub fn new(url: &str) -> Rpc {
        // reqwest is built without a default crypto provider: use the rail's client.
        let http = HttpOptions::new(Duration::from_secs(10)).client().unwrap();
        Rpc(ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect_reqwest(http, url.parse().expect("node URL"))
            .erased())
    }

    /// Call `method`; a transport or JSON-RPC error is returned as its text.
    pub async fn call(&self, method: &'static str, params: Value) -> Result<Value, String> {
        self.0
            .raw_request::<_, Value>(method.into(), params)
            .await
            .map_err(|e| e.to_string())
    }

    /// Call `method`, panicking on any error.
    pub async fn call_ok(&self, method: &'static str, params: Value) -> Value {
        self.call(method, params)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }
}

/// A JSON-RPC quantity (`"0x1a"`) as `u64`.
pub fn parse_quantity(v: &Value) -> Option<u64> {
    let s = v.as_str()?.strip_prefix("0x")?;
    u64::from_str_radix(if s.is_empty() { "0" } else { s }, 16).ok()
}

impl Chain {
    /// Start anvil, deploy the token from account #0, mint [`BUYER_TOKENS`] to account #1.
    pub async fn start() -> Chain {
        let bin = node_modules().join("@foundry-rs/anvil-linux-amd64/bin/anvil");
        let mut child = Command::new(&bin)
            .args(["--host", "127.0.0.1", "--port", "0", "--accounts", "5"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut keys = Vec::new();
        let url = loop {
            let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
                .await
                .expect("anvil did not start within 30 s")
                .expect("anvil stdout")
                .expect("anvil exited before listening");
            if let Some(k) = line
                .split_whitespace()
                .nth(1)
                .filter(|k| k.len() == 66 && line.starts_with('('))
            {
                keys.push(k.to_string());
            }
            if let Some(addr) = line.strip_prefix("Listening on ") {
                break format!("http://{}", addr.trim());
            }
        };
        // Keep draining anvil's log so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        assert!(keys.len() >= 4, "anvil printed no private keys");
        let rpc = Rpc::new(&url);
        let mut chain = Chain {
            child,
            url,
            keys,
            token: [0; 20],
            rpc,
        };
        let artifact: Value = serde_json::from_str(
            &std::fs::read_to_string(workspace().join("tests/chain/EIP3009Token.json")).unwrap(),
        )
        .unwrap();
        let receipt = chain
            .send(0, None, artifact["bytecode"].as_str().unwrap())
            .await;
        chain.token = evm::parse_address(receipt["contractAddress"].as_str().unwrap()).unwrap();
        let mut mint = hex::decode("40c10f19").unwrap(); // mint(address,uint256)
        mint.extend_from_slice(&evm::word_addr(&chain.address(1)));
        mint.extend_from_slice(&evm::word_u128(BUYER_TOKENS));
        let token = chain.token;
        chain
            .send(0, Some(&token), &format!("0x{}", hex::encode(mint)))
            .await;
        chain
    }

    /// The secret key of dev account `i`.
    pub fn key(&self, i: usize) -> secp256k1::SecretKey {
        let k = hex::decode(self.keys[i].trim_start_matches("0x")).unwrap();
        secp256k1::SecretKey::from_slice(&k).unwrap()
    }

    /// The address of dev account `i`.
    pub fn address(&self, i: usize) -> Address {
        evm::address_of_key(&self.key(i))
    }

    /// Send a transaction from unlocked dev account `from` and return its receipt.
    pub async fn send(&self, from: usize, to: Option<&Address>, data: &str) -> Value {
        let mut tx =
            json!({"from": evm::checksum(&self.address(from)), "data": data, "gas": "0x500000"});
        if let Some(to) = to {
            tx["to"] = json!(evm::checksum(to));
        }
        let hash = self.rpc.call_ok("eth_sendTransaction", json!([tx])).await;
        let receipt = self.receipt(&hash).await;
        assert_eq!(
            parse_quantity(&receipt["status"]),
            Some(1),
            "tx failed: {receipt}"
        );
        receipt
    }

    /// Wait (bounded) until the node has mined `hash`, and return the receipt.
    pub async fn receipt(&self, hash: &Value) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let r = self
                .rpc
                .call_ok("eth_getTransactionReceipt", json!([hash]))
                .await;
            if !r.is_null() {
                return r;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no receipt for {hash}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Token balance of `who`.
    pub async fn balance(&self, who: &Address) -> u128 {
        let mut data = hex::decode("70a08231").unwrap();
        data.extend_from_slice(&evm::word_addr(who));
        let call =
            json!({"to": evm::checksum(&self.token), "data": format!("0x{}", hex::encode(data))});
        let v = self.rpc.call_ok("eth_call", json!([call, "latest"])).await;
        u128::from_str_radix(&v.as_str().unwrap()[2..][32..], 16).unwrap()
    }

    /// Stop anvil.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Run `node tests/interop/x402/<script>` with `env` (keys go through the environment, never
/// the command line) and parse the last stdout line as JSON. Fails with node's stderr.
pub async fn node_json(script: &str, env: &[(&str, String)]) -> Value {
    node_modules();
    let path = workspace().join("tests/interop/x402").join(script);
    let mut cmd = Command::new("node");
    cmd.arg(&path).kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within 120 s"))
        .unwrap_or_else(|e| panic!("cannot run node (is Node.js installed?): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|_| panic!("{script}: not JSON: {stdout}"))
}

/// A long-running node peer (`facilitator.mjs`, `express_server.mjs`): started with `env`,
/// ready once it prints `LISTENING <port>`; killed when dropped.
pub struct NodePeer {
    _child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl NodePeer {
    /// Start `tests/interop/x402/<script>` and wait for its `LISTENING` line.
    pub async fn start(script: &str, env: &[(&str, String)]) -> NodePeer {
        NodePeer::start_script(&format!("x402/{script}"), &[], env).await
    }

    /// Start `tests/interop/<script>` (a path below it) with `args` and `env`, and wait for
    /// its `LISTENING` line.
    pub async fn start_script(script: &str, args: &[&str], env: &[(&str, String)]) -> NodePeer {
        node_modules();
        let path = workspace().join("tests/interop").join(script);
        let mut cmd = Command::new("node");
        cmd.arg(&path)
            .args(args)
            .current_dir(workspace().join("tests/interop"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run node (is Node.js installed?): {e}"));
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let port = loop {
            let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
                .await
                .unwrap_or_else(|_| panic!("{script} not ready within 60 s"))
                .expect("stdout")
                .unwrap_or_else(|| panic!("{script} exited before listening"));
            if let Some(p) = line.strip_prefix("LISTENING ") {
                break p.trim().to_string();
            }
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        NodePeer {
            _child: child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}
