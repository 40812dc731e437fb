//! `gate402 mcp` driven over stdio like an agent framework would: real processes for the
//! simulated Lightning network (`gate402 simnet`, LND gRPC), the seller gateway
//! (`gate402 serve`, L402 routes) and the MCP server paying with node alice.

/// The generated interop matrix (shared with tests/it): this test is one of its cells.
#[path = "../../tests/support/matrix.rs"]
mod matrix;

use std::{path::Path, process::Stdio, time::Duration};

use axum::{routing::get, Router};
use serde_json::{json, Value};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    process::{Child, ChildStdin, ChildStdout, Command},
};

const BIN: &str = env!("CARGO_BIN_EXE_gate402");
/// Bound on every wait for a message from a child process.
const DEADLINE: Duration = Duration::from_secs(60);

/// Spawn `gate402 args…` and read its stdout until a line containing `marker`.
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
    let line = tokio::time::timeout(DEADLINE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains(marker) {
                return line;
            }
        }
        panic!("gate402 {args:?} exited before printing `{marker}`");
    })
    .await
    .expect("readiness line in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, line)
}

fn write_config(path: &Path, upstream: &str, bob: &Path) {
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nupstream = \"{upstream}\"\n\
         [lightning]\nbackend = \"lnd\"\ndir = \"{}\"\n\
         [invoice_pool]\nsize = 2\n\
         [store]\npath = \"{}\"\n\
         [[route]]\nname = \"api\"\npath_prefix = \"/api/\"\nprice_sat = 10\n\
         [[route]]\nname = \"premium\"\npath_prefix = \"/premium/\"\nprice_sat = 50\n",
        bob.display(),
        path.with_file_name("gate402.sqlite").display()
    );
    std::fs::write(path, text).unwrap();
}

/// The test's side of the MCP connection.
struct Mcp {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Mcp {
    async fn send(&mut self, msg: Value) {
        let mut line = serde_json::to_vec(&msg).unwrap();
        line.push(b'\n');
        self.stdin.write_all(&line).await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// Send request `id` and return its response (every stdout line must be JSON-RPC).
    async fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        let line = tokio::time::timeout(DEADLINE, self.stdout.next_line())
            .await
            .unwrap_or_else(|_| panic!("no answer to {method} in time"))
            .unwrap()
            .expect("gate402 mcp closed stdout");
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
        assert_eq!(v["jsonrpc"], "2.0", "{v}");
        assert_eq!(v["id"], json!(id), "{v}");
        v
    }

