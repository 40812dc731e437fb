//! Integration tests of the simulated Lightning network and BOLT11 decoding.
//!
//! Submodules live in `tests/simnet/`. Delay tests run on paused tokio time: no real sleeps.

#[path = "simnet/bolt11.rs"]
mod bolt11;
#[path = "simnet/concurrency.rs"]
mod concurrency;
#[path = "simnet/faults.rs"]
mod faults;
#[path = "simnet/payments.rs"]
mod payments;
#[path = "simnet/subscriptions.rs"]
mod subscriptions;

use gate402_rails::simnet::{SimNetwork, SimNode};
use gate402_rails::{Invoice, InvoiceRequest, LightningRail, PayLimits};

/// Starting balance of `alice` in [`two_nodes`].
pub const ALICE_START: u64 = 1_000_000;

/// A network with `alice` (payer, [`ALICE_START`] msat) and `bob` (payee, 0 msat).
pub fn two_nodes() -> (SimNetwork, SimNode, SimNode) {
    let net = SimNetwork::new();
    let alice = net.add_node("alice", ALICE_START);
    let bob = net.add_node("bob", 0);
    (net, alice, bob)
}

/// An invoice request for `amount_msat`, one hour.
pub fn req(amount_msat: u64) -> InvoiceRequest {
    InvoiceRequest {
        amount_msat,
        memo: "gate402 test".into(),
        expiry_secs: 3600,
    }
}

/// Create an invoice on `node` (must succeed).
pub async fn invoice(node: &SimNode, amount_msat: u64) -> Invoice {
    node.create_invoice(req(amount_msat))
        .await
        .expect("create_invoice")
}

/// Default payment limits.
pub fn limits() -> PayLimits {
    PayLimits::default()
}
