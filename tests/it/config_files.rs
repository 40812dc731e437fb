//! Every example config in `config/` parses and validates (buyer policies, `policy*.toml`, as
//! [`BuyerPolicy`]); bad configs fail with clear errors.

use gate402::client::BuyerPolicy;
use gate402::config::{Config, ConfigError};

#[test]
fn every_shipped_config_parses_and_validates() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let is_policy = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("policy"));
        if is_policy {
            BuyerPolicy::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        } else if path.extension().is_some_and(|e| e == "toml") {
            Config::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
    }
    assert!(n >= 2, "expected the example configs, found {n}");
}

fn err(text: &str) -> ConfigError {
    match Config::from_toml(text) {
        Err(e) => e,
        Ok(c) => c.validate().unwrap_err(),
    }
}

const BASE: &str = "[server]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://127.0.0.1:1\"\n[lightning]\nbackend = \"simnet\"\n";

#[test]
fn bad_configs_are_rejected_with_the_field_named() {
    let unknown = err(&format!("{BASE}bogus = 1\n"));
    assert!(unknown.to_string().contains("bogus"), "{unknown}");
    let cases = [
        (
            "[[route]]\nname = \"a\"\nprice_sat = 1\nprice_msat = 1\n",
            "route[0].price",
        ),
        ("[[route]]\nname = \"a\"\n", "route[0].price"),
        (
            "[[route]]\nname = \"a b\"\nprice_sat = 1\n",
            "route[0].name",
        ),
        (
            "[[route]]\nname = \"a\"\nprice_sat = 1\nprotocols = [\"bitcoin-cash\"]\n",
            "route[0].protocols",
        ),
        (
            "[[route]]\nname = \"a\"\nprice_sat = 1\npath_prefix = \"api\"\n",
            "route[0].path_prefix",
        ),
        (
            "[[route]]\nname = \"a\"\nprice_sat = 1\n[[route]]\nname = \"a\"\nprice_sat = 2\n",
            "route[1].name",
        ),
    ];
    let evm = "[evm]\nchain_id = 31337\nrpc_url = \"http://127.0.0.1:1\"\n";
    let x = |t: &str| {
        format!(
            "[[route]]\nname = \"a\"\nprice_sat = 1\nprotocols = [\"x402\"]\nx402 = {{ {t} }}\n"
        )
    };
    let ok = "network = \"eip155:31337\", asset = \"0x5FbDB2315678afecb367f032d93F642f64180aa3\", pay_to = \"0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC\"";
    let x402_cases = [
        (
            "[[route]]\nname = \"a\"\nprice_sat = 1\nprotocols = [\"x402\"]\n".to_string(),
            "route[0].x402",
        ),
        (x(&format!("{ok}, amount = \"10\"")), "route[0].x402"),
        (
            format!("{evm}{}", x(&format!("{ok}, amount = \"-1\""))),
            "route[0].x402",
        ),
        (
            format!(
                "{evm}{}",
                x(&format!("{ok}, amount = \"10\", max_timeout_secs = 0"))
            ),
            "route[0].x402",
        ),
        (
            format!("{evm}{}", x("network = \"eip155:31337\", amount = \"10\"")),
            "route[0].x402",
        ),
        (
            format!("{evm}{}", x(&format!("{ok}, amount = \"10\", bogus = 1"))),
            "bogus",
        ),
        (
            format!(
                "{evm}{}",
                x(&format!("{}, amount = \"10\"", ok.replace("31337", "1")))
            ),
            "route[0].x402.network",
        ),
        (format!("{evm}{}", x("lightning = false")), "route[0].x402"),
        (
            x("lightning = true").replace("[\"x402\"]", "[\"l402\"]"),
            "route[0].protocols",
        ),
        ("[evm]\nchain_id = 1\n".to_string(), "evm"),
    ];
    for (text, field) in x402_cases {
        let e = err(&format!("{BASE}{text}"));
        assert!(e.to_string().contains(field), "{field}: {e}");
    }
    for (extra, field) in cases {
        let e = err(&format!("{BASE}{extra}"));
        assert!(e.to_string().contains(field), "{field}: {e}");
    }
    let store_cases = [
        ("[store]\nbackend = \"mysql\"\n", "backend"),
        ("[store]\nbogus = 1\n", "bogus"),
        (
            "[store]\ndatabase_url = \"postgres://x/y\"\n",
            "store.database_url",
        ),
        (
            "[store]\nbackend = \"postgres\"\npath = \"x.db\"\n",
            "store.path",
        ),
        (
            "[store]\nbackend = \"postgres\"\ndatabase_url = \"mysql://x\"\n",
            "store.database_url",
        ),
        (
            "[store]\nacquire_timeout_ms = 0\n",
            "store.acquire_timeout_ms",
        ),
        (
            "[store]\nrevocation_refresh_ms = 999999\n",
            "store.revocation_refresh_ms",
        ),
        ("[store]\nmax_connections = 0\n", "store.max_connections"),
    ];
    for (extra, field) in store_cases {
        let e = err(&format!("{BASE}{extra}"));
        assert!(e.to_string().contains(field), "{field}: {e}");
    }
    let e = err(&BASE.replace("http://127.0.0.1:1", "ftp://x"));
    assert!(e.to_string().contains("server.upstream"), "{e}");
}