    /// `tools/call`: the result's `structuredContent` and `isError`.
    async fn call(&mut self, id: u64, name: &str, arguments: Value) -> (Value, bool) {
        let v = self
            .request(
                id,
                "tools/call",
                json!({"name": name, "arguments": arguments}),
            )
            .await;
        let r = &v["result"];
        assert_eq!(r["content"][0]["type"], "text", "{v}");
        let text: Value = serde_json::from_str(r["content"][0]["text"].as_str().unwrap()).unwrap();
        assert_eq!(
            text, r["structuredContent"],
            "text mirrors structuredContent"
        );
        (
            r["structuredContent"].clone(),
            r["isError"].as_bool().unwrap(),
        )
    }
}

/// Today's settled Lightning spend (msat) over all domains, from a `budget_status` result.
fn total_spent(budget: &Value) -> u64 {
    let msat = &budget["totals"][0];
    assert_eq!(msat["unit"], "msat", "{budget}");
    msat["spent"].as_str().unwrap().parse().unwrap()
}

/// A simulated Lightning network (nodes alice and bob), an upstream, and `gate402 serve`
/// selling `/api/` (10 sat) and `/premium/` (50 sat) over L402, minting on bob.
struct World {
    _sim: Child,
    _gw: Child,
    /// Gateway base URL.
    base: String,
    /// alice's LND directory (the buyer's wallet).
    alice: std::path::PathBuf,
    tmp: tempfile::TempDir,
}

impl World {
    async fn start() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let sim_dir = tmp.path().join("sim");
        let sim = sim_dir.to_str().unwrap();
        let (_sim, _) = spawn_until(
            &["simnet", "--dir", sim, "--nodes", "alice,bob"],
            &[],
            "simnet ready",
        )
        .await;
        let up = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let up_addr = up.local_addr().unwrap();
        let app = Router::new()
            .route("/api/hello", get(|| async { "hello, paid world" }))
            .route("/premium/report", get(|| async { "premium" }));
        tokio::spawn(async move { axum::serve(up, app).await });
        let config = tmp.path().join("gateway.toml");
        write_config(&config, &format!("http://{up_addr}"), &sim_dir.join("bob"));
        let secret = "22".repeat(32);
        let (_gw, line) = spawn_until(
            &["serve", "--config", config.to_str().unwrap()],
            &[("GATE402_L402_SECRET", secret.as_str())],
            "listening on",
        )
        .await;
        World {
            _sim,
            _gw,
            base: line.rsplit(' ').next().unwrap().to_string(),
            alice: sim_dir.join("alice"),
            tmp,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_quotes_pays_and_checks_its_budget_over_mcp() {
    let world = World::start().await;
    let base = world.base.clone();
    let host = base.trim_start_matches("http://").to_string();
    let url = format!("{base}/api/hello");

    let (alice, cache) = (&world.alice, world.tmp.path().join("cache"));
    let mut child = Command::new(BIN)
        .args(["mcp", "--max-cost", "100", "--max-fee", "1"])
        .args(["--budget-domain-daily", "30", "--budget-daily", "40"])
        .arg("--lnd-dir")
        .arg(alice)
        .arg("--cache-dir")
        .arg(&cache)
        .env_remove("GATE402_EVM_KEY")
        .env("GATE402_LOG", "info") // logs must stay on stderr
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut mcp = Mcp {
        stdin: child.stdin.take().unwrap(),
        stdout: BufReader::new(child.stdout.take().unwrap()).lines(),
        child,
    };

    let init = mcp
        .request(
            1,
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "test-agent", "version": "1"}}),
        )
        .await;
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18", "{init}");
    assert!(init["result"]["capabilities"]["tools"].is_object());
    mcp.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await;

