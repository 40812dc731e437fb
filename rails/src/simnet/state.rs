//! The shared mutable state of a simulated network (behind one mutex in [`SimNetwork`]).
//!
//! [`SimNetwork`]: super::SimNetwork

use std::collections::{HashMap, HashSet};

use tokio::sync::broadcast;

use super::events::{InvoiceEvent, InvoiceEventKind, InvoiceRecord};
use super::faults::Faults;
use crate::{PaymentHash, RailError, RailErrorKind};

/// Capacity of each node's invoice event channel; slower subscribers see `Lagged` and should
/// resubscribe with `SimNode::subscribe_invoices_since`.
const EVENT_CAPACITY: usize = 1024;

/// Whole network.
#[derive(Debug, Default)]
pub(crate) struct NetState {
    /// Nodes by name.
    pub nodes: HashMap<String, NodeState>,
    /// Node name by compressed public key.
    pub by_pubkey: HashMap<[u8; 33], String>,
    /// Seconds added to the wall clock (tests move time forward with it).
    pub clock_offset_secs: u64,
    /// Routing fee charged to the payer of every payment (burned by the simulated route).
    pub routing_fee_msat: u64,
    /// Successful payments across the network.
    pub payments_total: u64,
}

/// One node.
#[derive(Debug)]
pub(crate) struct NodeState {
    /// Spendable balance.
    pub balance_msat: u64,
    /// Injected faults.
    pub faults: Faults,
    /// Invoices this node issued.
    pub invoices: HashMap<PaymentHash, InvoiceRecord>,
    /// Hashes this node has paid successfully (LND refuses to pay them again).
    pub paid_hashes: HashSet<PaymentHash>,
    /// Last `add_index` handed out.
    pub add_index: u64,
    /// Last `settle_index` handed out.
    pub settle_index: u64,
    /// Successful outgoing payments.
    pub payments_sent: u64,
    /// Failed outgoing payment attempts.
    pub payments_failed: u64,
    /// Outgoing payments by hash: in flight (`None`) or their outcome (LND's payment
    /// database, read by `TrackPaymentV2`).
    pub outgoing: HashMap<PaymentHash, Option<Result<crate::Payment, RailError>>>,
    /// Invoice event fan-out.
    pub events: broadcast::Sender<InvoiceEvent>,
}

impl NodeState {
    /// A healthy node holding `balance_msat`.
    pub fn new(balance_msat: u64) -> Self {
        NodeState {
            balance_msat,
            faults: Faults::default(),
            invoices: HashMap::new(),
            paid_hashes: HashSet::new(),
            add_index: 0,
            settle_index: 0,
            payments_sent: 0,
            payments_failed: 0,
            outgoing: HashMap::new(),
            events: broadcast::channel(EVENT_CAPACITY).0,
        }
    }

    /// `Unavailable` if the node is down.
    pub fn ensure_online(&self) -> Result<(), RailError> {
        if self.faults.offline {
            Err(RailError::new(
                RailErrorKind::Unavailable,
                "simnet node is offline",
            ))
        } else {
            Ok(())
        }
    }

    /// Store a freshly minted invoice, assign its `add_index` and announce it.
    pub fn insert_invoice(&mut self, mut record: InvoiceRecord) {
        self.add_index += 1;
        record.add_index = self.add_index;
        self.notify(InvoiceEventKind::Added, &record);
        self.invoices.insert(record.payment_hash, record);
    }

    /// Mark an invoice settled at `now` with `amt_paid_msat` received, assign its
    /// `settle_index` and announce it.
    pub fn settle_invoice(
        &mut self,
        hash: &PaymentHash,
        amt_paid_msat: u64,
        now: u64,
    ) -> Option<InvoiceRecord> {
        let record = self.invoices.get_mut(hash)?;
        self.settle_index += 1;
        record.state = crate::InvoiceState::Settled;
        record.settled_at = Some(now);
        record.amt_paid_msat = amt_paid_msat;
        record.settle_index = self.settle_index;
        let record = record.clone();
        self.notify(InvoiceEventKind::Settled, &record);
        Some(record)
    }

