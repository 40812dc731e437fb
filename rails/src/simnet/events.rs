//! Invoice records and subscription events, shaped like LND's `lnrpc.Invoice` stream.
//!
//! LND's `SubscribeInvoices` only announces additions and settlements (each with its own
//! monotonically increasing `add_index` / `settle_index`, starting at 1); cancellations and
//! expiries are not streamed. The simulator does the same.

use std::fmt;

use crate::{InvoiceState, PaymentHash};

/// Snapshot of an invoice held by a simulated node (LND `lnrpc.Invoice` subset).
///
/// Holds the preimage (the invoice owner knows it, and LND returns it as `r_preimage`);
/// its [`Debug`] output redacts it.
#[derive(Clone, PartialEq, Eq)]
pub struct InvoiceRecord {
    /// Payment hash (`r_hash`).
    pub payment_hash: PaymentHash,
    /// Preimage (`r_preimage`). Secret: never log it.
    pub preimage: [u8; 32],
    /// Payment secret (`payment_addr`).
    pub payment_secret: [u8; 32],
    /// BOLT11 payment request.
    pub bolt11: String,
    /// Description (`memo`).
    pub memo: String,
    /// Amount in millisatoshis (`value_msat`).
    pub amount_msat: u64,
    /// State; an unpaid invoice past its expiry reads as `Canceled`, as in LND.
    pub state: InvoiceState,
    /// Unix seconds of creation (`creation_date`).
    pub created_at: u64,
    /// Unix seconds of expiry (`creation_date + expiry`).
    pub expires_at: u64,
    /// Unix seconds of settlement (`settle_date`), when settled.
    pub settled_at: Option<u64>,
    /// Amount received in millisatoshis (`amt_paid_msat`), 0 until settled.
    pub amt_paid_msat: u64,
    /// Position in the node's add sequence (`add_index`, from 1).
    pub add_index: u64,
    /// Position in the node's settle sequence (`settle_index`, from 1; 0 while unsettled).
    pub settle_index: u64,
}

impl InvoiceRecord {
    /// The state an observer sees at Unix time `now`: `Open` turns `Canceled` once expired.
    pub fn state_at(&self, now: u64) -> InvoiceState {
        match self.state {
            InvoiceState::Open if now >= self.expires_at => InvoiceState::Canceled,
            s => s,
        }
    }

    /// Expiry in seconds (`expiry`).
    pub fn expiry_secs(&self) -> u64 {
        self.expires_at.saturating_sub(self.created_at)
    }
}

impl fmt::Debug for InvoiceRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvoiceRecord")
            .field("payment_hash", &hex::encode(self.payment_hash))
            .field("preimage", &"<redacted>")
            .field("bolt11", &self.bolt11)
            .field("memo", &self.memo)
            .field("amount_msat", &self.amount_msat)
            .field("state", &self.state)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("settled_at", &self.settled_at)
            .field("amt_paid_msat", &self.amt_paid_msat)
            .field("add_index", &self.add_index)
            .field("settle_index", &self.settle_index)
            .finish_non_exhaustive()
    }
}

/// What happened to an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvoiceEventKind {
    /// The invoice was created (or is replayed as added).
    Added,
    /// The invoice was paid.
    Settled,
}

/// One item of a node's invoice subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceEvent {
    /// Addition or settlement.
    pub kind: InvoiceEventKind,
    /// The invoice as of the event.
    pub invoice: InvoiceRecord,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> InvoiceRecord {
        InvoiceRecord {
            payment_hash: [1; 32],
            preimage: [0xab; 32],
            payment_secret: [2; 32],
            bolt11: "lnbcrt1".into(),
            memo: "m".into(),
            amount_msat: 5,
            state: InvoiceState::Open,
            created_at: 10,
            expires_at: 20,
            settled_at: None,
            amt_paid_msat: 0,
            add_index: 1,
            settle_index: 0,
        }
    }

    #[test]
    fn debug_redacts_preimage() {
        let s = format!(
            "{:?}",
            InvoiceEvent {
                kind: InvoiceEventKind::Added,
                invoice: record()
            }
        );
        assert!(!s.contains(&hex::encode([0xab; 32])));
        assert!(!s.contains("171, 171"));
        assert!(s.contains("<redacted>"));
    }

    #[test]
    fn open_invoice_reads_canceled_after_expiry() {
        let r = record();
        assert_eq!(r.state_at(19), InvoiceState::Open);
        assert_eq!(r.state_at(20), InvoiceState::Canceled);
        let settled = InvoiceRecord {
            state: InvoiceState::Settled,
            ..r
        };
        assert_eq!(settled.state_at(99), InvoiceState::Settled);
        assert_eq!(settled.expiry_secs(), 10);
    }
}