    let list = mcp.request(2, "tools/list", json!({})).await;
    let tools = list["result"]["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["fetch_paid_url", "quote_url", "budget_status"]);
    for t in tools {
        assert_eq!(t["inputSchema"]["type"], "object", "{t}");
        assert_eq!(t["outputSchema"]["type"], "object", "{t}");
    }
    assert_eq!(tools[0]["inputSchema"]["required"], json!(["url"]));
    for p in [
        "url",
        "method",
        "headers",
        "body",
        "max_cost_sats",
        "max_cost_evm",
    ] {
        assert!(tools[0]["inputSchema"]["properties"][p].is_object(), "{p}");
    }
    assert_eq!(tools[1]["inputSchema"]["required"], json!(["url"]));
    assert_eq!(tools[2]["inputSchema"]["additionalProperties"], false);

    // Quote: the L402 offer and what would be paid; nothing is paid.
    let (quote, is_error) = mcp.call(3, "quote_url", json!({"url": url})).await;
    assert!(!is_error, "{quote}");
    assert_eq!(quote["status"], 402);
    assert_eq!(quote["offers"][0]["protocol"], "l402", "{quote}");
    assert_eq!(
        quote["offers"][0]["amount"],
        json!({"value": "10000", "unit": "msat"})
    );
    assert_eq!(quote["would_pay"]["protocol"], "l402");
    assert_eq!(quote["would_pay"]["max_fee_msat"], 1000);
    assert_eq!(quote["cached_credential"], false);
    let (budget, _) = mcp.call(4, "budget_status", json!({})).await;
    assert_eq!(total_spent(&budget), 0, "a quote pays nothing: {budget}");
    assert_eq!(budget["totals"][0]["limit"], "40000", "{budget}");

    // Fetch: pays 10 sat over L402 and returns the upstream body.
    let (paid, is_error) = mcp
        .call(
            5,
            "fetch_paid_url",
            json!({"url": url, "max_cost_sats": 20}),
        )
        .await;
    assert!(!is_error, "{paid}");
    assert_eq!(paid["status"], 200);
    assert_eq!(paid["body"], "hello, paid world");
    assert_eq!(paid["body_truncated"], false);
    assert_eq!(paid["paid"], true);
    assert_eq!(paid["protocol"], "l402");
    assert_eq!(
        (&paid["amount"], &paid["unit"]),
        (&json!("10000"), &json!("msat"))
    );
    assert_eq!(paid["payment_hash"].as_str().unwrap().len(), 64);
    assert_eq!(paid["max_cost_msat"], 20_000);
    let text = paid.to_string();
    assert!(
        !text.contains("preimage") && !text.contains("macaroon"),
        "{text}"
    );

    // Budget: the spend (price + routing fee) is booked on the gateway's host, against the
    // configured daily limits.
    let (budget, is_error) = mcp.call(6, "budget_status", json!({})).await;
    assert!(!is_error, "{budget}");
    let spent = total_spent(&budget);
    assert!((10_000..=11_000).contains(&spent), "{budget}");
    let domain = &budget["domains"][0];
    assert_eq!(
        domain["domain"],
        host.split(':').next().unwrap(),
        "{budget}"
    );
    assert_eq!(domain["spent"], spent.to_string());
    assert_eq!(domain["pending"], "0");
    assert_eq!(domain["limit"], "30000", "--budget-domain-daily: {budget}");

    // Over the call's max cost: a tool error, nothing paid.
    let premium = format!("{base}/premium/report");
    let (refused, is_error) = mcp
        .call(
            7,
            "fetch_paid_url",
            json!({"url": premium, "max_cost_sats": 20}),
        )
        .await;
    assert!(is_error, "{refused}");
    assert_eq!(refused["error"], "refused_by_policy", "{refused}");
    assert_eq!(refused["paid"], false);
    // Within the call's and the policy's max cost (50 ≤ 100 sat) but beyond today's domain
    // budget (spent + 50 + fee > 30 sat): refused, nothing paid.
    let (refused, is_error) = mcp.call(8, "fetch_paid_url", json!({"url": premium})).await;
    assert!(is_error, "{refused}");
    assert_eq!(refused["error"], "budget_exceeded", "{refused}");
    assert_eq!(refused["paid"], false);
    assert!(
        refused["message"].as_str().unwrap().contains("domain"),
        "{refused}"
    );
    let (budget, _) = mcp.call(9, "budget_status", json!({})).await;
    assert_eq!(total_spent(&budget), spent, "nothing more paid: {budget}");
    assert_eq!(budget["totals"][0]["pending"], "0", "{budget}");

    // Protocol errors are JSON-RPC errors.
    let unknown = mcp.request(10, "resources/list", json!({})).await;
    assert_eq!(unknown["error"]["code"], -32601, "{unknown}");
    let bad = mcp
        .request(
            11,
            "tools/call",
            json!({"name": "fetch_paid_url", "arguments": {}}),
        )
        .await;
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    let pong = mcp.request(12, "ping", json!({})).await;
    assert_eq!(pong["result"], json!({}));

    // End of input: the server exits cleanly.
    drop(mcp.stdin);
    let status = tokio::time::timeout(DEADLINE, mcp.child.wait())
        .await
        .expect("gate402 mcp exits at end of input")
        .unwrap();
    assert!(status.success(), "{status}");
    assert_eq!(
        tokio::time::timeout(DEADLINE, mcp.stdout.next_line())
            .await
            .unwrap()
            .unwrap(),
        None,
        "nothing after the last answer"
    );
}

/// The reference MCP client (`@modelcontextprotocol/sdk`, pinned in `tests/interop`) drives
/// `gate402 mcp`: it negotiates its newest revision, validates every `structuredContent`
/// against the tool's `outputSchema`, and buys the paid URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_typescript_sdk_client_buys_through_gate402_mcp() {
    matrix::cell(
        "the_reference_typescript_sdk_client_buys_through_gate402_mcp",
        async {
            let interop = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/interop");
            assert!(
        interop
            .join("node_modules/@modelcontextprotocol/sdk")
            .exists(),
        "npm interop peers missing: run `npm ci --prefix tests/interop` (tests/run-all.sh does)"
    );
            let world = World::start().await;
            let cache = world.tmp.path().join("cache");
            let args = json!([
                "mcp",
                "--max-cost",
                "100",
                "--max-fee",
                "1",
                "--budget-domain-daily",
                "30",
                "--lnd-dir",
                world.alice,
                "--cache-dir",
                cache
            ]);
            let run = Command::new("node")
                .arg(interop.join("mcp/agent.mjs"))
                .current_dir(&interop)
                .env("GATE402_BIN", BIN)
                .env("GATE402_MCP_ARGS", args.to_string())
                .env("MCP_URL", format!("{}/api/hello", world.base))
                .env("MCP_OVER_URL", format!("{}/premium/report", world.base))
                .stderr(Stdio::inherit())
                .kill_on_drop(true)
                .output();
            let out = tokio::time::timeout(DEADLINE, run)
                .await
                .expect("the agent finishes in time")
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "agent failed: {stdout}");
            let seen: Value = serde_json::from_str(stdout.trim()).unwrap();
            assert_eq!(seen["server"]["name"], "gate402", "{seen}");
            assert_eq!(
                seen["tools"],
                json!(["fetch_paid_url", "quote_url", "budget_status"])
            );
            assert_eq!(seen["quote"]["isError"], false, "{seen}");
            assert_eq!(
                seen["quote"]["value"]["offers"][0]["amount"]["value"],
                "10000"
            );
            let fetched = &seen["fetched"];
            assert_eq!(fetched["isError"], false, "{seen}");
            assert_eq!(fetched["value"]["body"], "hello, paid world");
            assert_eq!(fetched["value"]["amount"], "10000");
            assert_eq!(seen["refused"]["isError"], true, "{seen}");
            assert_eq!(seen["refused"]["value"]["error"], "refused_by_policy");
            assert_eq!(seen["overBudget"]["isError"], true, "{seen}");
            assert_eq!(seen["overBudget"]["value"]["error"], "budget_exceeded");
            assert_eq!(seen["overBudget"]["value"]["paid"], false);
            let budget = &seen["budget"]["value"];
            let spent = total_spent(budget);
            assert!((10_000..=11_000).contains(&spent), "{seen}");
            assert_eq!(budget["domains"][0]["limit"], "30000", "{seen}");
            assert_eq!(seen["unknownTool"], -32602, "{seen}");
        },
    )
    .await;
}

