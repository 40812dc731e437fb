//! Each fixture mistake is flagged with its rule id, and nothing unrelated to it is; the
//! correct controls grade all PASS; grading never pays.

use gate402::client::ClientRequest;
use gate402::probe::{self, exit};
use gate402_rails::simnet::SimNetwork;
use gate402_tests::BUYER_MSAT;

use super::fixtures::{self, CONTROLS, MISTAKES};
use super::{client, explain, grade};

/// Rules a mistake may trip besides its own (clients that cannot read the result, gate402's
/// client refusing it, the status of a 503).
fn also_allowed(path: &str) -> &'static [&'static str] {
    match path {
        "/mpp/expired" | "/mpp/amount-mismatch" => &["mpp.client.gate402"],
        "/l402/hash-mismatch" | "/l402/amountless" => &["l402.client.gate402"],
        "/l402/token-only" | "/l402/unquoted" => &[
            "l402.client.lnget",
            "l402.client.aperture",
            "l402.client.lsat-js",
        ],
        "/both/payment-first" => &["l402.client.lnget", "l402.client.alby"],
        "/x402/v1-network"
        | "/x402/no-extra-name"
        | "/x402/foreign-resource"
        | "/x402/ln-amount" => &["x402.client.gate402"],
        "/busy" => &["http.status.402"],
        _ => &[],
    }
}

#[tokio::test]
async fn every_fixture_mistake_is_flagged_with_its_rule_id_and_controls_pass() {
    let net = SimNetwork::new();
    let seller = net.add_node("seller", 0);
    let buyer = net.add_node("buyer", BUYER_MSAT);
    let addr = fixtures::serve(seller).await;
    let dir = tempfile::tempdir().unwrap();
    let c = client(&buyer, dir.path());
    let mut failures = Vec::new();
    for (path, id) in MISTAKES {
        let r = grade(&c, &format!("http://{addr}{path}")).await;
        let flagged = r.flagged();
        if !flagged.contains(id) {
            failures.push(format!("{path}: {id} not flagged\n{}", explain(&r)));
        }
        let stray: Vec<_> = flagged
            .iter()
            .filter(|f| *f != id && !also_allowed(path).contains(f))
            .collect();
        if !stray.is_empty() {
            failures.push(format!(
                "{path}: unrelated rules flagged {stray:?}\n{}",
                explain(&r)
            ));
        }
        if r.exit == exit::PASS {
            failures.push(format!("{path}: exit 0 for a broken server"));
        }
    }
    for path in CONTROLS {
        let r = grade(&c, &format!("http://{addr}{path}")).await;
        if !r.flagged().is_empty() || r.exit != exit::PASS {
            failures.push(format!("control {path} not all PASS:\n{}", explain(&r)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(MISTAKES.len() + fixtures::PAID_MISTAKES.len() >= 12);
    assert_eq!(
        net.balance_msat("buyer"),
        Some(BUYER_MSAT),
        "grading paid something"
    );
    assert_eq!(net.payments_count(), 0);
}

/// A request with a body: gate402 binds it with `digest`, the fixture's challenge does not.
#[tokio::test]
async fn a_challenge_for_a_request_with_a_body_must_carry_its_digest() {
    let net = SimNetwork::new();
    let seller = net.add_node("seller", 0);
    let buyer = net.add_node("buyer", BUYER_MSAT);
    let addr = fixtures::serve(seller).await;
    let dir = tempfile::tempdir().unwrap();
    let c = client(&buyer, dir.path());
    let post = |url: String| {
        let mut req = ClientRequest::get(url.parse().unwrap());
        req.method = http::Method::POST;
        req.body = bytes::Bytes::from_static(b"{\"q\":1}");
        req
    };
    let r = probe::probe(&c, &post(format!("http://{addr}/ok/mpp")), None)
        .await
        .unwrap();
    assert_eq!(r.flagged(), vec!["mpp.digest.body"], "{}", explain(&r));
    let h = super::own_server::start_all().await;
    let r = probe::probe(&c, &post(h.url("/mpp/x").to_string()), None)
        .await
        .unwrap();
    assert!(r.flagged().is_empty(), "{}", explain(&r));
    let digest = r.findings().filter(|f| f.id == "mpp.digest.body").count();
    assert!(digest >= 1, "the digest rule ran");
}

/// A 402 whose body never ends: the probe reads at most `RAW_BODY_LIMIT` and grades it.
#[tokio::test]
async fn an_endless_body_is_read_only_up_to_the_limit() {
    let net = SimNetwork::new();
    let seller = net.add_node("seller", 0);
    let buyer = net.add_node("buyer", BUYER_MSAT);
    let addr = fixtures::serve(seller).await;
    let dir = tempfile::tempdir().unwrap();
    let c = client(&buyer, dir.path());
    let graded = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        grade(&c, &format!("http://{addr}/endless")),
    )
    .await
    .expect("the probe stops reading");
    assert_eq!(graded.status, 402);
    assert!(graded.flagged().is_empty(), "{}", explain(&graded));
    assert_eq!(graded.challenges.len(), 1);
}
