//! `gate402 get` and `gate402 budget` in-process, paying over LND gRPC (the harness's simnet
//! buyer node served by the LND-compatible server): `--json` and `--dry-run` output shapes,
//! budget exhaustion mid-run (exit 3, nothing paid), `budget` show and reset.

use clap::Parser;
use gate402::cli::{run_budget, run_get_with_output, BudgetArgs, Exit, GetArgs};
use gate402_rails::{
    lnd_server::{serve_node, LndServerHandle},
    simnet::SimNode,
};
use gate402_tests::{serve, upstream_app, Harness, BUYER_MSAT};
use serde_json::Value;
use tokio::net::TcpListener;

/// A gateway with an x402 Lightning route `/x/` (100 sat), an MPP route `/mpp/` and a route
/// offering L402, MPP and x402 `/all/` (100 sat each).
pub const MIXED: &str = r#"
[server]
listen = "127.0.0.1:0"
upstream = "{UPSTREAM}"

[mpp]
realm = "gate402.test"
data_dir = "{DATA_DIR}"

[lightning]
backend = "simnet"

[[route]]
name = "x"
path_prefix = "/x/"
price_sat = 100
protocols = ["x402"]
x402 = { lightning = true }

[[route]]
name = "mpp"
path_prefix = "/mpp/"
price_sat = 100
protocols = ["mpp"]

[[route]]
name = "all"
path_prefix = "/all/"
price_sat = 100
protocols = ["l402", "mpp", "x402"]
x402 = { lightning = true }
"#;

/// Start the [`MIXED`] gateway.
pub async fn start_mixed() -> Harness {
    let upstream = serve(upstream_app()).await;
    let dir = tempfile::tempdir().unwrap();
    let text = MIXED
        .replace("{UPSTREAM}", &format!("http://{upstream}"))
        .replace("{DATA_DIR}", &dir.path().join("data").display().to_string());
    Harness::start_in(&text, dir).await
}

/// A simnet node served over LND's gRPC API, plus a cache directory for the CLI.
pub struct LndWallet {
    dir: tempfile::TempDir,
    _server: LndServerHandle,
}

impl LndWallet {
    /// Serve `node` on a loopback port.
    pub async fn serve(node: SimNode) -> LndWallet {
        let dir = tempfile::tempdir().unwrap();
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = serve_node(node, &dir.path().join("lnd"), l).await.unwrap();
        LndWallet {
            dir,
            _server: server,
        }
    }

    /// The cache directory the CLI calls share.
    pub fn cache(&self) -> String {
        self.dir.path().join("cache").display().to_string()
    }

    /// The `--lnd-dir` of the served node.
    pub fn lnd_dir(&self) -> String {
        self.dir.path().join("lnd").display().to_string()
    }
}

#[derive(Parser)]
struct GetCmd {
    #[command(flatten)]
    args: GetArgs,
}

#[derive(Parser)]
struct BudgetCmd {
    #[command(flatten)]
    args: BudgetArgs,
}

/// `gate402 get ARGS --lnd-dir … --cache-dir … -s`: exit code and stdout.
pub async fn get_cli(w: &LndWallet, args: &[&str]) -> (Exit, String) {
    let lnd = w.dir.path().join("lnd").display().to_string();
    let cache = w.cache();
    let mut argv = vec!["gate402"];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&["--lnd-dir", &lnd, "--cache-dir", &cache, "-s"]);
    let mut out = Vec::new();
    let code = run_get_with_output(GetCmd::parse_from(argv).args, &mut out).await;
    (code, String::from_utf8(out).unwrap())
}

