//! The settlement journal: x402 settlements whose outcome their buyer has not seen yet.
//!
//! A settlement is written to the journal **before** its transaction is sent (signed, with
//! its raw bytes, nonce and hash), leased to the caller that waits for its receipt. The
//! caller's outcome removes or resolves it; a caller that stops waiting (receipt later than
//! `confirm_timeout_secs`, request dropped, process killed) leaves it behind, and once the
//! lease is over anyone may reconcile it: a retry of the same payment on any gateway sharing
//! the journal ([`claim`](SettlementJournal::claim)), or a background reconciler
//! ([`claim_due`](SettlementJournal::claim_due)). The chain decides
//! ([`EvmRail`](super::EvmRail)'s reconciliation): landed → [`Resolution::Landed`];
//! reverted, or never able to land → [`Resolution::Released`].
//!
//! The rail knows nothing about the store: the gateway implements this trait on its database
//! (shared by a fleet, kept across restarts) and decides what a resolution writes (a ledger
//! row, a released single-use key), using the opaque `tag` it gave with the settlement.
//! [`MemoryJournal`] keeps entries in the process (survives a dropped request, not a
//! restart) for a rail used without a store.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use gate402_protocols::x402::evm::Address;

use super::{EvmError, Settled};

/// Which authorization a settlement spends: the token's own replay key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SettlementKey {
    /// Token contract.
    pub token: Address,
    /// Payer.
    pub from: Address,
    /// EIP-3009 nonce.
    pub nonce: [u8; 32],
}

impl SettlementKey {
    /// `token ‖ from ‖ nonce` (72 bytes), the journal's primary key.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(72);
        b.extend_from_slice(&self.token);
        b.extend_from_slice(&self.from);
        b.extend_from_slice(&self.nonce);
        b
    }

    /// The inverse of [`to_bytes`](Self::to_bytes).
    pub fn from_bytes(b: &[u8]) -> Option<SettlementKey> {
        if b.len() != 72 {
            return None;
        }
        Some(SettlementKey {
            token: b[..20].try_into().ok()?,
            from: b[20..40].try_into().ok()?,
            nonce: b[40..].try_into().ok()?,
        })
    }
}

/// A settlement transaction signed by the settler whose outcome its buyer has not seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSettlement {
    /// The authorization it spends.
    pub key: SettlementKey,
    /// Transaction hash, `0x`-hex.
    pub transaction: String,
    /// The signed transaction (EIP-2718 bytes), sent again if the node lost it.
    pub raw: Vec<u8>,
    /// The settler nonce the transaction uses.
    pub tx_nonce: u64,
    /// The authorization's `validBefore` (Unix s): after it the transfer can never succeed.
    pub valid_before: u64,
    /// Unix seconds when it was signed.
    pub broadcast_at: u64,
    /// The caller's context, opaque to the rail (the gateway: route, price, single-use key).
    pub tag: String,
}

/// What the chain decided for a pending settlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// It landed: the money moved.
    Landed(Settled),
    /// It reverted or can never land (its nonce slot was taken, its authorization expired):
    /// no money moved; the payment may be presented again.
    Released {
        /// Stable reason (`transaction_failed`, `settlement_not_found`).
        reason: &'static str,
    },
}

/// Durable record of settlements in flight or left behind (see the module docs). Every
/// method is one short, atomic step; errors are [`EvmErrorKind::Unavailable`](super::EvmErrorKind).
#[async_trait]
pub trait SettlementJournal: Send + Sync + 'static {
    /// Record `s` (before its transaction is sent), leased to its caller until `lease_until`
    /// (Unix s). Fails when the record cannot be made durable: then nothing may be sent.
    async fn begin(&self, s: &PendingSettlement, lease_until: u64) -> Result<(), EvmError>;
    /// Its caller stopped waiting without learning the outcome: the lease ends now.
    async fn abandon(&self, key: &SettlementKey) -> Result<(), EvmError>;
    /// Lease the settlement of `key` until `lease_until` if nobody holds it (`now` past its
    /// lease); `None` if there is none or it is held.
    async fn claim(
        &self,
        key: &SettlementKey,
        now: u64,
        lease_until: u64,
    ) -> Result<Option<PendingSettlement>, EvmError>;
    /// Lease up to `limit` settlements nobody holds, oldest first.
    async fn claim_due(
        &self,
        now: u64,
        lease_until: u64,
        limit: u32,
    ) -> Result<Vec<PendingSettlement>, EvmError>;
    /// The chain decided for a settlement whose buyer is not being answered now: apply the
    /// decision (the gateway: a landed one becomes a ledger row its buyer's retry is served
    /// from; a released one frees its single-use key) and forget the settlement.
    async fn resolve(&self, s: &PendingSettlement, r: &Resolution) -> Result<(), EvmError>;
    /// Forget the settlement of `key` (its caller took care of the outcome).
    async fn remove(&self, key: &SettlementKey) -> Result<(), EvmError>;
    /// Every settlement in the journal, held or not (for `gate402 ledger` and tests).
    async fn list(&self) -> Result<Vec<PendingSettlement>, EvmError>;
}

