//! An MPP Lightning `charge` credential across two `gate402 serve` processes on one
//! PostgreSQL: both mint on the same LND-compatible node (`gate402 simnet`), the buyer pays
//! one challenge's invoice, and 50 concurrent presentations of the one credential, split
//! across both processes, are served exactly once with exactly one ledger row.

use gate402_protocols::mpp::{client::parse_challenges, MppCredential};
use gate402_rails::{LightningRail, PayLimits};
use serde_json::{Map, Value};

use crate::{
    single_use::fetch,
    support::{self, Fleet},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_serve_one_mpp_charge_once() {
    let fleet = Fleet::start(
        "name = \"mpp\"\npath_prefix = \"/m/\"\nprice_sat = 13\nprotocols = [\"mpp\"]\n",
    )
    .await;
    let (a, b, sim, config) = (fleet.a, fleet.b, fleet.sim, fleet.config);
    let urls = [format!("{}/m/x", a.base), format!("{}/m/x", b.base)];

    // The charge challenge from process b, paid by alice over LND gRPC.
    let (status, headers) = fetch(&urls[1], &[]).await.unwrap();
    assert_eq!(status, 402);
    let offer = parse_challenges(&headers).pop().unwrap().unwrap();
    assert!(offer.is_lightning_charge(), "{offer:?}");
    let wallet = support::lnd_wallet(&sim.join("alice")).await;
    let paid = wallet
        .pay_invoice(offer.invoice.as_deref().unwrap(), PayLimits::default())
        .await
        .unwrap();
    let mut payload = Map::new();
    payload.insert("preimage".into(), Value::String(hex::encode(paid.preimage)));
    let auth = MppCredential::new(&offer.challenge, payload).to_header_value();

    let statuses = futures_util::future::join_all((0..50).map(|i| {
        let (u, a) = (urls[i % 2].clone(), auth.clone());
        async move { fetch(&u, &[("authorization", &a)]).await.map(|r| r.0) }
    }))
    .await;
    let ok = statuses.iter().filter(|s| **s == Some(200)).count();
    assert_eq!(ok, 1, "exactly one 200 across both processes: {statuses:?}");
    assert!(
        statuses.iter().all(|s| matches!(s, Some(200 | 402))),
        "{statuses:?}"
    );
    let refs = support::ledger_refs(&config).await;
    assert_eq!(
        refs,
        [hex::encode(paid.payment_hash)],
        "one payment in the shared ledger"
    );
    // A later presentation to either process is still refused (replayed).
    for u in &urls {
        assert_eq!(fetch(u, &[("authorization", &auth)]).await.unwrap().0, 402);
    }
    a.kill9().await;
    b.kill9().await;
}