#[test]
fn secrets_come_from_env_or_file_and_must_be_long_enough() {
    use gate402::config::{load_secret, L402Config};
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short");
    gate402_tests::write_secret(&short, "abcd").unwrap();
    let cfg = L402Config {
        secret_file: Some(short.clone()),
        ..L402Config::default()
    };
    let e = load_secret(&cfg).unwrap_err().to_string();
    assert!(e.contains("at least 32") && e.contains("short"), "{e}");
    let good = dir.path().join("good");
    gate402_tests::write_secret(&good, hex::encode([3u8; 32])).unwrap();
    let cfg = L402Config {
        secret_file: Some(good),
        ..L402Config::default()
    };
    assert_eq!(load_secret(&cfg).unwrap(), vec![3u8; 32]);
    let cfg = L402Config {
        secret_env: "GATE402_TEST_SECRET_THAT_IS_NOT_SET".into(),
        ..L402Config::default()
    };
    assert!(load_secret(&cfg)
        .unwrap_err()
        .to_string()
        .contains("GATE402_TEST_SECRET_THAT_IS_NOT_SET"));
}

#[test]
fn mpp_section_is_validated_and_its_secret_checked() {
    use gate402::config::{load_mpp_secret, MppConfig};
    let cases = [
        ("[mpp]\nrealm = \"\"\n", "mpp.realm"),
        ("[mpp]\nchallenge_ttl_secs = 1\n", "mpp.challenge_ttl_secs"),
        (
            "[mpp.session]\ndeposit_units = 0\n",
            "mpp.session.deposit_units",
        ),
        ("[mpp]\nbogus = 1\n", "bogus"),
        (
            "[[route]]\nname = \"a\"\nprice_msat = 1500\nprotocols = [\"l402\", \"mpp\"]\n",
            "route[0].price",
        ),
    ];
    for (extra, field) in cases {
        let e = err(&format!("{BASE}{extra}"));
        assert!(e.to_string().contains(field), "{field}: {e}");
    }
    let ok = Config::from_toml(&format!(
        "{BASE}[[route]]\nname = \"a\"\nprice_sat = 2\nprotocols = [\"payment\"]\n"
    ))
    .unwrap();
    ok.validate().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short");
    gate402_tests::write_secret(&short, "abcd").unwrap();
    let cfg = MppConfig {
        secret_file: Some(short),
        ..MppConfig::default()
    };
    assert!(load_mpp_secret(&cfg, &[1; 32])
        .unwrap_err()
        .to_string()
        .contains("at least 32"));
    let derived = MppConfig {
        secret_env: "GATE402_TEST_MPP_SECRET_NOT_SET".into(),
        ..MppConfig::default()
    };
    let a = load_mpp_secret(&derived, &[1; 32]).unwrap();
    assert_eq!(a.len(), 32);
    assert_ne!(a, load_mpp_secret(&derived, &[2; 32]).unwrap());
}

#[test]
fn the_store_url_comes_from_the_environment_and_is_never_printed() {
    use gate402::{config::StoreBackend, store::StoreOptions};
    let text = format!(
        "{BASE}[store]\nbackend = \"postgres\"\ndatabase_url_env = \"GATE402_TEST_URL_NOT_SET\"\n"
    );
    let config = Config::from_toml(&text).unwrap();
    config.validate().unwrap();
    assert_eq!(config.store.backend, StoreBackend::Postgres);
    let e = config.store.options().unwrap_err().to_string();
    assert!(e.contains("GATE402_TEST_URL_NOT_SET"), "{e}");
    let text = format!(
        "{BASE}[store]\nbackend = \"postgres\"\ndatabase_url = \"postgres://u:hunter2@h/db\"\n"
    );
    let config = Config::from_toml(&text).unwrap();
    let options = config.store.options().unwrap();
    assert!(matches!(options, StoreOptions::Postgres { .. }));
    assert!(!format!("{config:?}{options:?}").contains("hunter2"));
    let sqlite = Config::from_toml(BASE).unwrap().store.options().unwrap();
    assert!(
        matches!(sqlite, StoreOptions::Sqlite { path, .. } if path.ends_with("gate402.sqlite"))
    );
}

#[test]
fn an_evm_price_without_a_settler_key_fails_at_start_naming_the_variable() {
    let text = format!(
        "{BASE}[evm]\nchain_id = 31337\nrpc_url = \"http://127.0.0.1:1\"\n\
         settler_key_env = \"GATE402_TEST_SETTLER_THAT_IS_NOT_SET\"\n\
         [[route]]\nname = \"a\"\nprice_sat = 1\nprotocols = [\"x402\"]\n\
         x402 = {{ network = \"eip155:31337\", asset = \"0x5FbDB2315678afecb367f032d93F642f64180aa3\", \
         pay_to = \"0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC\", amount = \"10\" }}\n"
    );
    let config = Config::from_toml(&text).unwrap();
    config.validate().unwrap();
    let net = gate402_rails::simnet::SimNetwork::new();
    let rail = std::sync::Arc::new(net.add_node("s", 0));
    let e = gate402::server::paywall_with_secret(&config, rail, &[7; 32]).unwrap_err();
    assert!(
        e.to_string()
            .contains("GATE402_TEST_SETTLER_THAT_IS_NOT_SET"),
        "{e}"
    );
}
