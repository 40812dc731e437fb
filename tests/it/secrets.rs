//! Secrets (issue #12 H item 5): secret files every user can read are refused with a typed
//! error naming the file and the fix; the MPP secret is the UTF-8 bytes of the configured
//! string, as mppx uses its `secretKey`, so one string is shared with an mppx server.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use gate402::config::{load_mpp_secret, load_secret, ConfigError, L402Config, MppConfig};
use gate402_protocols::mpp::{client, id};
use gate402_tests::{chain::NodePeer, raw, write_secret};

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn secret_files_readable_by_every_user_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let l402 = dir.path().join("l402.secret");
    let mpp = dir.path().join("mpp.secret");
    write_secret(&l402, hex::encode([7u8; 32])).unwrap();
    write_secret(&mpp, "an-mpp-secret-string-of-at-least-32-bytes").unwrap();
    let l402_cfg = L402Config {
        secret_file: Some(l402.clone()),
        ..L402Config::default()
    };
    let mpp_cfg = MppConfig {
        secret_file: Some(mpp.clone()),
        ..MppConfig::default()
    };
    // 0600 and 0640 (group-readable: a warning only) load.
    for mode in [0o600, 0o640, 0o400] {
        chmod(&l402, mode);
        chmod(&mpp, mode);
        assert_eq!(load_secret(&l402_cfg).unwrap(), vec![7u8; 32], "{mode:o}");
        assert!(load_mpp_secret(&mpp_cfg, &[1; 32]).is_ok(), "{mode:o}");
    }
    // o+r is refused, naming the file, its mode and `chmod 600`.
    for mode in [0o644, 0o604, 0o666] {
        chmod(&l402, mode);
        chmod(&mpp, mode);
        for (e, path, what) in [
            (
                load_secret(&l402_cfg).unwrap_err(),
                &l402,
                "l402.secret_file",
            ),
            (
                load_mpp_secret(&mpp_cfg, &[1; 32]).unwrap_err(),
                &mpp,
                "mpp.secret_file",
            ),
        ] {
            assert!(
                matches!(&e, ConfigError::SecretFileMode { mode: m, .. } if *m == mode),
                "{e:?}"
            );
            let text = e.to_string();
            assert!(text.contains(what), "{text}");
            assert!(
                text.contains(&format!("chmod 600 {}", path.display())),
                "{text}"
            );
            assert!(text.contains(&format!("{mode:03o}")), "{text}");
            assert!(
                !text.contains("an-mpp-secret") && !text.contains("0707"),
                "{text}"
            );
        }
    }
}

#[test]
fn the_evm_settler_key_file_is_refused_when_world_readable() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("settler.key");
    write_secret(
        &key,
        "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    )
    .unwrap();
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://127.0.0.1:9\"\n\
         [lightning]\nbackend = \"simnet\"\n\
         [evm]\nchain_id = 31337\nrpc_url = \"http://127.0.0.1:9\"\nsettler_key_file = \"{}\"\n",
        key.display()
    );
    let config = gate402::config::Config::from_toml(&text).unwrap();
    let evm = config.evm.as_ref().expect("[evm] section");
    assert!(evm.settler_key().unwrap().is_some());
    chmod(&key, 0o644);
    let e = evm.settler_key().unwrap_err();
    assert!(matches!(e, ConfigError::SecretFileMode { .. }), "{e:?}");
    assert!(!e.to_string().contains("ac0974bec39a17e3"), "{e}");
}

#[test]
fn the_mpp_secret_is_the_utf8_bytes_of_the_string_even_when_it_looks_like_hex() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mpp.secret");
    let hex_looking = hex::encode([0x5a; 32]);
    // A file written by `echo` ends in a newline: that one is dropped.
    write_secret(&file, format!("{hex_looking}\n")).unwrap();
    let cfg = MppConfig {
        secret_file: Some(file),
        ..MppConfig::default()
    };
    let secret = load_mpp_secret(&cfg, &[1; 32]).unwrap();
    assert_eq!(secret, hex_looking.as_bytes(), "not hex-decoded");
    assert_eq!(secret.len(), 64);
}

/// One secret string configured in gate402 and given to an mppx 0.11.0 server as its
/// `secretKey`: the challenge ids mppx mints verify under gate402's loaded MPP key. The
/// string looks like hex on purpose: hex-decoding it (the old behaviour) gives another key,
/// under which mppx's ids do not verify.
#[tokio::test]
async fn one_mpp_secret_string_is_shared_with_an_mppx_server() {
    let shared = hex::encode(*b"gate402+mppx share one secret!!!");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mpp.secret");
    write_secret(&file, &shared).unwrap();
    let cfg = MppConfig {
        secret_file: Some(file),
        ..MppConfig::default()
    };
    let ours = load_mpp_secret(&cfg, &[1; 32]).unwrap();
    let mppx = NodePeer::start_script(
        "probe/mppx_evm_server.mjs",
        &[
            &shared,
            "mppx.test",
            "0x5FbDB2315678afecb367f032d93F642f64180aa3",
            "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
        ],
        &[],
    )
    .await;
    let (status, headers, _) = raw(&format!("{}/paid", mppx.url).parse().unwrap(), &[]).await;
    assert_eq!(status, 402);
    let offers: Vec<_> = client::parse_challenges(&headers)
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!offers.is_empty(), "mppx sent no Payment challenge");
    for offer in &offers {
        let c = &offer.challenge;
        assert!(
            id::verify(&ours, &c.id, &c.bound()).is_some(),
            "mppx id {} does not verify under the shared secret",
            c.id
        );
        let decoded = hex::decode(&shared).unwrap();
        assert!(id::verify(&decoded, &c.id, &c.bound()).is_none());
    }
}