    /// Number of settled invoices.
    pub fn settled_count(&self) -> usize {
        self.settle_index as usize
    }

    /// Backlog for a resumed subscription, LND order: additions with `add_index > add_since`
    /// (by add index), then settlements with `settle_index > settle_since` (by settle index).
    /// An index of 0 replays nothing for that sequence.
    pub fn backlog(&self, add_since: u64, settle_since: u64, now: u64) -> Vec<InvoiceEvent> {
        let snapshot = |r: &InvoiceRecord| {
            let mut r = r.clone();
            r.state = r.state_at(now);
            r
        };
        let mut added: Vec<&InvoiceRecord> = if add_since == 0 {
            Vec::new()
        } else {
            let v = self.invoices.values().filter(|r| r.add_index > add_since);
            v.collect()
        };
        added.sort_by_key(|r| r.add_index);
        let mut settled: Vec<&InvoiceRecord> = if settle_since == 0 {
            Vec::new()
        } else {
            let v = self.invoices.values();
            v.filter(|r| r.settle_index > settle_since).collect()
        };
        settled.sort_by_key(|r| r.settle_index);
        let added = added.into_iter().map(|r| InvoiceEvent {
            kind: InvoiceEventKind::Added,
            invoice: snapshot(r),
        });
        let settled = settled.into_iter().map(|r| InvoiceEvent {
            kind: InvoiceEventKind::Settled,
            invoice: snapshot(r),
        });
        added.chain(settled).collect()
    }

    fn notify(&self, kind: InvoiceEventKind, record: &InvoiceRecord) {
        // No subscriber is fine: `send` only fails when nobody listens.
        let _ = self.events.send(InvoiceEvent {
            kind,
            invoice: record.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InvoiceState;

    fn record(hash: u8) -> InvoiceRecord {
        InvoiceRecord {
            payment_hash: [hash; 32],
            preimage: [0; 32],
            payment_secret: [0; 32],
            bolt11: String::new(),
            memo: String::new(),
            amount_msat: 1,
            state: InvoiceState::Open,
            created_at: 0,
            expires_at: 100,
            settled_at: None,
            amt_paid_msat: 0,
            add_index: 0,
            settle_index: 0,
        }
    }

    #[test]
    fn indexes_events_and_backlog() {
        let mut n = NodeState::new(0);
        let mut rx = n.events.subscribe();
        for h in 1..=3 {
            n.insert_invoice(record(h));
        }
        assert!(n.settle_invoice(&[3; 32], 1, 50).is_some());
        assert!(n.settle_invoice(&[1; 32], 1, 60).is_some());
        assert!(n.settle_invoice(&[9; 32], 1, 60).is_none());
        assert_eq!(n.settled_count(), 2);
        let kinds: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|e| (e.kind, e.invoice.payment_hash[0]))
            .collect();
        use InvoiceEventKind::{Added, Settled};
        assert_eq!(
            kinds,
            vec![
                (Added, 1),
                (Added, 2),
                (Added, 3),
                (Settled, 3),
                (Settled, 1)
            ]
        );

        let backlog = n.backlog(2, 1, 200);
        let got: Vec<_> = backlog
            .iter()
            .map(|e| (e.kind, e.invoice.payment_hash[0], e.invoice.state))
            .collect();
        assert_eq!(
            got,
            vec![
                (Added, 3, InvoiceState::Settled),
                (Settled, 1, InvoiceState::Settled)
            ]
        );
        // Snapshots report expiry: invoice 2 is open but past expires_at at t=200.
        let all = n.backlog(u64::MAX, 0, 200);
        assert!(all.is_empty());
        let first = n.backlog(1, 0, 200);
        assert_eq!(first[0].invoice.state, InvoiceState::Canceled);
    }

    #[test]
    fn offline_node_is_unavailable() {
        let mut n = NodeState::new(0);
        assert!(n.ensure_online().is_ok());
        n.faults.offline = true;
        assert_eq!(
            n.ensure_online().unwrap_err().kind,
            RailErrorKind::Unavailable
        );
    }
}
