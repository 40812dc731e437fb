//! An in-process simulated Lightning network ("simnet").
//!
//! **This is a simulator, not a wallet.** Nodes, balances and channels are plain numbers in
//! memory; node keys are derived from the node name (`sha256("gate402-simnet/" ‖ name)`) so
//! they are reproducible, public knowledge and must never hold real funds. What *is* real:
//! invoices are genuine BOLT11 strings (currency regtest, `lnbcrt…`) signed with the node key,
//! preimages are random and hash to the payment hash, and payments settle atomically.
//!
//! Semantics follow LND (see `lnd.md`): invoice states OPEN/SETTLED/CANCELED (an unpaid
//! invoice past its expiry reads CANCELED), `AddInvoice` expiry default 3600 s, payment
//! failures NO_ROUTE / INSUFFICIENT_BALANCE / TIMEOUT / INCORRECT_PAYMENT_DETAILS mapped to
//! [`RailErrorKind`](crate::RailErrorKind)s, and `SubscribeInvoices`-style events with
//! `add_index` / `settle_index`. [`Faults`] inject outages, missing routes and latency.
//!
//! [`SimNetwork`] is a cheap handle (`Arc<Mutex<…>>`); the lock is never held across an
//! `.await`.

mod events;
mod faults;
mod mint;
mod node;
mod pay;
mod state;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use events::{InvoiceEvent, InvoiceEventKind, InvoiceRecord};
pub use faults::Faults;
pub use mint::{DEFAULT_INVOICE_EXPIRY_SECS, MIN_FINAL_CLTV_EXPIRY_DELTA, SIMNET_CHAIN};
pub use node::SimNode;
#[cfg(feature = "lnd-server")]
pub(crate) use pay::amount_to_pay;

use state::{NetState, NodeState};

/// A simulated Lightning network: a set of named nodes that can all pay each other.
#[derive(Clone, Default)]
pub struct SimNetwork {
    inner: Arc<Mutex<NetState>>,
}

impl fmt::Debug for SimNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        let mut names: Vec<&String> = st.nodes.keys().collect();
        names.sort();
        f.debug_struct("SimNetwork").field("nodes", &names).finish()
    }
}

impl SimNetwork {
    /// An empty network.
    pub fn new() -> Self {
        SimNetwork::default()
    }

    /// Add a node named `name` holding `balance_msat`, and return a handle to it.
    ///
    /// If the name is taken, the existing node is returned unchanged (its balance is *not*
    /// reset; use [`set_balance_msat`](Self::set_balance_msat)).
    pub fn add_node(&self, name: &str, balance_msat: u64) -> SimNode {
        let node = SimNode::derive(self.clone(), name);
        let mut st = self.lock();
        if !st.nodes.contains_key(name) {
            st.nodes
                .insert(name.to_owned(), NodeState::new(balance_msat));
            st.by_pubkey.insert(node.pubkey(), name.to_owned());
        }
        node
    }

    /// Handle to an existing node.
    pub fn node(&self, name: &str) -> Option<SimNode> {
        let known = self.lock().nodes.contains_key(name);
        known.then(|| SimNode::derive(self.clone(), name))
    }