/// Issue #16 "L": `gate402 macaroon bake --role read-only`, then the reference TypeScript SDK
/// client lists and calls `gate402 mcp --node-tools` against the simulator (results
/// validated against their output schemas by the SDK); no secret appears in any result; the
/// wallet's admin macaroon is refused for node tools without `--allow-spending-macaroon`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_tools_run_read_only_for_the_reference_typescript_sdk_client() {
    let interop = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/interop");
    assert!(
        interop
            .join("node_modules/@modelcontextprotocol/sdk")
            .exists(),
        "npm interop peers missing: run `npm ci --prefix tests/interop` (tests/run-all.sh does)"
    );
    let world = World::start().await;
    let alice = world.alice.to_str().unwrap().to_owned();
    let ro = world.tmp.path().join("readonly.macaroon");
    let bake = Command::new(BIN)
        .args([
            "macaroon",
            "bake",
            "--role",
            "read-only",
            "--lnd-dir",
            &alice,
            "--out",
        ])
        .arg(&ro)
        .output();
    let bake = tokio::time::timeout(DEADLINE, bake).await.unwrap().unwrap();
    assert!(
        bake.status.success(),
        "{}",
        String::from_utf8_lossy(&bake.stderr)
    );

    // The wallet's admin.macaroon can pay: refused for node tools (before serving).
    let refused = Command::new(BIN)
        .args(["mcp", "--node-tools", "--lnd-dir", &alice])
        .stdin(Stdio::null())
        .output();
    let refused = tokio::time::timeout(DEADLINE, refused)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("--allow-spending-macaroon"), "{err}");
    assert!(err.contains("admin macaroon"), "buyer warning: {err}");
    assert!(refused.stdout.is_empty());

    // Activity on alice's node: an invoice she was paid and a payment she made (both carry
    // preimages in LND's listings; neither may reach the agent).
    let (received, sent) = alice_activity(&world).await;

    let cache = world.tmp.path().join("cache");
    let args = json!([
        "mcp",
        "--node-tools",
        "--node-macaroon",
        ro,
        "--lnd-dir",
        alice,
        "--cache-dir",
        cache
    ]);
    let run = Command::new("node")
        .arg(interop.join("mcp/node_tools.mjs"))
        .current_dir(&interop)
        .env("GATE402_BIN", BIN)
        .env("GATE402_MCP_ARGS", args.to_string())
        .env("MCP_URL", format!("{}/api/hello", world.base))
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(DEADLINE, run)
        .await
        .expect("the agent finishes in time")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "agent failed: {stdout}");
    let seen: Value = serde_json::from_str(stdout.trim()).unwrap();
    let node_tools = json!([
        "node_info",
        "channel_balance",
        "decode_invoice",
        "wallet_balance",
        "list_channels",
        "list_invoices",
        "list_payments",
        "estimate_route_fee"
    ]);
    for t in node_tools.as_array().unwrap() {
        assert!(seen["tools"].as_array().unwrap().contains(t), "{seen}");
        assert!(
            seen["withOutputSchema"].as_array().unwrap().contains(t),
            "{seen}"
        );
    }
    assert_eq!(seen["info"]["isError"], false, "{seen}");
    assert_eq!(seen["info"]["value"]["alias"], "alice", "{seen}");
    assert_eq!(seen["info"]["value"]["pubkey"].as_str().unwrap().len(), 66);
    let bal = &seen["balance"]["value"]["local_balance"];
    assert_eq!(seen["balance"]["isError"], false, "{seen}");
    assert!(bal["msat"].as_u64().unwrap() > 0, "{seen}");
    assert_eq!(
        bal["sat"].as_u64().unwrap(),
        bal["msat"].as_u64().unwrap() / 1000
    );
    assert!(
        seen["invoice"].as_str().unwrap().starts_with("ln"),
        "{seen}"
    );
    let d = &seen["decoded"]["value"];
    assert_eq!(seen["decoded"]["isError"], false, "{seen}");
    assert_eq!(d["amount"]["msat"], 10_000, "{seen}");
    assert_eq!(d["amount"]["sat"], 10, "{seen}");
    assert_eq!(d["payment_hash"].as_str().unwrap().len(), 64, "{seen}");
    assert_eq!(seen["garbage"]["isError"], true, "{seen}");
    assert_eq!(
        seen["garbage"]["value"]["error"], "invalid_invoice",
        "{seen}"
    );

    check_listings(&seen, &received, &sent);

    // No secret in any result: no macaroon (hex), no preimage (field or value).
    let results = json!([
        seen["info"],
        seen["balance"],
        seen["decoded"],
        seen["garbage"],
        seen["wallet"],
        seen["channels"],
        seen["invoices"],
        seen["payments"],
        seen["feeForInvoice"],
        seen["feeToNode"]
    ])
    .to_string();
    for p in [&received.preimage, &sent.preimage] {
        assert!(!results.contains(&hex::encode(p)), "preimage leaked");
    }
    for secret in [
        std::fs::read(&ro).unwrap(),
        std::fs::read(world.alice.join("admin.macaroon")).unwrap(),
    ] {
        assert!(!results.contains(&hex::encode(&secret)), "macaroon leaked");
    }
    assert!(!results.contains("preimage"), "{results}");
}