/// A [`SettlementJournal`] in the process's memory (see the module docs). A landed
/// resolution keeps the entry, unleased: the buyer's retry finds it landed and is served.
#[derive(Debug, Default)]
pub struct MemoryJournal {
    entries: Mutex<HashMap<SettlementKey, (PendingSettlement, u64)>>,
}

impl MemoryJournal {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SettlementKey, (PendingSettlement, u64)>> {
        // A panic elsewhere must not lose the record: use the data anyway.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl SettlementJournal for MemoryJournal {
    async fn begin(&self, s: &PendingSettlement, lease_until: u64) -> Result<(), EvmError> {
        self.lock().insert(s.key, (s.clone(), lease_until));
        Ok(())
    }

    async fn abandon(&self, key: &SettlementKey) -> Result<(), EvmError> {
        if let Some(e) = self.lock().get_mut(key) {
            e.1 = 0;
        }
        Ok(())
    }

    async fn claim(
        &self,
        key: &SettlementKey,
        now: u64,
        lease_until: u64,
    ) -> Result<Option<PendingSettlement>, EvmError> {
        let mut g = self.lock();
        Ok(match g.get_mut(key) {
            Some((s, lease)) if *lease < now || *lease == 0 => {
                *lease = lease_until;
                Some(s.clone())
            }
            _ => None,
        })
    }

    async fn claim_due(
        &self,
        now: u64,
        lease_until: u64,
        limit: u32,
    ) -> Result<Vec<PendingSettlement>, EvmError> {
        let mut g = self.lock();
        let mut due: Vec<_> = g
            .values_mut()
            .filter(|(_, lease)| *lease < now || *lease == 0)
            .collect();
        due.sort_by_key(|(s, _)| s.broadcast_at);
        Ok(due
            .into_iter()
            .take(limit as usize)
            .map(|(s, lease)| {
                *lease = lease_until;
                s.clone()
            })
            .collect())
    }

    async fn resolve(&self, s: &PendingSettlement, r: &Resolution) -> Result<(), EvmError> {
        let mut g = self.lock();
        match r {
            Resolution::Landed(_) => {
                if let Some(e) = g.get_mut(&s.key) {
                    e.1 = 0;
                }
            }
            Resolution::Released { .. } => {
                g.remove(&s.key);
            }
        }
        Ok(())
    }

    async fn remove(&self, key: &SettlementKey) -> Result<(), EvmError> {
        self.lock().remove(key);
        Ok(())
    }

    async fn list(&self) -> Result<Vec<PendingSettlement>, EvmError> {
        Ok(self.lock().values().map(|(s, _)| s.clone()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(n: u8) -> PendingSettlement {
        PendingSettlement {
            key: SettlementKey {
                token: [1; 20],
                from: [2; 20],
                nonce: [n; 32],
            },
            transaction: format!("0x{n}"),
            raw: vec![n],
            tx_nonce: u64::from(n),
            valid_before: 100,
            broadcast_at: u64::from(n),
            tag: String::new(),
        }
    }

    #[test]
    fn key_bytes_round_trip() {
        let k = pending(9).key;
        assert_eq!(SettlementKey::from_bytes(&k.to_bytes()), Some(k));
        assert_eq!(SettlementKey::from_bytes(&[0; 71]), None);
    }

    #[tokio::test]
    async fn leases_keep_a_settlement_with_its_caller_until_abandoned() {
        let j = MemoryJournal::default();
        let s = pending(1);
        j.begin(&s, 50).await.unwrap();
        assert_eq!(j.claim(&s.key, 10, 60).await.unwrap(), None, "held");
        assert!(j.claim_due(10, 60, 10).await.unwrap().is_empty());
        j.abandon(&s.key).await.unwrap();
        assert_eq!(j.claim(&s.key, 10, 60).await.unwrap(), Some(s.clone()));
        assert_eq!(j.claim(&s.key, 11, 60).await.unwrap(), None, "one owner");
        assert_eq!(j.claim_due(61, 70, 10).await.unwrap(), vec![s.clone()]);
        j.resolve(&s, &Resolution::Released { reason: "x" })
            .await
            .unwrap();
        assert!(j.list().await.unwrap().is_empty());
    }
}
