//! Tests of the `gate402` binary itself.

use std::process::Command;

fn gate402() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gate402"))
}

#[test]
fn demo_exits_zero_and_shows_the_exchange() {
    let out = gate402().arg("demo").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for step in [
        "402 Payment Required",
        "L402 macaroon=",
        "paid 10 sat",
        "200 OK",
        "nothing paid",
        "paid 10 sat via MPP charge",
        "Payment-Receipt: reference",
        "deposit 50 sat",
        "\"refundSats\":20,\"refundStatus\":\"succeeded\"",
        "PAYMENT-REQUIRED: ",
        "paid 5 sat over x402",
        "PAYMENT-RESPONSE: ",
        "balances: buyer 99985 sat, seller 15 sat",
        "demo ok",
    ] {
        assert!(stdout.contains(step), "missing `{step}` in:\n{stdout}");
    }
}

#[test]
fn check_config_accepts_the_example_and_rejects_a_missing_secret() {
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/gateway.example.toml"
    );
    let ok = gate402()
        .args(["check-config", example])
        .env("GATE402_L402_SECRET", "ab".repeat(32))
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let missing = gate402()
        .args(["check-config", example])
        .env_remove("GATE402_L402_SECRET")
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("GATE402_L402_SECRET"));
}

#[test]
fn get_without_a_wallet_is_a_usage_error() {
    let out = gate402()
        .args(["get", "http://127.0.0.1:1/x"])
        .env_remove("GATE402_LND_DIR")
        .env_remove("GATE402_LND_ADDRESS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--lnd-dir"));
}

#[test]
fn ledger_and_revoke_work_on_an_empty_sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("g.toml");
    let db = dir.path().join("data/g.sqlite");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://127.0.0.1:1\"\n\
             [lightning]\nbackend = \"simnet\"\n[store]\npath = \"{}\"\n",
            db.display()
        ),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    let out = gate402()
        .args(["ledger", "--config", cfg])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("total") && text.contains("protocol"),
        "{text}"
    );
    assert!(db.exists(), "the store is created with its directory");
    let bad = gate402()
        .args(["revoke", "--config", cfg, "xyz"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let id = "ab".repeat(32);
    for expected in ["revoked ", "already revoked "] {
        let out = gate402()
            .args(["revoke", "--config", cfg, &id])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).starts_with(expected));
    }
}

#[test]
fn get_help_documents_the_exit_codes_and_a_bad_policy_is_a_usage_error() {
    let help = gate402().args(["get", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("3 refused by policy (nothing paid)"),
        "{text}"
    );
    for flag in [
        "--json",
        "--dry-run",
        "--prefer",
        "--policy",
        "--budget-daily",
        "--deny",
    ] {
        assert!(text.contains(flag), "missing {flag}");
    }
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "prefer = [\"bitcoin\"]\n").unwrap();
    let out = gate402()
        .args([
            "get",
            "http://127.0.0.1:1/x",
            "--dry-run",
            "--json",
            "--policy",
        ])
        .arg(&policy)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "usage");
    assert!(v["error"].as_str().unwrap().contains("bitcoin"), "{v}");
}
