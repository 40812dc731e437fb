//! Least-privilege macaroons (issue #16 "L"): `gate402 macaroon bake` on the LND simulator,
//! the seller's start-up check (warning, refusal under `require_least_privilege`) and the
//! buyer's admin-macaroon warning.

use gate402::backend;
use gate402::config::{LightningConfig, LndSection};
use gate402::least_privilege::{buyer_warning, seller, SellerCheck};
use gate402_rails::lnd::permissions::{macaroon_perms, BakeRole};
use gate402_rails::lnd::{LndConfig, LndRail, MacaroonSource};
use gate402_rails::{InvoiceRequest, LightningRail, PayLimits, RailErrorKind};

use crate::lnd_backend::Lnd;

fn cfg(lnd: &Lnd, node: &str, mac: MacaroonSource) -> LndConfig {
    let d = lnd.node_dir(node);
    LndConfig {
        address: std::fs::read_to_string(d.join("rpc.addr"))
            .unwrap()
            .trim()
            .to_owned(),
        tls_cert: gate402_rails::CertSource::Path(d.join("tls.cert")),
        macaroon: mac,
    }
}

fn file(lnd: &Lnd, node: &str, name: &str) -> MacaroonSource {
    MacaroonSource::Path(lnd.node_dir(node).join(name))
}

fn inline(mac: &[u8]) -> MacaroonSource {
    MacaroonSource::Inline(hex::encode(mac))
}

#[tokio::test]
async fn baked_read_only_macaroon_cannot_pay_or_mint_on_the_simulator() {
    let lnd = Lnd::start().await;
    let ro = gate402::cli::macaroon::bake("read-only", &lnd.node_dir("alice"))
        .await
        .unwrap();
    assert_eq!(macaroon_perms(&ro).unwrap(), BakeRole::ReadOnly.perms());
    let alice_ro = LndRail::connect(cfg(&lnd, "alice", inline(&ro)))
        .await
        .unwrap();
    assert_eq!(alice_ro.channel_balance_msat().await.unwrap(), 5_000_000);

    let bob = LndRail::connect(cfg(&lnd, "bob", file(&lnd, "bob", "invoice.macaroon")))
        .await
        .unwrap();
    let inv = bob
        .create_invoice(InvoiceRequest {
            amount_msat: 10_000,
            memo: "ro".into(),
            expiry_secs: 600,
        })
        .await
        .unwrap();
    let e = alice_ro
        .pay_invoice(&inv.bolt11, PayLimits::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind, RailErrorKind::PermissionDenied, "{e}");
    assert!(e.message.contains("permission denied"), "{e}");
    let e = alice_ro
        .create_invoice(InvoiceRequest {
            amount_msat: 1_000,
            memo: "x".into(),
            expiry_secs: 600,
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind, RailErrorKind::PermissionDenied, "{e}");
    assert!(e.message.contains("permission denied"), "{e}");
    assert_eq!(lnd.net.balance_msat("alice"), Some(5_000_000));
    assert_eq!(lnd.net.balance_msat("bob"), Some(0));

    // Unknown roles and a directory without admin rights are errors, not panics.
    assert!(gate402::cli::macaroon::bake("root", &lnd.node_dir("alice"))
        .await
        .is_err());
}

#[tokio::test]
async fn seller_warns_on_admin_macaroon_and_refuses_under_require_least_privilege() {
    let lnd = Lnd::start().await;
    let admin = cfg(&lnd, "bob", file(&lnd, "bob", "admin.macaroon"));
    match seller(&admin, false, false).unwrap() {
        SellerCheck::Warn(w) => {
            assert!(w.contains("offchain:write"), "{w}");
            assert!(w.contains("admin.macaroon"), "{w}");
        }
        SellerCheck::Ok => panic!("admin macaroon accepted silently"),
    }
    let e = seller(&admin, false, true).unwrap_err();
    assert!(e.contains("require_least_privilege"), "{e}");
    // Even with refunds (offchain:write needed) admin holds more (macaroon:generate, onchain).
    let e = seller(&admin, true, true).unwrap_err();
    assert!(e.contains("macaroon:generate"), "{e}");
    assert!(!e.contains("offchain:write"), "{e}");

    let invoice = cfg(&lnd, "bob", file(&lnd, "bob", "invoice.macaroon"));
    assert_eq!(seller(&invoice, false, true).unwrap(), SellerCheck::Ok);
    let baked = gate402::cli::macaroon::bake("invoice", &lnd.node_dir("bob"))
        .await
        .unwrap();
    let baked_cfg = cfg(&lnd, "bob", inline(&baked));
    assert_eq!(seller(&baked_cfg, false, true).unwrap(), SellerCheck::Ok);
    let e = seller(
        &cfg(&lnd, "bob", inline(b"\x02garbage-macaroon")),
        false,
        true,
    )
    .unwrap_err();
    assert!(e.contains("require_least_privilege"), "{e}");

    // `gate402 serve` connects through `backend`: refused before any RPC.
    let section = |mac: &str, require: bool| LndSection {
        dir: Some(lnd.node_dir("bob")),
        macaroon: Some(lnd.node_dir("bob").join(mac)),
        require_least_privilege: require,
        ..LndSection::default()
    };
    let e = match backend::connect(&LightningConfig::Lnd(section("admin.macaroon", true))).await {
        Err(e) => e,
        Ok(_) => panic!("admin macaroon accepted under require_least_privilege"),
    };
    assert!(e.contains("offchain:write"), "{e}");
    let rail = backend::connect(&LightningConfig::Lnd(section("invoice.macaroon", true)))
        .await
        .unwrap();
    rail.create_invoice(InvoiceRequest {
        amount_msat: 1_000,
        memo: "lp".into(),
        expiry_secs: 600,
    })
    .await
    .unwrap();
    // Without the flag the admin macaroon only warns.
    backend::connect(&LightningConfig::Lnd(section("admin.macaroon", false)))
        .await
        .unwrap();
}

#[tokio::test]
async fn buyer_warns_about_admin_macaroon_only() {
    let lnd = Lnd::start().await;
    let admin = cfg(&lnd, "alice", file(&lnd, "alice", "admin.macaroon"));
    let w = buyer_warning(&admin).expect("warning for admin.macaroon");
    assert!(w.contains("macaroon bake --role pay"), "{w}");
    let pay = gate402::cli::macaroon::bake("pay", &lnd.node_dir("alice"))
        .await
        .unwrap();
    assert_eq!(buyer_warning(&cfg(&lnd, "alice", inline(&pay))), None);
    // The baked pay macaroon pays.
    let alice = LndRail::connect(cfg(&lnd, "alice", inline(&pay)))
        .await
        .unwrap();
    let bob = LndRail::connect(cfg(&lnd, "bob", file(&lnd, "bob", "invoice.macaroon")))
        .await
        .unwrap();
    let inv = bob
        .create_invoice(InvoiceRequest {
            amount_msat: 10_000,
            memo: "pay".into(),
            expiry_secs: 600,
        })
        .await
        .unwrap();
    alice
        .pay_invoice(&inv.bolt11, PayLimits::default())
        .await
        .unwrap();
    assert_eq!(lnd.net.balance_msat("bob"), Some(10_000));
}