/// alice is paid 5 sat by bob and pays bob 7 sat (LND connections with admin macaroons).
async fn alice_activity(world: &World) -> (gate402_rails::Payment, gate402_rails::Payment) {
    use gate402_rails::{lnd::LndConfig, lnd::LndRail, InvoiceRequest, LightningRail};
    let rail = |dir: std::path::PathBuf| async move {
        let addr = std::fs::read_to_string(dir.join("rpc.addr")).unwrap();
        let cfg = LndConfig::from_files(
            addr.trim(),
            dir.join("tls.cert"),
            dir.join("admin.macaroon"),
        );
        LndRail::connect(cfg).await.unwrap()
    };
    let alice = rail(world.alice.clone()).await;
    let bob = rail(world.alice.with_file_name("bob")).await;
    let req = |sat: u64| InvoiceRequest {
        amount_msat: sat * 1000,
        memo: "node tools".into(),
        expiry_secs: 600,
    };
    let inv = alice.create_invoice(req(5)).await.unwrap();
    let received = bob
        .pay_invoice(&inv.bolt11, Default::default())
        .await
        .unwrap();
    let inv = bob.create_invoice(req(7)).await.unwrap();
    let sent = alice
        .pay_invoice(&inv.bolt11, Default::default())
        .await
        .unwrap();
    (received, sent)
}

