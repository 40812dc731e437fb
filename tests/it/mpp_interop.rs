//! MPP interop with the npm reference peers (installed by `tests/run-all.sh` from the pinned
//! lockfile; missing `node_modules` fails the test, never skips it). Each test is a cell of
//! the generated interop matrix ([`gate402_tests::matrix`]):
//!
//! * reference client → gate402: `@getalby/lightning-tools` 9.0.1 `fetchWithMpp` pays a
//!   gate402 route over simnet (its wallet pays through a loopback endpoint of this test); on
//!   an L402-first route it does not pay (a ✘ cell: Alby needs `Payment` first), while its
//!   `fetch402` pays that route's L402 challenge;
//! * gate402 client → reference server: an `mppx` 0.11.0 server with a Lightning charge method
//!   defined with mppx's custom-method API (`tests/interop/mpp/mppx_server.mjs`).

use std::path::PathBuf;

use gate402::client::{ClientRequest, Policy};
use gate402_protocols::{mpp::MppReceipt, ProtocolId};
use gate402_tests::{matrix, peers, Harness};
use serde_json::Value;
use tokio::process::Command;

fn interop_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop");
    for pkg in ["@getalby/lightning-tools", "mppx"] {
        assert!(
            dir.join("node_modules").join(pkg).join("package.json").is_file(),
            "npm peer `{pkg}` missing in {}: run `npm ci --prefix tests/interop` (tests/run-all.sh does)",
            dir.display()
        );
    }
    dir
}

/// Alby pays `path` of `h` (`mode`: `mpp` = `fetchWithMpp`, `402` = `fetch402`); its JSON line.
async fn alby(h: &Harness, path: &str, mode: &str) -> Value {
    let dir = interop_dir();
    let out = Command::new("node")
        .arg(dir.join("mpp/alby_fetch.mjs"))
        .arg(h.url(path).to_string())
        .arg(peers::wallet(h.buyer.clone()).await)
        .arg(mode)
        .current_dir(&dir)
        .kill_on_drop(true)
        .output()
        .await
        .expect("cannot run `node`: install Node.js >= 18");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "alby_fetch.mjs failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[tokio::test]
async fn alby_fetch_with_mpp_pays_a_gate402_route() {
    matrix::cell(
        "mpp_interop::alby_fetch_with_mpp_pays_a_gate402_route",
        async {
            let h = Harness::start_mpp().await;
            let result = alby(&h, "/api/alby", "mpp").await;
            assert_eq!(result["status"], 200, "{result}");
            assert_eq!(result["paid"], true);
            assert_eq!(result["amountSat"], 10);
            let body: Value = serde_json::from_str(result["body"].as_str().unwrap()).unwrap();
            assert_eq!(body["path"], "/api/alby");
            let receipt = MppReceipt::parse(result["receipt"].as_str().unwrap()).unwrap();
            assert_eq!(receipt.method, "lightning");
            assert_eq!(h.seller_msat(), 10_000, "exactly one charge was paid");
        },
    )
    .await;
}

/// A known incompatibility (✘ in the matrix): `fetchWithMpp` pays only when the joined
/// `WWW-Authenticate` value starts with `Payment`, and gate402 puts L402 first.
#[tokio::test]
async fn alby_fetch_with_mpp_on_an_l402_first_route() {
    matrix::cell(
        "mpp_interop::alby_fetch_with_mpp_on_an_l402_first_route",
        async {
            let h = Harness::start_mpp().await;
            let result = alby(&h, "/both/alby", "mpp").await;
            assert_eq!(h.seller_msat(), 0, "nothing paid whatever happens next");
            assert_eq!(result["status"], 200, "fetchWithMpp did not pay: {result}");
        },
    )
    .await;
}

#[tokio::test]
async fn alby_fetch402_pays_an_l402_first_route_with_l402() {
    matrix::cell(
        "mpp_interop::alby_fetch402_pays_an_l402_first_route_with_l402",
        async {
            let h = Harness::start_mpp().await;
            let result = alby(&h, "/both/alby", "402").await;
            assert_eq!(result["status"], 200, "{result}");
            assert_eq!(result["paid"], true);
            let header = result["header"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase();
            assert_eq!(header, "authorization", "{result}");
            let body: Value = serde_json::from_str(result["body"].as_str().unwrap()).unwrap();
            assert!(
                body["authorization"].is_null(),
                "credentials are stripped before upstream"
            );
            assert_eq!(h.seller_msat(), 10_000, "one L402 payment");
        },
    )
    .await;
}

#[tokio::test]
async fn gate402_client_pays_an_mppx_server() {
    matrix::cell("mpp_interop::gate402_client_pays_an_mppx_server", async {
        let h = Harness::start_mpp().await;
        let mppx = peers::mppx_lightning(&peers::minter(h.seller.clone()).await).await;
        let client = h.client("mppx", Policy::default());
        let url = format!("{}/paid", mppx.url).parse().unwrap();
        let paid = client.send(&ClientRequest::get(url)).await.unwrap();
        assert_eq!(paid.response.status(), 200, "{:?}", paid.response.body());
        let info = paid.payment.unwrap();
        assert_eq!((info.protocol, info.amount_msat), (ProtocolId::Mpp, 10_000));
        let receipt =
            MppReceipt::parse(paid.response.headers()["payment-receipt"].to_str().unwrap())
                .unwrap();
        assert_eq!(receipt.reference, info.payment_hash);
        assert_eq!(h.seller_msat(), 10_000);
    })
    .await;
}