/// `gate402 budget ARGS --cache-dir …`: exit code and stdout.
fn budget_cli(w: &LndWallet, args: &[&str]) -> (u8, String) {
    let cache = w.cache();
    let mut argv = vec!["gate402"];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&["--cache-dir", &cache]);
    let mut out = Vec::new();
    let code = run_budget(&BudgetCmd::parse_from(argv).args, &mut out);
    (code, String::from_utf8(out).unwrap())
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test]
async fn json_output_and_dry_run_shapes() {
    let h = start_mixed().await;
    let w = LndWallet::serve(h.buyer.clone()).await;
    let url = h.url("/all/a").to_string();

    // Quote: every offer, the chosen one, nothing paid.
    let (code, out) = get_cli(&w, &[&url, "--dry-run", "--json", "--prefer", "mpp,l402"]).await;
    assert_eq!(code, Exit::Ok, "{out}");
    let q = json(&out);
    let protocols: Vec<_> = q["offers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["protocol"].as_str().unwrap())
        .collect();
    assert_eq!(protocols, ["l402", "mpp", "x402"], "{q}");
    let chosen = q["chosen"].as_u64().unwrap() as usize;
    assert_eq!(q["offers"][chosen]["protocol"], "mpp");
    assert_eq!(q["would_pay"]["amount"]["value"], "100000");
    assert_eq!(q["would_pay"]["amount"]["unit"], "msat");
    assert_eq!(
        q["offers"][2]["refused"],
        "x402/lightning is not in the preference list"
    );
    assert_eq!(q["offers"][0]["payable"], true);
    assert_eq!(q["cached_credential"], false);
    assert_eq!(
        h.net.balance_msat("buyer"),
        Some(BUYER_MSAT),
        "a quote pays nothing"
    );

    // The human quote.
    let (code, out) = get_cli(&w, &[&url, "--dry-run", "--prefer", "mpp"]).await;
    assert_eq!(code, Exit::Ok);
    assert!(
        out.contains("* [1] mpp/charge lightning 100000 msat: acceptable"),
        "{out}"
    );
    assert!(
        out.contains("would pay 100000 msat via mpp on lightning"),
        "{out}"
    );

    // A denied domain is never paid (deny wins over allow).
    let (code, out) = get_cli(
        &w,
        &[
            &url,
            "--json",
            "--allow",
            "127.0.0.1",
            "--deny",
            "127.0.0.1",
        ],
    )
    .await;
    assert_eq!(code, Exit::Policy, "{out}");
    assert!(json(&out)["error"]
        .as_str()
        .unwrap()
        .contains("not allowed"));

    // A quote that cannot pay: exit 3.
    let (code, out) = get_cli(&w, &[&url, "--dry-run", "--json", "--max-cost", "99"]).await;
    assert_eq!(code, Exit::Policy, "{out}");
    assert!(json(&out)["refusal"].as_str().unwrap().contains("exceeds"));

    // Paid with --json: one object with what was paid and the receipt.
    let (code, out) = get_cli(&w, &[&url, "--json", "--prefer", "x402"]).await;
    assert_eq!(code, Exit::Ok, "{out}");
    let v = json(&out);
    assert_eq!(v["status"], 200);
    assert_eq!(v["protocol"], "x402");
    assert_eq!(v["rail"], "lightning");
    assert_eq!(v["amount"], "100000");
    assert_eq!(v["unit"], "msat");
    assert_eq!(v["receipt"]["success"], true, "{v}");
    assert_eq!(v["reused_credential"], false);
    assert_eq!(json(v["body"].as_str().unwrap())["path"], "/all/a");
    assert_eq!(h.net.balance_msat("buyer"), Some(BUYER_MSAT - 100_000));

    // L402: the receipt is the token id; the second call reuses the cached token.
    let (code, out) = get_cli(&w, &[&url, "--json", "--prefer", "l402"]).await;
    assert_eq!(code, Exit::Ok, "{out}");
    let v = json(&out);
    assert_eq!(v["protocol"], "l402");
    assert_eq!(v["receipt"]["token_id"].as_str().unwrap().len(), 64, "{v}");
    let (_, out) = get_cli(&w, &[&url, "--dry-run", "--json"]).await;
    assert_eq!(json(&out)["cached_credential"], true);
    let (_, out) = get_cli(&w, &[&url, "--json"]).await;
    let v = json(&out);
    assert_eq!(
        (v["paid"].clone(), v["reused_credential"].clone()),
        (false.into(), true.into())
    );
    assert_eq!(h.net.balance_msat("buyer"), Some(BUYER_MSAT - 200_000));
}

#[tokio::test]
async fn budget_exhaustion_mid_run_refuses_with_exit_3_then_reset() {
    let h = start_mixed().await;
    let w = LndWallet::serve(h.buyer.clone()).await;
    let policy = w.dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "max_fee_sat = 10\n[budget]\ndaily_total_sat = 250\n",
    )
    .unwrap();
    let policy = policy.display().to_string();
    let url = h.url("/x/a").to_string();
    let args = [url.as_str(), "--policy", &policy];
    assert_eq!(get_cli(&w, &args).await.0, Exit::Ok);
    assert_eq!(get_cli(&w, &args).await.0, Exit::Ok);
    let (code, out) = get_cli(&w, &[&url, "--policy", &policy, "--json"]).await;
    assert_eq!(code, Exit::Policy, "{out}");
    assert!(
        json(&out)["error"].as_str().unwrap().contains("budget"),
        "{out}"
    );
    assert_eq!(
        h.net.balance_msat("buyer"),
        Some(BUYER_MSAT - 200_000),
        "2 paid, the 3rd not"
    );

    let (code, out) = budget_cli(&w, &["--json", "--policy", &policy]);
    assert_eq!(code, 0);
    let s = json(&out);
    assert_eq!(s["totals"][0]["unit"], "msat");
    assert_eq!(s["totals"][0]["spent"], "200000");
    assert_eq!(s["totals"][0]["limit"], "250000");
    assert_eq!(s["domains"][0]["domain"], "127.0.0.1");
    let (_, text) = budget_cli(&w, &["--policy", &policy]);
    assert!(text.contains("200000") && text.contains("250000"), "{text}");

    let (code, out) = budget_cli(&w, &["reset", "--domain", "127.0.0.1", "--json"]);
    assert_eq!((code, json(&out)["reset"].as_u64()), (0, Some(2)));
    assert_eq!(
        get_cli(&w, &args).await.0,
        Exit::Ok,
        "room again after reset"
    );
    assert_eq!(h.net.balance_msat("buyer"), Some(BUYER_MSAT - 300_000));
}
