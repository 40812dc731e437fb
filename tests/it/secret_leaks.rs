//! No secret in logs, errors or `--json` output (issue #12 H item 5): a gateway offering
//! L402, MPP and x402 (Lightning) is paid three times by `gate402 get --json` in-process, with
//! every tracing event of both sides captured at TRACE, plus a config error for a
//! world-readable secret file. Every captured byte is searched for the L402 master secret, the
//! MPP key, each L402 root key, each invoice preimage and the buyer's LND admin macaroon, in
//! hex (both cases) and base64 (standard and URL-safe, padded or not).

use base64::Engine as _;
use gate402::cli::Exit;
use gate402::config::{load_mpp_secret, load_secret, L402Config, MppConfig};
use gate402_protocols::l402::L402;
use gate402_tests::capture::Capture;
use gate402_tests::SECRET;

use crate::buyer_cli::{get_cli, start_mixed, LndWallet};

/// Every printable form of `secret` we look for.
fn forms(secret: &[u8]) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let h = hex::encode(secret);
    vec![
        h.to_uppercase(),
        h,
        STANDARD.encode(secret),
        STANDARD_NO_PAD.encode(secret),
        URL_SAFE.encode(secret),
        URL_SAFE_NO_PAD.encode(secret),
    ]
}

/// Every 64-hex-digit run in `text` (payment hashes among them).
fn hex32s(text: &str) -> Vec<[u8; 32]> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let n = b[i..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
        if n == 64 {
            out.push(hex::decode(&text[i..i + 64]).unwrap().try_into().unwrap());
        }
        i += n.max(1);
    }
    out
}

#[tokio::test(flavor = "current_thread")]
async fn no_secret_reaches_logs_errors_or_json_output() {
    let logs = Capture::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let h = start_mixed().await;
    let w = LndWallet::serve(h.buyer.clone()).await;
    let mut output = String::new();
    for (path, prefer) in [("/all/a", "l402"), ("/mpp/b", "mpp"), ("/x/c", "x402")] {
        let url = h.url(path).to_string();
        let (code, out) = get_cli(&w, &[&url, "--json", "--prefer", prefer]).await;
        assert_eq!(code, Exit::Ok, "{out}");
        output.push_str(&out);
    }
    // A config error for a secret file every user can read.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("l402.secret");
    gate402_tests::write_secret(&file, hex::encode(SECRET)).unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let cfg = L402Config {
        secret_file: Some(file),
        ..L402Config::default()
    };
    output.push_str(&load_secret(&cfg).unwrap_err().to_string());

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    // Both sides' events were captured: the gateway's own and the LND gRPC client's.
    assert!(
        logs.contains(" TRACE ") && logs.contains("gate402::"),
        "nothing captured"
    );
    let all = format!("{output}\n{logs}");

    // The secrets: the L402 master secret, the (derived) MPP key, and per paid invoice its
    // preimage and, for L402, the macaroon root key.
    let mut secrets: Vec<(String, Vec<u8>)> = vec![("L402 master secret".into(), SECRET.to_vec())];
    let mpp = MppConfig {
        secret_env: "GATE402_TEST_MPP_SECRET_NOT_SET".into(),
        ..MppConfig::default()
    };
    secrets.push(("MPP key".into(), load_mpp_secret(&mpp, &SECRET).unwrap()));
    // The buyer's LND admin macaroon (sent hex in gRPC metadata on every wallet call).
    let lnd_macaroon = std::fs::read(format!("{}/admin.macaroon", w.lnd_dir())).unwrap();
    secrets.push(("LND admin macaroon".into(), lnd_macaroon));
    let l402 = L402::new(&SECRET).unwrap();
    let mut paid = 0;
    for hash in hex32s(&all) {
        let Ok(invoice) = h.seller.lookup_invoice(&hash) else {
            continue;
        };
        paid += 1;
        secrets.push((
            format!("preimage of {}", hex::encode(hash)),
            invoice.preimage.to_vec(),
        ));
        let root = l402.root_key_for(&l402.token_id_for(&hash));
        secrets.push((format!("root key for {}", hex::encode(hash)), root.to_vec()));
    }
    assert!(
        paid >= 3,
        "expected the three paid invoices' hashes in the output:\n{output}"
    );
    for (what, secret) in &secrets {
        for form in forms(secret) {
            assert!(!all.contains(&form), "{what} leaked as {form}");
        }
    }
}