    /// Names of all nodes, sorted.
    pub fn node_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.lock().nodes.keys().cloned().collect();
        names.sort();
        names
    }

    /// Spendable balance of a node.
    pub fn balance_msat(&self, name: &str) -> Option<u64> {
        self.with_node(name, |n| n.balance_msat)
    }

    /// Overwrite a node's balance; false if the node does not exist.
    pub fn set_balance_msat(&self, name: &str, balance_msat: u64) -> bool {
        self.with_node_mut(name, |n| n.balance_msat = balance_msat)
            .is_some()
    }

    /// Sum of all node balances (conserved by payments when the routing fee is 0).
    pub fn total_balance_msat(&self) -> u128 {
        let st = self.lock();
        st.nodes.values().map(|n| u128::from(n.balance_msat)).sum()
    }

    /// Replace a node's faults; false if the node does not exist.
    pub fn set_faults(&self, name: &str, faults: Faults) -> bool {
        self.with_node_mut(name, |n| n.faults = faults).is_some()
    }

    /// Current faults of a node (healthy default for an unknown name).
    pub fn faults(&self, name: &str) -> Faults {
        self.with_node(name, |n| n.faults).unwrap_or_default()
    }

    /// Routing fee charged to the payer of every payment from now on (default 0). It is
    /// burned by the simulated route, not credited to the payee. Payments whose
    /// `PayLimits::max_fee_msat` is below it fail with `FeeLimitExceeded`.
    pub fn set_routing_fee_msat(&self, fee_msat: u64) {
        self.lock().routing_fee_msat = fee_msat;
    }

    /// Routing fee charged to the payer of every payment.
    pub fn routing_fee_msat(&self) -> u64 {
        self.lock().routing_fee_msat
    }

    /// Move the network's clock forward (affects invoice timestamps and expiry checks).
    pub fn advance_clock(&self, by: Duration) {
        let mut st = self.lock();
        st.clock_offset_secs = st.clock_offset_secs.saturating_add(by.as_secs());
    }

    /// The network's current Unix time in seconds (wall clock plus any
    /// [`advance_clock`](Self::advance_clock)).
    pub fn now_secs(&self) -> u64 {
        let offset = self.lock().clock_offset_secs;
        wall_clock_secs().saturating_add(offset)
    }

    /// Invoices a node has issued.
    pub fn invoices_count(&self, name: &str) -> usize {
        self.with_node(name, |n| n.invoices.len()).unwrap_or(0)
    }

    /// Invoices of a node that have been paid.
    pub fn settled_invoices(&self, name: &str) -> usize {
        self.with_node(name, |n| n.settled_count()).unwrap_or(0)
    }

    /// Successful payments sent by a node.
    pub fn payments_sent(&self, name: &str) -> u64 {
        self.with_node(name, |n| n.payments_sent).unwrap_or(0)
    }

    /// Failed payment attempts by a node (any error from `pay_invoice`).
    pub fn payments_failed(&self, name: &str) -> u64 {
        self.with_node(name, |n| n.payments_failed).unwrap_or(0)
    }

    /// Successful payments across the whole network.
    pub fn payments_count(&self) -> u64 {
        self.lock().payments_total
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, NetState> {
        // Nothing panics while holding the lock; recover the data if something ever did.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with_node<R>(&self, name: &str, f: impl FnOnce(&NodeState) -> R) -> Option<R> {
        self.lock().nodes.get(name).map(f)
    }

    fn with_node_mut<R>(&self, name: &str, f: impl FnOnce(&mut NodeState) -> R) -> Option<R> {
        self.lock().nodes.get_mut(name).map(f)
    }
}

impl NetState {
    /// The network's current Unix time in seconds.
    pub(crate) fn now_secs(&self) -> u64 {
        wall_clock_secs().saturating_add(self.clock_offset_secs)
    }
}

fn wall_clock_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_helpers() {
        let net = SimNetwork::new();
        net.add_node("a", 10);
        net.add_node("b", 5);
        assert_eq!(net.total_balance_msat(), 15);
        assert!(net.set_balance_msat("a", 1));
        assert!(!net.set_balance_msat("zz", 1));
        assert!(!net.set_faults("zz", Faults::offline()));
        assert_eq!(net.faults("zz"), Faults::default());
        assert_eq!(net.balance_msat("a"), Some(1));
        assert_eq!((net.invoices_count("zz"), net.payments_sent("zz")), (0, 0));
        assert_eq!(format!("{net:?}"), r#"SimNetwork { nodes: ["a", "b"] }"#);
    }

    #[test]
    fn clock_advances() {
        let net = SimNetwork::new();
        let before = net.now_secs();
        net.advance_clock(Duration::from_secs(1_000));
        let after = net.now_secs();
        assert!((1_000..=1_002).contains(&(after - before)));
    }
}
