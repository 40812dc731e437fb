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