/// The five listing tools' results (already validated against their output schemas by the SDK).
fn check_listings(seen: &Value, received: &gate402_rails::Payment, sent: &gate402_rails::Payment) {
    for k in [
        "wallet",
        "channels",
        "invoices",
        "payments",
        "feeForInvoice",
        "feeToNode",
    ] {
        assert_eq!(seen[k]["isError"], false, "{k}: {seen}");
    }
    let w = &seen["wallet"]["value"];
    for k in [
        "total",
        "confirmed",
        "unconfirmed",
        "locked",
        "reserved_anchor",
    ] {
        assert_eq!(w[k]["msat"], w[k]["sat"].as_u64().unwrap() * 1000, "{w}");
    }
    let chans = seen["channels"]["value"]["channels"].as_array().unwrap();
    let bob_key = seen["decoded"]["value"]["destination"].clone();
    let to_bob = chans
        .iter()
        .find(|c| c["remote_pubkey"] == bob_key)
        .expect("a channel to bob");
    assert_eq!(to_bob["active"], true);
    assert!(to_bob["capacity"]["sat"].as_u64().unwrap() > 0, "{to_bob}");
    assert!(to_bob["chan_id"].as_str().unwrap().parse::<u64>().is_ok());

    let invs = seen["invoices"]["value"]["invoices"].as_array().unwrap();
    let hash = hex::encode(received.payment_hash);
    let inv = invs
        .iter()
        .find(|i| i["payment_hash"] == hash.as_str())
        .expect("alice's invoice");
    assert_eq!(inv["state"], "SETTLED", "{inv}");
    assert_eq!(
        inv["amount_paid"],
        json!({ "sat": 5, "msat": 5000 }),
        "{inv}"
    );
    let pays = &seen["payments"]["value"];
    let hash = hex::encode(sent.payment_hash);
    let list = pays["payments"].as_array().unwrap();
    let pay = list
        .iter()
        .find(|p| p["payment_hash"] == hash.as_str())
        .expect("alice's payment");
    assert_eq!(pay["status"], "SUCCEEDED", "{pay}");
    assert_eq!(pay["amount"], json!({ "sat": 7, "msat": 7000 }), "{pay}");
    assert!(pays["total_num_payments"].as_u64().unwrap() >= 1);

    for k in ["feeForInvoice", "feeToNode"] {
        let f = &seen[k]["value"];
        assert_eq!(f["failure_reason"], "FAILURE_REASON_NONE", "{k}: {f}");
        assert!(f["time_lock_delay"].as_u64().unwrap() > 0, "{k}: {f}");
        assert_eq!(
            f["routing_fee"]["sat"],
            f["routing_fee"]["msat"].as_u64().unwrap() / 1000
        );
    }
}
