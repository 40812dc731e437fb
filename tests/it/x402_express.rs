//! x402 with the reference servers on anvil: `gate402 get` pays `@x402/express` 2.27.0 with
//! the reference `@x402/core` facilitator, then with gate402's built-in facilitator; and the
//! gate402 gateway verifies/settles through the reference facilitator.

use clap::Parser;
use gate402::cli::{run_get, Exit, GetArgs};
use gate402_protocols::x402::evm;
use gate402_tests::chain::Chain;
use gate402_tests::{json_body, matrix, peers, raw, Harness};

#[derive(Parser)]
struct GetCmd {
    #[command(flatten)]
    args: GetArgs,
}

/// Run `gate402 get URL` in-process paying with dev account #1; returns exit code and body.
async fn gate402_get(chain: &Chain, url: &str) -> (Exit, String) {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("buyer.key");
    std::fs::write(&key, &chain.keys[1]).unwrap();
    let out = dir.path().join("body");
    let args = [
        "gate402",
        url,
        "--evm-key-file",
        key.to_str().unwrap(),
        "--max-evm-amount",
        "10000",
        "--cache-dir",
        dir.path().to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    let code = run_get(GetCmd::parse_from(args).args).await;
    (code, std::fs::read_to_string(&out).unwrap_or_default())
}

#[tokio::test]
async fn gate402_get_pays_express_with_the_reference_facilitator() {
    matrix::cell(
        "x402_express::gate402_get_pays_express_with_the_reference_facilitator",
        async {
            let chain = Chain::start().await;
            let fac = peers::reference_facilitator(&chain).await;
            let server = peers::x402_express(&chain, fac.url.clone()).await;
            let (code, body) = gate402_get(&chain, &format!("{}/weather", server.url)).await;
            assert_eq!(code, Exit::Ok, "{body}");
            assert!(body.contains("sunny"), "{body}");
            assert_eq!(chain.balance(&chain.address(2)).await, 10_000);
            chain.stop().await;
        },
    )
    .await;
}

#[tokio::test]
async fn express_uses_gate402_as_its_facilitator() {
    matrix::cell(
        "x402_express::express_uses_gate402_as_its_facilitator",
        async {
            let chain = Chain::start().await;
            let dir = tempfile::tempdir().unwrap();
            let keyfile = dir.path().join("settler.key");
            gate402_tests::write_secret(&keyfile, &chain.keys[0]).unwrap();
            let cfg = format!(
                "[server]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://127.0.0.1:9\"\n\
         [lightning]\nbackend = \"simnet\"\n\
         [evm]\nchain_id = 31337\nrpc_url = \"{}\"\nsettler_key_file = \"{}\"\n\
         [facilitator]\nenabled = true\n",
                chain.url,
                keyfile.display()
            );
            let h = Harness::start_with(&cfg).await;
            let fac_url = format!("http://{}/_gate402/facilitator", h.gateway.addr);
            // The reference shapes, answered directly.
            let (status, _, body) =
                raw(&format!("{fac_url}/supported").parse().unwrap(), &[]).await;
            assert_eq!(status, http::StatusCode::OK);
            let sup = json_body(&body);
            assert_eq!(sup["kinds"][0]["network"], "eip155:31337");
            assert_eq!(
                sup["signers"]["eip155:*"][0],
                evm::checksum(&chain.address(0))
            );
            let server = peers::x402_express(&chain, fac_url).await;
            let (code, body) = gate402_get(&chain, &format!("{}/weather", server.url)).await;
            assert_eq!(code, Exit::Ok, "{body}");
            assert!(body.contains("sunny"), "{body}");
            assert_eq!(chain.balance(&chain.address(2)).await, 10_000);
            // A price above --max-evm-amount is refused before signing (exit 3, nothing paid).
            let dir2 = tempfile::tempdir().unwrap();
            let key = dir2.path().join("k");
            std::fs::write(&key, &chain.keys[1]).unwrap();
            let url = format!("{}/weather", server.url);
            let args = [
                "gate402",
                &url,
                "--evm-key-file",
                key.to_str().unwrap(),
                "--max-evm-amount",
                "9999",
                "--cache-dir",
                dir2.path().to_str().unwrap(),
            ];
            assert_eq!(run_get(GetCmd::parse_from(args).args).await, Exit::Policy);
            assert_eq!(chain.balance(&chain.address(2)).await, 10_000);
            chain.stop().await;
        },
    )
    .await;
}

#[tokio::test]
async fn gate402_verifies_and_settles_through_the_reference_facilitator() {
    matrix::cell("x402_express::gate402_verifies_and_settles_through_the_reference_facilitator", async {
    use gate402::client::{Client, ClientRequest, EvmWallet, Policy, TokenCache};
    let chain = Chain::start().await;
    let fac = peers::reference_facilitator(&chain).await;
    let up = gate402_tests::serve(gate402_tests::upstream_app()).await;
    let cfg = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://{up}\"\n\
         [lightning]\nbackend = \"simnet\"\n\
         [evm]\nchain_id = 31337\nfacilitator_url = \"{}\"\n\
         [[route]]\nname = \"f\"\npath_prefix = \"/f/\"\nprice_sat = 1\nprotocols = [\"x402\"]\n\
         x402 = {{ network = \"eip155:31337\", asset = \"{}\", pay_to = \"{}\", amount = \"10000\" }}\n",
        fac.url,
        evm::checksum(&chain.token),
        evm::checksum(&chain.address(2)),
    );
    let h = Harness::start_with(&cfg).await;
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(
        std::sync::Arc::new(h.buyer.clone()),
        TokenCache::new(dir.path()),
        Policy::default(),
    )
    .with_evm_wallet(EvmWallet::from_hex(&chain.keys[1], 10_000).unwrap());
    let resp = client
        .send(&ClientRequest::get(h.url("/f/x")))
        .await
        .unwrap();
    assert_eq!(resp.response.status(), http::StatusCode::OK);
    let info = resp.payment.unwrap();
    assert_eq!(
        info.payment_hash.len(),
        66,
        "the facilitator's transaction hash"
    );
    assert_eq!(chain.balance(&chain.address(2)).await, 10_000);
    chain.stop().await;
    })
    .await;
}
