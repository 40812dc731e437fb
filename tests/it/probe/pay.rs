//! `gate402 probe --pay` over simnet, the buyer's node served over LND gRPC: against gate402
//! every protocol is paid once and checked (receipts, L402 reuse, replays refused) and the
//! seller receives exactly one price per protocol; `--max-cost` caps all payments together
//! (below the price: nothing paid, exit 3); without `--pay` nothing is ever paid; the fixture
//! server's paid mistakes (no receipt, replay accepted) are flagged.

use gate402::client::ClientRequest;
use gate402::probe::{self, exit, Level, Report};
use gate402_rails::simnet::SimNetwork;
use gate402_tests::{matrix, BUYER_MSAT};
use serde_json::Value;

use super::fixtures::{self, PAID_MISTAKES, PRICE_SAT};
use super::own_server::{probe_cli, start_all};
use super::{client, explain};
use crate::buyer_cli::LndWallet;

fn report(json: &str) -> Value {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

fn finding<'a>(v: &'a Value, protocol: &str, id: &str) -> &'a Value {
    let p = v["pay"]["payments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["protocol"] == protocol)
        .unwrap_or_else(|| panic!("no {protocol} payment in {v:#}"));
    p["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("{id} not checked: {p:#}"))
}

#[tokio::test]
async fn pay_pays_each_protocol_of_gate402_once_and_checks_the_paid_exchange() {
    matrix::cell(
        "probe::pay::pay_pays_each_protocol_of_gate402_once_and_checks_the_paid_exchange",
        async {
            let h = start_all().await;
            let w = LndWallet::serve(h.buyer.clone()).await;
            let url = h.url("/all/x").to_string();
            let (lnd, cache) = (w.lnd_dir(), w.cache());
            let (code, out) = probe_cli(&[
                &url,
                "--pay",
                "--max-cost",
                "100",
                "--json",
                "--lnd-dir",
                &lnd,
                "--cache-dir",
                &cache,
            ])
            .await;
            let v = report(&out);
            assert_eq!(code, exit::PASS, "{v:#}");
            assert_eq!(v["level"], "pass");
            for (p, rail) in [
                ("l402", "l402/token lightning"),
                ("mpp", "mpp/charge lightning"),
                ("x402", "x402/exact lightning"),
            ] {
                let pay = v["pay"]["payments"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|x| x["protocol"] == p)
                    .unwrap();
                assert_eq!(pay["paid"], true, "{pay:#}");
                assert_eq!(pay["offer"], rail);
                assert_eq!(pay["status"], 200);
                assert_eq!(pay["amount"]["value"], "10000");
            }
            for (p, id) in [
                ("l402", "l402.pay.accepted"),
                ("l402", "l402.pay.reuse"),
                ("mpp", "mpp.receipt.present"),
                ("mpp", "mpp.receipt.valid"),
                ("mpp", "mpp.receipt.cache-control"),
                ("mpp", "mpp.replay.refused"),
                ("x402", "x402.receipt.present"),
                ("x402", "x402.receipt.valid"),
                ("x402", "x402.replay.refused"),
            ] {
                assert_eq!(finding(&v, p, id)["level"], "pass", "{p} {id}");
            }
            assert_eq!(v["pay"]["spent_msat"], 30_000);
            // Exactly one price per protocol reached the seller: replays and reuse paid nothing.
            assert_eq!(h.seller_msat(), 30_000);
            assert_eq!(h.net.payments_sent("buyer"), 3);
            assert_eq!(h.net.balance_msat("buyer"), Some(BUYER_MSAT - 30_000));
        },
    )
    .await;
}

#[tokio::test]
async fn max_cost_caps_all_payments_and_below_the_price_nothing_is_paid() {
    let h = start_all().await;
    let w = LndWallet::serve(h.buyer.clone()).await;
    let url = h.url("/all/x").to_string();
    let (lnd, cache) = (w.lnd_dir(), w.cache());
    // Below the price: nothing paid, exit 3.
    let (code, out) = probe_cli(&[
        &url,
        "--pay",
        "--max-cost",
        "9",
        "--json",
        "--lnd-dir",
        &lnd,
        "--cache-dir",
        &cache,
    ])
    .await;
    assert_eq!(code, exit::REFUSED, "{out}");
    let v = report(&out);
    for p in v["pay"]["payments"].as_array().unwrap() {
        assert_eq!(p["paid"], false, "{p:#}");
        assert_eq!(p["refused_by_policy"], true, "{p:#}");
    }
    assert_eq!(h.seller_msat(), 0);
    assert_eq!(h.net.payments_sent("buyer"), 0);
    // 25 sat for three 10-sat protocols: two are paid, the third refused (exit 3).
    let (code, out) = probe_cli(&[
        &url,
        "--pay",
        "--max-cost",
        "25",
        "--json",
        "--lnd-dir",
        &lnd,
        "--cache-dir",
        &cache,
    ])
    .await;
    assert_eq!(code, exit::REFUSED, "{out}");
    let v = report(&out);
    assert_eq!(v["pay"]["spent_msat"], 20_000);
    assert_eq!(h.seller_msat(), 20_000, "never more than --max-cost");
    let refused: Vec<_> = v["pay"]["payments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["refused_by_policy"] == true)
        .collect();
    assert_eq!(refused.len(), 1, "{v:#}");
}

#[tokio::test]
async fn without_pay_nothing_is_paid_even_with_a_wallet_and_a_max_cost() {
    let h = start_all().await;
    let w = LndWallet::serve(h.buyer.clone()).await;
    let (lnd, cache) = (w.lnd_dir(), w.cache());
    for path in ["/all/x", "/l402/x", "/mpp/x", "/x402/x"] {
        let url = h.url(path).to_string();
        let (code, out) = probe_cli(&[
            &url,
            "--max-cost",
            "1000",
            "--json",
            "--lnd-dir",
            &lnd,
            "--cache-dir",
            &cache,
        ])
        .await;
        assert_eq!(code, exit::PASS, "{out}");
        assert!(report(&out).get("pay").is_none());
    }
    assert_eq!(h.seller_msat(), 0);
    assert_eq!(h.net.payments_sent("buyer"), 0);
    assert_eq!(h.net.balance_msat("buyer"), Some(BUYER_MSAT));
}

async fn pay_fixture(c: &gate402::client::Client, url: &str) -> Report {
    let req = ClientRequest::get(url.parse().unwrap());
    probe::probe(c, &req, Some(100)).await.unwrap()
}

#[tokio::test]
async fn paid_mistakes_of_the_fixture_server_are_flagged() {
    let net = SimNetwork::new();
    let seller = net.add_node("seller", 0);
    let buyer = net.add_node("buyer", BUYER_MSAT);
    let addr = fixtures::serve(seller).await;
    let dir = tempfile::tempdir().unwrap();
    let c = client(&buyer, dir.path());
    for (path, id) in PAID_MISTAKES {
        let r = pay_fixture(&c, &format!("http://{addr}{path}")).await;
        assert_eq!(r.flagged(), vec![*id], "{path}:\n{}", explain(&r));
        assert!(r.level >= Level::Warn);
    }
    // The control: paid, receipt, replay refused, all PASS.
    let r = pay_fixture(&c, &format!("http://{addr}/ok/mpp")).await;
    assert!(r.flagged().is_empty(), "{}", explain(&r));
    assert_eq!(r.exit, exit::PASS);
    assert_eq!(
        net.balance_msat("seller"),
        Some(3 * PRICE_SAT * 1000),
        "one payment per probe"
    );
}
