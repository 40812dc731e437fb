//! gate402's own gateway graded all PASS: L402, MPP (charge and session), x402 `exact` on EVM
//! and the x402 Lightning variant, alone and side by side on one route.

use clap::Parser;
use gate402::cli::{run_probe_with_output, ProbeArgs};
use gate402::probe::{exit, Level};
use gate402_tests::{serve, upstream_app, Harness};
use serde_json::Value;

use super::{client, explain, grade};

/// Routes for every protocol: `/l402/`, `/mpp/` (charge + session), `/x402/` (EVM + Lightning)
/// and `/all/` (all of them). The EVM node is never called for a 402.
pub const ALL: &str = r#"
[server]
listen = "127.0.0.1:0"
upstream = "{UPSTREAM}"

[mpp]
realm = "gate402.test"

[mpp.session]
enabled = true
deposit_units = 10

[lightning]
backend = "simnet"

[evm]
chain_id = 31337
rpc_url = "http://127.0.0.1:9"
settler_key_file = "{KEY}"

[[route]]
name = "l402"
path_prefix = "/l402/"
price_sat = 10
valid_for_secs = 3600

[[route]]
name = "mpp"
path_prefix = "/mpp/"
price_sat = 10
protocols = ["mpp"]

[[route]]
name = "x402"
path_prefix = "/x402/"
price_sat = 10
protocols = ["x402"]
x402 = { network = "eip155:31337", asset = "0x5FbDB2315678afecb367f032d93F642f64180aa3", pay_to = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", amount = "10000", name = "USD Coin", version = "2", lightning = true }

[[route]]
name = "all"
path_prefix = "/all/"
price_sat = 10
protocols = ["l402", "mpp", "x402"]
x402 = { network = "eip155:31337", asset = "0x5FbDB2315678afecb367f032d93F642f64180aa3", pay_to = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", amount = "10000", name = "USD Coin", version = "2", lightning = true }
"#;

/// Start a gateway with [`ALL`].
pub async fn start_all() -> Harness {
    let upstream = serve(upstream_app()).await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("settler.key");
    gate402_tests::write_secret(
        &key,
        "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    )
    .unwrap();
    let text = ALL
        .replace("{UPSTREAM}", &format!("http://{upstream}"))
        .replace("{KEY}", &key.display().to_string());
    Harness::start_in(&text, dir).await
}

#[tokio::test]
async fn gate402_is_graded_all_pass_on_every_protocol() {
    let h = start_all().await;
    let dir = tempfile::tempdir().unwrap();
    let c = client(&h.buyer, dir.path());
    let mut seen = Vec::new();
    for path in ["/l402/x", "/mpp/x", "/x402/x", "/all/x"] {
        let r = grade(&c, &h.url(path).to_string()).await;
        assert_eq!(r.status, 402);
        assert!(r.flagged().is_empty(), "{path}:\n{}", explain(&r));
        assert_eq!((r.level, r.exit), (Level::Pass, exit::PASS), "{path}");
        assert!(r.counts.pass > 20, "{path}: {:?}", r.counts);
        for ch in &r.challenges {
            assert!(ch.payable, "{path} {}: {:?}", ch.label, ch.refused);
            seen.push(ch.label.clone());
        }
    }
    for label in [
        "L402",
        "Payment lightning/charge",
        "Payment lightning/session",
        "x402 v2 exact eip155:31337",
        "x402 v2 exact lightning",
    ] {
        assert!(
            seen.iter().any(|s| s == label),
            "{label} not graded: {seen:?}"
        );
    }
    assert_eq!(h.seller_msat(), 0, "grading paid nothing");
}

#[derive(Parser)]
struct ProbeCmd {
    #[command(flatten)]
    args: ProbeArgs,
}

/// `gate402 probe ARGS`: exit code and stdout.
pub async fn probe_cli(args: &[&str]) -> (u8, String) {
    let mut argv = vec!["gate402"];
    argv.extend_from_slice(args);
    let mut out = Vec::new();
    let code = run_probe_with_output(ProbeCmd::parse_from(argv).args, &mut out, false).await;
    (code, String::from_utf8(out).unwrap())
}

#[tokio::test]
async fn cli_prints_the_report_grouped_per_challenge_or_as_json() {
    let h = start_all().await;
    let url = h.url("/all/x").to_string();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().display().to_string();
    let (code, text) = probe_cli(&[&url, "--cache-dir", &cache]).await;
    assert_eq!(code, exit::PASS, "{text}");
    for want in [
        "GET http://",
        "-> 402",
        "[1] PASS L402",
        "Payment lightning/charge",
        "x402 v2 exact lightning",
        "l402.client.lnget",
        "Grade: PASS",
        "exit 0",
    ] {
        assert!(text.contains(want), "{want:?} missing in:\n{text}");
    }
    assert!(!text.contains('\x1b'), "no colours when not on a terminal");
    let (code, json) = probe_cli(&[&url, "--json", "--cache-dir", &cache]).await;
    assert_eq!(code, exit::PASS);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["level"], "pass");
    assert_eq!(v["exit"], 0);
    assert_eq!(v["status"], 402);
    assert!(v["challenges"].as_array().unwrap().len() >= 4);
    assert!(v.get("pay").is_none(), "nothing paid without --pay");
    let (code, rules) = probe_cli(&["--list-rules"]).await;
    assert_eq!(code, 0);
    assert!(
        rules.contains("mpp.id.b64url-unpadded")
            && rules.contains("draft-ryan-httpauth-payment-01")
    );
    // Bad usage: --pay without --max-cost, a bad URL.
    let (code, _) = probe_cli(&[&url, "--pay", "--cache-dir", &cache]).await;
    assert_eq!(code, exit::USAGE);
    let (code, _) = probe_cli(&["not a url"]).await;
    assert_eq!(code, exit::USAGE);
    // Nothing listening: the server cannot be probed.
    let (code, out) = probe_cli(&["http://127.0.0.1:9/x", "--json", "--cache-dir", &cache]).await;
    assert_eq!(code, exit::ERROR, "{out}");
    assert_eq!(h.seller_msat(), 0);
}
