//! [`PendingSettlements`]: settlement transactions that were broadcast but whose outcome the
//! buyer never saw — the receipt did not come before the confirmation timeout, or the request
//! was dropped (client gone) while waiting. The transaction may still land and move the
//! buyer's money, so it is not forgotten: it is logged with its hash at `warn` and kept here,
//! keyed by the authorization (token, payer, EIP-3009 nonce), until a retry of the same
//! payment reconciles it (its receipt is checked again: landed → that retry is served once;
//! failed → the retry is refused; still unknown → 503 again).
//!
//! In memory, per rail: it survives client disconnects, not a gateway restart (the log line
//! keeps the hash for a manual check then), and a retry must reach the same gateway.

use std::collections::HashMap;
use std::sync::Mutex;

use gate402_protocols::x402::evm::Address;

/// Which authorization a settlement spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SettlementKey {
    /// Token contract.
    pub token: Address,
    /// Payer.
    pub from: Address,
    /// EIP-3009 nonce.
    pub nonce: [u8; 32],
}

/// A broadcast settlement not yet delivered to its buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unserved {
    /// Transaction hash, `0x`-hex.
    pub transaction: String,
    /// Unix seconds when it was broadcast.
    pub broadcast_at: u64,
}

/// The rail's record of undelivered settlements (see the module docs).
#[derive(Debug, Default)]
pub struct PendingSettlements {
    entries: Mutex<HashMap<SettlementKey, Unserved>>,
}

impl PendingSettlements {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SettlementKey, Unserved>> {
        // A panic elsewhere must not lose the record: use the data anyway.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remember `entry` for `key` (just broadcast, or handed back by a reconciler).
    pub fn insert(&self, key: SettlementKey, entry: Unserved) {
        self.lock().insert(key, entry);
    }

    /// Take the entry for `key` out, so that one retry at a time owns it.
    pub fn take(&self, key: &SettlementKey) -> Option<Unserved> {
        self.lock().remove(key)
    }

    /// All undelivered settlements (for logs and tests).
    pub fn snapshot(&self) -> Vec<(SettlementKey, Unserved)> {
        self.lock().iter().map(|(k, v)| (*k, v.clone())).collect()
    }
}

/// Records its settlement when dropped unless disarmed: a settlement whose caller stops
/// waiting (dropped future, receipt timeout) is kept, one that finished in-line is not.
pub(crate) struct Outcome<'a> {
    pending: &'a PendingSettlements,
    key: SettlementKey,
    transaction: String,
    broadcast_at: u64,
    keep: bool,
}

impl<'a> Outcome<'a> {
    /// A settlement of `key` broadcast in `transaction`: recorded when the caller stops
    /// waiting without learning its outcome (dropped unless [`Outcome::delivered`] is called).
    /// Not before: while its caller still waits, a concurrent copy of the same payment is a
    /// replay, not a retry to reconcile.
    pub(crate) fn new(
        pending: &'a PendingSettlements,
        key: SettlementKey,
        transaction: String,
        broadcast_at: u64,
    ) -> Self {
        Outcome {
            pending,
            key,
            transaction,
            broadcast_at,
            keep: true,
        }
    }

    /// The caller learns the outcome now (success or failure): drop the entry.
    pub(crate) fn delivered(mut self) {
        self.keep = false;
    }
}

impl Drop for Outcome<'_> {
    fn drop(&mut self) {
        if self.keep {
            tracing::warn!(
                transaction = %self.transaction,
                from = %gate402_protocols::x402::evm::checksum(&self.key.from),
                "x402 settlement broadcast but not confirmed to its buyer; kept for reconciliation"
            );
            self.pending.insert(
                self.key,
                Unserved {
                    transaction: std::mem::take(&mut self.transaction),
                    broadcast_at: self.broadcast_at,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> SettlementKey {
        SettlementKey {
            token: [1; 20],
            from: [2; 20],
            nonce: [n; 32],
        }
    }

    fn entry() -> Unserved {
        Unserved {
            transaction: "0xabc".into(),
            broadcast_at: 1,
        }
    }

    #[test]
    fn kept_unless_delivered() {
        let p = PendingSettlements::default();
        Outcome::new(&p, key(1), "0x1".into(), 1).delivered();
        drop(Outcome::new(&p, key(2), "0x2".into(), 1));
        let left: Vec<_> = p.snapshot().into_iter().map(|(k, _)| k).collect();
        assert_eq!(left, vec![key(2)]);
    }

    #[test]
    fn take_is_exclusive() {
        let p = PendingSettlements::default();
        p.insert(key(3), entry());
        assert_eq!(p.take(&key(3)), Some(entry()));
        assert_eq!(p.take(&key(3)), None);
    }
}
