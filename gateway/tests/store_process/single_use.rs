//! A single-use credential across two `gate402 serve` processes on one PostgreSQL: both mint
//! on the same LND-compatible node (`gate402 simnet`), the buyer pays one x402 Lightning
//! invoice, and 50 concurrent presentations of its proof split across both processes are
//! served exactly once.

use bytes::Bytes;
use gate402_protocols::x402::wire::{decode_header, encode_header};
use gate402_rails::{LightningRail, PayLimits};
use http_body_util::{BodyExt, Empty};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use serde_json::{json, Value};

use crate::support::{self, Fleet};

/// GET `url` with `headers`: status and headers (`None` if the connection failed).
pub async fn fetch(url: &str, headers: &[(&str, &str)]) -> Option<(u16, http::HeaderMap)> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut req = http::Request::get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = client.request(req.body(Empty::new()).unwrap()).await.ok()?;
    let (parts, body) = resp.into_parts();
    body.collect().await.ok()?;
    Some((parts.status.as_u16(), parts.headers))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_serve_one_single_use_payment_once() {
    let fleet = Fleet::start(
        "name = \"ln\"\npath_prefix = \"/ln/\"\nprice_sat = 21\nprotocols = [\"x402\"]\n\
         x402 = { lightning = true }\n",
    )
    .await;
    let (a, b, sim, config) = (fleet.a, fleet.b, fleet.sim, fleet.config);
    let urls = [format!("{}/ln/x", a.base), format!("{}/ln/x", b.base)];

    // The offer from process a, paid by alice over LND gRPC.
    let (status, headers) = fetch(&urls[0], &[]).await.unwrap();
    assert_eq!(status, 402);
    let pr: Value = decode_header(headers["payment-required"].as_bytes(), "t").unwrap();
    let entry = pr["accepts"][0].clone();
    let invoice = entry["extra"]["invoice"].as_str().unwrap().to_string();
    let wallet = support::lnd_wallet(&sim.join("alice")).await;
    wallet
        .pay_invoice(&invoice, PayLimits::default())
        .await
        .unwrap();
    let proof = encode_header(&json!({"x402Version": 2, "scheme": entry["scheme"],
        "network": entry["network"], "payload": {"invoice": invoice}, "accepted": entry}));

    let statuses = futures_util::future::join_all((0..50).map(|i| {
        let (u, p) = (urls[i % 2].clone(), proof.clone());
        async move { fetch(&u, &[("payment-signature", &p)]).await.map(|r| r.0) }
    }))
    .await;
    let ok = statuses.iter().filter(|s| **s == Some(200)).count();
    assert_eq!(ok, 1, "exactly one 200 across both processes: {statuses:?}");
    assert!(
        statuses.iter().all(|s| matches!(s, Some(200 | 402))),
        "{statuses:?}"
    );
    let refs = support::ledger_refs(&config).await;
    assert_eq!(refs.len(), 1, "one payment in the shared ledger: {refs:?}");
    a.kill9().await;
    b.kill9().await;
}
